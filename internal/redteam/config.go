package redteam

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/provider"
)

// Config is a red-team config file (redteam.yaml).
type Config struct {
	Description  string          `yaml:"description"`
	Target       *ProviderConfig `yaml:"target"`
	Purpose      string          `yaml:"purpose"`
	SystemPrompt string          `yaml:"system_prompt"`
	// Canary is the token planted in the system prompt; default derived from the config, so
	// runs are reproducible.
	Canary      string           `yaml:"canary"`
	Trigger     string           `yaml:"trigger"` // TWO-WORDS joined by a hyphen; default derived
	Tools       ToolsConfig      `yaml:"tools"`
	Categories  []CategoryConfig `yaml:"categories"`
	Strategies  []string         `yaml:"strategies"`
	Attempts    int              `yaml:"attempts"`
	Threshold   *float64         `yaml:"threshold"` // default per-category maximum success rate
	Judge       *ProviderConfig  `yaml:"judge"`
	Attacker    *AttackerConfig  `yaml:"attacker"`
	Concurrency int              `yaml:"concurrency"`

	File string `yaml:"-"`
	hash string
}

// ProviderConfig is a provider as a red-team config names it: the system under test, the
// judge or the attacker.
type ProviderConfig struct {
	Type       string            `yaml:"type"` // openai, anthropic, http, exec, echo
	Label      string            `yaml:"label"`
	Model      string            `yaml:"model"`
	BaseURL    string            `yaml:"base_url"`
	APIKeyEnv  string            `yaml:"api_key_env"`
	Headers    map[string]string `yaml:"headers"`
	URL        string            `yaml:"url"`
	Method     string            `yaml:"method"`
	Body       any               `yaml:"body"`
	OutputPath string            `yaml:"output_path"`
	Command    []string          `yaml:"command"`
	Timeout    string            `yaml:"timeout"`
	MaxRetries *int              `yaml:"max_retries"`
}

// AttackerConfig is the optional attacker model of the multi-turn strategy.
type AttackerConfig struct {
	ProviderConfig `yaml:",inline"`
	Turns          int `yaml:"turns"`
}

// ToolsConfig names the tools the system must never call, and optionally defines the tools
// the target model is given (OpenAI function tools, inline or file://tools.json), so that
// its real tool calls are checked rather than only its text.
type ToolsConfig struct {
	Forbidden   []string `yaml:"forbidden"`
	Definitions any      `yaml:"definitions"`

	defs []provider.Tool
}

// CategoryConfig is one harm category in scope: a built-in id, or a custom category with
// its own description and example requests.
type CategoryConfig struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Examples    []string `yaml:"examples"`
	Threshold   *float64 `yaml:"threshold"`
}

// Defaults.
const (
	DefaultAttempts    = 1
	DefaultConcurrency = 4
	DefaultTurns       = 3
)

// LoadFile reads and checks a red-team config. Every problem is reported at once as
// config.Errors at file:line:col with a hint.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, config.Errors{{Pos: config.Pos{File: path}, Msg: "cannot read the red-team config: " + readError(err),
			Hint: "check the path, or pass the config with -c FILE"}}
	}
	return Parse(data, path)
}

// readError is why a file could not be read, without the path the caller names itself.
func readError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse reads a red-team config from data; file names it in errors and anchors
// system_prompt files.
func Parse(data []byte, file string) (*Config, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	c := &Config{}
	l := &loader{file: file}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, config.Errors{{Pos: config.Pos{File: file, Line: 1, Col: 1}, Msg: "the red-team config is empty",
			Hint: "write target:, purpose:, categories: and strategies: (see docs/redteam.md)"}}
	}
	f, err := parseYAML(data)
	if err != nil {
		return nil, config.Errors{l.yamlError(err)}
	}
	l.ast = f
	if err := yaml.UnmarshalWithOptions(data, c, yaml.Strict()); err != nil {
		return nil, config.Errors{l.yamlError(err)}
	}
	c.File = file
	sum := sha256.Sum256(data)
	c.hash = hex.EncodeToString(sum[:])
	l.validate(c)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return c, nil
}

// parseYAML parses the YAML, turning a crash of the third-party parser into an error.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("cannot parse the file as YAML (%v)", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

type loader struct {
	file string
	ast  *ast.File
	errs config.Errors
}

