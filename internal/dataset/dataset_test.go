package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func read(t *testing.T, name, format, mapping, data string) ([]Item, error) {
	t.Helper()
	m, err := ParseMapping(mapping)
	if err != nil {
		t.Fatalf("ParseMapping(%q): %v", mapping, err)
	}
	return Read(strings.NewReader(data), name, format, m)
}

// TestDefaultMapping: expected, metadata.*, segment.*, source and consent go to their fields;
// everything else is a var; the three formats agree.
func TestDefaultMapping(t *testing.T) {
	want := Item{Vars: map[string]any{"question": "Where is my refund?", "tier": "gold"}, Expected: "In 5 days.",
		Metadata: map[string]any{"ticket": "T-1"}, Segment: map[string]string{"locale": "fr"},
		Source: "zendesk", Consent: true, ConsentBasis: "contract"}
	for _, c := range []struct{ format, data string }{
		{FormatCSV, "question,tier,expected_output,metadata.ticket,segment.locale,source,consent,consent_basis\n" +
			"Where is my refund?,gold,In 5 days.,T-1,fr,zendesk,yes,contract\n"},
		{FormatJSONL, `{"question":"Where is my refund?","tier":"gold","expected":"In 5 days.","metadata":{"ticket":"T-1"},"segment.locale":"fr","source":"zendesk","consent":true,"consent_basis":"contract"}` + "\n"},
		{FormatJSON, `[{"vars":{"question":"Where is my refund?"},"tier":"gold","expected":"In 5 days.","metadata.ticket":"T-1","segment":{"locale":"fr"},"source":"zendesk","consent":"1","consent_basis":"contract"}]`},
	} {
		items, err := read(t, "f."+c.format, c.format, "", c.data)
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		if len(items) != 1 {
			t.Fatalf("%s: %d items", c.format, len(items))
		}
		got := items[0]
		got.Line, got.Record = 0, 0
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.format, got, want)
		}
	}
}

// TestExplicitMapping: --map rules pick fields (nested paths too); the rest follow the
// defaults; a column that would default to a mapped target becomes a var.
func TestExplicitMapping(t *testing.T) {
	data := "q,answer,expected,lang,who\nhi,hello,old,en,bob\n"
	items, err := read(t, "f.csv", FormatCSV, "vars.question=q, expected=answer, segment.locale=lang, ignore=who", data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"question": "hi", "expected": "old"}
	if got := items[0]; !reflect.DeepEqual(got.Vars, want) || got.Expected != "hello" || got.Segment["locale"] != "en" {
		t.Errorf("got %+v", got)
	}
	items, err = read(t, "f.jsonl", FormatJSONL, "vars.q=input.text,expected=output.0", `{"input":{"text":"hi"},"output":"x"}`+"\n")
	if err == nil || !strings.Contains(err.Error(), "expected=output.0") {
		t.Errorf("unmatched rule: items %v, err %v; want an error naming the rule", items, err)
	}
	items, err = read(t, "f.jsonl", FormatJSONL, "vars.q=input.text,expected=output", `{"input":{"text":"hi"},"output":"x"}`+"\n")
	if err != nil || items[0].Vars["q"] != "hi" || items[0].Expected != "x" || len(items[0].Vars) != 1 {
		t.Errorf("nested path: %+v, %v", items, err)
	}
	for _, bad := range []string{"expected", "nope=x", "vars=x", "expected.x=y", "expected=a,expected=b"} {
		if _, err := ParseMapping(bad); err == nil {
			t.Errorf("ParseMapping(%q) accepted", bad)
		}
	}
}

