package redteam

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

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
	Attacker    *ProviderConfig  `yaml:"attacker"` // optional: enables multi-turn
	Concurrency int              `yaml:"concurrency"`

	File string `yaml:"-"`
	hash string
	pos  map[string]config.Pos // where each value is written, for errors found after Parse
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
	Turns      int               `yaml:"turns"` // the attacker's: messages per multi-turn attack
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
	return LoadFileEnv(path, nil)
}

// LoadFileEnv is LoadFile that also reports, with the other mistakes and in file order,
// every api_key_env naming a variable getenv does not have (nil: not checked here; New
// checks it).
func LoadFileEnv(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, config.Errors{{Pos: config.Pos{File: path}, Msg: "cannot read the red-team config: " + readError(err),
			Hint: "check the path, or pass the config with -c FILE"}}
	}
	return ParseEnv(data, path, getenv)
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
// file:// paths. Every mistake is reported in one run, in file order: unknown keys (with a
// "did you mean") and values of the wrong type at every level, then the checks of the
// decoded config.
func Parse(data []byte, file string) (*Config, error) {
	return ParseEnv(data, file, nil)
}

// ParseEnv is Parse that also checks the api_key_env variables against getenv, as
// LoadFileEnv does.
func ParseEnv(data []byte, file string, getenv func(string) string) (*Config, error) {
	l := &loader{YAMLChecker: config.NewYAMLChecker(file, "docs/redteam.md"), refused: map[string]bool{}}
	root, err := l.Parse(data, [2]string{"the red-team config is empty",
		"write target:, purpose:, categories: and strategies: (see docs/redteam.md)"})
	if err != nil {
		return nil, err
	}
	l.commandStrings(root)
	l.Check(root, configSchema, "")
	c := &Config{}
	if e := l.Decode(root, c); e != nil {
		return nil, config.Sorted(append(l.Errs, e))
	}
	c.File = file
	sum := sha256.Sum256(data)
	c.hash = hex.EncodeToString(sum[:])
	l.validate(c)
	c.pos = l.Positions
	if getenv != nil {
		l.Errs = append(l.Errs, c.envErrors(Options{Getenv: getenv})...)
	}
	if len(l.Errs) > 0 {
		return nil, config.Sorted(l.Errs)
	}
	return c, nil
}

// checkEnv reports, before anything is sent, every configured provider (target, judge,
// attacker; not those opt replaces) whose api_key_env names a variable that is not set:
// every call would fail (a 401 from a server that wants the key) and leave the run
// untested. Like the gateway, plumb refuses to start.
func (c *Config) checkEnv(opt Options) error {
	if errs := c.envErrors(opt); len(errs) > 0 {
		return errs
	}
	return nil
}

// envErrors is checkEnv's list.
func (c *Config) envErrors(opt Options) config.Errors {
	var errs config.Errors
	for _, p := range []struct {
		path  string
		pc    *ProviderConfig
		given provider.Provider
	}{{"target", c.Target, opt.Target}, {"judge", c.Judge, opt.Judge}, {"attacker", c.Attacker, opt.Attacker}} {
		if p.pc == nil || p.given != nil || !envNameRe.MatchString(p.pc.APIKeyEnv) || opt.Getenv(p.pc.APIKeyEnv) != "" {
			continue
		}
		path := p.path + ".api_key_env"
		errs = append(errs, &config.Error{Pos: config.PosAt(c.pos, c.File, path),
			Msg:  fmt.Sprintf("%s: %s is not set", path, p.pc.APIKeyEnv),
			Hint: fmt.Sprintf("export %s=... before running plumb redteam, or remove api_key_env if the server takes no key", p.pc.APIKeyEnv)})
	}
	return errs
}

// configSchema is a red-team config's keys and their types.
var configSchema = config.SchemaOf(reflect.TypeOf(Config{}))

type loader struct {
	*config.YAMLChecker
	refused map[string]bool // values already reported (a command written as text)
}

