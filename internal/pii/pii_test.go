package pii

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// only returns the findings of type t.
func only(fs []Finding, t Type) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Type == t {
			out = append(out, f)
		}
	}
	return out
}

// TestDetects checks that each text yields exactly one finding with the given type and text
// (REFERENCE §7 vectors first), and that its span points at that text.
func TestDetects(t *testing.T) {
	for _, tc := range []struct {
		text      string
		typ       Type
		want      string
		validated bool
	}{
		{"card 4111111111111111 ok", CreditCard, "4111111111111111", true},
		{"pay with 4095-2609-9393-4932.", CreditCard, "4095-2609-9393-4932", true},
		{"amex 3782 822463 10005", CreditCard, "3782 822463 10005", true},
		{"mc 5555 5555 5555 4444 exp 12/29", CreditCard, "5555 5555 5555 4444", true},
		{"ref 12 4111 1111 1111 1111 end", CreditCard, "4111 1111 1111 1111", true},
		{"IBAN DE89370400440532013000", IBAN, "DE89370400440532013000", true},
		{"to GB82WEST12345698765432 today", IBAN, "GB82WEST12345698765432", true},
		{"iban: DE89 3704 0044 0532 0130 00 BANK", IBAN, "DE89 3704 0044 0532 0130 00", true},
		{"mail jane.doe+x@example.co.uk.", Email, "jane.doe+x@example.co.uk", false},
		{"dev@plumb.dev, thanks", Email, "dev@plumb.dev", false},
		{"host 192.168.1.20 is up", IPAddress, "192.168.1.20", false},
		{"loopback ::1 only", IPAddress, "::1", false},
		{"(2001:db8::1)", IPAddress, "2001:db8::1", false},
		{"mapped ::ffff:192.0.2.1 here", IPAddress, "::ffff:192.0.2.1", false},
		{"SSN: 536-22-1234", USSSN, "536-22-1234", false},
		{"social security number 536221234", USSSN, "536221234", false},
		{"call +44 20 7946 0958 now", Phone, "+44 20 7946 0958", false},
		{"E.164 +14155550123", Phone, "+14155550123", false},
		{"office (415) 555-0123 ext", Phone, "(415) 555-0123", false},
		{"us 1-800-555-0199", Phone, "1-800-555-0199", false},
		{"fr 06 12 34 56 78", Phone, "06 12 34 56 78", false},
		{"tel 0612345678", Phone, "0612345678", false},
		{"dots 415.555.0123", Phone, "415.555.0123", false},
	} {
		got := Scan(tc.text)
		if len(got) != 1 {
			t.Errorf("Scan(%q) = %+v, want one %s %q", tc.text, got, tc.typ, tc.want)
			continue
		}
		f := got[0]
		if f.Type != tc.typ || f.Text != tc.want || tc.text[f.Start:f.End] != tc.want || f.Validated != tc.validated {
			t.Errorf("Scan(%q) = %+v, want %s %q validated=%v", tc.text, f, tc.typ, tc.want, tc.validated)
		}
		if f.Score <= 0 || f.Score > 1 {
			t.Errorf("Scan(%q) score %v outside (0, 1]", tc.text, f.Score)
		}
	}
}

