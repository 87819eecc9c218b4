package report

import (
	"time"

	"github.com/plumbhq/plumb/internal/stats"
)

// Untrusted model outputs planted in the fixture; no format may emit them unescaped.
const (
	scriptOutput = "<script>alert(1)</script>"
	imgOutput    = "<img src=x onerror=alert(1)>"
	formulaCell  = `=HYPERLINK("http://evil.example","click")`
)

// sampleReport builds a small run by hand: two prompts on one provider, two tests with two
// repeats on v1 and one on v2, one flaky test, one failure carrying a script tag, one carrying
// an img tag, one call error, and three gates of which two fail.
func sampleReport() *Report {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ci := func(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }
	bound := func(v float64) *float64 { return &v }
	pass := func(typ string) Assertion {
		return Assertion{Type: typ, Weight: 1, Passed: true, Score: 1}
	}
	results := []Result{
		{
			Test:   TestRef{Index: 0, Description: "refund policy", Segment: "billing", Vars: map[string]any{"question": "Can I get a refund?"}},
			Prompt: "v1", PromptHash: "aaaaaaaaaaaa", Provider: "gpt-4o-mini", Repeat: 0,
			Output: "Yes, within 30 days.", LatencyMS: 420, Tokens: Tokens{Prompt: 50, Completion: 10, Total: 60},
			Cost: 0.0001, Passed: true, Score: 1, Assertions: []Assertion{pass("contains")},
		},
		{
			Test:   TestRef{Index: 0, Description: "refund policy", Segment: "billing", Vars: map[string]any{"question": "Can I get a refund?"}},
			Prompt: "v1", PromptHash: "aaaaaaaaaaaa", Provider: "gpt-4o-mini", Repeat: 1,
			Output: scriptOutput, LatencyMS: 610, Tokens: Tokens{Prompt: 50, Completion: 12, Total: 62},
			Cost: 0.00012, Passed: false, Score: 0.5,
			Assertions: []Assertion{
				{Type: "contains", Weight: 1, Passed: false, Score: 0, Reason: `output does not contain "refund"`},
				{Type: "llm-rubric", Metric: "helpfulness", Weight: 1, Passed: true, Score: 1, Reason: "polite"},
			},
		},
		{
			Test:   TestRef{Index: 1, Description: "pipes | and\nnewlines", Vars: map[string]any{"question": "<b>hi</b>", "n": 3}},
			Prompt: "v1", PromptHash: "aaaaaaaaaaaa", Provider: "gpt-4o-mini", Repeat: 0,
			Output: "a | b\nc", LatencyMS: 380, Tokens: Tokens{Prompt: 40, Completion: 8, Total: 48},
			Cost: 0.00009, Passed: true, Score: 1, Assertions: []Assertion{pass("icontains")},
		},
		{
			Test:   TestRef{Index: 1, Description: "pipes | and\nnewlines", Vars: map[string]any{"question": "<b>hi</b>", "n": 3}},
			Prompt: "v1", PromptHash: "aaaaaaaaaaaa", Provider: "gpt-4o-mini", Repeat: 1,
			Output: formulaCell, LatencyMS: 400, Tokens: Tokens{Prompt: 40, Completion: 9, Total: 49},
			Cost: 0.00009, Passed: true, Score: 1, Assertions: []Assertion{pass("icontains")},
		},
		{
			Test:   TestRef{Index: 0, Description: "refund policy", Segment: "billing", Vars: map[string]any{"question": "Can I get a refund?"}},
			Prompt: "v2", PromptHash: "bbbbbbbbbbbb", Provider: "gpt-4o-mini", Repeat: 0,
			Error: "provider gpt-4o-mini: timeout after 30s", LatencyMS: 30000,
		},
		{
			Test:   TestRef{Index: 1, Vars: map[string]any{"question": "<b>hi</b>", "n": 3}},
			Prompt: "v2", PromptHash: "bbbbbbbbbbbb", Provider: "gpt-4o-mini", Repeat: 0,
			Output: imgOutput, LatencyMS: 1900, Tokens: Tokens{Prompt: 40, Completion: 20, Total: 60},
			Cost: 0.0002, Passed: false, Score: 0,
			Assertions: []Assertion{{Type: "not-icontains", Weight: 1, Passed: false, Score: 0, Reason: "output contains \"<img\"\x1b[2J"}},
		},
	}
	wilson := stats.Wilson(3, 6, 0.95)
	return &Report{
		Run: Run{
			ID: "run-123", Suite: "support bot", Status: StatusComplete,
			StartedAt: start, FinishedAt: start.Add(12300 * time.Millisecond), ConfigHash: "cfg0123456789",
			Provenance: Provenance{
				PlumbVersion: "v0.1.0", GitCommit: "abc1234", User: "ana", Repeat: 2,
				Prompts:   []PromptRef{{Label: "v1", Hash: "aaaaaaaaaaaa"}, {Label: "v2", Hash: "bbbbbbbbbbbb"}},
				Providers: []ProviderRef{{Label: "gpt-4o-mini", Type: "openai", Model: "gpt-4o-mini"}},
			},
		},
		Summary: Summary{
			Cases: 6, Passed: 3, Failed: 2, Errors: 1, PassRate: 0.5, PassRateCI: [2]float64{wilson.Lo, wilson.Hi},
			Metrics: map[string]Metric{
				"pass_rate":      {Value: 0.5, CI: ci(wilson.Lo, wilson.Hi), N: 6, Kind: "rate"},
				"accuracy":       {Value: 0.5, CI: ci(wilson.Lo, wilson.Hi), N: 6, Kind: "rate"},
				"refusal_rate":   {Value: 0, CI: ci(0, 0.4345), N: 5, Kind: "rate"},
				"latency_p50_ms": {Value: 420, N: 5, Kind: "quantile"},
				"latency_p95_ms": {Value: 1642, N: 5, Kind: "quantile"},
				"latency_p99_ms": {Value: 1848.4, N: 5, Kind: "quantile"},
				"cost_total":     {Value: 0.0006, N: 6, Kind: "total"},
				"cost_per_case":  {Value: 0.0001, CI: ci(0.00005, 0.00015), N: 6, Kind: "mean"},
				"tokens_total":   {Value: 279, N: 6, Kind: "total"},
				"helpfulness":    {Value: 1, N: 1, Kind: "mean"},
			},
			Gates: []Gate{
				{Metric: "pass_rate", Op: "min", Threshold: 0.9, Confidence: 0.95, Observed: 0.5,
					CI: ci(wilson.Lo, wilson.Hi), Bound: bound(0.2), Passed: false,
					Reason: "failed: the 95% lower bound 0.2 ≥ 0.9 (observed 0.5 over 6 samples)"},
				{Metric: "latency_p95_ms", Op: "max", Threshold: 2000, Observed: 1642, Passed: true,
					Reason: "passed: observed 1642 ms ≤ 2000 ms"},
				{Metric: "accuracy", Op: "min", Threshold: 0.8, Observed: 0.5, CI: ci(wilson.Lo, wilson.Hi),
					Passed: false, Reason: "failed: observed 0.5 ≥ 0.8"},
			},
			Flaky: []TestStat{{Key: "v1\x1fgpt-4o-mini\x1f0", Test: 0, Description: "refund policy",
				Prompt: "v1", Provider: "gpt-4o-mini", Segment: "billing", Samples: 2, Passed: 1, PassRate: 0.5,
				PassAtK: true, MeanScore: 0.75}},
		},
		Results: results,
	}
}
