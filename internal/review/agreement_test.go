package review

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// near reports whether got rounds to want at 4 decimals (REFERENCE.md §10 gives 4).
func near4(got, want float64) bool { return math.Abs(got-want) <= 5e-5 }

func categorical(name string, options ...string) Field {
	return Field{Name: name, Kind: Categorical, Options: options}
}

// cohenLabels expands REFERENCE.md §10's Cohen confusion matrix [[20,20],[10,50]] (rows:
// annotator ana, columns: annotator ben; categories yes, no) into 100 items' labels.
func cohenLabels() []Label {
	confusion := [][]int{{20, 20}, {10, 50}}
	cats := []string{"yes", "no"}
	var labels []Label
	item := 0
	for i, row := range confusion {
		for j, n := range row {
			for range n {
				item++
				id := fmt.Sprintf("item-%03d", item)
				labels = append(labels,
					Label{Item: id, Annotator: "ana", Field: "helpful", Value: cats[i]},
					Label{Item: id, Annotator: "ben", Field: "helpful", Value: cats[j]})
			}
		}
	}
	return labels
}

func TestAgreementCohenVector(t *testing.T) {
	labels := cohenLabels()
	// Labels of another field and empty values must not count.
	labels = append(labels, Label{Item: "item-001", Annotator: "cy", Field: "tone", Value: "yes"},
		Label{Item: "item-001", Annotator: "dee", Field: "helpful", Value: "  "})
	fa, err := Agreement(categorical("helpful", "yes", "no"), labels)
	if err != nil {
		t.Fatal(err)
	}
	if fa.Items != 100 || fa.Annotators != 2 || fa.Labels != 200 {
		t.Errorf("items, annotators, labels = %d, %d, %d; want 100, 2, 200", fa.Items, fa.Annotators, fa.Labels)
	}
	if math.Abs(fa.PercentAgreement-0.70) > 1e-12 {
		t.Errorf("percent agreement = %v, want 0.70 (70 of 100 items on the diagonal)", fa.PercentAgreement)
	}
	if fa.Cohen == nil || !near4(fa.Cohen.Value, 0.3478) || fa.Cohen.Reading != "fair" || fa.Cohen.N != 100 {
		t.Fatalf("Cohen = %+v, want 0.3478 fair over 100 items", fa.Cohen)
	}
	// Two labels per item: Fleiss' κ is Scott's π, pooling both annotators' frequencies:
	// p(yes) = 70/200, pe = 0.35² + 0.65² = 0.545, π = (0.70 − 0.545)/(1 − 0.545).
	if fa.Fleiss == nil || math.Abs(fa.Fleiss.Value-0.155/0.455) > 1e-12 {
		t.Errorf("Fleiss = %+v, want Scott's π %.6f", fa.Fleiss, 0.155/0.455)
	}
	// Two coders, no missing values: α = 1 − (2N − 1)/(2N)·(1 − π) (Krippendorff 2011).
	if fa.Alpha == nil || fa.Alpha.Metric != "nominal" || math.Abs(fa.Alpha.Value-(1-199.0/200*(1-fa.Fleiss.Value))) > 1e-12 {
		t.Errorf("Alpha = %+v, want nominal 1 − 199/200·(1 − π)", fa.Alpha)
	}
	if fa.Note != "" {
		t.Errorf("note = %q, want none: every statistic is defined", fa.Note)
	}
}

// fleissCounts is REFERENCE.md §10's Fleiss example: 10 items × 14 raters × 5 categories.
var fleissCounts = [][]int{
	{0, 0, 0, 0, 14}, {0, 2, 6, 4, 2}, {0, 0, 3, 5, 6}, {0, 3, 9, 2, 0}, {2, 2, 8, 1, 1},
	{7, 7, 0, 0, 0}, {3, 2, 6, 3, 0}, {2, 5, 3, 2, 2}, {6, 5, 2, 1, 0}, {0, 2, 2, 3, 7},
}

