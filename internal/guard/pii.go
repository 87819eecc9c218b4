package guard

import (
	"context"
	"slices"
	"strings"

	"github.com/plumbhq/plumb/internal/pii"
)

// piiTypes maps the pii detector's type names to the scanner's types. ipv4 and ipv6 share
// the scanner's IP_ADDRESS and are told apart by the finding's text.
var piiTypes = []struct {
	name string
	t    pii.Type
	what string
}{
	{"email", pii.Email, "e-mail address (with a real top-level domain)"},
	{"phone", pii.Phone, "phone number"},
	{"credit_card", pii.CreditCard, "payment card number (issuer prefix and Luhn checksum hold)"},
	{"iban", pii.IBAN, "IBAN (country length and mod-97 checksum hold)"},
	{"us_ssn", pii.USSSN, "US social security number (valid area, group and serial)"},
	{"ipv4", pii.IPAddress, "IPv4 address"},
	{"ipv6", pii.IPAddress, "IPv6 address"},
}

// piiDetector reports personal data with internal/pii: a pattern with a base score, a
// checksum where one exists, and context words nearby that raise the score.
type piiDetector struct {
	scanner pii.Scanner
	want    map[string]bool
	// ssnContext reports a US SSN only with a context word nearby ("ssn", "social security"):
	// an SSN has no checksum, and a bare NNN-NN-NNNN is as often a part or case number.
	ssnContext bool
}

// ssnWithContext is the lowest score internal/pii gives an SSN with a context word near (0.55
// for nine plain digits); without one an SSN scores 0.5 at most.
const ssnWithContext = 0.55

func newPII(o *options) (Detector, error) {
	types, err := o.strs("types")
	if err != nil {
		return nil, err
	}
	minScore, err := o.float("min_score", 0.5, 0, 1)
	if err != nil {
		return nil, err
	}
	ssnContext, err := o.boolean("ssn_context", true)
	if err != nil {
		return nil, err
	}
	regions, err := o.strs("phone_regions")
	if err != nil {
		return nil, err
	}
	for i, r := range regions {
		regions[i] = strings.ToUpper(r)
		if !pii.KnownRegion(regions[i]) {
			return nil, o.errorf("phone_regions", "unknown region %q: use ISO 3166 country codes such as US, GB, DE", r)
		}
	}
	d := &piiDetector{scanner: pii.Scanner{MinScore: minScore, PhoneRegions: regions}, want: map[string]bool{}, ssnContext: ssnContext}
	if len(types) == 0 {
		for _, t := range piiTypes {
			types = append(types, t.name)
		}
	}
	for _, name := range types {
		i := slices.IndexFunc(piiTypes, func(t struct {
			name string
			t    pii.Type
			what string
		}) bool {
			return t.name == name
		})
		if i < 0 {
			names := make([]string, len(piiTypes))
			for k, t := range piiTypes {
				names[k] = t.name
			}
			return nil, o.errorf("types", "unknown type %q: use %s", name, strings.Join(names, ", "))
		}
		d.want[name] = true
		if !slices.Contains(d.scanner.Types, piiTypes[i].t) {
			d.scanner.Types = append(d.scanner.Types, piiTypes[i].t)
		}
	}
	return d, nil
}

func (d *piiDetector) Name() string { return "pii" }

func (d *piiDetector) Detect(_ context.Context, text string) ([]Finding, error) {
	found := d.scanner.Scan(text)
	out := make([]Finding, 0, len(found))
	for _, f := range found {
		name := piiName(f)
		if !d.want[name] || name == "us_ssn" && d.ssnContext && f.Score < ssnWithContext {
			continue
		}
		what := ""
		for _, t := range piiTypes {
			if t.name == name {
				what = t.what
			}
		}
		reason := what
		switch f.Type {
		case pii.CreditCard:
			// The last four digits, as receipts show them.
			last, n := [4]byte{}, 0
			for i := len(f.Text) - 1; i >= 0 && n < 4; i-- {
				if c := f.Text[i]; c >= '0' && c <= '9' {
					n++
					last[4-n] = c
				}
			}
			reason = what + " ending " + string(last[4-n:])
		case pii.IBAN:
			reason = what + " from country " + f.Text[:2]
		case pii.Email:
			if at := strings.LastIndexByte(f.Text, '@'); at >= 0 {
				reason = what + " at " + f.Text[at+1:]
			}
		}
		out = append(out, Finding{Detector: "pii", Type: name, Start: f.Start, End: f.End, Score: f.Score, Reason: reason})
	}
	return out, nil
}

func piiName(f pii.Finding) string {
	switch f.Type {
	case pii.Email:
		return "email"
	case pii.Phone:
		return "phone"
	case pii.CreditCard:
		return "credit_card"
	case pii.IBAN:
		return "iban"
	case pii.USSSN:
		return "us_ssn"
	case pii.IPAddress:
		if strings.Contains(f.Text, ":") {
			return "ipv6"
		}
		return "ipv4"
	}
	return strings.ToLower(string(f.Type))
}
