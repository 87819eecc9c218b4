package dataset

import (
	"fmt"
	"strings"

	"github.com/plumbhq/plumb/internal/report"
)

// FromFailed turns the failed results of a stored run into dataset items, one per failed
// test (a test's repeats and providers share its vars): the test's vars; as expected
// output, the test's metadata "expected" when it is text; its other metadata; as segment,
// the result's segment (a "k=v,k=v" segment is split into fields, any other is the field
// "segment"); source "run RUN test N" (and the test's description). Consent is false: the
// run does not say where its inputs came from.
func FromFailed(runID string, results []report.Result) []Item {
	var out []Item
	seen := map[int]bool{}
	for _, r := range results {
		if r.Passed || seen[r.Test.Index] {
			continue
		}
		seen[r.Test.Index] = true
		it := Item{Vars: map[string]any{}, Source: fmt.Sprintf("run %s test %d", runID, r.Test.Index)}
		if r.Test.Description != "" {
			it.Source += " (" + r.Test.Description + ")"
		}
		for k, v := range r.Test.Vars {
			it.Vars[k] = v
		}
		for k, v := range r.Test.Metadata {
			if s, ok := v.(string); ok && k == "expected" {
				it.Expected = s
				continue
			}
			if it.Metadata == nil {
				it.Metadata = map[string]any{}
			}
			it.Metadata[k] = v
		}
		if seg := r.Test.Segment; seg != "" {
			it.Segment = segmentFields(seg)
		}
		out = append(out, it)
	}
	return out
}

// segmentFields reads a result's segment: "locale=fr,tier=gold" as two fields, anything
// else as the field "segment".
func segmentFields(seg string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(seg, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || strings.TrimSpace(k) == "" {
			return map[string]string{"segment": seg}
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}