// fail records an error about the value at path ("categories[0].threshold"), or its
// closest written parent.
func (l *loader) fail(path, hint, format string, args ...any) {
	l.Fail(l.At(path), hint, format, args...)
}

// written is whether the file gives a value at path, so that a 0 written is told from a
// key left out (which takes the default).
func (l *loader) written(path string) bool {
	_, ok := l.Positions[path]
	return ok
}

// commandStrings refuses an exec provider's command written as one string ("python
// bot.py"): splitting it like a shell would guess at quoting, and taking it as one program
// path would fail later with "file not found". The hint shows the list form.
func (l *loader) commandStrings(root ast.Node) {
	for _, key := range []string{"target", "judge", "attacker"} {
		p := mappingValue(root, key)
		if p == nil {
			continue
		}
		if p = mappingValue(p.Value, "command"); p == nil {
			continue
		}
		s, ok := p.Value.(*ast.StringNode)
		if !ok {
			continue
		}
		items := []string{}
		for _, f := range strings.Fields(s.Value) {
			items = append(items, strconv.Quote(f))
		}
		l.Errs = append(l.Errs, &config.Error{Pos: l.Pos(s.GetToken()),
			Msg:  fmt.Sprintf("%s.command must be a list (the program, then each argument), not the text %q", key, s.Value),
			Hint: "write command: [" + strings.Join(items, ", ") + "]; the program gets the request as JSON on stdin"})
		p.Value = ast.Null(token.New("null", "null", s.GetToken().Position))
		l.refused[key+".command"] = true
	}
}

// mappingValue is the entry key of the map n, or nil.
func mappingValue(n ast.Node, key string) *ast.MappingValueNode {
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	case *ast.MappingNode:
		values = v.Values
	}
	for _, mv := range values {
		if sk, ok := mv.Key.(*ast.StringNode); ok && sk.Value == key {
			return mv
		}
	}
	return nil
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
var triggerRe = regexp.MustCompile(`^[A-Za-z0-9]+-[A-Za-z0-9]+$`)

func (l *loader) validate(c *Config) {
	if c.Target == nil {
		l.fail("", "add target: with type: openai (or anthropic, http, exec) and the model, route or endpoint to attack", "the config has no target (the system under test)")
	} else {
		l.provider("target", c.Target)
	}
	if c.Judge != nil {
		l.provider("judge", c.Judge)
	}
	if c.Attacker != nil {
		l.provider("attacker", c.Attacker)
		l.count("attacker.turns", &c.Attacker.Turns, DefaultTurns, 10, "turns per multi-turn attack")
	}
	l.count("attempts", &c.Attempts, DefaultAttempts, 100, "attempts per attack")
	l.count("concurrency", &c.Concurrency, DefaultConcurrency, 64, "attempts at a time")
	if c.Threshold != nil && !unit(*c.Threshold) {
		l.fail("threshold", "a threshold is the highest attack success rate allowed, from 0 to 1", "threshold is %v", *c.Threshold)
	}
	if c.Trigger != "" && !triggerRe.MatchString(c.Trigger) {
		l.fail("trigger", "write two words of letters and digits joined by one hyphen, e.g. PWNED-7f3a", "trigger %q is not WORD-WORD", c.Trigger)
	}
	if c.Canary != "" && len(c.Canary) < 8 {
		l.fail("canary", "use at least 8 characters so that it cannot appear by chance", "canary %q is too short", c.Canary)
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
		path := fmt.Sprintf("strategies[%d]", i)
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
		l.fail("", "list the harm categories in scope under categories:, e.g. - id: LLM07 (built-in ids: "+strings.Join(BuiltinIDs(), ", ")+")", "the config has no categories")
	}
	ids := map[string]bool{}
	for i := range c.Categories {
		cc := &c.Categories[i]
		path := fmt.Sprintf("categories[%d]", i)
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
			l.fail(fmt.Sprintf("tools.forbidden[%d]", i), "write the tool's function name", "tool name %q is not a function name", t)
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
	const path = "tools.definitions"
	const hint = "write a list of OpenAI function tools, [{type: function, function: {name, description, parameters}}], or file://tools.json"
	if s, ok := v.(string); ok {
		name, isFile := strings.CutPrefix(s, "file://")
		if !isFile {
			l.fail(path, hint, "tools.definitions is text, not a list of tools")
			return
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(l.File), name)
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
			l.fail(fmt.Sprintf("tools.forbidden[%d]", i), "add its definition to tools.definitions, or remove it from forbidden", "forbidden tool %q is not among tools.definitions: the model cannot call it", f)
		}
	}
	c.Tools.defs = defs
}

