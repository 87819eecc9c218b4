package report

import (
	_ "embed"
	"html/template"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

//go:embed html.tmpl
var htmlSource string

// htmlPage is parsed once; it is never modified after, and a broken template fails every
// test and every start rather than a user's run.
var htmlPage = template.Must(template.New("report").Parse(htmlSource))

// WriteHTML writes r as one self-contained HTML page: inline CSS, no external assets, no
// JavaScript, and a Content-Security-Policy that forbids scripts should anything slip
// through. Every piece of text from a model, a config or a test (outputs, vars,
// descriptions, reasons) goes through html/template and is escaped. Results that did not
// pass come first and are expanded.
func WriteHTML(w io.Writer, r *Report) error {
	if r == nil {
		return errNilReport
	}
	return htmlPage.Execute(w, newHTMLView(r))
}

type htmlView struct {
	Title, RunID, Status, Started, Duration string
	Pass                                    bool
	Verdict                                 string
	Cases, Passed, Failed, Errors           int
	PassRate, PassRateCI                    string
	Gates                                   []gateRow
	Metrics                                 []metricRow
	Groups                                  []groupRow
	Flaky                                   []flakyRow
	Results                                 []htmlResult
	FailedCount                             int
	Provenance                              []keyValue
	Human                                   *htmlHuman
}

// htmlHuman is the human panel section (human.go).
type htmlHuman struct {
	Line   string
	Judges []judgeRow
	Note   string
}

type keyValue struct{ Key, Value string }

type htmlResult struct {
	Anchor, Name, Status, Reason string
	Prompt, PromptHash, Provider string
	Segment                      string
	Repeat                       int
	Score, Latency, Cost         string
	Tokens                       Tokens
	Cached                       bool
	Vars                         []keyValue
	Output, Error                string
	ToolCalls                    []string // name(arguments), model text: escaped by the template
	Assertions                   []htmlAssertion
	Human                        string // the human verdict, "" without one
}

type htmlAssertion struct {
	Type, Metric, Verdict, Score, Weight, Reason string
}

func newHTMLView(r *Report) *htmlView {
	s := &r.Summary
	pass, line := verdict(r)
	v := &htmlView{
		Title:    "Plumb eval",
		RunID:    r.Run.ID,
		Status:   r.Run.Status,
		Started:  timestamp(r.Run.StartedAt),
		Duration: duration(r),
		Pass:     pass, Verdict: line,
		Cases: s.Cases, Passed: s.Passed, Failed: s.Failed, Errors: s.Errors,
		PassRate:   fmtPct(s.PassRate),
		PassRateCI: "[" + fmtPct(s.PassRateCI[0]) + ", " + fmtPct(s.PassRateCI[1]) + "]",
		Gates:      gateRows(r),
		Metrics:    metricRows(r),
		Groups:     groupRows(r.Results),
		Flaky:      flakyRows(r),
		Provenance: provenanceRows(r),
	}
	if r.Run.Suite != "" {
		v.Title += ": " + r.Run.Suite
	}
	if p := s.Human; p != nil {
		v.Human = &htmlHuman{Line: humanLine(p), Judges: judgeRows(p), Note: p.Note}
	}

	repeats := hasRepeats(r)
	failed := failedResults(r.Results)
	v.FailedCount = len(failed)
	ordered := append(failed, passedResults(r.Results)...)
	for i, res := range ordered {
		hr := htmlResult{
			Anchor: "r" + strconv.Itoa(i), Name: caseName(res, repeats), Status: status(res),
			Reason: firstReason(res), Prompt: res.Prompt, PromptHash: res.PromptHash,
			Provider: res.Provider, Segment: res.Test.Segment, Repeat: res.Repeat,
			Score: fmtSig(res.Score, 3), Latency: fmtMS(res.LatencyMS), Cost: fmtCost(res.Cost),
			Tokens: res.Tokens, Cached: res.Cached, Output: visible(res.Output), Error: visible(res.Error),
			Human: visible(humanVerdict(res.Human)),
		}
		hr.Reason = visible(hr.Reason)
		for _, c := range res.ToolCalls {
			hr.ToolCalls = append(hr.ToolCalls, visible(c.Name+"("+c.Arguments+")"))
		}
		for _, name := range slices.Sorted(maps.Keys(res.Test.Vars)) {
			hr.Vars = append(hr.Vars, keyValue{name, visible(varString(res.Test.Vars[name]))})
		}
		for _, a := range res.Assertions {
			verdict := "pass"
			switch {
			case a.Error:
				verdict = "error"
			case !a.Passed:
				verdict = "fail"
			}
			hr.Assertions = append(hr.Assertions, htmlAssertion{
				Type: a.Type, Metric: a.Metric, Verdict: verdict, Score: fmtSig(a.Score, 3),
				Weight: fmtSig(a.Weight, 3), Reason: visible(a.Reason),
			})
		}
		v.Results = append(v.Results, hr)
	}
	return v
}

// visible replaces control characters other than tab and line breaks with their Unicode
// control pictures (ESC shows as ␛): browsers would hide them, and a reader debugging a
// model's output should see that it emitted them.
func visible(s string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c == '\t' || c == '\n' || c == '\r':
			return c
		case c < 0x20:
			return 0x2400 + c
		case c == 0x7f:
			return 0x2421
		}
		return c
	}, s)
}

// passedResults returns the results that passed, in report order.
func passedResults(results []Result) []*Result {
	var out []*Result
	for i := range results {
		if results[i].Passed && results[i].Error == "" {
			out = append(out, &results[i])
		}
	}
	return out
}

// provenanceRows lists what produced the run, for the page's last table.
func provenanceRows(r *Report) []keyValue {
	p := &r.Run.Provenance
	rows := []keyValue{{"run", r.Run.ID}, {"config hash", r.Run.ConfigHash}}
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, keyValue{k, v})
		}
	}
	add("suite", r.Run.Suite)
	add("description", r.Run.Description)
	add("config", p.ConfigPath)
	add("plumb version", p.PlumbVersion)
	commit := p.GitCommit
	if commit != "" && p.GitDirty {
		commit += " (uncommitted changes)"
	}
	add("git commit", commit)
	add("user", p.User)
	add("host", p.Host)
	add("command", strings.Join(p.Args, " "))
	if p.Repeat > 0 {
		add("repeat", strconv.Itoa(p.Repeat))
	}
	add("resumed from", p.ResumedFrom)
	for _, pr := range p.Prompts {
		if pr.Registry != "" {
			add("prompt "+pr.Label, pr.Hash+" · "+pr.Registry)
			continue
		}
		add("prompt "+pr.Label, pr.Hash)
	}
	for _, d := range p.Datasets {
		add("dataset "+d.Ref, d.Pinned+" · "+strconv.Itoa(d.Items)+" items")
	}
	for _, pv := range p.Providers {
		desc := pv.Type
		if pv.Model != "" {
			desc += " · " + pv.Model
		}
		if len(pv.Params) > 0 {
			desc += " · " + varString(pv.Params)
		}
		add("provider "+pv.Label, desc)
	}
	return rows
}
