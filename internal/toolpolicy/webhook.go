package toolpolicy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// The headers of an approval webhook.
const (
	HeaderTimestamp = "X-Plumb-Timestamp" // Unix seconds
	HeaderSignature = "X-Plumb-Signature" // "sha256=" + hex HMAC of "TIMESTAMP.BODY"
)

// Sign is the signature of a webhook body sent at unix time ts with secret: the
// hex HMAC-SHA256 of "ts.body", prefixed "sha256=".
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