// TestReadErrors: every problem names the file and line and says what to do.
func TestReadErrors(t *testing.T) {
	for _, c := range []struct{ format, data, want string }{
		{FormatJSONL, "{\"q\":1}\n\n{\"q\":\n", "d:3: invalid JSON"},
		{FormatJSONL, "{\"q\":1}\n[1]\n", "d:2: an array, not an object"},
		{FormatJSONL, `{"q":1,"consent":"maybe"}` + "\n", `d:1: field consent (consent) is "maybe"`},
		{FormatJSONL, `{"expected":"a","expected_output":"b"}` + "\n", "d:1: both expected and expected_output"},
		{FormatCSV, "a,b\n1,2\n3\n", "d:3: wrong number of fields"},
		{FormatCSV, "a,a\n1,2\n", `d:1: columns 1 and 2 are both named "a"`},
		{FormatJSON, "[\n {\"q\": 1},\n 7\n]", "d:3: record 2: the array holds a number"},
		{FormatJSONL, `{"q":1,"vars":3}` + "\n", `d:1: field vars is a number ("3"), not an object`},
		{FormatJSON, `[{"q":1,"metadata":"x"}]`, `d:1: record 1: field metadata is a text ("x"), not an object`},
		// A one-line array: the record says which element, the column where JSON breaks.
		{FormatJSON, `[{"q":"Hello there"},{"q":"hi","consent":"maybe"}]`, `d:1: record 2: field consent (consent) is "maybe"`},
		{FormatJSON, `[{"q":"Hello there"},{"q":"hi",}]`, `d:1:32: record 2: invalid JSON`},
		{FormatJSON, "[\n  {\"q\": 1},\n  {\"q\": x}\n]", `d:3:9: record 2: invalid JSON`},
		{FormatCSV, "q,segment\n1,gold\n", `d:2: field segment is a text ("gold"), not an object: give segment as an object`},
		{FormatJSON, `{"q":1}`, "d:1: a JSON dataset is an array of objects"},
		{FormatJSONL, `{"q":1,"segment":{"tier":{"x":1}}}` + "\n", "d:1: field segment.tier (segment tier) is an object"},
	} {
		_, err := read(t, "d", c.format, "", c.data)
		var es Errors
		if !errors.As(err, &es) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: error %v, want %q", c.format, c.data, err, c.want)
		}
	}
	// Many bad lines: reading stops at maxErrors.
	_, err := read(t, "d", FormatJSONL, "", strings.Repeat(`{"consent":"?"}`+"\n", 100))
	var es Errors
	if !errors.As(err, &es) || len(es) != maxErrors {
		t.Errorf("100 bad lines: %d errors, want %d", len(es), maxErrors)
	}
}

// TestPlaces: near-duplicates of a one-line JSON array are named by record, those of JSONL
// by line.
func TestPlaces(t *testing.T) {
	items, err := read(t, "d.json", FormatJSON, "", `[{"q":"Hello there"},{"q":"hello, THERE!"}]`)
	if err != nil {
		t.Fatal(err)
	}
	if got := Places(items, []int{1, 2}); got != "records 1, 2" {
		t.Errorf("JSON array: %q, want records 1, 2", got)
	}
	items, err = read(t, "d.jsonl", FormatJSONL, "", "{\"q\":\"a\"}\n\n{\"q\":\"A\"}\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := Places(items, []int{1, 2}); got != "lines 1, 3" {
		t.Errorf("JSONL: %q, want lines 1, 3", got)
	}
	if got := Places(nil, []int{1, 2}); got != "items 1, 2" {
		t.Errorf("no file: %q, want items 1, 2", got)
	}
}