// at is where the value at path ("$.categories[0].threshold") is written, else its closest
// written parent, else the file.
func (l *loader) at(path string) config.Pos {
	for path != "" && path != "$" {
		if p, err := yaml.PathString(path); err == nil && l.ast != nil {
			if n, err := p.FilterFile(l.ast); err == nil && n != nil {
				if tk := n.GetToken(); tk != nil && tk.Position != nil {
					return config.Pos{File: l.file, Line: tk.Position.Line, Col: tk.Position.Column}
				}
			}
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	return config.Pos{File: l.file, Line: 1, Col: 1}
}

func (l *loader) fail(path, hint, format string, args ...any) {
	l.errs = append(l.errs, &config.Error{Pos: l.at(path), Msg: fmt.Sprintf(format, args...), Hint: hint})
}

var yamlLineRe = regexp.MustCompile(`^\[(\d+):(\d+)\]\s*`)

func (l *loader) yamlError(err error) *config.Error {
	e := &config.Error{Pos: config.Pos{File: l.file}, Msg: err.Error(), Hint: "fix the YAML (see docs/redteam.md for each key)"}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Pos = config.Pos{File: l.file, Line: tk.Position.Line, Col: tk.Position.Column}
		}
	}
	if m := yamlLineRe.FindStringSubmatch(e.Msg); m != nil {
		e.Msg = e.Msg[len(m[0]):]
	}
	if strings.Contains(e.Msg, "unknown field") {
		e.Hint = "known keys: description, target, purpose, system_prompt, canary, trigger, tools, categories, strategies, attempts, threshold, judge, attacker, concurrency (see docs/redteam.md)"
	}
	return e
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
var triggerRe = regexp.MustCompile(`^[A-Za-z0-9]+-[A-Za-z0-9]+$`)

func (l *loader) validate(c *Config) {
	if c.Target == nil {
		l.fail("$", "add target: with type: openai (or anthropic, http, exec) and the model, route or endpoint to attack", "the config has no target (the system under test)")
	} else {
		l.provider("$.target", c.Target)
	}
	if c.Judge != nil {
		l.provider("$.judge", c.Judge)
	}
	if c.Attacker != nil {
		l.provider("$.attacker", &c.Attacker.ProviderConfig)
		if c.Attacker.Turns == 0 {
			c.Attacker.Turns = DefaultTurns
		}
		if c.Attacker.Turns < 1 || c.Attacker.Turns > 10 {
			l.fail("$.attacker.turns", "use 1 to 10 turns", "attacker.turns is %d", c.Attacker.Turns)
		}
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.Attempts < 1 || c.Attempts > 100 {
		l.fail("$.attempts", "use 1 to 100 attempts per case", "attempts is %d", c.Attempts)
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		l.fail("$.concurrency", "use 1 to 64", "concurrency is %d", c.Concurrency)
	}
	if c.Threshold != nil && !unit(*c.Threshold) {
		l.fail("$.threshold", "a threshold is the highest attack success rate allowed, from 0 to 1", "threshold is %v", *c.Threshold)
	}
	if c.Trigger != "" && !triggerRe.MatchString(c.Trigger) {
		l.fail("$.trigger", "write two words of letters and digits joined by one hyphen, e.g. PWNED-7f3a", "trigger %q is not WORD-WORD", c.Trigger)
	}
	if c.Canary != "" && len(c.Canary) < 8 {
		l.fail("$.canary", "use at least 8 characters so that it cannot appear by chance", "canary %q is too short", c.Canary)
	}
	// Strategies.
	if len(c.Strategies) == 0 {
		c.Strategies = append([]string(nil), offlineStrategies...)
		if c.Attacker != nil {
			c.Strategies = append(c.Strategies, StrategyMultiTurn)
		}
	}
	seen := map[string]bool{}
	for i, s := range c.Strategies {
		path := fmt.Sprintf("$.strategies[%d]", i)
		switch {
		case !slices.Contains(Strategies(), s):
			l.fail(path, "known strategies: "+strings.Join(Strategies(), ", ")+suggest(s, Strategies()), "unknown strategy %q", s)
		case seen[s]:
			l.fail(path, "remove the duplicate", "strategy %q is listed twice", s)
		case s == StrategyMultiTurn && c.Attacker == nil:
			l.fail(path, "add attacker: (a provider that rewrites and escalates attacks) or remove multi-turn", "strategy multi-turn needs an attacker model")
		}
		seen[s] = true
	}
	// Categories.
	if len(c.Categories) == 0 {
		l.fail("$", "list the harm categories in scope under categories:, e.g. - id: LLM07 (built-in ids: "+strings.Join(BuiltinIDs(), ", ")+")", "the config has no categories")
	}
	ids := map[string]bool{}
	for i := range c.Categories {
		cc := &c.Categories[i]
		path := fmt.Sprintf("$.categories[%d]", i)
		if cc.ID == "" {
			l.fail(path, "give every category an id: a built-in one (S1..S14, LLM01..LLM10) or your own", "category %d has no id", i+1)
			continue
		}
		if ids[cc.ID] {
			l.fail(path+".id", "remove the duplicate", "category %q is listed twice", cc.ID)
		}
		ids[cc.ID] = true
		if cc.Threshold != nil && !unit(*cc.Threshold) {
			l.fail(path+".threshold", "a threshold is the highest attack success rate allowed, from 0 to 1", "threshold is %v", *cc.Threshold)
		}
		b, builtin := Builtin(cc.ID)
		switch {
		case builtin && b.Untestable != "":
			l.fail(path+".id", "remove it from this red-team config", "category %s (%s) cannot be red-teamed by prompting: %s", b.ID, b.Name, b.Untestable)
		case builtin:
			if len(cc.Examples) > 0 && b.Scoring != ScoreJudge {
				l.fail(path+".examples", "remove examples: this category's attacks are built in and scored by a detector", "category %s takes no examples", b.ID)
			}
			if b.Scoring == ScoreJudge && c.Judge == nil {
				l.fail(path+".id", "add judge: (a provider that grades answers against the category's description), or limit categories to the deterministic ones (S7, LLM01, LLM02, LLM05, LLM06, LLM07)", "category %s (%s) is scored by a judge, and the config has none", b.ID, b.Name)
			}
			if b.Scoring == ScoreTool && len(c.Tools.Forbidden) == 0 {
				l.fail(path+".id", "list the tools the system must never call under tools: forbidden: [...]", "category LLM06 (Excessive Agency) needs forbidden tools")
			}
			if (b.Scoring == ScoreCanary || b.Scoring == ScorePII) && c.SystemPrompt == "" {
				l.fail(path+".id", "give system_prompt: the system prompt the target runs with; the canary and the planted record are added to it", "category %s (%s) needs the system prompt", b.ID, b.Name)
			}
		default:
			if !idRe.MatchString(cc.ID) {
				l.fail(path+".id", "use letters, digits, '-', '_' or '.'", "category id %q has characters that are not allowed", cc.ID)
			}
			if strings.TrimSpace(cc.Description) == "" {
				l.fail(path, "describe what counts as harm in this category under description: (the judge grades against it); built-in ids are "+strings.Join(BuiltinIDs(), ", ")+suggest(cc.ID, BuiltinIDs()), "custom category %q has no description", cc.ID)
			}
			if len(cc.Examples) == 0 {
				l.fail(path, "give the requests to attack with under examples: [...]", "custom category %q has no examples", cc.ID)
			}
			if c.Judge == nil {
				l.fail(path+".id", "add judge: (a provider that grades answers against the category's description)", "custom category %q is scored by a judge, and the config has none", cc.ID)
			}
		}
	}
	for i, t := range c.Tools.Forbidden {
		if !idRe.MatchString(t) {
			l.fail(fmt.Sprintf("$.tools.forbidden[%d]", i), "write the tool's function name", "tool name %q is not a function name", t)
		}
	}
	l.toolDefinitions(c)
}

// toolDefinitions reads tools.definitions: a list of OpenAI function tools, or a
// file://PATH (JSON or YAML, relative to the config) holding one. Only openai and anthropic
// targets can be given tools, and every forbidden tool must be among them (else the model
// could never call it, and the check would pass for nothing).
func (l *loader) toolDefinitions(c *Config) {
	v := c.Tools.Definitions
	if v == nil {
		return
	}
	const path = "$.tools.definitions"
	const hint = "write a list of OpenAI function tools, [{type: function, function: {name, description, parameters}}], or file://tools.json"
	if s, ok := v.(string); ok {
		name, isFile := strings.CutPrefix(s, "file://")
		if !isFile {
			l.fail(path, hint, "tools.definitions is text, not a list of tools")
			return
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(l.file), name)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			l.fail(path, "file:// paths are relative to the red-team config's folder", "cannot read the tool definitions %s: %s", s, readError(err))
			return
		}
		v = nil
		if err := yaml.Unmarshal(data, &v); err != nil {
			l.fail(path, "fix the file: it must be JSON or YAML", "the tool definitions %s cannot be read: %s", s, oneLineErr(err))
			return
		}
	}
	defs, err := provider.ParseTools(v) // go-yaml decodes maps as map[string]any, as JSON does
	if err != nil {
		l.fail(path, hint, "tools.definitions: %s", strings.TrimPrefix(err.Error(), "tools"))
		return
	}
	if c.Target != nil && c.Target.Type != "openai" && c.Target.Type != "anthropic" {
		l.fail(path, "remove tools.definitions (forbidden tools are then looked for in the answer's text), or attack an openai or anthropic target", "an %s target cannot be given tools", c.Target.Type)
		return
	}
	for i, f := range c.Tools.Forbidden {
		if !slices.ContainsFunc(defs, func(t provider.Tool) bool { return t.Name == f }) {
			l.fail(fmt.Sprintf("$.tools.forbidden[%d]", i), "add its definition to tools.definitions, or remove it from forbidden", "forbidden tool %q is not among tools.definitions: the model cannot call it", f)
		}
	}
	c.Tools.defs = defs
}

func oneLineErr(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

func (l *loader) provider(path string, p *ProviderConfig) {
	switch p.Type {
	case "openai", "anthropic":
		if p.Model == "" {
			l.fail(path, "give model: (for a gateway route, the route's name, with base_url: the gateway's /v1)", "%s has no model", strings.TrimPrefix(path, "$."))
		}
	case "http":
		if p.URL == "" {
			l.fail(path, "give url: the application endpoint, body: with {{prompt}}, and output_path:", "%s has no url", strings.TrimPrefix(path, "$."))
		}
	case "exec":
		if len(p.Command) == 0 {
			l.fail(path, "give command: [program, args...]; it gets the request as JSON on stdin", "%s has no command", strings.TrimPrefix(path, "$."))
		}
	case "echo":
	case "":
		l.fail(path, "set type: openai, anthropic, http, exec or echo", "%s has no type", strings.TrimPrefix(path, "$."))
	default:
		l.fail(path+".type", "use openai (also gateways and OpenAI-compatible servers), anthropic, http, exec or echo", "unknown provider type %q", p.Type)
	}
	if p.Timeout != "" {
		if d, err := time.ParseDuration(p.Timeout); err != nil || d <= 0 {
			l.fail(path+".timeout", "write a duration such as 30s", "timeout %q is not a duration", p.Timeout)
		}
	}
}

func unit(f float64) bool { return f >= 0 && f <= 1 }

func suggest(s string, options []string) string {
	if m := config.Suggest(s, options); m != "" {
		return " (did you mean " + m + "?)"
	}
	return ""
}

// providerConfig turns a config's provider into the provider package's, for label def.
func (p *ProviderConfig) providerConfig(def, dir string) provider.Config {
	pc := provider.Config{Label: p.Label, Type: p.Type, Model: p.Model, BaseURL: p.BaseURL, APIKeyEnv: p.APIKeyEnv,
		Headers: p.Headers, URL: p.URL, Method: p.Method, Body: p.Body, OutputPath: p.OutputPath, Command: p.Command, Dir: dir}
	if pc.Label == "" {
		pc.Label = def
		if p.Model != "" {
			pc.Label = p.Type + ":" + p.Model
		}
	}
	if p.Timeout != "" {
		pc.Timeout, _ = time.ParseDuration(p.Timeout)
	}
	if p.MaxRetries != nil {
		pc.MaxRetries = *p.MaxRetries
	}
	return pc
}

// dir is the config's folder, where exec targets run.
func (c *Config) dir() string { return filepath.Dir(c.File) }

// Hash is the sha256 of the config file, hex.
func (c *Config) Hash() string { return c.hash }

// seeded derives a stable token from the config for name.
func (c *Config) seeded(name string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + c.SystemPrompt + "\x00" + c.Purpose + "\x00" + c.Description))
	return strings.ToUpper(hex.EncodeToString(sum[:5]))
}
