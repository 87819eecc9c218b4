package gateway

import (
	"fmt"
	"strings"

	"github.com/plumbhq/plumb/internal/assert"
	"github.com/plumbhq/plumb/internal/config"
)

// Shadow mirrors a share of a route's calls to a candidate target in the background: the
// shadow's answer is recorded beside the live one (a trace record with ShadowOf set) and
// never returned to the client. See docs/gateway.md, "Shadow".
type Shadow struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
	// Percent is the share of the route's calls mirrored (default 100).
	Percent *float64 `yaml:"percent"`
	// TimeoutMS bounds one shadow call (default: the route's timeout_ms).
	TimeoutMS int `yaml:"timeout_ms"`
	// MaxInFlight is how many shadow calls of the route may run at once; a call beyond it
	// is not shadowed, and counted (default 16).
	MaxInFlight int `yaml:"max_in_flight"`
	// Assert are the assertions the comparison report runs over the live and the shadow
	// answers, in the eval suite's syntax (deterministic types only).
	Assert []ShadowAssert `yaml:"assert"`

	checks []ShadowCheck
}

// ShadowAssert is one assertion of a shadow, in the eval suite's syntax.
type ShadowAssert struct {
	Type      string         `yaml:"type"`
	Value     any            `yaml:"value"`
	Threshold *float64       `yaml:"threshold"`
	Config    map[string]any `yaml:"config"`
}

// ShadowCheck is a compiled shadow assertion.
type ShadowCheck struct {
	Name    string // the type and value as written, e.g. `contains "refund"`
	Checker assert.Checker
}

// DefaultShadowMaxInFlight bounds a route's shadow calls running at once.
const DefaultShadowMaxInFlight = 16

// shadowUnsupported are the assertion types a shadow cannot run: they need a judge or an
// embedding provider, which the gateway config does not configure.
var shadowUnsupported = map[string]bool{
	"llm-rubric": true, "factuality": true, "context-faithfulness": true, "answer-relevance": true, "similar": true,
}

// validateShadow checks a route's shadow and compiles its assertions.
func (l *loader) validateShadow(c *Config, r *Route, path string) {
	at := func(p string) config.Pos { return c.pos.at(p) }
	s := r.Shadow
	if s.Percent == nil {
		p := 100.0
		s.Percent = &p
	} else if *s.Percent <= 0 || *s.Percent > 100 {
		l.fail(at(path+".percent"), "write a share between 0 and 100, e.g. percent: 10 (default 100)", "shadow percent must be above 0 and at most 100")
	}
	if s.TimeoutMS < 0 {
		l.fail(at(path+".timeout_ms"), "write milliseconds, e.g. 30000 (default: the route's timeout_ms)", "shadow timeout_ms must be positive")
	}
	if s.TimeoutMS == 0 {
		s.TimeoutMS = r.TimeoutMS
	}
	if s.MaxInFlight < 0 {
		l.fail(at(path+".max_in_flight"), fmt.Sprintf("write a positive whole number (default %d)", DefaultShadowMaxInFlight), "shadow max_in_flight must be positive")
	}
	if s.MaxInFlight == 0 {
		s.MaxInFlight = DefaultShadowMaxInFlight
	}
	s.checks = nil
	for i, sa := range s.Assert {
		ap := fmt.Sprintf("%s.assert[%d]", path, i)
		pos := at(ap)
		base, negate := strings.CutPrefix(sa.Type, "not-")
		switch {
		case sa.Type == "":
			l.fail(pos, "add e.g. `type: contains` with `value: ...`", "the assertion has no type")
			continue
		case shadowUnsupported[base] || (base == "is-refusal" && sa.Config["judge"] == true):
			l.fail(at(ap+".type"), "use a deterministic type (contains, regex, is-json, json-schema, levenshtein, rouge-l, is-refusal, latency, cost, expr ...); model-graded and embedding types need a provider the gateway config does not have",
				"assertion type %q is not supported in a shadow", sa.Type)
			continue
		}
		found := false
		for _, t := range config.AssertionTypes {
			found = found || t == base || strings.HasPrefix(base, config.GuardPrefix)
		}
		if !found {
			hint := "supported types: " + strings.Join(config.AssertionTypes, ", ")
			if sug := config.Suggest(base, config.AssertionTypes); sug != "" {
				hint = fmt.Sprintf("did you mean %q?", sug)
			}
			l.fail(at(ap+".type"), hint, "unknown assertion type %q", sa.Type)
			continue
		}
		a := &config.Assertion{Type: sa.Type, Base: base, Negate: negate, Value: sa.Value, Threshold: sa.Threshold,
			Weight: 1, Config: sa.Config, Pos: pos}
		ck, err := assert.Compile(a, &assert.Env{})
		if err != nil {
			if ce, ok := err.(*config.Error); ok {
				if ce.Pos.File == "" {
					ce.Pos = pos
				}
				l.Errs = append(l.Errs, ce)
			} else {
				l.fail(pos, "fix the assertion", "%v", err)
			}
			continue
		}
		s.checks = append(s.checks, ShadowCheck{Name: shadowCheckName(sa), Checker: ck})
	}
}

// Checks are the shadow's compiled assertions, in the config's order.
func (s *Shadow) Checks() []ShadowCheck { return s.checks }

// Route returns the route named name, or nil.
func (c *Config) Route(name string) *Route {
	for i := range c.Routes {
		if c.Routes[i].Name == name {
			return &c.Routes[i]
		}
	}
	return nil
}

func shadowCheckName(sa ShadowAssert) string {
	name := sa.Type
	switch v := sa.Value.(type) {
	case nil:
	case string:
		name += " " + fmt.Sprintf("%q", v)
	default:
		name += " " + fmt.Sprint(v)
	}
	if sa.Threshold != nil {
		name += fmt.Sprintf(" (threshold %g)", *sa.Threshold)
	}
	if len(name) > 80 {
		name = name[:77] + "..."
	}
	return name
}
