package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/guard/policy"
	"github.com/plumbhq/plumb/internal/provider"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// Config is a gateway.yaml. Every key is documented in docs/gateway.md.
type Config struct {
	Listen    string     `yaml:"listen"`
	RedisURL  string     `yaml:"redis_url"`
	Providers []Provider `yaml:"providers"`
	Routes    []Route    `yaml:"routes"`
	Keys      []Key      `yaml:"keys"`
	// Guards are the guard pipeline's configured steps, run in order on every route.
	Guards  []GuardStep      `yaml:"guards"`
	Breaker Breaker          `yaml:"breaker"`
	Prices  map[string]Price `yaml:"prices"`
	Bodies  Bodies           `yaml:"bodies"`
	// MaxBodyBytes bounds a client's request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Policies are named guard policies (internal/guard/policy); a route names one with
	// policy:, and Policy is the one of routes that name none.
	Policies map[string]policy.Policy `yaml:"policies"`
	Policy   string                   `yaml:"policy"`
	// ProjectPolicies name the policy of the calls of a project (by project id) on routes
	// that name none.
	ProjectPolicies map[string]string `yaml:"project_policies"`
	// ProjectKeys are the limits of every project API key (the store's keys, which the
	// config does not list), each key counted on its own.
	ProjectKeys KeyLimits `yaml:"project_keys"`

	// File is where the config was read from; positions of its values for later errors.
	File     string    `yaml:"-"`
	pos      posLookup `yaml:"-"`
	policies map[string]*policy.Compiled
	// classify asks a provider's model, for llm_classifier steps; the gateway sets it.
	classify func(ctx context.Context, provider, model, prompt string) (string, error)
}

// Provider is one upstream API.
type Provider struct {
	Name      string `yaml:"name"`
	Type      string `yaml:"type"` // openai or anthropic
	BaseURL   string `yaml:"base_url"`
	APIKeyEnv string `yaml:"api_key_env"`
	// Headers are extra request headers (an organisation id): not secrets, which come from
	// api_key_env only.
	Headers map[string]string `yaml:"headers"`
	// Auth is how an openai provider sends its key: "bearer" (Authorization: Bearer, the
	// default) or "api-key" (Azure OpenAI's api-key header, the default for Azure hosts).
	Auth string `yaml:"auth"`

	apiKey string // resolved from APIKeyEnv at load; never printed
	// chatURL and embedURL are the endpoints, with the base URL's query (Azure's
	// api-version) kept.
	chatURL, embedURL string
}

// endpoints sets the provider's endpoint URLs from its base URL: the path appended, the
// query kept, and for Azure hosts an api-version when the base names none (Azure's v1 API,
// base_url https://RESOURCE.openai.azure.com/openai/v1, takes none).
func (p *Provider) endpoints(u *url.URL) {
	q, azure := provider.AzureQuery(u)
	if p.Auth == "" {
		p.Auth = "bearer"
		if azure {
			p.Auth = "api-key"
		}
	}
	at := func(path string) string {
		v := *u
		v.Path = strings.TrimRight(u.Path, "/") + path
		v.RawPath = ""
		v.RawQuery = q.Encode()
		return v.String()
	}
	p.chatURL, p.embedURL = at("/chat/completions"), at("/embeddings")
}

// Route is a model name clients send and the targets that serve it.
type Route struct {
	Name    string   `yaml:"name"`
	Targets []Target `yaml:"targets"`
	// Strategy is "fallback" (the targets in order; the default) or "weighted" (the first
	// target picked by weight, the others in order after it).
	Strategy  string `yaml:"strategy"`
	TimeoutMS int    `yaml:"timeout_ms"`
	// AttemptTimeoutMS bounds one call to one target; default: timeout_ms shared evenly
	// among the targets, so that a hanging target leaves time for the next.
	AttemptTimeoutMS int `yaml:"attempt_timeout_ms"`
	// Retries is how many times a target is retried (with backoff) before the next one.
	Retries int     `yaml:"retries"`
	Canary  *Canary `yaml:"canary"`
	Cache   *Cache  `yaml:"cache"`
	// SLAP95MS is the route's p95 latency target in milliseconds, which the server's
	// traffic page holds the measured p95 against (0: none).
	SLAP95MS float64 `yaml:"sla_p95_ms"`
	// Shadow mirrors calls to a candidate target in the background (shadow.go).
	Shadow *Shadow `yaml:"shadow"`
	// Tools is the route's tool policy (tools.go, docs/approvals.md).
	Tools *toolpolicy.Policy `yaml:"tools"`
	// Policy names the route's guard policy (default: the config's policy:).
	Policy string `yaml:"policy"`
}

