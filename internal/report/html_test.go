package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestWriteHTML(t *testing.T) {
	r := sampleReport()
	r.Run.Suite = "</title><script>alert('suite')</script>"
	r.Results[2].Test.Vars = map[string]any{"question": `"><svg onload=alert(1)>`}
	r.Results[0].ToolCalls = []ToolCall{{ID: "call_1", Name: "lookup_order", Arguments: `{"q":"<script>alert(2)</script>"}`}}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()

	// Untrusted text never appears as markup: the page has no script, no img, no svg at all.
	for _, bad := range []string{scriptOutput, imgOutput, "<script", "<img", "<svg", "\x1b"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&lt;img src=x onerror=alert(1)&gt;",
		"&lt;b&gt;hi&lt;/b&gt;",
		"&lt;/title&gt;&lt;script&gt;",
		"&#34;&gt;&lt;svg onload=alert(1)&gt;",
		"␛[2J", // control characters are shown, not passed to the browser
		"<h3>Tool calls</h3>\n<pre>lookup_order({&#34;q&#34;:&#34;&lt;script&gt;alert(2)&lt;/script&gt;&#34;})", // the model's tool call, escaped
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the escaped text %q", want)
		}
	}

	// Self-contained: no external assets, no JavaScript, scripts forbidden by policy.
	if m := regexp.MustCompile(`(?i)<[a-z][^>]*\s(src|href)\s*=|<link|@import|url\(`).FindString(page); m != "" {
		t.Errorf("page references an external asset: %q", m)
	}
	if !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`) {
		t.Error("page lacks its Content-Security-Policy")
	}

	for _, want := range []string{
		"FAIL: 2 of 3 gates failed",
		"≥ 90.0% at 95% confidence", "lower bound 20.0%", // gates
		"[$0.00005, $0.00015]",                     // a metric interval
		"[30.1%, 95.4%]",                           // per prompt × provider
		"Flaky tests (1)",                          //
		"Results (6, 3 not passed, listed first)",  //
		"provider gpt-4o-mini: timeout after 30s",  // the error
		`output does not contain &#34;refund&#34;`, // an assertion reason
		"Yes, within 30 days.",                     // a passing output is there too
		"cfg0123456789",                            // provenance
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	// Results that did not pass come first, expanded; passing ones follow, collapsed.
	failing := strings.Index(page, "&lt;img src=x")
	passing := strings.Index(page, "Yes, within 30 days.")
	if failing < 0 || passing < 0 || failing > passing {
		t.Errorf("a failed result (at %d) is not listed before a passing one (at %d)", failing, passing)
	}
	if got := strings.Count(page, "<details"); got != 6 {
		t.Errorf("%d result sections, want 6", got)
	}
	if got := strings.Count(page, "\" open>"); got != 3 {
		t.Errorf("%d expanded result sections, want the 3 that did not pass", got)
	}
}