func fleissLabels(field string) []Label {
	var labels []Label
	for i, row := range fleissCounts {
		r := 0
		for c, n := range row {
			for range n {
				r++
				labels = append(labels, Label{Item: fmt.Sprint("q", i+1), Annotator: fmt.Sprint("rater", r), Field: field, Value: fmt.Sprint(c + 1)})
			}
		}
	}
	return labels
}

func TestAgreementFleissVector(t *testing.T) {
	for _, kind := range []Kind{Categorical, Ordinal} {
		t.Run(string(kind), func(t *testing.T) {
			f := Field{Name: "grade", Kind: kind, Options: []string{"1", "2", "3", "4", "5"}}
			fa, err := Agreement(f, fleissLabels("grade"))
			if err != nil {
				t.Fatal(err)
			}
			// Fleiss' κ treats ordinal options as unordered categories: the same value.
			if fa.Fleiss == nil || !near4(fa.Fleiss.Value, 0.2099) || fa.Fleiss.Reading != "fair" || fa.Fleiss.N != 10 {
				t.Fatalf("Fleiss = %+v, want 0.2099 fair over 10 items", fa.Fleiss)
			}
			if fa.Cohen != nil || !strings.Contains(fa.Note, "Cohen's κ needs exactly two annotators; this field has 14") {
				t.Errorf("Cohen = %+v, note %q: want absent, saying there are 14 annotators", fa.Cohen, fa.Note)
			}
			if fa.Items != 10 || fa.Annotators != 14 || fa.Labels != 140 {
				t.Errorf("items, annotators, labels = %d, %d, %d; want 10, 14, 140", fa.Items, fa.Annotators, fa.Labels)
			}
			// Fleiss' P̄ is the mean share of agreeing pairs: the percent agreement.
			if !near4(fa.PercentAgreement, 0.3780) {
				t.Errorf("percent agreement = %.4f, want P̄ = 0.3780", fa.PercentAgreement)
			}
			if kind == Categorical {
				// Complete data: α = 1 − (n − 1)/n·(1 − κ) with n = 140 values.
				want := 1 - 139.0/140*(1-fa.Fleiss.Value)
				if fa.Alpha == nil || math.Abs(fa.Alpha.Value-want) > 1e-12 || fa.Alpha.Metric != "nominal" {
					t.Errorf("Alpha = %+v, want nominal %.6f", fa.Alpha, want)
				}
			} else if fa.Alpha == nil || fa.Alpha.Metric != "ordinal" {
				t.Errorf("Alpha = %+v, want the ordinal metric", fa.Alpha)
			}
		})
	}
}

// wikipediaLabels is REFERENCE.md §10's Krippendorff data (3 coders × 15 units, "*"
// missing) as labels, each value v written as names[v-1].
func wikipediaLabels(field string, names []string) []Label {
	coders := map[string]string{
		"A": "* * * * * 3 4 1 2 1 1 3 3 * 3",
		"B": "1 * 2 1 3 3 4 3 * * * * * * *",
		"C": "* * 2 1 3 4 4 * 2 1 1 3 3 * 4",
	}
	var labels []Label
	for _, c := range []string{"A", "B", "C"} {
		for u, v := range strings.Fields(coders[c]) {
			if v == "*" {
				continue
			}
			var n int
			fmt.Sscan(v, &n)
			labels = append(labels, Label{Item: fmt.Sprint("unit", u+1), Annotator: c, Field: field, Value: names[n-1]})
		}
	}
	return labels
}

