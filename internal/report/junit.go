package report

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"time"
)

// The JUnit XML schema as CI systems (GitHub Actions reporters, GitLab, Jenkins) read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes r as JUnit XML: one testsuite per prompt × provider with one testcase
// per result (named by its description, or "test N", plus the repeat), then a testsuite
// "gates" with one testcase per gate. A failed result carries a <failure> listing every
// failed assertion with its reason; a result whose call failed carries an <error>. The model
// output goes to <system-out>. Characters XML cannot hold (such as ANSI escapes in a model's
// output) are written as U+FFFD, so the file always parses.
func WriteJUnit(w io.Writer, r *Report) error {
	if r == nil {
		return errNilReport
	}
	doc := junitSuites{Name: suiteName(r), Time: seconds(r.Run.FinishedAt.Sub(r.Run.StartedAt).Seconds())}
	timestamp := ""
	if !r.Run.StartedAt.IsZero() {
		timestamp = r.Run.StartedAt.UTC().Format(time.RFC3339)
	}
	repeats := hasRepeats(r)
	index := map[[2]string]int{}
	var suiteSeconds []float64 // the sum of the suite's call latencies
	for i := range r.Results {
		res := &r.Results[i]
		key := [2]string{res.Prompt, res.Provider}
		j, ok := index[key]
		if !ok {
			j = len(doc.Suites)
			index[key] = j
			doc.Suites = append(doc.Suites, junitSuite{
				Name:      oneLine(res.Prompt, 100) + " × " + oneLine(res.Provider, 100),
				Timestamp: timestamp,
				Properties: []junitProperty{
					{"run_id", r.Run.ID}, {"prompt", res.Prompt},
					{"prompt_hash", res.PromptHash}, {"provider", res.Provider},
				},
			})
			suiteSeconds = append(suiteSeconds, 0)
		}
		suite := &doc.Suites[j]
		suiteSeconds[j] += res.LatencyMS / 1000
		tc := junitCase{
			Name:      oneLine(caseName(res, repeats), 200),
			Classname: res.Prompt + "." + res.Provider,
			Time:      seconds(res.LatencyMS / 1000),
			SystemOut: res.Output,
		}
		switch status(res) {
		case "error":
			tc.Error = &junitProblem{Message: res.Error, Type: "error", Text: res.Error}
			suite.Errors++
		case "fail":
			tc.Failure = &junitProblem{Message: firstReason(res), Type: "assertion", Text: failureText(res)}
			suite.Failures++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
	}
	if len(r.Summary.Gates) > 0 {
		gates := junitSuite{Name: "gates", Timestamp: timestamp, Properties: []junitProperty{{"run_id", r.Run.ID}}}
		for _, g := range gateRows(r) {
			tc := junitCase{Name: g.Metric + " " + g.Condition, Classname: "gates", Time: "0"}
			if !g.Passed {
				tc.Failure = &junitProblem{Message: g.Reason, Type: "gate", Text: gateText(g)}
				gates.Failures++
			}
			gates.Tests++
			gates.Cases = append(gates.Cases, tc)
		}
		doc.Suites = append(doc.Suites, gates)
		suiteSeconds = append(suiteSeconds, 0)
	}
	for i := range doc.Suites {
		s := &doc.Suites[i]
		s.Time = seconds(suiteSeconds[i])
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// suiteName is what CI shows as the name of the whole report.
func suiteName(r *Report) string {
	if r.Run.Suite != "" {
		return "plumb: " + r.Run.Suite
	}
	return "plumb"
}

// failureText lists every failed assertion of a result, one per line.
func failureText(res *Result) string {
	var lines []string
	for _, a := range res.Assertions {
		if a.Passed {
			continue
		}
		line := a.Type + " (score " + fmtSig(a.Score, 3) + ")"
		if a.Reason != "" {
			line += ": " + a.Reason
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return firstReason(res)
	}
	return strings.Join(lines, "\n")
}

// gateText spells out a gate's numbers for the failure body.
func gateText(g gateRow) string {
	text := "observed " + g.Observed
	if g.Interval != "" {
		text += " " + g.Interval
	}
	if g.Bound != "" {
		text += ", " + g.Bound
	}
	return text + "; required " + g.Condition
}

// seconds writes a duration in seconds as JUnit expects; negative or unknown durations are 0.
func seconds(s float64) string {
	if !finite(s) || s < 0 {
		return "0"
	}
	return strconv.FormatFloat(s, 'f', 3, 64)
}
