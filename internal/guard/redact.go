package guard

import (
	"cmp"
	"slices"
	"strings"

	"github.com/plumbhq/plumb/internal/pii"
)

// Redact returns text with what each finding spans rewritten:
//
//   - "replace" (also the default, for "" or any other value): the type in angle brackets,
//     "<CREDIT_CARD>";
//   - "redact": nothing (the value is removed);
//   - "mask": every letter and digit becomes '*', separators stay; card numbers, IBANs,
//     phones and SSNs keep their last four characters, an e-mail address its domain;
//   - "hash": "<TYPE:" + the hex SHA-256 of the value + ">", so equal values stay joinable
//     without being readable (unkeyed: a 9-digit SSN can be found again by hashing them all).
//
// Findings about the whole text (length, language, ...) are not rewritten; neither are
// findings outside the text. Where findings overlap, their union is rewritten as one, with
// the type of the one starting first.
func Redact(text string, fs []Finding, how string) string {
	spans := make([]Finding, 0, len(fs))
	for _, f := range fs {
		if f.Start < 0 || f.End > len(text) || f.Start >= f.End || wholeText(f.Detector) {
			continue
		}
		spans = append(spans, f)
	}
	if len(spans) == 0 {
		return text
	}
	slices.SortFunc(spans, func(a, b Finding) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		return cmp.Compare(b.End, a.End)
	})
	merged := spans[:1]
	for _, f := range spans[1:] {
		last := &merged[len(merged)-1]
		if f.Start < last.End {
			last.End = max(last.End, f.End)
			continue
		}
		merged = append(merged, f)
	}
	var b strings.Builder
	b.Grow(len(text))
	prev := 0
	for _, f := range merged {
		b.WriteString(text[prev:f.Start])
		b.WriteString(rewrite(f, text[f.Start:f.End], how))
		prev = f.End
	}
	b.WriteString(text[prev:])
	return b.String()
}

// wholeText reports detectors whose findings judge the whole text rather than point at a part.
func wholeText(detector string) bool {
	switch detector {
	case "length", "language", "json_schema", "llm_classifier":
		return true
	}
	return false
}

func rewrite(f Finding, value, how string) string {
	typ := strings.ToUpper(f.Type)
	pf := pii.Finding{Type: pii.Type(typ), Text: value}
	switch f.Type {
	case "email":
		pf.Type = pii.Email
	case "phone":
		pf.Type = pii.Phone
	case "credit_card":
		pf.Type = pii.CreditCard
	case "iban":
		pf.Type = pii.IBAN
	case "us_ssn":
		pf.Type = pii.USSSN
	}
	switch how {
	case "redact":
		return ""
	case "mask":
		return pii.Mask(pf)
	case "hash":
		return "<" + typ + ":" + pii.Hash(nil)(pf) + ">"
	}
	return "<" + typ + ">"
}
