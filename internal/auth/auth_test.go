package auth

import (
	"errors"

	"golang.org/x/crypto/argon2"
	"strings"
	"testing"
	"time"
)

// The argon2id example of the reference implementation (phc-winner-argon2's README and
// src/test.c): password "password", salt "somesalt", t=2, m=65536, p=1, 32-byte tag.
const referencePHC = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

func TestReferenceVector(t *testing.T) {
	p := Params{Time: 2, Memory: 65536, Threads: 1, KeyLen: 32}
	if got := encodePHC(p, []byte("somesalt"), argonKey("password", "somesalt", p)); got != referencePHC {
		t.Errorf("argon2id(password, somesalt) =\n %s\nwant\n %s", got, referencePHC)
	}
	if err := VerifyPassword(referencePHC, "password"); err != nil {
		t.Errorf("reference hash does not verify: %v", err)
	}
	if err := VerifyPassword(referencePHC, "passwore"); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong password: got %v, want ErrMismatch", err)
	}
}

// cheap keeps the round-trip tests fast; the reference vector covers real parameters.
var cheap = Params{Time: 1, Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q is not the PHC form", h)
	}
	h2, _ := HashPassword("correct horse battery", cheap)
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if err := VerifyPassword(h, "correct horse battery"); err != nil {
		t.Errorf("verify: %v", err)
	}
	for _, wrong := range []string{"", "correct horse batter", "Correct horse battery", "correct horse battery "} {
		if err := VerifyPassword(h, wrong); !errors.Is(err, ErrMismatch) {
			t.Errorf("VerifyPassword(%q) = %v, want ErrMismatch", wrong, err)
		}
	}
	if NeedsRehash(h, cheap) || !NeedsRehash(h, DefaultParams()) {
		t.Error("NeedsRehash does not compare parameters")
	}
}

func TestVerifyMalformed(t *testing.T) {
	for _, enc := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=2,p=1,x=3$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=2,p=1$!!$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	} {
		err := VerifyPassword(enc, "password")
		if err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("VerifyPassword(%q) = %v, want a format error", enc, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		pw string
		ok bool
	}{
		{"short", false},
		{"elevenchars", false},
		{"twelve chars", true},
		{"ééééééééééé", false}, // 11 characters, 22 bytes
		{"éééééééééééé", true},
		{strings.Repeat("a", 2000), false},
		{"\xff\xfe invalid utf8!", false},
	}
	for _, tt := range tests {
		if err := CheckPassword(tt.pw); (err == nil) != tt.ok {
			t.Errorf("CheckPassword(%q) = %v, want ok=%v", tt.pw, err, tt.ok)
		}
	}
}

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := NewToken()
		if len(tok) != TokenLen || seen[tok] {
			t.Fatalf("token %q: wrong length or repeated", tok)
		}
		seen[tok] = true
	}
	key, shown := NewAPIKey()
	if !LooksLikeAPIKey(key) || !strings.HasPrefix(key, shown) || len(shown) != 8 {
		t.Errorf("API key %q shown as %q", key, shown)
	}
	for _, bad := range []string{"", "plk_", "plk_" + strings.Repeat("a", 31), "plx_" + strings.Repeat("a", 32), "plk_" + strings.Repeat("-", 32)} {
		if LooksLikeAPIKey(bad) {
			t.Errorf("LooksLikeAPIKey(%q) = true", bad)
		}
	}
}

func TestLoginLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLoginLimiter(5, 12*time.Second, func() time.Time { return now })
	for i := range 5 {
		if ok, _ := l.Allow("ana@example.com", "10.0.0.1"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := l.Allow("ana@example.com", "10.0.0.2")
	if ok || wait <= 0 || wait > 13*time.Second {
		t.Errorf("6th attempt on one account from another address: ok=%v wait=%v, want refused within 13s", ok, wait)
	}
	if ok, _ := l.Allow("bob@example.com", "10.0.0.1"); ok {
		t.Error("6th attempt from one address on another account allowed")
	}
	if ok, _ := l.Allow("bob@example.com", "10.0.0.3"); !ok {
		t.Error("a fresh account from a fresh address was refused")
	}
	now = now.Add(wait)
	if ok, _ := l.Allow("ana@example.com", "10.0.0.2"); !ok {
		t.Error("attempt after Retry-After refused")
	}
}

// argonKey is argon2id with a given salt, for the reference vector.
func argonKey(pw, salt string, p Params) []byte {
	return argon2.IDKey([]byte(pw), []byte(salt), p.Time, p.Memory, p.Threads, uint32(p.KeyLen))
}