// Target is one provider and model a route may call.
type Target struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
	Weight   int    `yaml:"weight"`
}

// Canary sends a share of a route's traffic to another target first.
type Canary struct {
	Provider string  `yaml:"provider"`
	Model    string  `yaml:"model"`
	Percent  float64 `yaml:"percent"`
}

// Cache turns on the exact-match response cache for a route.
type Cache struct {
	TTLSeconds int `yaml:"ttl_s"`
}

// Key is a client key with its limits.
type Key struct {
	Name   string `yaml:"name"`
	KeyEnv string `yaml:"key_env"`
	// Project is the project id its calls are recorded under (default: the default project).
	Project         string  `yaml:"project"`
	RPM             int     `yaml:"rpm"`
	TPM             int     `yaml:"tpm"`
	BudgetUSDPerDay float64 `yaml:"budget_usd_per_day"`
	// Routes, when set, are the only routes the key may use.
	Routes []string `yaml:"routes"`

	secret string
}

// KeyLimits are per-key limits; zero means no limit of that kind.
type KeyLimits struct {
	RPM             int     `yaml:"rpm"`
	TPM             int     `yaml:"tpm"`
	BudgetUSDPerDay float64 `yaml:"budget_usd_per_day"`
}

// GuardStep is a configured guard step: a regular expression that blocks or redacts.
type GuardStep struct {
	Name    string `yaml:"name"`
	On      string `yaml:"on"`     // input, output or both (default input)
	Action  string `yaml:"action"` // block or redact
	Regex   string `yaml:"regex"`
	Replace string `yaml:"replace"` // what redact writes instead (default [REDACTED])
	Message string `yaml:"message"` // what a blocked client is told

	re *regexp.Regexp
}

// Breaker configures the circuit breaker of every target.
type Breaker struct {
	Failures   int `yaml:"failures"`    // consecutive failures that open it (default 5)
	CooldownMS int `yaml:"cooldown_ms"` // how long it stays open before a probe (default 30000)
}

// Price is a model's price in USD per million tokens.
type Price struct {
	Input  float64 `yaml:"input"`
	Output float64 `yaml:"output"`
}

// Bodies says how much of the request and response bodies the trace records keep.
type Bodies struct {
	Mode      string `yaml:"mode"` // full, truncated or off (default truncated)
	MaxBytes  int    `yaml:"max_bytes"`
	RedactPII bool   `yaml:"redact_pii"`
}

// Defaults applied when the config leaves a value out.
const (
	DefaultListen       = "127.0.0.1:4000"
	DefaultTimeout      = 60 * time.Second
	DefaultFailures     = 5
	DefaultCooldown     = 30 * time.Second
	DefaultMaxBodyBytes = 32 << 20
	DefaultBodyMaxBytes = 16 << 10
)

// Provider types.
const (
	TypeOpenAI    = "openai"
	TypeAnthropic = "anthropic"
)

// LoadFile reads and checks the gateway config at path. Secrets named by api_key_env and
// key_env are read with getenv (os.Getenv when nil). Every problem is reported at once as a
// config.Errors, each at file:line:col with a hint.
func LoadFile(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		reason := err.Error()
		var pe *os.PathError
		if errors.As(err, &pe) {
			reason = pe.Err.Error()
		}
		return nil, config.Errors{{Pos: config.Pos{File: path}, Msg: "cannot read the gateway config: " + reason,
			Hint: "check the path, or pass the config with -c FILE"}}
	}
	return Parse(data, path, getenv)
}

