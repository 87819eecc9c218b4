// Package shadowreport compares a route's live calls with the shadow calls beside them:
// agreement, the shadow's assertions over both answers (with Wilson intervals and
// McNemar's exact test on the paired outcomes), latency, cost, error rates, and a verdict.
// The rule of the verdict is in docs/gateway.md ("Shadow").
package shadowreport

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/assert"
	"github.com/plumbhq/plumb/internal/gateway"
	"github.com/plumbhq/plumb/internal/stats"
	"github.com/plumbhq/plumb/internal/store"
)

// Confidence is the level of the intervals; Alpha the significance of "worse".
const (
	Confidence = 0.95
	Alpha      = 0.05
	// MinPairs is the fewest pairs a "ready" verdict needs.
	MinPairs = 10
)

// Rate is k of n, with its Wilson interval.
type Rate struct {
	K    int     `json:"k"`
	N    int     `json:"n"`
	Rate float64 `json:"rate"`
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

func rate(k, n int) Rate {
	r := Rate{K: k, N: n}
	if n > 0 {
		r.Rate = float64(k) / float64(n)
		iv := stats.Wilson(k, n, Confidence)
		r.Low, r.High = iv.Lo, iv.Hi
	}
	return r
}

// Side is one side's numbers (live or shadow) over the pairs.
type Side struct {
	Errors      Rate    `json:"errors"`
	P50MS       float64 `json:"p50_ms"`
	P95MS       float64 `json:"p95_ms"`
	CostPerCall float64 `json:"cost_per_call_usd"`
	CostUSD     float64 `json:"cost_usd"`
}

// Assertion is one assertion run over both answers of the evaluated pairs.
type Assertion struct {
	Name   string `json:"name"`
	Live   Rate   `json:"live"`
	Shadow Rate   `json:"shadow"`
	// ShadowOnly counts the pairs the shadow passes and live fails; LiveOnly the reverse.
	ShadowOnly int `json:"shadow_only"`
	LiveOnly   int `json:"live_only"`
	// PValue is McNemar's exact test on ShadowOnly and LiveOnly (two-sided).
	PValue float64 `json:"p_value"`
	// Worse: the shadow fails significantly more often (LiveOnly > ShadowOnly, p < Alpha).
	Worse bool `json:"worse"`
}

// Report is the comparison of a route's live and shadow calls over a period.
type Report struct {
	Route string    `json:"route"`
	Since time.Time `json:"since"`
	// N is the number of pairs (a live call and its shadow) in the period.
	N int `json:"n"`
	// Evaluated is the number of pairs where both calls succeeded and both answers could be
	// read from the recorded bodies: agreement and assertions are over these.
	Evaluated int `json:"evaluated"`
	// Unreadable counts the pairs of two successful calls whose answers could not be read:
	// bodies off (missing) or cut (truncated).
	BodiesMissing   int         `json:"bodies_missing"`
	BodiesTruncated int         `json:"bodies_truncated"`
	Agreement       Rate        `json:"agreement"`
	Live            Side        `json:"live"`
	Shadow          Side        `json:"shadow"`
	CostDiffPerCall float64     `json:"cost_diff_per_call_usd"` // shadow minus live
	Assertions      []Assertion `json:"assertions"`
	Ready           bool        `json:"ready"`
	Verdict         string      `json:"verdict"`
	Notes           []string    `json:"notes,omitempty"`
}

// Build makes the report of pairs with the shadow's checks.
func Build(ctx context.Context, route string, since time.Time, pairs []store.ShadowPair, checks []gateway.ShadowCheck) *Report {
	r := &Report{Route: route, Since: since, N: len(pairs), Assertions: []Assertion{}}
	var liveLat, shadowLat []float64
	var liveErr, shadowErr, agree int
	type outcome struct{ live, shadow bool }
	results := make([][]outcome, len(checks))
	for _, p := range pairs {
		liveLat = append(liveLat, p.Live.LatencyMS)
		shadowLat = append(shadowLat, p.Shadow.LatencyMS)
		r.Live.CostUSD += p.Live.CostUSD
		r.Shadow.CostUSD += p.Shadow.CostUSD
		lok, sok := ok(p.Live), ok(p.Shadow)
		if !lok {
			liveErr++
		}
		if !sok {
			shadowErr++
		}
		if !lok || !sok {
			continue
		}
		la, lst := Answer(p.Live.ResponseBody)
		sa, sst := Answer(p.Shadow.ResponseBody)
		switch {
		case lst == Missing || sst == Missing:
			r.BodiesMissing++
			continue
		case lst == Truncated || sst == Truncated:
			r.BodiesTruncated++
			continue
		}
		r.Evaluated++
		if Normalize(la) == Normalize(sa) {
			agree++
		}
		prompt := lastUser(p.Live.RequestBody)
		for i, c := range checks {
			lv := c.Checker.Check(ctx, input(la, prompt, p.Live))
			sv := c.Checker.Check(ctx, input(sa, prompt, p.Shadow))
			results[i] = append(results[i], outcome{lv.Passed && !lv.Error, sv.Passed && !sv.Error})
		}
	}
	r.Agreement = rate(agree, r.Evaluated)
	r.Live.Errors, r.Shadow.Errors = rate(liveErr, r.N), rate(shadowErr, r.N)
	r.Live.P50MS, r.Live.P95MS = pct(liveLat, 0.5), pct(liveLat, 0.95)
	r.Shadow.P50MS, r.Shadow.P95MS = pct(shadowLat, 0.5), pct(shadowLat, 0.95)
	if r.N > 0 {
		r.Live.CostPerCall = r.Live.CostUSD / float64(r.N)
		r.Shadow.CostPerCall = r.Shadow.CostUSD / float64(r.N)
		r.CostDiffPerCall = r.Shadow.CostPerCall - r.Live.CostPerCall
	}
	for i, c := range checks {
		a := Assertion{Name: c.Name}
		var lk, sk int
		for _, o := range results[i] {
			if o.live {
				lk++
			}
			if o.shadow {
				sk++
			}
			switch {
			case o.shadow && !o.live:
				a.ShadowOnly++
			case o.live && !o.shadow:
				a.LiveOnly++
			}
		}
		a.Live, a.Shadow = rate(lk, len(results[i])), rate(sk, len(results[i]))
		a.PValue = stats.McNemarExact(a.LiveOnly, a.ShadowOnly)
		a.Worse = a.LiveOnly > a.ShadowOnly && a.PValue < Alpha
		r.Assertions = append(r.Assertions, a)
	}
	r.verdict(len(checks))
	return r
}

// verdict applies the rule: ready when there are at least MinPairs pairs, the shadow
// failed no more of them than live, no assertion is significantly worse on the shadow
// (McNemar p < Alpha with more live-only passes), and, when the shadow has assertions, at
// least one pair could be evaluated.
func (r *Report) verdict(checks int) {
	if r.BodiesMissing > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d pairs have no recorded answer: agreement and assertions need bodies; set bodies.mode to truncated or full in the gateway config", r.BodiesMissing))
	}
	if r.BodiesTruncated > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d pairs have an answer cut by bodies.max_bytes and are left out of agreement and assertions: raise bodies.max_bytes or set bodies.mode: full", r.BodiesTruncated))
	}
	var worse []string
	for _, a := range r.Assertions {
		if a.Worse {
			worse = append(worse, a.Name)
		}
	}
	switch {
	case r.N == 0:
		r.Verdict = "not enough data: no shadow calls of " + r.Route + " in the period"
	case r.Shadow.Errors.K > r.Live.Errors.K:
		r.Verdict = fmt.Sprintf("not ready: the shadow failed %d of %d calls, live %d", r.Shadow.Errors.K, r.N, r.Live.Errors.K)
	case len(worse) > 0:
		r.Verdict = "not ready: the shadow is significantly worse on " + strings.Join(worse, ", ")
	case r.N < MinPairs:
		r.Verdict = fmt.Sprintf("not enough data: %d pairs; a ready verdict needs at least %d", r.N, MinPairs)
	case checks > 0 && r.Evaluated == 0:
		r.Verdict = "cannot tell: no pair's answers could be read from the recorded bodies"
	default:
		r.Ready = true
		r.Verdict = fmt.Sprintf("ready: over %d pairs the shadow's error rate is not higher than live's and it is not significantly worse on any assertion", r.N)
	}
}