// TestRejects lists texts in which nothing is personal data, each aimed at one rule.
func TestRejects(t *testing.T) {
	for _, text := range []string{
		"4111111111111112",                       // Luhn fails (REFERENCE §7)
		"version 10.4.12.3 is live",              // a version number, not an IPv4 address
		"git clone https://tok3n@github.com/a/b", // a URL's user info, not an e-mail address
		"4111-1111-1111-1112",                    // Luhn fails, grouped
		"DE89370400440532013001",                 // one digit changed: mod-97 fails
		"GB82WEST12345698765431",                 // idem
		"DE8937040044053201300",                  // one character short for DE
		"XX89370400440532013000",                 // unknown country
		"A4111111111111111",                      // glued to a letter
		"41111111111111111111111",                // 23 digits: a plain long number
		"pi 3.4111111111111111",                  // decimals
		"999.1.1.1",                              // octet out of range
		"version 1.2.3.4.5",                      // longer dotted number
		"v10.0.19041.1234",                       // version string
		"user@localhost",                         // no TLD
		"a@b.notatld",                            // unknown TLD
		"x@.com y@exa..mple.com .a@b.c",          // malformed
		"000-12-3456 666-12-3456 912-34-5678",    // SSN areas never issued
		"123-00-4567 123-45-0000 111-11-1111",    // group 00, serial 0000, one digit
		"078-05-1120",                            // voided advertising SSN
		"2024-01-15",                             // ISO date
		"15.01.2024 and 01/15/2024",              // day-first and US dates
		"2024-01-15 12:30:45",                    // timestamp
		"2024-01-15T12:30:45Z",                   // RFC 3339 timestamp
		"1700000000",                             // unix seconds, no phone context
		"550e8400-e29b-41d4-a716-446655440000",   // UUID
		"12345678-1234-1234-1234-123456789012",   // all-digit UUID
		"order #100234-5678 shipped",             // order number after '#'
		"order 555-123-4567 shipped",             // identifier context
		"invoice 2024-000123-17",                 // invoice number
		"numbers 1234 5678 9012 3456 (invalid)",  // card-like groups failing Luhn
		"GB82 WEST 1234 5698 7654 31",            // IBAN with a bad check, no phone in it
		"12:30:45 and 00:1A:2B:3C:4D:5E",         // time and MAC address
		"std::vector and ns::Map",                // C++ scope, not IPv6
		"build 20240115123045",                   // 14-digit timestamp
		"price 1,234,567.89",                     // money
		"call 555-1234",                          // 7 digits: too short to judge
		"+0 123 456 789",                         // country code cannot start with 0
		"sha 4111111111111111abc",                // glued hex
		"id=123456789",                           // 9 digits without SSN context
	} {
		if got := Scan(text); len(got) != 0 {
			t.Errorf("Scan(%q) = %+v, want nothing", text, got)
		}
	}
}

func TestContextRaisesScore(t *testing.T) {
	score := func(text string, typ Type) float64 {
		fs := only(Scan(text), typ)
		if len(fs) != 1 {
			t.Fatalf("Scan(%q) = %+v, want one %s", text, fs, typ)
		}
		return fs[0].Score
	}
	for _, tc := range []struct {
		typ          Type
		bare, withCx string
	}{
		{USSSN, "id 536-22-1234", "my ssn is 536-22-1234"},
		{USSSN, "x 536-22-1234", "Social Security: 536-22-1234"},
		{CreditCard, "x 4111111111111111", "credit card 4111111111111111"},
		{IBAN, "x DE89370400440532013000", "IBAN DE89370400440532013000"},
		{Phone, "x +14155550123", "phone +14155550123"},
		{Phone, "x (415) 555-0123", "Tel. (415) 555-0123"},
		{IPAddress, "x 10.0.0.1", "ip 10.0.0.1"},
	} {
		b, w := score(tc.bare, tc.typ), score(tc.withCx, tc.typ)
		if w <= b || w < contextMinScore {
			t.Errorf("%s: score with context %q = %v, without %q = %v; want higher", tc.typ, tc.withCx, w, tc.bare, b)
		}
	}
	// An SSN needs its context word to clear a guardrail's threshold.
	s := Scanner{MinScore: 0.6}
	if got := s.Scan("ticket 536-22-1234"); len(got) != 0 {
		t.Errorf("MinScore 0.6 kept an unlabelled SSN: %+v", got)
	}
	if got := s.Scan("SSN 536-22-1234"); len(only(got, USSSN)) != 1 {
		t.Errorf("MinScore 0.6 dropped a labelled SSN: %+v", got)
	}
	// Nine plain digits clear 0.5 only with their context word.
	half := Scanner{MinScore: 0.5}
	if got := half.Scan("My SSN is 536221234."); len(only(got, USSSN)) != 1 {
		t.Errorf("MinScore 0.5 dropped a labelled plain SSN: %+v", got)
	}
	if got := half.Scan("ip 10.0.0.1 on version 2"); len(only(got, IPAddress)) != 1 {
		t.Errorf("an IP word next to a version word: %+v, want the address", got)
	}
}

