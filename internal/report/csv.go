package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// WriteCSV writes one row per result with the columns run_id, test, description, segment,
// prompt, provider, repeat, passed, score, latency_ms, prompt_tokens, completion_tokens, cost,
// error, output and failed_assertions ("type: reason; ..."), followed by one var_NAME column
// per test variable, sorted by name. Numbers are written in full precision.
//
// A spreadsheet runs a cell that starts with =, +, -, @ (or a tab or carriage return) as a
// formula, and model output is untrusted, so such text cells are prefixed with a single quote
// (the OWASP advice against CSV injection). Numeric columns are left as they are.
func WriteCSV(w io.Writer, r *Report) error {
	if r == nil {
		return errNilReport
	}
	varNames := map[string]bool{}
	for i := range r.Results {
		for name := range r.Results[i].Test.Vars {
			varNames[name] = true
		}
	}
	vars := slices.Sorted(maps.Keys(varNames))

	cw := csv.NewWriter(w)
	header := []string{
		"run_id", "test", "description", "segment", "prompt", "provider", "repeat", "passed",
		"score", "latency_ms", "prompt_tokens", "completion_tokens", "cost", "error", "output",
		"failed_assertions",
	}
	for _, name := range vars {
		header = append(header, "var_"+name)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for i := range r.Results {
		res := &r.Results[i]
		row := []string{
			r.Run.ID,
			strconv.Itoa(res.Test.Index),
			safeCell(res.Test.Description),
			safeCell(res.Test.Segment),
			safeCell(res.Prompt),
			safeCell(res.Provider),
			strconv.Itoa(res.Repeat),
			strconv.FormatBool(res.Passed),
			csvFloat(res.Score),
			csvFloat(res.LatencyMS),
			strconv.Itoa(res.Tokens.Prompt),
			strconv.Itoa(res.Tokens.Completion),
			csvFloat(res.Cost),
			safeCell(res.Error),
			safeCell(res.Output),
			safeCell(failedAssertions(res)),
		}
		for _, name := range vars {
			v, ok := res.Test.Vars[name]
			cell := ""
			if ok {
				cell = varString(v)
			}
			row = append(row, safeCell(cell))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// failedAssertions lists the failed assertions of a result as "type: reason", separated by
// "; ".
func failedAssertions(res *Result) string {
	var parts []string
	for _, a := range res.Assertions {
		if a.Passed {
			continue
		}
		if a.Reason == "" {
			parts = append(parts, a.Type)
		} else {
			parts = append(parts, a.Type+": "+a.Reason)
		}
	}
	return strings.Join(parts, "; ")
}

// csvFloat writes a number exactly; NaN and infinities, which no spreadsheet reads, become
// an empty cell.
func csvFloat(v float64) string {
	if !finite(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// safeCell neutralizes a text cell that a spreadsheet would evaluate as a formula.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// varString renders a test variable: strings as they are, anything else as JSON.
func varString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