func TestAgreementAlphaVectors(t *testing.T) {
	tests := []struct {
		name   string
		field  Field
		names  []string
		metric string
		want   float64
	}{
		// Published (REFERENCE.md §10): nominal 56/81, interval 0.810845.
		{"categorical", categorical("topic", "a", "b", "c", "d"), []string{"a", "b", "c", "d"}, "nominal", 56.0 / 81},
		{"numeric", Field{Name: "score", Kind: Numeric}, []string{"1", "2", "3.0", "4"}, "interval", 0.810845},
		// Computed by hand in internal/agreement (TestWikipediaOrdinalByHand). The options are
		// words whose alphabetical order (fair, good, great, poor) is not the scale's: the
		// options' order must be used.
		{"ordinal", Field{Name: "quality", Kind: Ordinal, Options: []string{"poor", "fair", "good", "great"}},
			[]string{"poor", "fair", "good", "great"}, "ordinal", 1 - 25*537.5/69524},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa, err := Agreement(tt.field, wikipediaLabels(tt.field.Name, tt.names))
			if err != nil {
				t.Fatal(err)
			}
			if fa.Alpha == nil || math.Abs(fa.Alpha.Value-tt.want) > 5e-7 || fa.Alpha.Metric != tt.metric || fa.Alpha.N != 12 {
				t.Fatalf("Alpha = %+v, want %s %.6f over 12 items", fa.Alpha, tt.metric, tt.want)
			}
			if want := readAlpha(tt.want); fa.Alpha.Reading != want {
				t.Errorf("reading = %q, want %q", fa.Alpha.Reading, want)
			}
			// 27 values, 26 of them pairable in 12 units; 2 or 3 labels per unit.
			if fa.Items != 12 || fa.Annotators != 3 || fa.Labels != 27 {
				t.Errorf("items, annotators, labels = %d, %d, %d; want 12, 3, 27", fa.Items, fa.Annotators, fa.Labels)
			}
			// Per unit: 9 unanimous pairs or triples, unit 6 (3,3,4) 1 of 3 pairs, units 8
			// and 15 none: (9 + 1/3)/12.
			if math.Abs(fa.PercentAgreement-(9+1.0/3)/12) > 1e-12 {
				t.Errorf("percent agreement = %v, want %v", fa.PercentAgreement, (9+1.0/3)/12)
			}
			if fa.Cohen != nil || fa.Fleiss != nil {
				t.Errorf("Cohen %+v, Fleiss %+v: want both absent (3 coders, 2 or 3 labels per unit)", fa.Cohen, fa.Fleiss)
			}
			if tt.field.Kind != Numeric && !strings.Contains(fa.Note, "Fleiss' κ needs the same number of labels on every item; items have between 2 and 3") {
				t.Errorf("note = %q, want why Fleiss' κ is absent", fa.Note)
			}
		})
	}
}

func readAlpha(a float64) string {
	switch {
	case a >= 0.8:
		return "reliable"
	case a >= 0.667:
		return "tentative"
	}
	return "unreliable"
}

