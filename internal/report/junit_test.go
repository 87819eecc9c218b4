package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

// The JUnit document as a CI system reads it.
type parsedJUnit struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestWriteJUnit(t *testing.T) {
	r := sampleReport()
	r.Results[0].Output = "colour \x1b[31mred\x1b[0m and a NUL \x00" // not representable in XML 1.0
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc parsedJUnit
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not valid XML: %v\n%s", err, buf.String())
	}
	if doc.Tests != 9 || doc.Failures != 4 || doc.Errors != 1 {
		t.Errorf("totals tests=%d failures=%d errors=%d, want 9, 4 (2 cases + 2 gates), 1", doc.Tests, doc.Failures, doc.Errors)
	}
	var names []string
	for _, s := range doc.Suites {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ", "); got != "v1 × gpt-4o-mini, v2 × gpt-4o-mini, gates" {
		t.Fatalf("suites = %s", got)
	}
	v1, v2, gates := doc.Suites[0], doc.Suites[1], doc.Suites[2]
	if v1.Tests != 4 || v1.Failures != 1 || v1.Errors != 0 || v2.Tests != 2 || v2.Failures != 1 || v2.Errors != 1 {
		t.Errorf("suite counts v1=%+v v2=%+v", v1, v2)
	}

	failed := v1.Cases[1]
	if failed.Name != "refund policy [repeat 1]" || failed.Failure == nil ||
		!strings.Contains(failed.Failure.Message, `output does not contain "refund"`) {
		t.Errorf("failed case = %+v", failed)
	}
	if failed.SystemOut != scriptOutput {
		t.Errorf("system-out = %q, want the model output back after XML unescaping", failed.SystemOut)
	}
	if strings.Contains(buf.String(), scriptOutput) {
		t.Error("model output appears unescaped in the XML")
	}
	if v1.Cases[0].Failure != nil || v1.Cases[0].Error != nil {
		t.Error("a passing case carries a failure or an error")
	}
	if !strings.Contains(v1.Cases[0].SystemOut, "red") {
		t.Errorf("output with control characters lost its text: %q", v1.Cases[0].SystemOut)
	}
	if v1.Cases[2].Name != "pipes | and newlines [repeat 0]" {
		t.Errorf("a description with a newline is named %q", v1.Cases[2].Name)
	}
	if e := v2.Cases[0].Error; e == nil || e.Message != "provider gpt-4o-mini: timeout after 30s" {
		t.Errorf("errored case = %+v", v2.Cases[0])
	}
	if v2.Cases[1].Name != "test 1 [repeat 0]" {
		t.Errorf("a case without description is named %q", v2.Cases[1].Name)
	}

	if gates.Tests != 3 || gates.Failures != 2 {
		t.Errorf("gates suite tests=%d failures=%d, want 3 and 2", gates.Tests, gates.Failures)
	}
	g := gates.Cases[0]
	if g.Name != "pass_rate ≥ 90.0% at 95% confidence" || g.Failure == nil ||
		!strings.Contains(g.Failure.Text, "lower bound 20.0%") || !strings.Contains(g.Failure.Message, "lower bound") {
		t.Errorf("pass_rate gate = %+v", g)
	}
	if gates.Cases[1].Failure != nil {
		t.Error("the passing latency gate carries a failure")
	}
}

func TestWriteJUnitWithoutGates(t *testing.T) {
	r := sampleReport()
	r.Summary.Gates = nil
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc parsedJUnit
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 2 || doc.Tests != 6 {
		t.Errorf("%d suites and %d tests, want 2 and 6 (no gates suite)", len(doc.Suites), doc.Tests)
	}
}