func TestScannerTypes(t *testing.T) {
	text := "a@example.com 4111111111111111 10.0.0.1"
	got := Scanner{Types: []Type{IPAddress}}.Scan(text)
	if len(got) != 1 || got[0].Type != IPAddress {
		t.Errorf("Types=[IP_ADDRESS] got %+v", got)
	}
	if got := Scan(text); len(got) != 3 {
		t.Errorf("all types got %+v, want 3 findings", got)
	}
}

func TestNoOverlapPrefersValidated(t *testing.T) {
	// The Amex number is also a well-formed national phone (15 digits in groups); the card
	// wins because its checksum holds.
	fs := Scan("3782 822463 10005")
	if len(fs) != 1 || fs[0].Type != CreditCard {
		t.Fatalf("got %+v, want one CREDIT_CARD", fs)
	}
	// An IBAN's digits must not also come out as a card or phone.
	fs = Scan("DE89 3704 0044 0532 0130 00 and GB82 WEST 1234 5698 7654 32")
	if len(fs) != 2 || fs[0].Type != IBAN || fs[1].Type != IBAN {
		t.Fatalf("got %+v, want two IBANs", fs)
	}
	text := strings.Repeat("x 4111111111111111 +14155550123 a@b.io 10.1.1.1 DE89370400440532013000 ", 20)
	fs = Scan(text)
	for i := 1; i < len(fs); i++ {
		if fs[i].Start < fs[i-1].End {
			t.Fatalf("findings %+v and %+v overlap", fs[i-1], fs[i])
		}
	}
	if len(fs) != 100 {
		t.Errorf("got %d findings, want 100", len(fs))
	}
}

func TestUnicodeSpans(t *testing.T) {
	text := "Grüße von Jörg — E‑Mail: jörg.müller@beispiel.de, Karte: 4111 1111 1111 1111, Tél. +33 6 12 34 56 78 ✓"
	fs := Scan(text)
	want := map[Type]string{
		Email:      "jörg.müller@beispiel.de",
		CreditCard: "4111 1111 1111 1111",
		Phone:      "+33 6 12 34 56 78",
	}
	if len(fs) != len(want) {
		t.Fatalf("got %+v, want %d findings", fs, len(want))
	}
	for _, f := range fs {
		if w := want[f.Type]; f.Text != w || text[f.Start:f.End] != w {
			t.Errorf("%s: span [%d,%d) = %q, want %q", f.Type, f.Start, f.End, text[f.Start:f.End], w)
		}
	}
	// A digit run glued to a non-ASCII letter is an identifier.
	if got := Scan("réf4111111111111111"); len(got) != 0 {
		t.Errorf("glued to é: %+v", got)
	}
}

func TestChecksums(t *testing.T) {
	for _, tc := range []struct {
		digits string
		want   bool
	}{
		{"4111111111111111", true}, {"4095260993934932", true}, {"4111111111111112", false},
		{"79927398713", true}, {"79927398710", false},
	} {
		if got := luhn(tc.digits); got != tc.want {
			t.Errorf("luhn(%s) = %v, want %v", tc.digits, got, tc.want)
		}
	}
	for _, tc := range []struct {
		iban string
		want bool
	}{
		{"DE89370400440532013000", true}, {"GB82WEST12345698765432", true},
		{"DE89370400440532013001", false}, {"GB82WEST12345698765433", false},
		{"FR1420041010050500013M02606", true}, {"NO9386011117947", true},
	} {
		if got := ibanChecksum(tc.iban); got != tc.want {
			t.Errorf("ibanChecksum(%s) = %v, want %v", tc.iban, got, tc.want)
		}
	}
}