func ok(t store.Trace) bool { return t.Status >= 200 && t.Status < 300 && t.ErrorCode == "" }

func input(out, prompt string, t store.Trace) *assert.Input {
	in := &assert.Input{Output: out, Prompt: prompt, LatencyMS: t.LatencyMS, Cost: t.CostUSD}
	in.Tokens.Prompt, in.Tokens.Completion, in.Tokens.Total = t.TokensIn, t.TokensOut, t.TokensIn+t.TokensOut
	return in
}

func pct(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	v := stats.Quantile(xs, q)
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// Body states.
const (
	Readable  = "readable"
	Missing   = "missing"
	Truncated = "truncated"
)

// truncMarker is what trace.Body appends to a body it cut.
const truncMarker = "[truncated: "

// Answer reads the answer text from a recorded response body: a chat completion's first
// choice, or the content deltas of a recorded stream. It says whether the body was
// readable, missing (bodies off) or truncated.
func Answer(body string) (string, string) {
	b := strings.TrimSpace(body)
	if b == "" {
		return "", Missing
	}
	if strings.Contains(b, truncMarker) {
		return "", Truncated
	}
	if strings.HasPrefix(b, "data:") {
		var sb strings.Builder
		done := false
		for _, line := range strings.Split(b, "\n") {
			data, found := strings.CutPrefix(strings.TrimSpace(line), "data:")
			if !found {
				continue
			}
			data = strings.TrimSpace(data)
			if data == "[DONE]" {
				done = true
				continue
			}
			var ev struct {
				Choices []struct {
					Delta struct {
						Content string `json:"content"`
					} `json:"delta"`
				} `json:"choices"`
			}
			if json.Unmarshal([]byte(data), &ev) == nil && len(ev.Choices) > 0 {
				sb.WriteString(ev.Choices[0].Delta.Content)
			}
		}
		if !done {
			return "", Truncated
		}
		return sb.String(), Readable
	}
	var v struct {
		Choices []struct {
			Message struct {
				Content any `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(b), &v); err != nil {
		return "", Truncated
	}
	if len(v.Choices) == 0 {
		return "", Readable
	}
	switch c := v.Choices[0].Message.Content.(type) {
	case string:
		return c, Readable
	case []any: // content parts
		var sb strings.Builder
		for _, p := range c {
			if m, ok := p.(map[string]any); ok {
				if s, ok := m["text"].(string); ok {
					sb.WriteString(s)
				}
			}
		}
		return sb.String(), Readable
	}
	return "", Readable
}

// Normalize is what agreement compares: trimmed, lower case, every run of white space
// one space.
func Normalize(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// lastUser is the last user message of a recorded request body, for assertions that
// read the prompt.
func lastUser(body string) string {
	var v struct {
		Messages []struct {
			Role    string `json:"role"`
			Content any    `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal([]byte(body), &v) != nil {
		return ""
	}
	for i := len(v.Messages) - 1; i >= 0; i-- {
		if v.Messages[i].Role == "user" {
			if s, ok := v.Messages[i].Content.(string); ok {
				return s
			}
		}
	}
	return ""
}
