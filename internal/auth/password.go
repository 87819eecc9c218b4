package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// MinPasswordLength is the shortest password a user may set, in characters. Length is what
// makes a password strong; composition rules mostly make them harder to remember (NIST
// SP 800-63B).
const MinPasswordLength = 12

// maxPasswordLength bounds the work an attacker can make the server do per attempt: argon2
// itself is fine with long inputs, but there is no reason to accept a megabyte.
const maxPasswordLength = 1024

// Params are argon2id's cost parameters.
type Params struct {
	Time    uint32 // passes over memory
	Memory  uint32 // KiB
	Threads uint8
	SaltLen int // bytes
	KeyLen  int // bytes
}

// DefaultParams are RFC 9106's second recommended option (section 4): t=3, m=64 MiB, p=4,
// a 128-bit salt and a 256-bit tag, for when 2 GiB per hash is too much for a server.
// (A function, not a variable, so that no caller can change them for everyone.)
func DefaultParams() Params {
	return Params{Time: 3, Memory: 64 * 1024, Threads: 4, SaltLen: 16, KeyLen: 32}
}

// ErrMismatch is returned by VerifyPassword for a wrong password.
var ErrMismatch = errors.New("wrong password")

// CheckPassword applies the password policy to a new password.
func CheckPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return errors.New("the password is not valid UTF-8 text")
	case n < MinPasswordLength:
		return fmt.Errorf("the password has %d characters: use at least %d", n, MinPasswordLength)
	case len(pw) > maxPasswordLength:
		return fmt.Errorf("the password is longer than %d bytes", maxPasswordLength)
	}
	return nil
}

// HashPassword hashes pw with argon2id, a fresh random salt and p, and encodes the result
// as a PHC string: $argon2id$v=19$m=MEMORY,t=TIME,p=THREADS$SALT$HASH (unpadded base64).
func HashPassword(pw string, p Params) (string, error) {
	if p.Time == 0 || p.Memory == 0 || p.Threads == 0 || p.SaltLen < 8 || p.KeyLen < 16 {
		return "", fmt.Errorf("argon2id parameters %+v are too weak", p)
	}
	salt := make([]byte, p.SaltLen)
	rand.Read(salt) // never fails: see crypto/rand.Read
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(p.KeyLen))
	return encodePHC(p, salt, key), nil
}

func encodePHC(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// VerifyPassword reports whether pw matches the PHC-encoded argon2id hash: nil for a match,
// ErrMismatch for a wrong password, another error for a hash it cannot read. The
// comparison takes the same time wherever the first differing byte is.
func VerifyPassword(encoded, pw string) error {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return err
	}
	if len(pw) > maxPasswordLength {
		return ErrMismatch
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether a stored hash was made with parameters other than p, so
// that a login can upgrade it.
func NeedsRehash(encoded string, p Params) bool {
	q, salt, key, err := decodePHC(encoded)
	return err != nil || q.Time != p.Time || q.Memory != p.Memory || q.Threads != p.Threads ||
		len(salt) != p.SaltLen || len(key) != p.KeyLen
}

// Bounds on parameters read from a stored hash, so that a corrupt or hostile row cannot
// make a login allocate gigabytes.
const (
	maxMemoryKiB = 1 << 21 // 2 GiB, RFC 9106's first recommendation
	maxTime      = 16
)

func decodePHC(encoded string) (Params, []byte, []byte, error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("password hash is not an argon2id PHC string: %s", why)
	}
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return bad("want $argon2id$v=19$m=M,t=T,p=P$SALT$HASH")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm " + strconv.Quote(parts[1]))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("version " + strconv.Quote(parts[2]))
	}
	var p Params
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || seen[k] {
			return bad("parameter " + strconv.Quote(kv))
		}
		seen[k] = true
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return bad("parameter " + strconv.Quote(kv))
			}
			p.Threads = uint8(n)
		default:
			return bad("parameter " + strconv.Quote(kv))
		}
	}
	if p.Time == 0 || p.Time > maxTime || p.Threads == 0 || p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB {
		return bad("parameters out of range")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return bad("salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return bad("hash")
	}
	p.SaltLen, p.KeyLen = len(salt), len(key)
	return p, salt, key, nil
}
