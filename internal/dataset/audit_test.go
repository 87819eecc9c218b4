package dataset

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/pii"
	"github.com/plumbhq/plumb/internal/report"
)

// auditItems is 20 items: locale en 17, fr 2, de 1; tier gold on 4 of them; expected
// "refund" or "no refund"; three without consent; one exact and one near-duplicate pair;
// an e-mail address in a question and a card number in an expected output.
func auditItems() []Item {
	var items []Item
	for i := 1; i <= 20; i++ {
		it := Item{ID: int64(i), Vars: map[string]any{"question": fmt.Sprintf("question %d", i)}, Consent: true,
			Segment: map[string]string{"locale": "en"}}
		if i%2 == 0 {
			it.Expected = "refund"
		} else {
			it.Expected = "no refund"
		}
		switch {
		case i == 18 || i == 19:
			it.Segment["locale"] = "fr"
		case i == 20:
			it.Segment["locale"] = "de"
		}
		if i <= 4 {
			it.Segment["tier"] = "gold"
		}
		items = append(items, it)
	}
	items[2].Consent, items[5].Consent, items[19].Consent = false, false, false // 3, 6, 20
	// 8 is an exact copy of 7's content; 10 is 9 in other case and punctuation.
	items[7].Vars, items[7].Expected = map[string]any{"question": "question 7"}, "no refund"
	items[9].Vars, items[9].Expected = map[string]any{"question": "QUESTION 9!"}, "no refund"
	items[10].Vars["question"] = "Please write to alice.smith@example.com about my order"
	items[11].Expected = "card 4111 1111 1111 1111 was charged"
	return items
}

