package auth

import (
	"crypto/rand"
	"strings"
)

// base62 is the token alphabet: URL-, header- and shell-safe, and double-click selects a
// whole token.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// TokenLen is the number of random characters of every token: 32 base62 characters carry
// about 190 bits.
const TokenLen = 32

// APIKeyPrefix starts every API key, so that secret scanners and people recognise one.
const APIKeyPrefix = "plk_"

// apiKeyShownLen is how much of a key its list entry shows: the prefix and 4 random
// characters, enough to tell keys apart, far too little to guess the rest.
const apiKeyShownLen = len(APIKeyPrefix) + 4

// NewToken returns TokenLen random base62 characters, uniformly distributed (rand.Text's
// rejection-free alphabet is base32; this keeps the documented plk_ + 32 base62 form).
func NewToken() string {
	var sb strings.Builder
	sb.Grow(TokenLen)
	var buf [64]byte
	for sb.Len() < TokenLen {
		rand.Read(buf[:]) // never fails: see crypto/rand.Read
		for _, b := range buf {
			// 248 = 4*62: rejecting larger bytes keeps every character equally likely.
			if b < 248 && sb.Len() < TokenLen {
				sb.WriteByte(base62[b%62])
			}
		}
	}
	return sb.String()
}

// NewAPIKey returns a new API key secret and the prefix of it that lists may show.
func NewAPIKey() (secret, shown string) {
	secret = APIKeyPrefix + NewToken()
	return secret, secret[:apiKeyShownLen]
}

// LooksLikeAPIKey reports whether s has the form of an API key, so that a malformed
// credential is refused without a database lookup.
func LooksLikeAPIKey(s string) bool {
	rest, ok := strings.CutPrefix(s, APIKeyPrefix)
	if !ok || len(rest) != TokenLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !strings.ContainsRune(base62, rune(rest[i])) {
			return false
		}
	}
	return true
}
