package gateway

import (
	"encoding/json"
	"math/rand"
	"testing"
)

// marshalFields writes what marshal writes for a request's fields, byte for byte: keys
// sorted and escaped, values compacted (spaces in strings kept), nothing escaped for HTML.
func TestMarshalFieldsIsMarshal(t *testing.T) {
	keys := []string{"model", "messages", "stream", "a", "Z", "é", "x\"y", `back\slash`, "tab\t", "\u2028", "<&>", "", "bad\xff"}
	values := []string{`"gpt"`, ` [ {"role" : "user", "content" : "a  b\n\"c\" \\ d <&>"} ] `, `true`, `null`,
		"{\n\t\"include_usage\": true\r\n}", ` 1.5e3 `, `"\u00e9 \" \\"`, `[]`, `{}`, `"<script>"`, `"\u2028"`}
	r := rand.New(rand.NewSource(1))
	for n := 0; n < 2000; n++ {
		f := map[string]json.RawMessage{}
		for i := r.Intn(len(keys) + 1); i > 0; i-- {
			f[keys[r.Intn(len(keys))]] = json.RawMessage(values[r.Intn(len(values))])
		}
		if got, want := marshalFields(f), marshal(f); string(got) != string(want) {
			t.Fatalf("marshalFields(%q)\n= %s\nwant %s", f, got, want)
		}
		// Fields set over f: what marshal writes for f with them set, and f unchanged.
		var over []field
		set := map[string]json.RawMessage{}
		for k, v := range f {
			set[k] = v
		}
		for i := r.Intn(3); i > 0; i-- {
			o := field{keys[r.Intn(len(keys))], json.RawMessage(values[r.Intn(len(values))])}
			over = append(over, o)
			set[o.key] = o.value
		}
		before := marshal(f)
		if got, want := marshalFields(f, over...), marshal(set); string(got) != string(want) {
			t.Fatalf("marshalFields(%q, %q)\n= %s\nwant %s", f, over, got, want)
		}
		if after := marshal(f); string(after) != string(before) {
			t.Fatalf("marshalFields changed its map: %s, was %s", after, before)
		}
	}
}