func TestAnonymize(t *testing.T) {
	text := "Mail jane@example.com or card 4111 1111 1111 1111, SSN 536-22-1234."
	fs := Scan(text)
	if len(fs) != 3 {
		t.Fatalf("Scan = %+v, want 3 findings", fs)
	}
	for _, tc := range []struct {
		name string
		op   Operator
		want string
	}{
		{"replace", Replace, "Mail <EMAIL> or card <CREDIT_CARD>, SSN <US_SSN>."},
		{"redact", Redact, "Mail  or card , SSN ."},
		{"mask", Mask, "Mail ****@example.com or card **** **** **** 1111, SSN ***-**-1234."},
	} {
		if got := Anonymize(text, fs, tc.op); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	sum := sha256.Sum256([]byte("jane@example.com"))
	plain := Hash(nil)(fs[0])
	if plain != hex.EncodeToString(sum[:]) {
		t.Errorf("Hash(nil) = %s, want sha256 hex %x", plain, sum)
	}
	// HMAC-SHA256 vector from RFC 4231 test case 2.
	keyed := Hash([]byte("Jefe"))(Finding{Text: "what do ya want for nothing?"})
	if keyed != "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Errorf("Hash(key) = %s, want the RFC 4231 HMAC-SHA256 value", keyed)
	}
	if Hash([]byte("k1"))(fs[0]) == Hash([]byte("k2"))(fs[0]) {
		t.Error("different keys gave the same hash")
	}
	if got := Anonymize(text, nil, Replace); got != text {
		t.Errorf("no findings changed the text: %q", got)
	}
}

// TestHasDigit8 checks the bit trick against the plain test on every byte in every position.
func TestHasDigit8(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			want := c >= '0' && c <= '9'
			if got := hasDigit8(string(b)); got != want {
				t.Errorf("hasDigit8 with byte %#x at %d = %v, want %v", c, pos, got, want)
			}
		}
	}
	if !hasDigit8("\xff\xff\xff\xff\xff\xff\xff9") || hasDigit8("\xb0\xb9\x2f\x3a\xff\x00//") {
		t.Error("hasDigit8 on high and boundary bytes")
	}
}

// TestPhoneNumberingPlans: a number of the right shape is a phone only when a numbering
// plan holds it (libphonenumber's metadata): its own country's for +CC, one of the
// scanner's regions for a national number.
func TestPhoneNumberingPlans(t *testing.T) {
	phones := func(s Scanner, text string) []string {
		var out []string
		for _, f := range only(s.Scan(text), Phone) {
			out = append(out, f.Text)
		}
		return out
	}
	for _, tc := range []struct {
		text    string
		regions []string
		want    []string
	}{
		{"call +1 415 555 2671", nil, []string{"+1 415 555 2671"}},
		{"call +44 20 7946 0958", nil, []string{"+44 20 7946 0958"}},
		{"call +33 6 12 34 56 78", nil, []string{"+33 6 12 34 56 78"}},
		// North American area codes never start with 0 or 1.
		{"call +1 123 456 7890", nil, nil},
		{"call +1 015 555 2671", nil, nil},
		// +999 is no country's code.
		{"call +999 1234 5678", nil, nil},
		// A UK number written nationally fits the UK's plan, not the US's.
		{"tel 020 7946 0958", []string{"GB"}, []string{"020 7946 0958"}},
		{"tel 020 7946 0958", []string{"US"}, nil},
		// A French mobile written nationally, with the default regions (France among them).
		{"tel 06 12 34 56 78", nil, []string{"06 12 34 56 78"}},
		{"tel (415) 555-2671", []string{"us"}, []string{"(415) 555-2671"}},
		{"tel (015) 555-2671", []string{"US"}, nil},
	} {
		got := phones(Scanner{PhoneRegions: tc.regions}, tc.text)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Scan(%q) with regions %v: phones %q, want %q", tc.text, tc.regions, got, tc.want)
		}
	}
}

// TestInternationalMatchesParse: the fast reading of +CC numbers decides as libphonenumber's
// own Parse does.
func TestInternationalMatchesParse(t *testing.T) {
	for _, s := range []string{"+1 415 555 2671", "+1 123 456 7890", "+44 20 7946 0958", "+44 7700 900123",
		"+39 06 6988 1234", "+39 347 123 4567", "+33 1 42 68 53 00", "+49 30 901820", "+91 98765 43210",
		"+61 2 9374 4000", "+81 3-3224-5000", "+86 10 6552 9988", "+7 495 123-45-67", "+999 1234 5678",
		"+352 26 12 34 56", "+1 242 357 1234", "+44 1624 612345", "+800 1234 5678", "+0 123 456 789"} {
		want := false
		if n, err := phonenumbers.Parse(s, ""); err == nil {
			want = phonenumbers.IsValidNumber(n)
		}
		if got := checkPhone(s, true, nil); got != want {
			t.Errorf("checkPhone(%q) = %v, libphonenumber's Parse and IsValidNumber say %v", s, got, want)
		}
	}
}
