// Package config loads an eval suite: Plumb's own plumb.yaml and promptfoo's
// promptfooconfig.yaml (the subset both tools support), with every error in the file
// reported at once as file:line:col with a hint on how to fix it.
package config

import (
	"fmt"
	"strings"

	"github.com/plumbhq/plumb/internal/provider"
)

// Pos is a place in a config or data file. Line and Col count from 1; 0 means unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	switch {
	case p.Line > 0 && p.Col > 0:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	case p.Line > 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return p.File
	}
}

// Error is one problem in the user's input.
type Error struct {
	Pos  Pos
	Msg  string
	Hint string // how to fix it; may be empty
}

func (e *Error) Error() string {
	s := e.Pos.String() + ": " + e.Msg
	if e.Hint != "" {
		s += "\n\thint: " + e.Hint
	}
	return s
}

// Errors is every problem found in one load, in file order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Suite is a loaded, validated eval suite. Default-test values are already merged into
// every test, file:// references are read, and variables are checked against the prompts.
type Suite struct {
	Path        string // the config file as given
	Dir         string // relative file:// paths resolve against it
	Description string
	Hash        string // sha256 (hex) of the config file and every file it read

	Prompts   []Prompt
	Providers []ProviderSpec
	Tests     []Test

	Repeat          int           // samples per test; default 1
	Concurrency     int           // parallel calls; default 4
	Judge           *ProviderSpec // provider for model-graded assertions; nil when none is configured
	Embedder        *ProviderSpec // provider for `similar`; nil when none is configured
	Gates           []Gate
	Baseline        string                    // a run id to compare against after each run
	Cassette        string                    // replay cassette path (resolved), "" when none
	CassetteLiveEnv []string                  // env var names: any set and non-empty means call the real providers, not the cassette
	Prices          map[string]provider.Price // model -> price, overriding the defaults
	JudgePrompts    map[string]string         // assertion type -> prompt template overriding the shipped one
	OutputPaths     []string                  // promptfoo's outputPath: report files to write, as written

	// Compat is "plumb" or "promptfoo": which dialect the file was read as.
	Compat string
	// Sources are the registry versions that prompt:// and dataset:// references resolved
	// to, in the order read: what a run records to be re-run on the same versions.
	Sources []Source
}

// Prompt is one prompt template.
type Prompt struct {
	Label    string             // user-given label, or the first line shortened
	Text     string             // the template as text (for a chat, its JSON form)
	Messages []provider.Message // set when the prompt is a chat; each Content is a template
	Vars     []string           // variables the template uses, sorted
	Hash     string             // sha256 of the template, hex, first 12 chars
	Pos      Pos
	Registry string // prompt://NAME@VERSION for a registry prompt, "" otherwise
}

// ProviderSpec is one configured provider.
type ProviderSpec struct {
	ID     string // as written, e.g. "openai:chat:gpt-4o-mini" or "exec:python app.py"
	Config provider.Config
	Pos    Pos
}

// Test is one test case.
type Test struct {
	Index       int
	Description string
	Vars        map[string]any
	Assert      []Assertion
	Threshold   *float64 // pass when the weighted score >= threshold instead of all assertions passing
	Metadata    map[string]any
	Segment     string // metadata.segment, or the test's `segment` key
	Repeat      int    // overrides Suite.Repeat when > 0
	Pos         Pos
}

// Assertion is one assertion as configured.
type Assertion struct {
	Type      string // as written, e.g. "not-contains"
	Base      string // without the not- prefix, e.g. "contains"
	Negate    bool
	Value     any // string, number, list or map, as the type needs
	Threshold *float64
	Weight    float64 // default 1
	Metric    string
	Provider  *ProviderSpec // judge or embedding provider override
	Rubric    string        // rubricPrompt override for model-graded types
	Config    map[string]any
	Pos       Pos
}

// Gate is an acceptance criterion on a metric.
type Gate struct {
	Metric     string
	Min        *float64
	Max        *float64
	Confidence float64 // 0 means decide on the observed value alone
	Pos        Pos
}
