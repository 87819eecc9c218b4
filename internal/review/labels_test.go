package review

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var testRubric = Rubric{Fields: []Field{
	{Name: "tone", Kind: Categorical, Options: []string{"polite", "rude"}},
	{Name: "score", Kind: Numeric, Min: ptr(1), Max: ptr(5)},
	{Name: "notes", Kind: Comment},
}}

func TestReadLabels(t *testing.T) {
	tests := []struct {
		name, format, field, data string
		want                      []Label
	}{
		{"csv", FormatCSV, "", "\ufeffItem,Annotator,Field,Value,when\n" +
			"q1,ana,tone,Polite,monday\n" +
			"q1,ana,score,4.0,\n" +
			"q1,ana,notes,\"said \"\"thanks\"\", twice\",\n" +
			"q2,ben,tone,,\n", // empty value: skipped
			[]Label{{"q1", "ana", "tone", "polite"}, {"q1", "ana", "score", "4"}, {"q1", "ana", "notes", `said "thanks", twice`}}},
		{"csv one field", FormatCSV, "tone", "item,annotator,value\nq1,ana,rude\nq1,ben,polite\n",
			[]Label{{"q1", "ana", "tone", "rude"}, {"q1", "ben", "tone", "polite"}}},
		{"csv one field of several", FormatCSV, "score", "item,annotator,field,value\nq1,ana,tone,rude\nq1,ana,score,2\n",
			[]Label{{"q1", "ana", "score", "2"}}},
		{"jsonl", FormatJSONL, "", `{"item":"q1","annotator":"ana","field":"tone","value":"rude"}` + "\n\n" +
			`{"item":7,"annotator":"ben","field":"score","value":3,"extra":{"x":1}}` + "\n" +
			`{"item":"q2","annotator":"ben","field":"score","value":null}` + "\n",
			[]Label{{"q1", "ana", "tone", "rude"}, {"7", "ben", "score", "3"}}},
		{"jsonl one field", FormatJSONL, "tone", `{"item":"q1","annotator":"ana","value":"polite"}` + "\n",
			[]Label{{"q1", "ana", "tone", "polite"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadLabels(strings.NewReader(tt.data), "labels", tt.format, testRubric, tt.field)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("labels = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadLabelsErrors(t *testing.T) {
	tests := []struct {
		name, format, field, data string
		want                      []string
	}{
		{"csv rows", FormatCSV, "", "item,annotator,field,value\n" +
			"q1,ana,tone,polite\n" +
			"q1,ana,tonne,polite\n" +
			"q1,ben,tone,snarky\n" +
			"q1,ana,tone,rude\n" +
			"q2,ana,score,9\n" +
			"q3,,tone,rude\n" +
			"q4,ana,tone\n", []string{
			`labels.csv:3: the rubric has no field "tonne": use one of tone, score, notes`,
			`labels.csv:4: field "tone": "snarky" is not one of its options: give one of polite, rude`,
			`labels.csv:5: annotator "ana" labelled field "tone" of item "q1" already on line 2: keep one label per annotator, item and field`,
			`labels.csv:6: field "score": 9 is out of range: give a number from 1 to 5`,
			`labels.csv:7: the annotator is empty`,
			`labels.csv:8: wrong number of columns`,
		}},
		{"csv header", FormatCSV, "", "item,who,value\nq1,ana,rude\n", []string{
			`labels.csv:1: the header row has no column annotator, field: name the columns item,annotator,field,value (or item,annotator,value and give the field)`,
		}},
		{"csv quote", FormatCSV, "", "item,annotator,field,value\nq1,ana,tone,\"polite\n", []string{`labels.csv:2: `}},
		{"jsonl", FormatJSONL, "", `{"item":"q1","annotator":"ana","field":"tone","value":"polite"}` + "\n" +
			`{"item":"q1",` + "\n" +
			`{"item":"q2","annotator":"ana","field":"tone","value":["polite"]}` + "\n" +
			`{"item":"q2","annotator":"ana","value":"polite"}` + "\n" +
			`[1,2]` + "\n", []string{
			`labels.jsonl:2: not a JSON object`,
			`labels.jsonl:3: value must be text, a number or true/false`,
			`labels.jsonl:4: no "field"`,
			`labels.jsonl:5: not a JSON object`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadLabels(strings.NewReader(tt.data), "labels."+tt.format, tt.format, testRubric, tt.field)
			var errs LineErrors
			if !errors.As(err, &errs) || len(errs) != len(tt.want) {
				t.Fatalf("error = %v, want %d problems", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("problem %d = %q, want %q", i+1, errs[i], w)
				}
			}
		})
	}
	if _, err := ReadLabels(strings.NewReader(""), "x", FormatCSV, testRubric, "tnoe"); err == nil || !strings.Contains(err.Error(), `the rubric has no field "tnoe"`) {
		t.Errorf("unknown --field: error = %v", err)
	}
}
