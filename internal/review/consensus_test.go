package review

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestConsensus(t *testing.T) {
	cat := categorical("topic", "billing", "bug", "other")
	ok := Field{Name: "ok", Kind: Boolean}
	// Alphabetical order (fair, good, great, poor) is not the scale's order.
	likert := Field{Name: "quality", Kind: Ordinal, Options: []string{"poor", "fair", "good", "great"}}
	num := Field{Name: "score", Kind: Numeric}
	tests := []struct {
		name   string
		field  Field
		values []string
		want   string
		agreed bool
	}{
		{"unanimous", cat, []string{"bug", "bug"}, "bug", true},
		{"2 of 3", cat, []string{"bug", "other", "bug"}, "bug", true},
		{"3 of 4", cat, []string{"bug", "bug", "other", "bug"}, "bug", true},
		{"2 of 4 is no majority", cat, []string{"bug", "bug", "other", "billing"}, "", false},
		{"tie", cat, []string{"bug", "other"}, "", false},
		{"normalized first", cat, []string{"Bug", " bug ", "other"}, "bug", true},
		{"empty values skipped", cat, []string{"", "bug", "  "}, "bug", true},
		{"a value not allowed", cat, []string{"bug", "bug", "feature"}, "", false},
		{"no values", cat, nil, "", false},
		{"boolean", ok, []string{"yes", "true", "0"}, "true", true},
		{"boolean tie", ok, []string{"1", "no"}, "", false},
		{"ordinal odd", likert, []string{"great", "poor", "fair"}, "fair", true},
		{"ordinal even, middles equal", likert, []string{"great", "good", "poor", "good"}, "good", true},
		{"ordinal even, middles differ", likert, []string{"fair", "good"}, "", false},
		{"ordinal single", likert, []string{"Great"}, "great", true},
		{"numeric odd", num, []string{"10", "9", "100"}, "10", true},
		{"numeric even, middles equal", num, []string{"3", "7", "3.0", "1"}, "3", true},
		{"numeric even, middles differ", num, []string{"1", "2"}, "", false},
		{"numeric not a number", num, []string{"1", "x", "1"}, "", false},
		{"comment", Field{Name: "notes", Kind: Comment}, []string{"same", "same"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, agreed := Consensus(tt.field, tt.values)
			if got != tt.want || agreed != tt.agreed {
				t.Errorf("Consensus(%q) = %q, %v; want %q, %v", tt.values, got, agreed, tt.want, tt.agreed)
			}
		})
	}
}