// TestRoundTrip: what Write writes, Read reads back to the same items, in each format.
func TestRoundTrip(t *testing.T) {
	items := []Item{
		{Vars: map[string]any{"question": "Ça va ? \"quoted\", comma", "source": "var named source", "multi": "line1\nline2"},
			Expected: "<b>oui</b> & non", Metadata: map[string]any{"ticket": "T-1"}, Segment: map[string]string{"locale": "fr"},
			Source: "crm", Consent: true, ConsentBasis: "contract"},
		{Vars: map[string]any{"question": "plain"}},
	}
	typed := append([]Item{}, items...)
	typed = append(typed, Item{Vars: map[string]any{"n": json.Number("1.50"), "list": []any{"a", true, nil}, "obj": map[string]any{"k": json.Number("2")}},
		Expected: "x", Metadata: map[string]any{"score": json.Number("0.5")}})
	for _, c := range []struct {
		format string
		items  []Item
	}{{FormatJSONL, typed}, {FormatJSON, typed}, {FormatJSON, nil}, {FormatCSV, items}} {
		var buf bytes.Buffer
		if err := Write(&buf, c.format, c.items); err != nil {
			t.Fatal(err)
		}
		got, err := Read(&buf, "x", c.format, Mapping{})
		if err != nil {
			t.Fatalf("%s: read back: %v\n%s", c.format, err, buf.String())
		}
		if len(got) != len(c.items) {
			t.Fatalf("%s: %d items back, want %d", c.format, len(got), len(c.items))
		}
		for i := range got {
			got[i].Line, got[i].Record = 0, 0
			want := c.items[i]
			if !reflect.DeepEqual(got[i], want) {
				t.Errorf("%s item %d:\n got %+v\nwant %+v", c.format, i, got[i], want)
			}
			h1, _ := ContentHash(got[i].Vars, got[i].Expected)
			h2, _ := ContentHash(want.Vars, want.Expected)
			if h1 != h2 {
				t.Errorf("%s item %d: hash changed", c.format, i)
			}
		}
	}
}

// TestContentHash: the hash is the SHA-256 of the canonical JSON, independent of key order,
// and numbers keep their written form.
func TestContentHash(t *testing.T) {
	// echo -n '{"expected":"A","vars":{"a":1,"b":"x"}}' | sha256sum
	h, err := ContentHash(map[string]any{"b": "x", "a": json.Number("1")}, "A")
	if err != nil {
		t.Fatal(err)
	}
	if want := "3501774e6a4e4b08a429677abab2c74a9a8d83a3002f8cd4e8b9f2521aa2d706"; h != want {
		t.Errorf("hash = %s, want %s", h, want)
	}
	canon, _ := CanonicalJSON(map[string]any{"vars": map[string]any{"b": "x", "a": json.Number("1")}, "expected": "A"})
	if canon != `{"expected":"A","vars":{"a":1,"b":"x"}}` {
		t.Errorf("canonical = %s", canon)
	}
	h2, _ := ContentHash(map[string]any{"a": json.Number("1.0"), "b": "x"}, "A")
	if h == h2 {
		t.Error("1 and 1.0 hash the same: numbers must keep their written form")
	}
}

// TestDeduplicate: exact copies are dropped (the first kept); near-duplicates are grouped and
// kept.
func TestDeduplicate(t *testing.T) {
	mk := func(line int, q, e string) Item { return Item{Vars: map[string]any{"q": q}, Expected: e, Line: line} }
	d, err := Deduplicate([]Item{
		mk(1, "Where is my refund?", "Soon."),
		mk(2, "where is   my REFUND", "soon"),
		mk(3, "Where is my refund?", "Soon."),
		mk(4, "Cancel my order", "Done."),
		mk(5, "cancel, my order!", "done"),
		mk(6, "Something else", "x"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Unique) != 5 || len(d.Duplicates) != 1 || d.Duplicates[0].Item.Line != 3 || d.Duplicates[0].Of.Line != 1 {
		t.Errorf("unique %d, duplicates %+v", len(d.Unique), d.Duplicates)
	}
	var groups [][]int
	for _, g := range d.NearGroups {
		var lines []int
		for _, it := range g {
			lines = append(lines, it.Line)
		}
		groups = append(groups, lines)
	}
	if want := [][]int{{1, 2}, {4, 5}}; !reflect.DeepEqual(groups, want) {
		t.Errorf("near groups (lines) = %v, want %v", groups, want)
	}
	for _, c := range []struct{ in, want string }{
		{"  Hello,   World!! ", "hello world"},
		{"Ça\tva ?\n", "ça va"},
		{"a-b_c", "abc"},
	} {
		if got := normalize(c.in); got != c.want {
			t.Errorf("normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
