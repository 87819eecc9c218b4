// Package report is the recorded outcome of an eval run: the data model that the runner
// produces, the store keeps and every output format (JSON, JSONL, CSV, JUnit, Markdown,
// HTML, the terminal table) renders.
package report

import "time"

// Run statuses.
const (
	StatusComplete   = "complete"
	StatusIncomplete = "incomplete" // stopped early (Ctrl-C, fatal error); may be resumed
)

// Report is one eval run with its summary and every sample's result. Its JSON form is the
// documented JSON report format.
type Report struct {
	Run     Run      `json:"run"`
	Summary Summary  `json:"summary"`
	Results []Result `json:"results"`
}

// Run identifies a run and records where it came from.
type Run struct {
	ID          string     `json:"id"`
	Suite       string     `json:"suite,omitempty"` // the suite's name (config `description` or file name)
	Status      string     `json:"status"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  time.Time  `json:"finished_at"`
	ConfigHash  string     `json:"config_hash"`
	Provenance  Provenance `json:"provenance"`
	Description string     `json:"description,omitempty"`
	// RedTeam is set on a red-team run (plumb redteam) and nil on an eval run.
	RedTeam *RedTeam `json:"redteam,omitempty"`
}

// Provenance is everything needed to tell what produced a run.
type Provenance struct {
	PlumbVersion string   `json:"plumb_version"`
	ConfigPath   string   `json:"config_path,omitempty"`
	GitCommit    string   `json:"git_commit,omitempty"`
	GitDirty     bool     `json:"git_dirty,omitempty"`
	User         string   `json:"user,omitempty"`
	Host         string   `json:"host,omitempty"`
	Args         []string `json:"args,omitempty"`
	Repeat       int      `json:"repeat"`
	// Mode says where the answers came from: "live" (the providers were called), "replay"
	// (a cassette) or "record" (called, and written to a cassette).
	Mode        string        `json:"mode"`
	Cassette    string        `json:"cassette,omitempty"`
	Prompts     []PromptRef   `json:"prompts"`
	Providers   []ProviderRef `json:"providers"`
	ResumedFrom string        `json:"resumed_from,omitempty"`
	// Datasets are the dataset versions the tests were read from (dataset:// references).
	Datasets []DatasetRef `json:"datasets,omitempty"`
}

// DatasetRef is a dataset version a run's tests came from.
type DatasetRef struct {
	Ref     string `json:"ref"`    // as the suite wrote it: dataset://NAME or dataset://NAME@VERSION
	Pinned  string `json:"pinned"` // the exact version read: dataset://NAME@VERSION
	Name    string `json:"name"`
	Version int    `json:"version"`
	Items   int    `json:"items"`
}

// PromptRef names a prompt and pins its exact content by hash.
type PromptRef struct {
	Label string `json:"label"`
	Hash  string `json:"hash"` // sha256 of the prompt's canonical content, hex, first 12 chars
	Text  string `json:"text,omitempty"`
	// Registry is the exact registry version a prompt:// reference resolved to
	// (prompt://NAME@VERSION); "" for a prompt written in the suite.
	Registry string `json:"registry,omitempty"`
}

// ProviderRef names a provider as configured (never with a secret).
type ProviderRef struct {
	Label   string         `json:"label"` // the id used in results
	Type    string         `json:"type"`  // openai, anthropic, exec, http, ...
	Model   string         `json:"model,omitempty"`
	BaseURL string         `json:"base_url,omitempty"` // the endpoint called, without credentials
	Params  map[string]any `json:"params,omitempty"`
}

// Summary aggregates the results into the numbers a decision is made on.
type Summary struct {
	Cases  int `json:"cases"` // samples: prompt × provider × test × repeat
	Passed int `json:"passed"`
	Failed int `json:"failed"`
	Errors int `json:"errors"` // samples whose provider call failed
	// AssertionErrors counts assertions that could not be evaluated (a failed or unparsable
	// judge): their samples failed, but they say nothing about accuracy or hallucination.
	AssertionErrors int        `json:"assertion_errors"`
	PassRate        float64    `json:"pass_rate"`
	PassRateCI      [2]float64 `json:"pass_rate_ci"`
	// Metrics holds the built-in metrics (accuracy, hallucination_rate, refusal_rate,
	// latency_p50_ms, latency_p95_ms, latency_p99_ms, cost_total, cost_per_case, tokens_total)
	// and every named metric of the suite.
	Metrics map[string]Metric `json:"metrics"`
	Gates   []Gate            `json:"gates"`
	// Tests holds one row per prompt × provider × test with its pass rate over repeats.
	Tests []TestStat `json:"tests,omitempty"`
	// Flaky lists the tests whose repeats disagree.
	Flaky []TestStat `json:"flaky,omitempty"`
	// Human is the human eval panel of the run (human.go), when a panel judged any of its
	// results: computed from the results' human scores when the run is read, never stored.
	Human *HumanPanel `json:"human,omitempty"`
}

// Metric is one measured quantity with its 95% interval when one applies.
type Metric struct {
	Value float64     `json:"value"`
	CI    *[2]float64 `json:"ci,omitempty"`
	N     int         `json:"n"`              // samples the value was computed on
	Kind  string      `json:"kind,omitempty"` // rate, mean, quantile, total
}

// Gate is one acceptance criterion and its verdict.
type Gate struct {
	Metric     string      `json:"metric"`
	Op         string      `json:"op"` // "min" or "max"
	Threshold  float64     `json:"threshold"`
	Confidence float64     `json:"confidence,omitempty"`
	Observed   float64     `json:"observed"`
	CI         *[2]float64 `json:"ci,omitempty"`
	Bound      *float64    `json:"bound,omitempty"` // the confidence bound the verdict used
	Passed     bool        `json:"passed"`
	Reason     string      `json:"reason"`
}

// TestStat is the outcome of one test (for one prompt and provider) over its repeats.
type TestStat struct {
	Key         string  `json:"-"` // stable id of prompt × provider × test, for grouping
	Test        int     `json:"test"`
	Description string  `json:"description,omitempty"`
	Prompt      string  `json:"prompt"`
	Provider    string  `json:"provider"`
	Segment     string  `json:"segment,omitempty"`
	Samples     int     `json:"samples"`
	Passed      int     `json:"passed"`
	PassRate    float64 `json:"pass_rate"`
	PassAtK     bool    `json:"pass_at_k"`  // at least one repeat passed
	PassHatK    bool    `json:"pass_hat_k"` // every repeat passed
	MeanScore   float64 `json:"mean_score"`
}

// Result is one sample: one prompt × provider × test × repeat.
type Result struct {
	Test       TestRef `json:"test"`
	Prompt     string  `json:"prompt"`      // prompt label
	PromptHash string  `json:"prompt_hash"` // pins the exact prompt content
	Provider   string  `json:"provider"`    // provider label
	Repeat     int     `json:"repeat"`
	Rendered   string  `json:"rendered,omitempty"` // the prompt as sent, after substitution
	Output     string  `json:"output"`
	// ToolCalls are the calls the model made to the tools its provider gave it.
	ToolCalls  []ToolCall  `json:"tool_calls,omitempty"`
	LatencyMS  float64     `json:"latency_ms"`
	Tokens     Tokens      `json:"tokens"`
	Cost       float64     `json:"cost"`
	Cached     bool        `json:"cached,omitempty"`
	Error      string      `json:"error,omitempty"`
	Passed     bool        `json:"passed"`
	Score      float64     `json:"score"`
	Refusal    bool        `json:"refusal,omitempty"` // the output reads as a refusal (shipped heuristics)
	Assertions []Assertion `json:"assertions"`
	// Human is the consensus human verdict of a human eval panel, when one judged this
	// result (human.go); the store fills it in from its human scores.
	Human *Human `json:"human,omitempty"`
}

// ToolCall is one call a model made to a tool; its arguments are the model's JSON text.
type ToolCall struct {
	ID        string `json:"id,omitempty"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Key identifies the prompt × provider × test this sample belongs to.
func (r *Result) Key() string {
	return r.Prompt + "\x1f" + r.Provider + "\x1f" + itoa(r.Test.Index)
}

// TestRef identifies a test of the suite and the inputs it ran with.
type TestRef struct {
	Index       int            `json:"index"` // position in the suite, from 0
	Description string         `json:"description,omitempty"`
	Vars        map[string]any `json:"vars,omitempty"`
	Segment     string         `json:"segment,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

// Tokens counts the tokens of one call.
type Tokens struct {
	Prompt     int `json:"prompt"`
	Completion int `json:"completion"`
	Total      int `json:"total"`
	Cached     int `json:"cached,omitempty"`
}

// Assertion is the verdict of one assertion on one sample.
type Assertion struct {
	Type   string  `json:"type"` // as written, e.g. "not-contains"
	Metric string  `json:"metric,omitempty"`
	Weight float64 `json:"weight"`
	Passed bool    `json:"passed"`
	Score  float64 `json:"score"`
	Reason string  `json:"reason,omitempty"`
	Error  bool    `json:"error,omitempty"` // the assertion could not be evaluated (e.g. unparsable judge answer)
	Cost   float64 `json:"cost,omitempty"`  // USD spent by the check itself (a judge's call)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