// Parse reads a gateway config from data; file names it in errors.
func Parse(data []byte, file string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Config{File: file}
	l := &loader{config.NewYAMLChecker(file, "docs/gateway.md")}
	root, err := l.Parse(data, [2]string{"the gateway config is empty", "write listen:, providers:, routes: and keys: (see docs/gateway.md)"})
	if err != nil {
		return nil, err
	}
	positions := posLookup{file: file, m: l.Positions}
	c.pos = positions
	// Unknown keys and values of the wrong type do not stop the check: the rest of the
	// file is decoded without them and validated too, so that every mistake is reported
	// in one run.
	l.Check(root, configSchemaValue, "")
	if e := l.Decode(root, c); e != nil {
		return nil, config.Sorted(append(l.Errs, e))
	}
	c.File, c.pos = file, positions
	c.defaults()
	l.validate(c, getenv)
	if len(l.Errs) > 0 {
		return nil, config.Sorted(l.Errs)
	}
	return c, nil
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Breaker.Failures == 0 {
		c.Breaker.Failures = DefaultFailures
	}
	if c.Breaker.CooldownMS == 0 {
		c.Breaker.CooldownMS = int(DefaultCooldown / time.Millisecond)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Bodies.Mode == "" {
		c.Bodies.Mode = "truncated"
	}
	if c.Bodies.MaxBytes == 0 {
		c.Bodies.MaxBytes = DefaultBodyMaxBytes
	}
	for i := range c.Keys {
		if c.Keys[i].Project == "" {
			c.Keys[i].Project = store.DefaultProjectID
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Strategy == "" {
			r.Strategy = "fallback"
		}
		if r.TimeoutMS == 0 {
			r.TimeoutMS = int(DefaultTimeout / time.Millisecond)
		}
		for j := range r.Targets {
			if r.Targets[j].Weight == 0 {
				r.Targets[j].Weight = 1
			}
		}
	}
	for i := range c.Guards {
		g := &c.Guards[i]
		if g.On == "" {
			g.On = "input"
		}
		if g.Replace == "" {
			g.Replace = "[REDACTED]"
		}
	}
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validate checks the rules that cross fields, and resolves the secrets.
func (l *loader) validate(c *Config, getenv func(string) string) {
	at := func(path string) config.Pos { return c.pos.at(path) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		l.fail(at("listen"), "write host:port, e.g. 127.0.0.1:4000 (or :4000 for every interface)", "listen %q is not host:port", c.Listen)
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			l.fail(at("redis_url"), "write redis://HOST:6379/0 (or rediss:// for TLS)", "redis_url is not a redis:// URL")
		}
	}
	if len(c.Providers) == 0 {
		l.fail(at(""), "add providers: with at least one {name, type, base_url}", "the config has no providers")
	}
	providers := map[string]*Provider{}
	var names []string
	for i := range c.Providers {
		p := &c.Providers[i]
		path := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "":
			l.fail(at(path), "give each provider a name: routes refer to it", "provider %d has no name", i+1)
		case providers[p.Name] != nil:
			l.fail(at(path+".name"), "give each provider its own name", "provider %q is defined twice", p.Name)
		default:
			providers[p.Name] = p
			names = append(names, p.Name)
		}
		switch p.Type {
		case TypeOpenAI, TypeAnthropic:
		case "":
			l.fail(at(path), "add type: openai (any OpenAI-compatible API) or type: anthropic", "provider %q has no type", p.Name)
		default:
			l.fail(at(path+".type"), hintFor(p.Type, []string{TypeOpenAI, TypeAnthropic}, "use openai (any OpenAI-compatible API) or anthropic"), "unknown provider type %q", p.Type)
		}
		switch {
		case p.Auth != "" && p.Type == TypeAnthropic:
			l.fail(at(path+".auth"), "remove auth: an anthropic provider sends its key as x-api-key", "auth is for openai providers")
		case p.Auth != "" && p.Auth != "bearer" && p.Auth != "api-key":
			l.fail(at(path+".auth"), hintFor(p.Auth, []string{"bearer", "api-key"}, "use bearer (Authorization: Bearer KEY) or api-key (Azure OpenAI)"), "unknown auth %q", p.Auth)
		}
		if p.BaseURL == "" {
			l.fail(at(path), "add base_url, e.g. https://api.openai.com/v1", "provider %q has no base_url", p.Name)
		} else if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.fail(at(path+".base_url"), "write an http:// or https:// URL, e.g. https://api.openai.com/v1", "base_url %q is not an http(s) URL", p.BaseURL)
		} else {
			p.endpoints(u)
		}
		p.BaseURL = strings.TrimRight(p.BaseURL, "/")
		if p.APIKeyEnv != "" {
			switch {
			case !envNameRe.MatchString(p.APIKeyEnv):
				l.fail(at(path+".api_key_env"), "write the name of an environment variable, e.g. OPENAI_API_KEY, not the key itself", "api_key_env must name an environment variable")
			case getenv(p.APIKeyEnv) == "":
				l.fail(at(path+".api_key_env"), fmt.Sprintf("export %s=... before starting the gateway", p.APIKeyEnv), "%s is not set", p.APIKeyEnv)
			default:
				p.apiKey = getenv(p.APIKeyEnv)
			}
		}
		for h := range p.Headers {
			if strings.EqualFold(h, "Authorization") || strings.EqualFold(h, "x-api-key") || strings.EqualFold(h, "api-key") {
				l.fail(at(path+".headers."+h), "put the key in an environment variable and name it with api_key_env", "header %s carries a secret and cannot be written in the config", h)
			}
		}
	}
	if len(c.Routes) == 0 {
		l.fail(at(""), "add routes: with at least one {name, targets}", "the config has no routes")
	}
	routes := map[string]bool{}
	var routeNames []string
	target := func(path, prov, model string) {
		switch {
		case prov == "":
			l.fail(at(path), "name one of the providers with provider:", "the target has no provider")
		case providers[prov] == nil && !l.FailedAt(at(path+".provider")):
			l.fail(at(path+".provider"), hintFor(prov, names, "define it under providers:"), "unknown provider %q", prov)
		}
		if model == "" {
			l.fail(at(path), "add model: the upstream's model name", "the target has no model")
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		path := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Name == "":
			l.fail(at(path), "give the route a name: it is the model name clients send", "route %d has no name", i+1)
		case routes[r.Name]:
			l.fail(at(path+".name"), "give each route its own name", "route %q is defined twice", r.Name)
		default:
			routes[r.Name] = true
			routeNames = append(routeNames, r.Name)
		}
		if len(r.Targets) == 0 {
			l.fail(at(path), "add targets: with at least one {provider, model}", "route %q has no targets", r.Name)
		}
		for j, t := range r.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", path, j)
			target(tp, t.Provider, t.Model)
			if t.Weight < 0 {
				l.fail(at(tp+".weight"), "write a positive whole number", "weight must not be negative")
			}
		}
		if r.Strategy != "fallback" && r.Strategy != "weighted" {
			l.fail(at(path+".strategy"), hintFor(r.Strategy, []string{"fallback", "weighted"}, "use fallback or weighted"), "unknown strategy %q", r.Strategy)
		}
		if r.TimeoutMS < 0 {
			l.fail(at(path+".timeout_ms"), "write milliseconds, e.g. 10000", "timeout_ms must be positive")
		}
		if r.AttemptTimeoutMS < 0 || (r.TimeoutMS > 0 && r.AttemptTimeoutMS > r.TimeoutMS) {
			l.fail(at(path+".attempt_timeout_ms"), "write milliseconds up to timeout_ms", "attempt_timeout_ms must be between 1 and timeout_ms (%d)", r.TimeoutMS)
		}
		if r.Retries < 0 || r.Retries > 10 {
			l.fail(at(path+".retries"), "write 0 to 10", "retries must be between 0 and 10")
		}
		if r.Canary != nil {
			target(path+".canary", r.Canary.Provider, r.Canary.Model)
			if r.Canary.Percent <= 0 || r.Canary.Percent > 100 {
				l.fail(at(path+".canary.percent"), "write a share between 0 and 100, e.g. percent: 5", "canary percent must be above 0 and at most 100")
			}
		}
		switch {
		case r.Cache == nil:
		case r.Cache.TTLSeconds == 0 && !l.FailedAt(at(path+".cache.ttl_s")):
			l.fail(at(path+".cache"), "write cache: {ttl_s: 300}", "the cache needs ttl_s, the seconds an answer is kept")
		case r.Cache.TTLSeconds < 0:
			l.fail(at(path+".cache.ttl_s"), "write the seconds an answer is kept, e.g. ttl_s: 300", "ttl_s is %d; the seconds an answer is kept must be positive", r.Cache.TTLSeconds)
		}
		if r.SLAP95MS < 0 {
			l.fail(at(path+".sla_p95_ms"), "write the p95 latency target in milliseconds, e.g. 2000, or leave it out", "sla_p95_ms is %g; a latency target must be positive", r.SLAP95MS)
		}
		if r.Shadow != nil {
			target(path+".shadow", r.Shadow.Provider, r.Shadow.Model)
			l.validateShadow(c, r, path+".shadow")
		}
		if r.Tools != nil {
			for _, p := range r.Tools.Check() {
				l.fail(at(path+".tools."+p.Path), p.Hint, "%s", p.Msg)
			}
			if r.Cache != nil && !r.Tools.Empty() {
				l.fail(at(path+".cache"), "remove cache: from this route, or its tools: policy", "a route with a tool policy cannot cache answers: a cached answer would replay a held call's approval")
			}
		}
	}
	keyNames := map[string]bool{}
	secrets := map[string]string{}
	for i := range c.Keys {
		k := &c.Keys[i]
		path := fmt.Sprintf("keys[%d]", i)
		switch {
		case k.Name == "":
			l.fail(at(path), "give each key a name: metrics and traces show it", "key %d has no name", i+1)
		case keyNames[k.Name]:
			l.fail(at(path+".name"), "give each key its own name", "key %q is defined twice", k.Name)
		default:
			keyNames[k.Name] = true
		}
		switch {
		case k.KeyEnv == "":
			l.fail(at(path), "add key_env: the environment variable that holds the key clients send", "key %q has no key_env", k.Name)
		case !envNameRe.MatchString(k.KeyEnv):
			l.fail(at(path+".key_env"), "write the name of an environment variable, e.g. TEAM_A_KEY, not the key itself", "key_env must name an environment variable")
		case getenv(k.KeyEnv) == "":
			l.fail(at(path+".key_env"), fmt.Sprintf("export %s=... before starting the gateway", k.KeyEnv), "%s is not set", k.KeyEnv)
		default:
			k.secret = getenv(k.KeyEnv)
			if other, dup := secrets[k.secret]; dup {
				l.fail(at(path+".key_env"), "give each key its own secret", "keys %q and %q have the same secret", other, k.Name)
			}
			secrets[k.secret] = k.Name
		}
		l.checkLimits(at, path, KeyLimits{RPM: k.RPM, TPM: k.TPM, BudgetUSDPerDay: k.BudgetUSDPerDay})
		for j, r := range k.Routes {
			if !routes[r] {
				l.fail(at(fmt.Sprintf("%s.routes[%d]", path, j)), hintFor(r, routeNames, "name a route defined under routes:"), "unknown route %q", r)
			}
		}
	}
	l.checkLimits(at, "project_keys", c.ProjectKeys)
	if len(c.Keys) == 0 {
		l.fail(at(""), "add keys: with at least one {name, key_env}: the gateway refuses every call without one", "the config has no keys")
	}
	for i := range c.Guards {
		g := &c.Guards[i]
		path := fmt.Sprintf("guards[%d]", i)
		if g.Name == "" {
			l.fail(at(path), "give the step a name: a blocked call's trace names it", "guard step %d has no name", i+1)
		}
		switch g.On {
		case "input", "output", "both":
		default:
			l.fail(at(path+".on"), hintFor(g.On, []string{"input", "output", "both"}, "use input, output or both"), "unknown guard stage %q", g.On)
		}
		switch g.Action {
		case "block", "redact":
		case "":
			l.fail(at(path), "add action: block or action: redact", "guard step %q has no action", g.Name)
		default:
			l.fail(at(path+".action"), hintFor(g.Action, []string{"block", "redact"}, "use block or redact"), "unknown guard action %q", g.Action)
		}
		if g.Regex == "" {
			l.fail(at(path), "add regex: the pattern the step looks for", "guard step %q has no regex", g.Name)
		} else if re, err := regexp.Compile(g.Regex); err != nil {
			l.fail(at(path+".regex"), "fix the regular expression (Go RE2 syntax)", "invalid regex: %v", err)
		} else {
			g.re = re
		}
	}
	l.validatePolicies(c)
	for m, p := range c.Prices {
		if p.Input < 0 || p.Output < 0 {
			l.fail(at("prices."+m), "write USD per million tokens, e.g. {input: 0.15, output: 0.6}", "the price of %q is negative", m)
		}
	}
	switch c.Bodies.Mode {
	case "full", "truncated", "off":
	default:
		l.fail(at("bodies.mode"), hintFor(c.Bodies.Mode, []string{"full", "truncated", "off"}, "use full, truncated or off"), "unknown bodies mode %q", c.Bodies.Mode)
	}
	if c.Breaker.Failures < 0 || c.Breaker.CooldownMS < 0 {
		l.fail(at("breaker"), "write positive numbers", "breaker settings must be positive")
	}
	if c.MaxBodyBytes < 0 {
		l.fail(at("max_body_bytes"), "write a size in bytes, e.g. 33554432", "max_body_bytes must be positive")
	}
}