// TestAudit checks the report against counts worked out by hand.
func TestAudit(t *testing.T) {
	r, err := Audit(auditItems(), AuditOptions{MinShare: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Items != 20 || r.LabelField != "expected" {
		t.Fatalf("items %d, label field %q", r.Items, r.LabelField)
	}
	// Expected: odd items "no refund" (10, plus 8 and 10: 12), even "refund" (10, minus 8,
	// 10 and 12: 7), item 12 its own label, with the card number masked.
	wantLabels := []LabelCount{{"no refund", 12}, {"refund", 7}, {"card **** **** **** 1111 was charged", 1}}
	if !reflect.DeepEqual(r.Labels, wantLabels) {
		t.Errorf("labels = %+v, want %+v", r.Labels, wantLabels)
	}
	if len(r.Segments) != 2 || r.Segments[0].Field != "locale" || r.Segments[1].Field != "tier" {
		t.Fatalf("segments = %+v", r.Segments)
	}
	loc := r.Segments[0].Values
	if len(loc) != 3 || loc[0].Value != "en" || loc[0].Items != 17 || loc[1].Value != "fr" || loc[1].Items != 2 ||
		loc[2].Value != "de" || loc[2].Items != 1 {
		t.Fatalf("locale values = %+v", loc)
	}
	// 2/20 = 0.10 is not under 0.10; 1/20 = 0.05 is.
	if loc[0].Under || loc[1].Under || !loc[2].Under || loc[2].Share != 0.05 {
		t.Errorf("under flags = %v %v %v (de share %v)", loc[0].Under, loc[1].Under, loc[2].Under, loc[2].Share)
	}
	// fr is items 18 (refund) and 19 (no refund); de is 20 (refund).
	if want := []LabelCount{{"no refund", 1}, {"refund", 1}}; !reflect.DeepEqual(loc[1].Labels, want) {
		t.Errorf("fr labels = %+v, want %+v", loc[1].Labels, want)
	}
	// tier: gold 4 (20%), and 16 items without it (80%).
	tier := r.Segments[1].Values
	if len(tier) != 2 || tier[0].Value != "" || tier[0].Items != 16 || tier[1].Value != "gold" || tier[1].Items != 4 || tier[1].Under {
		t.Errorf("tier values = %+v", tier)
	}
	if r.WithoutConsent.Count != 3 || !reflect.DeepEqual(r.WithoutConsent.IDs, []int64{3, 6, 20}) {
		t.Errorf("without consent = %+v, want 3, 6, 20", r.WithoutConsent)
	}
	if !reflect.DeepEqual(r.ExactDuplicates, [][]int64{{7, 8}}) {
		t.Errorf("exact duplicates = %v, want [[7 8]]", r.ExactDuplicates)
	}
	if !reflect.DeepEqual(r.NearDuplicates, [][]int64{{9, 10}}) {
		t.Errorf("near duplicates = %v, want [[9 10]]", r.NearDuplicates)
	}
	if r.PIIItems != 2 || r.PIITypes[pii.Email] != 1 || r.PIITypes[pii.CreditCard] != 1 || len(r.PII) != 2 {
		t.Fatalf("pii = %d items, types %v, fields %+v", r.PIIItems, r.PIITypes, r.PII)
	}
	email, card := r.PII[0], r.PII[1]
	if email.ItemID != 11 || email.Field != "vars.question" || !reflect.DeepEqual(email.Types, []pii.Type{pii.Email}) {
		t.Errorf("email finding = %+v", email)
	}
	if email.Excerpt != "Please write to *****.*****@example.com about my order" {
		t.Errorf("email excerpt = %q", email.Excerpt)
	}
	if card.ItemID != 12 || card.Field != "expected" || card.Excerpt != "card **** **** **** 1111 was charged" {
		t.Errorf("card finding = %+v", card)
	}
	// The report never holds the personal data itself.
	md := r.Markdown()
	for _, secret := range []string{"alice.smith", "4111 1111 1111 1111"} {
		for _, s := range []string{md, fmt.Sprintf("%+v", *r)} {
			if strings.Contains(s, secret) {
				t.Errorf("the report echoes %q", secret)
			}
		}
	}
	wantFlags := []string{
		"2 items contain personal data (EMAIL in 1 field, CREDIT_CARD in 1 field)",
		"3 of 20 items have no consent",
		"segment locale=de holds 1 item (5.0%), under 10.0%",
		"1 group of exact duplicates",
		"1 group of near-duplicates",
	}
	if !reflect.DeepEqual(r.Flags, wantFlags) {
		// Counts of one read in the singular, verbs agreeing: "1 item contains".
		t.Errorf("flags =\n%q\nwant\n%q", r.Flags, wantFlags)
	}
	for _, want := range []string{"| de | 1 | 5.0% (under) |", "- exact: items #7, #8", "3 items without consent: #3, #6, #20"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestAuditLabelField counts a chosen field, and refuses bad options.
func TestAuditLabelField(t *testing.T) {
	items := []Item{
		{ID: 1, Metadata: map[string]any{"intent": "refund"}, Segment: map[string]string{"locale": "en"}},
		{ID: 2, Metadata: map[string]any{"intent": "refund"}, Segment: map[string]string{"locale": "fr"}},
		{ID: 3, Segment: map[string]string{"locale": "fr"}},
	}
	r, err := Audit(items, AuditOptions{LabelField: "metadata.intent"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []LabelCount{{"refund", 2}, {"(none)", 1}}; !reflect.DeepEqual(r.Labels, want) {
		t.Errorf("labels = %+v, want %+v", r.Labels, want)
	}
	if r.MinShare != DefaultMinShare || r.WithoutConsent.Count != 3 {
		t.Errorf("min share %v, without consent %d", r.MinShare, r.WithoutConsent.Count)
	}
	for _, o := range []AuditOptions{{LabelField: "output"}, {LabelField: "vars."}, {MinShare: 1.5}, {MinShare: -0.1}} {
		if _, err := Audit(items, o); err == nil {
			t.Errorf("Audit with %+v succeeded", o)
		}
	}
}

// TestAuditMarkdownEscapes: item text cannot become markup in the Markdown report.
func TestAuditMarkdownEscapes(t *testing.T) {
	hostile := "<script>alert(1)</script> | [x](javascript:alert(1))"
	r, err := Audit([]Item{{ID: 1, Expected: hostile, Segment: map[string]string{"locale": hostile}, Consent: true}}, AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	md := r.Markdown()
	// Every markup character is escaped: no raw tag, no link syntax, no cell break.
	if strings.Contains(md, "<script>") || strings.Contains(md, " [x]") || strings.Contains(md, "> | ") {
		t.Errorf("markdown holds the hostile text as markup:\n%s", md)
	}
	if !strings.Contains(md, "&lt;script&gt;") {
		t.Errorf("markdown does not show the text escaped:\n%s", md)
	}
}

// TestFromFailed: one item per failed test, with its vars, expected, segment and source.
func TestFromFailed(t *testing.T) {
	rs := []report.Result{
		{Test: report.TestRef{Index: 0, Vars: map[string]any{"q": "a"}}, Passed: true},
		{Test: report.TestRef{Index: 1, Description: "refund", Vars: map[string]any{"q": "b"}, Segment: "locale=fr, tier=gold",
			Metadata: map[string]any{"expected": "B", "ticket": "T-2"}}, Provider: "p1"},
		{Test: report.TestRef{Index: 1, Vars: map[string]any{"q": "b"}, Segment: "locale=fr, tier=gold"}, Provider: "p2"},
		{Test: report.TestRef{Index: 2, Vars: map[string]any{"q": "c"}, Segment: "mobile"}, Error: "timeout"},
	}
	got := FromFailed("run-1", rs)
	want := []Item{
		{Vars: map[string]any{"q": "b"}, Expected: "B", Metadata: map[string]any{"ticket": "T-2"},
			Segment: map[string]string{"locale": "fr", "tier": "gold"}, Source: "run run-1 test 1 (refund)"},
		{Vars: map[string]any{"q": "c"}, Segment: map[string]string{"segment": "mobile"}, Source: "run run-1 test 2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromFailed =\n%+v\nwant\n%+v", got, want)
	}
}

// TestCountPhrases: the audit's counts agree in number.
func TestCountPhrases(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{count(1, "field"), "1 field"}, {count(0, "item"), "0 items"}, {count(2, "group"), "2 groups"},
		{verbCount(1, "item", "contains", "contain"), "1 item contains"}, {verbCount(3, "item", "contains", "contain"), "3 items contain"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}
