package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
)

// Every generated run has 2 prompts × 2 providers × tests × 2 repeats: combos samples per
// test.
const (
	repeats = 2
	combos  = 2 * 2 * repeats
)

// makeReport is a run of about n results (rounded down to whole tests) as `plumb eval`
// writes it: each result with an output of ~300 bytes, vars, a segment and three
// assertions, and a summary computed by the eval engine. variant changes the outcomes (not
// the tests), so that two runs of the same suite can be compared: about 4% of the samples
// change verdict between variant 0 and 1.
func makeReport(id string, n int, variant uint64, at time.Time) *report.Report {
	prompts := []string{"v1", "v2"}
	providers := []string{"gpt", "claude"}
	segments := []string{"billing", "refunds", "shipping", "account"}
	// phrases make up the outputs, so that no two outputs are the same string.
	phrases := []string{
		"Thanks for reaching out about your order.",
		"I have checked the status of the refund you asked about.",
		"The parcel left our warehouse and is with the carrier now.",
		"You can change the delivery address from your account page.",
		"I am sorry for the delay; this is not the experience we want for you.",
		"Your subscription renews on the first day of each month.",
		"If anything else comes up, reply to this message and we will help.",
		"The charge you see is a temporary hold that disappears within days.",
	}
	tests := n / combos
	// rng draws the same outputs and outcomes for every variant; vrng redraws the outcomes
	// of about 4% of a variant's samples.
	rng := rand.New(rand.NewPCG(42, 7))
	vrng := rand.New(rand.NewPCG(43, variant))
	results := make([]report.Result, 0, tests*combos)
	var out strings.Builder
	for t := range tests {
		seg := segments[t%len(segments)]
		vars := map[string]any{
			"question": fmt.Sprintf("Where is the refund for order #%07d? I paid on the %dth.", 1000000+t, 1+t%28),
			"customer": fmt.Sprintf("customer-%05d", t%50000),
			"tier":     []string{"free", "pro", "team"}[t%3],
		}
		for _, p := range prompts {
			for _, prov := range providers {
				for rep := range repeats {
					out.Reset()
					fmt.Fprintf(&out, "Hello customer-%05d, ", t%50000)
					for out.Len() < 300 {
						out.WriteString(phrases[rng.IntN(len(phrases))])
						out.WriteByte(' ')
					}
					// Outcomes: each assertion fails with a small probability, a bit more
					// on one provider; about 1 in 500 calls errors.
					failP := 0.05
					if prov == "claude" {
						failP = 0.03
					}
					r := report.Result{
						Test:       report.TestRef{Index: t, Vars: vars, Segment: seg},
						Prompt:     p,
						PromptHash: map[string]string{"v1": "a1b2c3d4e5f6", "v2": "0f9e8d7c6b5a"}[p],
						Provider:   prov,
						Repeat:     rep,
						Output:     out.String(),
						LatencyMS:  300 + rng.Float64()*900,
						Tokens:     report.Tokens{Prompt: 180 + t%40, Completion: 60 + rng.IntN(40)},
						Assertions: []report.Assertion{
							{Type: "icontains", Weight: 1},
							{Type: "not-contains", Weight: 1},
							{Type: "regex", Weight: 1},
						},
					}
					r.Tokens.Total = r.Tokens.Prompt + r.Tokens.Completion
					r.Cost = float64(r.Tokens.Prompt)*0.15e-6 + float64(r.Tokens.Completion)*0.6e-6
					passed := 0
					redraw := variant != 0 && vrng.Float64() < 0.04
					for i := range r.Assertions {
						a := &r.Assertions[i]
						a.Passed = rng.Float64() >= failP
						if redraw {
							a.Passed = vrng.Float64() >= 0.3
						}
						if a.Passed {
							a.Score = 1
							passed++
						} else {
							a.Reason = fmt.Sprintf("%s: expected pattern not found in the output (case %d)", a.Type, t)
						}
					}
					if rng.IntN(500) == 0 {
						r.Error, r.Output, r.Assertions = "provider: 529 overloaded after 3 attempts", "", nil
						passed = 0
					}
					r.Passed = r.Error == "" && passed == 3
					r.Score = float64(passed) / 3
					results = append(results, r)
				}
			}
		}
	}
	minPass, maxP95 := 0.8, 2000.0
	gates := []config.Gate{
		{Metric: "pass_rate", Min: &minPass, Confidence: 0.95},
		{Metric: "latency_p95_ms", Max: &maxP95},
	}
	prov := report.Provenance{PlumbVersion: "bench", Repeat: repeats, Mode: "live", ConfigPath: "plumb.yaml",
		GitCommit: "0123456789abcdef0123456789abcdef01234567", User: "bench", Host: "bench"}
	for _, p := range prompts {
		prov.Prompts = append(prov.Prompts, report.PromptRef{Label: p, Hash: results[0].PromptHash})
	}
	for _, p := range providers {
		prov.Providers = append(prov.Providers, report.ProviderRef{Label: p, Type: "openai", Model: p + "-model"})
	}
	return &report.Report{
		Run: report.Run{ID: id, Suite: "support", Status: report.StatusComplete, StartedAt: at,
			FinishedAt: at.Add(10 * time.Minute), ConfigHash: "cfg-bench", Provenance: prov},
		Summary: eval.Summarize(results, gates),
		Results: results,
	}
}
