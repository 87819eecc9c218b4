package report

import (
	"encoding/json"
	"io"
)

// WriteJSON writes r as the documented JSON report, {"run": ..., "summary": ..., "results":
// [...]}, indented. Empty lists and maps are written as [] and {} rather than null, so that
// tools such as jq can iterate over them without a special case.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return errNilReport
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // a report is read by people and tools, not embedded in HTML
	enc.SetIndent("", "  ")
	return enc.Encode(normalized(r))
}

// WriteJSONL writes one JSON object per result, one per line, each carrying the run's id as
// "run_id" so that lines from several runs can be concatenated and still told apart.
func WriteJSONL(w io.Writer, r *Report) error {
	if r == nil {
		return errNilReport
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // a report is read by people and tools, not embedded in HTML
	n := normalized(r)
	for i := range n.Results {
		line := struct {
			RunID string `json:"run_id"`
			*Result
		}{n.Run.ID, &n.Results[i]}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

// normalized returns a shallow copy of r whose nil slices and maps of the documented format
// are empty instead; r itself is not modified.
func normalized(r *Report) *Report {
	n := *r
	if n.Summary.Metrics == nil {
		n.Summary.Metrics = map[string]Metric{}
	}
	if n.Summary.Gates == nil {
		n.Summary.Gates = []Gate{}
	}
	n.Results = make([]Result, len(r.Results))
	copy(n.Results, r.Results)
	for i := range n.Results {
		if n.Results[i].Assertions == nil {
			n.Results[i].Assertions = []Assertion{}
		}
	}
	return &n
}