func TestAgreementUndefined(t *testing.T) {
	yesno := Field{Name: "ok", Kind: Boolean}
	l := func(item, who, v string) Label { return Label{Item: item, Annotator: who, Field: "ok", Value: v} }

	// Everybody said yes: agreement is 100% but no chance-corrected statistic is defined.
	fa, err := Agreement(yesno, []Label{l("1", "a", "yes"), l("1", "b", "true"), l("2", "a", "1"), l("2", "b", "Yes")})
	if err != nil {
		t.Fatal(err)
	}
	if fa.PercentAgreement != 1 || fa.Cohen != nil || fa.Fleiss != nil || fa.Alpha != nil {
		t.Errorf("got %+v; want 100%% agreement and no κ or α", fa)
	}
	if want := "Cohen's κ, Fleiss' κ and Krippendorff's α are undefined: every label compared is the same value"; !strings.HasPrefix(fa.Note, want) {
		t.Errorf("note = %q, want %q", fa.Note, want)
	}

	// Nobody labelled the same item.
	fa, err = Agreement(yesno, []Label{l("1", "a", "yes"), l("2", "b", "no")})
	if err != nil {
		t.Fatal(err)
	}
	if fa.Items != 0 || fa.Labels != 2 || fa.Cohen != nil || fa.Alpha != nil || !strings.Contains(fa.Note, "no item has labels from two annotators") {
		t.Errorf("got %+v; want no statistics and a note", fa)
	}

	// Numeric: no κ, and the note says to read α.
	fa, err = Agreement(Field{Name: "ok", Kind: Numeric}, []Label{l("1", "a", "1"), l("1", "b", "2"), l("2", "a", "5"), l("2", "b", "5")})
	if err != nil {
		t.Fatal(err)
	}
	if fa.Cohen != nil || fa.Fleiss != nil || fa.Alpha == nil || !strings.Contains(fa.Note, "κ is not computed for numeric fields") {
		t.Errorf("got %+v; want α alone with a note on κ", fa)
	}

	// Numbers whose squares overflow: no α (a NaN would not even encode as JSON).
	fa, err = Agreement(Field{Name: "ok", Kind: Numeric}, []Label{l("1", "a", "1e200"), l("1", "b", "-1e200"), l("2", "a", "1e200"), l("2", "b", "1e200")})
	if err != nil {
		t.Fatal(err)
	}
	if fa.Alpha != nil || !strings.Contains(fa.Note, "Krippendorff's α could not be computed: the values are too large") {
		t.Errorf("got %+v; want no α and a note", fa)
	}
	if _, err := json.Marshal(fa); err != nil {
		t.Error(err)
	}
}

func TestAgreementErrors(t *testing.T) {
	f := categorical("tone", "polite", "rude")
	l := func(item, who, v string) Label { return Label{Item: item, Annotator: who, Field: "tone", Value: v} }
	tests := []struct {
		name   string
		field  Field
		labels []Label
		want   string
	}{
		{"comment", Field{Name: "notes", Kind: Comment}, nil, `field "notes" is a comment`},
		{"bad field", Field{Name: "tone", Kind: Categorical, Options: []string{"x"}}, nil, "needs at least 2 options"},
		{"bad value", f, []Label{l("q1", "ana", "polite"), l("q1", "ben", "snarky")}, `item "q1", annotator "ben": field "tone": "snarky" is not one of its options: give one of polite, rude`},
		{"twice", f, []Label{l("q1", "ana", "polite"), l("q1", "ana", "rude")}, `item "q1": annotator "ana" labelled field "tone" twice ("polite" and "rude")`},
		{"no annotator", f, []Label{l("q1", "", "polite")}, "no item or no annotator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Agreement(tt.field, tt.labels)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRubricAgreement(t *testing.T) {
	r := Rubric{Fields: []Field{
		{Name: "notes", Kind: Comment},
		categorical("helpful", "yes", "no"),
		{Name: "grade", Kind: Ordinal, Options: []string{"1", "2", "3", "4", "5"}},
	}}
	labels := append(cohenLabels(), fleissLabels("grade")...)
	labels = append(labels, Label{Item: "q1", Annotator: "rater1", Field: "notes", Value: "<script>alert(1)</script>"})
	got, err := RubricAgreement(r, labels)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Field != "helpful" || got[1].Field != "grade" {
		t.Fatalf("fields = %+v, want helpful then grade (comments skipped, rubric order)", got)
	}
	if !near4(got[0].Cohen.Value, 0.3478) || !near4(got[1].Fleiss.Value, 0.2099) {
		t.Errorf("Cohen %v, Fleiss %v: want 0.3478, 0.2099", got[0].Cohen.Value, got[1].Fleiss.Value)
	}
	_, err = RubricAgreement(r, append(labels, Label{Item: "q1", Annotator: "x", Field: "helpfull", Value: "yes"}))
	if err == nil || !strings.Contains(err.Error(), `the rubric has no field "helpfull": use one of notes, helpful, grade`) {
		t.Errorf("error = %v, want the unknown field named", err)
	}
}