// checkLimits reports each negative limit of limits, written at path, at its value.
func (l *loader) checkLimits(at func(string) config.Pos, path string, limits KeyLimits) {
	for _, v := range []struct {
		name string
		n    float64
	}{{"rpm", float64(limits.RPM)}, {"tpm", float64(limits.TPM)}, {"budget_usd_per_day", limits.BudgetUSDPerDay}} {
		if v.n < 0 {
			l.fail(at(path+"."+v.name), "write 0 (no limit) or a positive number", "%s is %g; a limit must not be negative", v.name, v.n)
		}
	}
}

// hintFor is "did you mean X?" when s is close to a candidate, else fallback.
func hintFor(s string, candidates []string, fallback string) string {
	if sug := config.Suggest(s, candidates); sug != "" {
		return fmt.Sprintf("did you mean %q?", sug)
	}
	return fallback
}

// validatePolicies compiles the named guard policies and checks the names routes give.
func (l *loader) validatePolicies(c *Config) {
	at := func(path string) config.Pos { return c.pos.at(path) }
	c.policies = map[string]*policy.Compiled{}
	var names []string
	for name := range c.Policies {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := c.Policies[name]
		compiled, probs := p.Compile(policy.Options{Classifier: c.classifierFor})
		l.Errs = append(l.Errs, policy.ProblemErrors(probs, func(path string) config.Pos {
			if path == "" {
				return at("policies." + name)
			}
			return at("policies." + name + "." + path)
		})...)
		if compiled != nil {
			c.policies[name] = compiled
		}
	}
	known := func(path, name string) {
		if _, ok := c.Policies[name]; !ok {
			l.fail(at(path), hintFor(name, names, "define it under policies:"), "unknown guard policy %q", name)
		}
	}
	if c.Policy != "" {
		known("policy", c.Policy)
	}
	for i, r := range c.Routes {
		if r.Policy != "" {
			known(fmt.Sprintf("routes[%d].policy", i), r.Policy)
		}
	}
	for project, name := range c.ProjectPolicies {
		known("project_policies."+project, name)
	}
}

// policyFor is the compiled guard policy of a call on route r by a key of project, and its
// name; nil when none. The route's policy comes first, then the project's, then the default.
func (c *Config) policyFor(r *Route, project string) (string, *policy.Compiled) {
	name := r.Policy
	if name == "" {
		name = c.ProjectPolicies[project]
	}
	if name == "" {
		name = c.Policy
	}
	if name == "" {
		return "", nil
	}
	return name, c.policies[name]
}
