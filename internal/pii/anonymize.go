package pii

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"unicode"
)

// Operator turns a finding into the text that replaces it.
type Operator func(f Finding) string

// Anonymize returns text with every finding replaced by op(finding). Findings are applied in
// order of Start; one overlapping an earlier one is skipped (Scan never returns overlaps).
func Anonymize(text string, findings []Finding, op Operator) string {
	fs := slices.Clone(findings)
	slices.SortFunc(fs, func(a, b Finding) int { return cmp.Compare(a.Start, b.Start) })
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, f := range fs {
		if f.Start < last || f.End > len(text) || f.Start > f.End {
			continue
		}
		b.WriteString(text[last:f.Start])
		b.WriteString(op(f))
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String()
}

// Replace writes the type in angle brackets: "<EMAIL>", "<CREDIT_CARD>".
func Replace(f Finding) string { return "<" + string(f.Type) + ">" }

// Redact removes the finding.
func Redact(Finding) string { return "" }

// Mask replaces letters and digits with '*', keeping separators so the shape stays readable.
// Cards, IBANs, phones and SSNs keep their last four letters or digits, as receipts and
// support tools show them ("**** **** **** 1111"); an e-mail address keeps its domain
// ("****@example.com"); an IP address keeps nothing.
func Mask(f Finding) string {
	keep := 0
	switch f.Type {
	case CreditCard, IBAN, Phone, USSSN:
		keep = 4
	case Email:
		if at := strings.LastIndexByte(f.Text, '@'); at >= 0 {
			return maskRunes(f.Text[:at], 0) + f.Text[at:]
		}
	}
	return maskRunes(f.Text, keep)
}

// maskRunes stars every letter and digit of s except the last keep of them.
func maskRunes(s string, keep int) string {
	rs := []rune(s)
	for i := len(rs) - 1; i >= 0; i-- {
		if !unicode.IsLetter(rs[i]) && !unicode.IsDigit(rs[i]) {
			continue
		}
		if keep > 0 {
			keep--
			continue
		}
		rs[i] = '*'
	}
	return string(rs)
}

// Hash returns an Operator writing the lowercase hex SHA-256 of the finding's text, so equal
// values stay joinable across records without being readable. With a non-empty key it is
// HMAC-SHA256 under that key instead: unsalted hashes of card numbers or SSNs can be reversed
// by hashing every possible number, a keyed hash cannot without the key.
func Hash(key []byte) Operator {
	return func(f Finding) string {
		if len(key) == 0 {
			sum := sha256.Sum256([]byte(f.Text))
			return hex.EncodeToString(sum[:])
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(f.Text))
		return hex.EncodeToString(m.Sum(nil))
	}
}
