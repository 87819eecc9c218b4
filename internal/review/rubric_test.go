package review

import (
	"errors"
	"strings"
	"testing"
)

func ptr(x float64) *float64 { return &x }

func TestNormalize(t *testing.T) {
	tone := Field{Name: "tone", Kind: Categorical, Options: []string{"Polite", "rude"}}
	likert := Field{Name: "clarity", Kind: Ordinal, Options: []string{"1", "2", "3", "4", "5"}}
	score := Field{Name: "score", Kind: Numeric, Min: ptr(1), Max: ptr(5)}
	free := Field{Name: "score", Kind: Numeric}
	atLeast := Field{Name: "latency", Kind: Numeric, Min: ptr(0)}
	ok := Field{Name: "ok", Kind: Boolean}
	notes := Field{Name: "notes", Kind: Comment}
	tests := []struct {
		field   Field
		in      string
		want    string
		wantErr string
	}{
		{tone, "Polite", "Polite", ""},
		{tone, "  polite ", "Polite", ""},
		{tone, "RUDE", "rude", ""},
		{tone, "snarky", "", `field "tone": "snarky" is not one of its options: give one of Polite, rude`},
		{tone, " ", "", `field "tone": the value is empty: give one of Polite, rude`},
		{likert, "4", "4", ""},
		{likert, "4.0", "", `"4.0" is not one of its options`},
		{score, "3.0", "3", ""},
		{score, " 2.50 ", "2.5", ""},
		{score, "5", "5", ""},
		{score, "5.01", "", `field "score": 5.01 is out of range: give a number from 1 to 5`},
		{score, "0", "", "out of range"},
		{score, "three", "", `"three" is not a number: give a number from 1 to 5`},
		{free, "-0", "0", ""},
		{free, "1e3", "1000", ""},
		{free, "0.1", "0.1", ""},
		{free, "NaN", "", "not a number"},
		{free, "Inf", "", "not a number"},
		{atLeast, "-1", "", "give a number of at least 0"},
		{ok, "Yes", "true", ""},
		{ok, "TRUE", "true", ""},
		{ok, "1", "true", ""},
		{ok, "no", "false", ""},
		{ok, "0", "false", ""},
		{ok, "False", "false", ""},
		{ok, "maybe", "", `field "ok": "maybe" is not a yes/no answer: give true or false (yes/no, 1/0)`},
		{notes, "  <b>fine</b>  ", "<b>fine</b>", ""},
		{notes, "", "", ""},
	}
	for _, tt := range tests {
		got, err := tt.field.Normalize(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s %q: unexpected error %v", tt.field.Name, tt.in, err)
		case tt.wantErr == "" && got != tt.want:
			t.Errorf("%s %q = %q, want %q", tt.field.Name, tt.in, got, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s %q: error %v, want %q", tt.field.Name, tt.in, err, tt.wantErr)
		}
	}
}

func TestCheck(t *testing.T) {
	valid := Field{Name: "tone", Kind: Categorical, Options: []string{"a", "b"}}
	tests := []struct {
		name   string
		fields []Field
		want   []string // one substring per expected error, in order
	}{
		{"valid", []Field{valid, {Name: "score", Kind: Numeric, Min: ptr(1), Max: ptr(1)}, {Name: "notes", Kind: Comment, Required: true}}, nil},
		{"empty", nil, []string{"the rubric has no fields"}},
		{"no name", []Field{{Kind: Boolean}}, []string{"field 1: name is missing"}},
		{"bad name", []Field{{Name: "tone of voice", Kind: Boolean}}, []string{`field "tone of voice": the name must be letters, digits`}},
		{"duplicate", []Field{valid, valid}, []string{`field "tone": fields 1 and 2 are both named "tone": rename one`}},
		{"no kind", []Field{{Name: "x"}}, []string{`field "x": kind is missing: give one of categorical, ordinal, numeric, boolean or comment`}},
		{"bad kind", []Field{{Name: "x", Kind: "likert"}}, []string{`field "x": kind "likert" is not one of categorical`}},
		{"one option", []Field{{Name: "x", Kind: Ordinal, Options: []string{"good"}}}, []string{"an ordinal field needs at least 2 options"}},
		{"repeated option", []Field{{Name: "x", Kind: Categorical, Options: []string{"Yes", "no", "yes"}}}, []string{`options "Yes" and "yes" are the same`}},
		{"spaced option", []Field{{Name: "x", Kind: Categorical, Options: []string{" a", "b", ""}}}, []string{`option " a" has spaces around it`, "an option is empty"}},
		{"options on boolean", []Field{{Name: "x", Kind: Boolean, Options: []string{"a", "b"}}}, []string{"options apply to categorical and ordinal fields only"}},
		{"min on ordinal", []Field{{Name: "x", Kind: Ordinal, Options: []string{"a", "b"}, Max: ptr(3)}}, []string{"min and max apply to numeric fields only"}},
		{"min above max", []Field{{Name: "x", Kind: Numeric, Min: ptr(5), Max: ptr(1)}}, []string{`field "x": min 5 is above max 1: swap them`}},
		{"several", []Field{{Name: "a", Kind: "x"}, {Name: "b"}}, []string{`field "a": kind "x"`, `field "b": kind is missing`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Rubric{Fields: tt.fields}.Check()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != len(tt.want) {
				t.Fatalf("error = %v, want %d problems: %q", err, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("problem %d = %q, want %q", i+1, errs[i], w)
				}
			}
		})
	}
}

func TestParseRubric(t *testing.T) {
	yamlRubric := `# support answers
fields:
  - name: helpful
    kind: boolean
    required: true
    help: Does the answer solve the customer's problem?
  - name: tone
    kind: ordinal
    options: [rude, neutral, warm]
  - name: score
    kind: numeric
    min: 0
    max: 10
  - name: notes
    kind: comment
`
	r, err := ParseRubric([]byte(yamlRubric))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Fields) != 4 || r.Fields[1].Options[2] != "warm" || *r.Fields[2].Max != 10 || !r.Fields[0].Required || r.Fields[3].Kind != Comment {
		t.Errorf("rubric = %+v", r)
	}
	j, err := ParseRubric([]byte(`{"fields":[{"name":"helpful","kind":"boolean","required":true,"help":"Does the answer solve the customer's problem?"},
{"name":"tone","kind":"ordinal","options":["rude","neutral","warm"]},{"name":"score","kind":"numeric","min":0,"max":10},{"name":"notes","kind":"comment"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Fields) != len(r.Fields) || j.Fields[1].Name != "tone" || *j.Fields[2].Min != 0 || j.Fields[0].Help != r.Fields[0].Help {
		t.Errorf("JSON rubric = %+v, want the same as the YAML one", j)
	}

	tests := []struct {
		name, data string
		want       []string // one per problem, each starting with line:col
	}{
		{"empty", "\n", []string{"1:1: the rubric is empty"}},
		{"unknown key", "fields:\n  - name: tone\n    kind: categorical\n    optons: [a, b]\n",
			[]string{`4:5: unknown field "optons"`}},
		{"wrong type", "fields:\n  - name: score\n    kind: numeric\n    min: low\n",
			[]string{"4:10: this value must be a number, not string"}},
		{"syntax", "fields:\n  - name: tone\n    kind: [categorical\n", []string{"3:11: "}},
		{"duplicate key", "fields:\n  - name: tone\n    name: voice\n    kind: boolean\n", []string{`3:5: mapping key "name" already defined`}},
		{"check problems", `fields:
  - name: tone
    kind: ordinal
    options: [good]
  - name: tone
    kind: numeric
    min: 5
    max: 1
  - kind: boolean
  - name: x
    kind: likert
`, []string{
			`4:14: field "tone": an ordinal field needs at least 2 options`,
			`8:10: field "tone": min 5 is above max 1`,
			`5:11: field "tone": fields 1 and 2 are both named "tone"`,
			`9:5: field 3: name is missing`,
			`11:11: field "x": kind "likert" is not one of`,
		}},
		{"no fields", "fields: []\n", []string{"1:9: the rubric has no fields"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRubric([]byte(tt.data))
			if err == nil {
				t.Fatal("no error")
			}
			var probs []string
			var errs Errors
			if errors.As(err, &errs) {
				for _, e := range errs {
					probs = append(probs, e.Error())
				}
			} else {
				probs = []string{err.Error()}
			}
			if len(probs) != len(tt.want) {
				t.Fatalf("problems = %q, want %d: %q", probs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(probs[i], w) || (strings.Contains(w, ": ") && !strings.HasPrefix(probs[i], strings.SplitN(w, " ", 2)[0])) {
					t.Errorf("problem %d = %q, want %q", i+1, probs[i], w)
				}
			}
		})
	}
}