func oneLineErr(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

func (l *loader) provider(path string, p *ProviderConfig) {
	switch p.Type {
	case "openai", "anthropic":
		if p.Model == "" {
			l.fail(path, "give model: (for a gateway route, the route's name, with base_url: the gateway's /v1)", "%s has no model", strings.TrimPrefix(path, ""))
		}
	case "http":
		if p.URL == "" {
			l.fail(path, "give url: the application endpoint, body: with {{prompt}}, and output_path:", "%s has no url", strings.TrimPrefix(path, ""))
		}
	case "exec":
		if len(p.Command) == 0 && !l.refused[path+".command"] {
			l.fail(path, "give command: [program, args...]; it gets the request as JSON on stdin", "%s has no command", strings.TrimPrefix(path, ""))
		}
	case "echo":
	case "":
		l.fail(path, "set type: openai, anthropic, http, exec or echo", "%s has no type", strings.TrimPrefix(path, ""))
	default:
		l.fail(path+".type", "use openai (also gateways and OpenAI-compatible servers), anthropic, http, exec or echo", "unknown provider type %q", p.Type)
	}
	if p.APIKeyEnv != "" && !envNameRe.MatchString(p.APIKeyEnv) {
		l.fail(path+".api_key_env", "write the name of an environment variable, e.g. OPENAI_API_KEY, not the key itself", "%s.api_key_env must name an environment variable", path)
	}
	if path != "attacker" && l.written(path+".turns") {
		l.fail(path+".turns", "move turns: to attacker:, the model that writes multi-turn attacks", "%s takes no turns", path)
	}
	if p.Timeout != "" {
		if d, err := time.ParseDuration(p.Timeout); err != nil || d <= 0 {
			l.fail(path+".timeout", "write a duration such as 30s", "timeout %q is not a duration", p.Timeout)
		}
	}
}

// count checks a whole number from 1 to max at path, and sets def when the key is left
// out; a 0 written is refused like any other value out of range.
func (l *loader) count(path string, n *int, def, max int, what string) {
	if *n == 0 && !l.written(path) {
		*n = def
		return
	}
	if *n < 1 || *n > max {
		l.fail(path, fmt.Sprintf("use 1 to %d %s (or leave %s out for %d)", max, what, path, def), "%s is %d", path, *n)
	}
}

func unit(f float64) bool { return f >= 0 && f <= 1 }

func suggest(s string, options []string) string {
	if m := config.Suggest(s, options); m != "" {
		return " (did you mean " + m + "?)"
	}
	return ""
}

// providerConfig turns a config's provider into the provider package's. Without a label:
// the provider package names it (openai:MODEL, exec:COMMAND, the http URL without secrets),
// so that reports say what was attacked.
func (p *ProviderConfig) providerConfig(dir string) provider.Config {
	pc := provider.Config{Label: p.Label, Type: p.Type, Model: p.Model, BaseURL: p.BaseURL, APIKeyEnv: p.APIKeyEnv,
		Headers: p.Headers, URL: p.URL, Method: p.Method, Body: p.Body, OutputPath: p.OutputPath, Command: p.Command, Dir: dir}
	if p.Timeout != "" {
		pc.Timeout, _ = time.ParseDuration(p.Timeout)
	}
	if p.MaxRetries != nil {
		pc.MaxRetries = *p.MaxRetries
		if pc.MaxRetries == 0 {
			pc.MaxRetries = -1 // provider.Config: 0 is the default, negative is none
		}
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