func TestDisagreements(t *testing.T) {
	l := func(item, who, field, v string) Label {
		return Label{Item: item, Annotator: who, Field: field, Value: v}
	}
	cat := categorical("topic", "billing", "bug", "other")
	labels := []Label{
		l("q3", "ana", "topic", "bug"), l("q3", "ben", "topic", "billing"), l("q3", "cy", "topic", "bug"),
		l("q1", "ana", "topic", "Bug"), l("q1", "ben", "topic", "bug"), // unanimous once normalized
		l("q2", "ana", "topic", "bug"), // one label: nothing to compare
		l("q4", "ana", "topic", "other"), l("q4", "ben", "topic", "billing"),
		l("q5", "ana", "topic", "bug"), l("q5", "ben", "topic", "<script>alert(1)</script>"),
		l("q4", "ana", "score", "1"), l("q4", "ben", "score", "1.5"), // another field
		l("q6", "ana", "topic", "bug"), l("q6", "ben", "topic", ""), // an empty value is no label
	}
	got := Disagreements(cat, labels)
	want := []Disagreement{
		{Item: "q3", Field: "topic", Values: map[string]string{"ana": "bug", "ben": "billing", "cy": "bug"}, Consensus: "bug", Agreed: true},
		{Item: "q4", Field: "topic", Values: map[string]string{"ana": "other", "ben": "billing"}},
		{Item: "q5", Field: "topic", Values: map[string]string{"ana": "bug", "ben": "<script>alert(1)</script>"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Disagreements =\n%+v\nwant\n%+v", got, want)
	}

	num := Field{Name: "score", Kind: Numeric}
	got = Disagreements(num, []Label{
		l("a", "ana", "score", "3"), l("a", "ben", "score", "3.0"), // equal numbers
		l("b", "ana", "score", "3"), l("b", "ben", "score", "3.5"), l("b", "cy", "score", "3.5"),
	})
	if len(got) != 1 || got[0].Item != "b" || got[0].Consensus != "3.5" || !got[0].Agreed {
		t.Errorf("numeric disagreements = %+v, want item b with median 3.5", got)
	}
	if d := Disagreements(Field{Name: "notes", Kind: Comment}, []Label{l("a", "x", "notes", "hi"), l("a", "y", "notes", "ho")}); d != nil {
		t.Errorf("comment disagreements = %+v, want none", d)
	}
}

func TestCompareJudge(t *testing.T) {
	// Ten results: both pass r1–r6, both fail r7–r8, judge pass and humans fail r9, judge
	// fail and humans pass r10. By hand: pₒ = 8/10; the judge passes 7/10 and so do the
	// humans, pₑ = 0.7·0.7 + 0.3·0.3 = 0.58; κ = (0.8 − 0.58)/(1 − 0.58) = 0.22/0.42.
	judge, human := map[string]bool{}, map[string]bool{}
	for i := 1; i <= 10; i++ {
		id := fmt.Sprint("r", i)
		judge[id] = i <= 6 || i == 9
		human[id] = i <= 6 || i == 10
	}
	judge["only-judge"] = true
	human["only-human"] = false
	ja := CompareJudge("llm-rubric:polite", judge, human)
	if ja.N != 10 || ja.Agree != 8 || ja.Rate != 0.8 || ja.BothPass != 6 || ja.BothFail != 2 || ja.JudgePassHumanFail != 1 || ja.JudgeFailHumanPass != 1 {
		t.Errorf("counts = %+v; want n 10, agree 8, 6/2/1/1", ja)
	}
	if ja.Kappa == nil || math.Abs(ja.Kappa.Value-0.22/0.42) > 1e-12 || ja.Kappa.Reading != "moderate" || ja.Kappa.N != 10 {
		t.Errorf("kappa = %+v, want 0.5238 moderate over 10", ja.Kappa)
	}

	// The judge passes everything and so do the humans: 100% agreement, κ undefined.
	ja = CompareJudge("a", map[string]bool{"x": true, "y": true}, map[string]bool{"x": true, "y": true})
	if ja.Rate != 1 || ja.Kappa != nil || !strings.Contains(ja.Note, "Cohen's κ is undefined") {
		t.Errorf("constant = %+v, want rate 1, no κ and a note", ja)
	}
	// The judge passes everything, the humans do not: κ is 0, chance level.
	ja = CompareJudge("a", map[string]bool{"x": true, "y": true}, map[string]bool{"x": true, "y": false})
	if ja.Kappa == nil || ja.Kappa.Value != 0 || ja.Rate != 0.5 {
		t.Errorf("judge constant = %+v, want κ 0 and rate 0.5", ja)
	}
	ja = CompareJudge("a", map[string]bool{"x": true}, map[string]bool{"y": true})
	if ja.N != 0 || ja.Kappa != nil || !strings.Contains(ja.Note, "no result has both") {
		t.Errorf("no overlap = %+v, want n 0 and a note", ja)
	}
}

func TestHumanVerdicts(t *testing.T) {
	f := Field{Name: "ok", Kind: Boolean}
	l := func(item, who, v string) Label { return Label{Item: item, Annotator: who, Field: "ok", Value: v} }
	got, err := HumanVerdicts(f, []Label{
		l("r1", "a", "yes"), l("r1", "b", "yes"), l("r1", "c", "no"),
		l("r2", "a", "no"),
		l("r3", "a", "yes"), l("r3", "b", "no"), // a tie: no consensus
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]bool{"r1": true, "r2": false}; !reflect.DeepEqual(got, want) {
		t.Errorf("verdicts = %v, want %v", got, want)
	}
	if _, err := HumanVerdicts(categorical("x", "a", "b"), nil); err == nil {
		t.Error("a categorical field: want an error")
	}
}
