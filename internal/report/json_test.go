package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	// The documented shape, read the way a user's script would.
	var doc struct {
		Run struct {
			ID         string `json:"id"`
			StartedAt  string `json:"started_at"`
			ConfigHash string `json:"config_hash"`
			Provenance struct {
				PlumbVersion string `json:"plumb_version"`
			} `json:"provenance"`
		} `json:"run"`
		Summary struct {
			Cases      int                        `json:"cases"`
			Passed     int                        `json:"passed"`
			Failed     int                        `json:"failed"`
			Errors     int                        `json:"errors"`
			PassRate   float64                    `json:"pass_rate"`
			PassRateCI []float64                  `json:"pass_rate_ci"`
			Metrics    map[string]json.RawMessage `json:"metrics"`
			Gates      []struct {
				Metric    string    `json:"metric"`
				Observed  float64   `json:"observed"`
				CI        []float64 `json:"ci"`
				Threshold float64   `json:"threshold"`
				Passed    bool      `json:"passed"`
			} `json:"gates"`
		} `json:"summary"`
		Results []map[string]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
	s := doc.Summary
	if doc.Run.ID != "run-123" || doc.Run.StartedAt != "2026-03-01T12:00:00Z" || doc.Run.ConfigHash == "" || doc.Run.Provenance.PlumbVersion != "v0.1.0" {
		t.Errorf("run = %+v", doc.Run)
	}
	if s.Cases != 6 || s.Passed != 3 || s.Failed != 2 || s.Errors != 1 || s.PassRate != 0.5 || len(s.PassRateCI) != 2 {
		t.Errorf("summary counts = %+v", s)
	}
	if len(s.Metrics) != 10 || len(s.Gates) != 3 || s.Gates[0].Metric != "pass_rate" || s.Gates[0].Passed || len(s.Gates[0].CI) != 2 {
		t.Errorf("metrics %d, gates %+v", len(s.Metrics), s.Gates)
	}
	if len(doc.Results) != 6 {
		t.Fatalf("%d results, want 6", len(doc.Results))
	}
	for _, key := range []string{"test", "prompt", "provider", "repeat", "output", "latency_ms", "tokens", "cost", "assertions"} {
		if _, ok := doc.Results[0][key]; !ok {
			t.Errorf("result has no %q field", key)
		}
	}
	// A result without assertions has [] so that `jq '.results[].assertions[]'` works.
	if got := string(doc.Results[4]["assertions"]); got != "[]" {
		t.Errorf("assertions of an errored result = %s, want []", got)
	}

	// The report reads back into the same data.
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Summary.Gates, r.Summary.Gates) || back.Results[1].Output != scriptOutput {
		t.Error("the report does not read back into the same gates and outputs")
	}
	if r.Results[4].Assertions != nil {
		t.Error("WriteJSON modified the caller's report")
	}
}

func TestWriteJSONEmptyReport(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, &Report{Run: Run{ID: "empty"}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"results": []`, `"metrics": {}`, `"gates": []`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("empty report lacks %s:\n%s", want, buf.String())
		}
	}
}

func TestWriteJSONL(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, r); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		var line struct {
			RunID string `json:"run_id"`
			Result
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %d is not JSON: %v", n+1, err)
		}
		want := r.Results[n]
		if line.RunID != "run-123" || line.Prompt != want.Prompt || line.Repeat != want.Repeat ||
			line.Output != want.Output || line.Error != want.Error || line.Passed != want.Passed ||
			len(line.Assertions) != len(want.Assertions) {
			t.Errorf("line %d = %+v, want result %+v", n+1, line, want)
		}
		n++
	}
	if n != len(r.Results) {
		t.Errorf("%d lines, want one per result (%d)", n, len(r.Results))
	}
}
