package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/report"
)

// funcs are the templates' helpers. They format numbers and shorten text; none returns
// trusted HTML, so everything they produce is escaped like any other value.
var funcs = template.FuncMap{
	"pct":      pct,
	"interval": interval,
	"metric":   metricValue,
	"ms":       func(v float64) string { return report.FormatValue("latency_ms", "quantile", v) },
	"usd":      usd,
	"when":     when,
	"whenp":    func(t *time.Time) string { return whenPtr(t) },
	"trunc":    trunc,
	"vars":     varPairs,
	"json":     compactJSON,
	"add":      func(a, b int) int { return a + b },
	"rate":     func(n, d int) float64 { return ratio(n, d) },
	"mean":     func(sum float64, n int) float64 { return ratio2(sum, n) },
	"wilson":   wilsonText,
	"diff":     diffWords,
	"gate":     gateValue,
	"rtcell":   rtCell, // redteam.go
	"cases": func(n int) string {
		if n == 1 {
			return "1 case"
		}
		return strconv.Itoa(n) + " cases"
	},
	// path escapes one path segment: a run id is any text, "/", "?" and "#" included,
	// which html/template leaves alone in the path of a URL.
	"path": url.PathEscape,
	// pname escapes a registry prompt's name for a path: each part, keeping its slashes.
	"pname": promptHref,
	// ijson is a JSON value indented, for params, tools and response formats.
	"ijson": func(v any) string {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // the template escapes
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return fmt.Sprint(v)
		}
		return strings.TrimSuffix(b.String(), "\n")
	},
	// deref is an optional version's number (0 for none).
	"deref": func(v *int) int {
		if v == nil {
			return 0
		}
		return *v
	},
	// combo names a prompt × provider in a compare link.
	"combo": func(prompt, provider string) string { return prompt + comboSep + provider },
	// registryPrompts are a run's prompts that came from the prompt registry.
	"registryPrompts": func(ps []report.PromptRef) []report.PromptRef {
		var out []report.PromptRef
		for _, p := range ps {
			if p.Registry != "" {
				out = append(out, p)
			}
		}
		return out
	},
}

// gateValue formats a gate's observed value, interval end or bound in its metric's unit.
func gateValue(s report.Summary, metric string, v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case *float64:
		if x == nil {
			return ""
		}
		f = *x
	default:
		return fmt.Sprint(v)
	}
	kind := "rate"
	if m, ok := s.Metrics[metric]; ok {
		kind = m.Kind
	}
	return report.FormatValue(metric, kind, f)
}

// pct formats a rate as a percentage with one decimal.
func pct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", v*100)
}

// interval formats a metric's 95% interval in the metric's unit, or "" without one.
func interval(name, kind string, ci *[2]float64) string {
	if ci == nil {
		return ""
	}
	return "[" + report.FormatValue(name, kind, ci[0]) + ", " + report.FormatValue(name, kind, ci[1]) + "]"
}

// metricValue formats a metric's value in its unit.
func metricValue(name string, m report.Metric) string {
	return report.FormatValue(name, m.Kind, m.Value)
}

// usd formats dollars with enough digits for a per-case cost.
func usd(v float64) string { return report.FormatValue("cost_total", "total", v) }

// when formats a time in UTC to the minute.
func when(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "–"
	}
	return when(*t)
}

// trunc shortens s to at most n characters (runes), marking the cut.
func trunc(n int, s string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// kv is one test variable as a table shows it.
type kv struct{ Key, Value string }

// varPairs lists a test's vars by name, each value as compact JSON (strings as they are).
func varPairs(m map[string]any) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			s = compactJSON(v)
		}
		out = append(out, kv{k, s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// compactJSON is v as one line of JSON.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func ratio(n, d int) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(n) / float64(d)
}

func ratio2(sum float64, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// wilsonText is a pass rate with its 95% Wilson interval, e.g. "92.0% [85.1%, 95.9%]".
func wilsonText(passed, n int) string {
	if n == 0 {
		return "–"
	}
	lo, hi := wilson(passed, n)
	return pct(ratio(passed, n)) + " [" + pct(lo) + ", " + pct(hi) + "]"
}
