// Package toolpolicy decides what an agent may do with its tools: which tools it may call,
// which it may never call, and which calls wait for a person's approval, with constraints on
// the arguments (a JSON schema, allowed values, numeric limits). The gateway applies a
// route's policy to the tools a request offers and the tool calls an answer makes; the
// approval queue stores the held calls by their canonical arguments and its SHA-256 hash.
// See docs/approvals.md.
package toolpolicy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/plumbhq/plumb/internal/dataset"
)

// Policy is a route's (or a standalone file's) tool policy.
type Policy struct {
	// Allow, when set, are the only tools calls may use (besides those Approve names);
	// "*" allows every tool. Unset: every tool that Deny does not name.
	Allow []string `yaml:"allow" json:"allow,omitempty"`
	// Deny are tools never allowed: a request offering one is refused, an answer calling
	// one is blocked.
	Deny []string `yaml:"deny" json:"deny,omitempty"`
	// Approve are the calls held for a person's approval.
	Approve []Rule `yaml:"approve" json:"approve,omitempty"`
	// Constraints bound the arguments of a tool whatever else applies: a call that breaks
	// one is blocked.
	Constraints []Rule `yaml:"constraints" json:"constraints,omitempty"`
	// ApprovalTTL is how long a held call waits for a decision (default 1h); a rule's ttl
	// overrides it.
	ApprovalTTL string `yaml:"approval_ttl" json:"approval_ttl,omitempty"`

	ttl time.Duration
}

// Rule names a tool and the constraints on its arguments. In Approve, Above makes the
// approval conditional: only a call with one of those arguments above its threshold is
// held; the others are allowed.
type Rule struct {
	// Name names the rule in approvals and errors (default: "approve TOOL" or
	// "constraints TOOL").
	Name string `yaml:"name" json:"name,omitempty"`
	Tool string `yaml:"tool" json:"tool"`
	// Schema is a JSON schema the arguments must satisfy (inline; no external $ref).
	Schema any `yaml:"schema" json:"schema,omitempty"`
	// Values are the allowed values of arguments, by argument path (a.b for nested keys).
	Values map[string][]any `yaml:"values" json:"values,omitempty"`
	// Max are the largest allowed numbers, by argument path (e.g. amount: 500).
	Max map[string]float64 `yaml:"max" json:"max,omitempty"`
	// Above (Approve only): hold only when one of these arguments is above its number.
	Above map[string]float64 `yaml:"above" json:"above,omitempty"`
	// TTL (Approve only) is how long the approval waits, e.g. 15m (default: approval_ttl).
	TTL string `yaml:"ttl" json:"ttl,omitempty"`

	schema *jsonschema.Schema
	ttl    time.Duration
}

// DefaultTTL is how long a held call waits for a decision when the policy says nothing.
const DefaultTTL = time.Hour

// The actions a policy takes on a call.
const (
	ActionAllow   = "allow"
	ActionDeny    = "deny"
	ActionApprove = "approve"
)

// Decision is what a policy says of one tool call.
type Decision struct {
	Action string // ActionAllow, ActionDeny or ActionApprove
	// Rule names the rule that decided ("deny delete_account", "approve make_payment",
	// "allow list", ...).
	Rule string
	// Reason says why, for the client (deny) or the approver (approve).
	Reason string
	// Malformed: the arguments are not one JSON object, or are one that JSON parsers read
	// differently (a repeated key, ...); the call is denied (fail closed).
	Malformed bool
	// Args is the canonical JSON of the arguments and Hash its SHA-256 (hex), when they
	// parse.
	Args, Hash string
	// TTL is how long an approval waits (ActionApprove).
	TTL time.Duration
	// Spec is the rule that asked for approval, as JSON: an edit is checked against it.
	Spec json.RawMessage
}

// Problem is one mistake in a policy: where (a path such as approve[0].schema) and what.
type Problem struct {
	Path string
	Msg  string
	Hint string
}

func (p Problem) Error() string { return p.Path + ": " + p.Msg }

// Check validates the policy and compiles it; it returns every problem found.
func (p *Policy) Check() []Problem {
	var out []Problem
	fail := func(path, hint, format string, args ...any) {
		out = append(out, Problem{Path: path, Msg: fmt.Sprintf(format, args...), Hint: hint})
	}
	p.ttl = DefaultTTL
	if p.ApprovalTTL != "" {
		d, err := time.ParseDuration(p.ApprovalTTL)
		if err != nil || d <= 0 {
			fail("approval_ttl", "write a duration such as 30m or 2h", "approval_ttl %q is not a positive duration", p.ApprovalTTL)
		} else {
			p.ttl = d
		}
	}
	for i, t := range p.Allow {
		if strings.TrimSpace(t) == "" {
			fail(fmt.Sprintf("allow[%d]", i), "write a tool's name, or \"*\" for every tool", "empty tool name")
		}
	}
	for i, t := range p.Deny {
		switch {
		case strings.TrimSpace(t) == "":
			fail(fmt.Sprintf("deny[%d]", i), "write a tool's name", "empty tool name")
		case slices.Contains(p.Allow, t):
			fail(fmt.Sprintf("deny[%d]", i), "remove it from allow or from deny", "tool %q is both allowed and denied", t)
		}
	}
	check := func(kind string, rules []Rule) {
		for i := range rules {
			r := &rules[i]
			path := fmt.Sprintf("%s[%d]", kind, i)
			if r.Tool == "" {
				fail(path, "add tool: the name of the tool the rule is about", "the rule has no tool")
			} else if slices.Contains(p.Deny, r.Tool) {
				fail(path+".tool", "a denied tool is never called: remove the rule or the deny entry", "tool %q is denied", r.Tool)
			}
			if r.Name == "" {
				r.Name = strings.TrimSuffix(kind, "s") + " " + r.Tool
				if kind == "constraints" {
					r.Name = "constraints " + r.Tool
				}
			}
			if r.Schema != nil {
				s, err := compileSchema(r.Schema)
				if err != nil {
					fail(path+".schema", "write an inline JSON schema, e.g. {type: object, required: [amount]}", "invalid JSON schema: %v", err)
				}
				r.schema = s
			}
			if kind != "approve" {
				if len(r.Above) > 0 {
					fail(path+".above", "above belongs to approve rules", "constraints have no above")
				}
				if r.TTL != "" {
					fail(path+".ttl", "ttl belongs to approve rules", "constraints have no ttl")
				}
			}
			r.ttl = p.ttl
			if r.TTL != "" {
				d, err := time.ParseDuration(r.TTL)
				if err != nil || d <= 0 {
					fail(path+".ttl", "write a duration such as 15m", "ttl %q is not a positive duration", r.TTL)
				} else {
					r.ttl = d
				}
			}
			for k, vs := range r.Values {
				if len(vs) == 0 {
					fail(path+".values."+k, "list the allowed values, e.g. [EUR, USD]", "no values listed for %q", k)
				}
			}
		}
	}
	check("approve", p.Approve)
	check("constraints", p.Constraints)
	return out
}

// Empty reports whether the policy says nothing (nil or no lists).
func (p *Policy) Empty() bool {
	return p == nil || len(p.Allow) == 0 && len(p.Deny) == 0 && len(p.Approve) == 0 && len(p.Constraints) == 0
}

// Offer checks a tool a request offers the model: a denied tool, or one the allow list
// does not name, is refused with the reason.
func (p *Policy) Offer(tool string) (ok bool, rule, reason string) {
	if p.Empty() {
		return true, "", ""
	}
	if slices.Contains(p.Deny, tool) {
		return false, "deny " + tool, fmt.Sprintf("the tool %q is never allowed on this route", tool)
	}
	if !p.listed(tool) {
		return false, "allow list", fmt.Sprintf("the tool %q is not on this route's allow list", tool)
	}
	return true, "", ""
}

// listed reports whether the allow list lets tool through (no list, "*", the tool, or an
// approve rule naming it).
func (p *Policy) listed(tool string) bool {
	if len(p.Allow) == 0 || slices.Contains(p.Allow, "*") || slices.Contains(p.Allow, tool) {
		return true
	}
	for _, r := range p.Approve {
		if r.Tool == tool {
			return true
		}
	}
	return false
}

// Evaluate decides a call of tool with its arguments as the model wrote them (a JSON
// text; "" counts as {}). Malformed arguments are denied: a call is never let through, nor
// held, on arguments nobody can read.
func (p *Policy) Evaluate(tool, arguments string) Decision {
	args, canon, hash, err := Canonical(arguments)
	if err != nil {
		return Decision{Action: ActionDeny, Rule: "malformed arguments", Malformed: true,
			Reason: fmt.Sprintf("the arguments of the call to %q are malformed (%v): the call was blocked", tool, err)}
	}
	d := Decision{Action: ActionAllow, Args: canon, Hash: hash}
	if p.Empty() {
		return d
	}
	deny := func(rule, reason string) Decision {
		d.Action, d.Rule, d.Reason = ActionDeny, rule, reason
		return d
	}
	if slices.Contains(p.Deny, tool) {
		return deny("deny "+tool, fmt.Sprintf("the tool %q is never allowed on this route", tool))
	}
	for i := range p.Constraints {
		r := &p.Constraints[i]
		if r.Tool == tool {
			if why := r.violation(args); why != "" {
				return deny(r.Name, fmt.Sprintf("the call to %q breaks the rule %q: %s", tool, r.Name, why))
			}
		}
	}
	for i := range p.Approve {
		r := &p.Approve[i]
		if r.Tool != tool {
			continue
		}
		if why := r.violation(args); why != "" {
			return deny(r.Name, fmt.Sprintf("the call to %q breaks the rule %q: %s", tool, r.Name, why))
		}
		hold, why := r.holds(args)
		if !hold {
			continue
		}
		d.Action, d.Rule, d.Reason, d.TTL = ActionApprove, r.Name, why, r.ttl
		spec := *r
		spec.Schema = jsonable(r.Schema)
		d.Spec, _ = json.Marshal(spec)
		return d
	}
	if !p.listed(tool) {
		return deny("allow list", fmt.Sprintf("the tool %q is not on this route's allow list", tool))
	}
	return d
}

// holds reports whether an approve rule holds the call, and why.
func (r *Rule) holds(args map[string]any) (bool, string) {
	if len(r.Above) == 0 {
		return true, fmt.Sprintf("every call to %q needs approval", r.Tool)
	}
	for _, k := range sortedKeys(r.Above) {
		v, ok := lookup(args, k)
		if !ok {
			// Without the argument the condition cannot be read: hold (fail closed).
			return true, fmt.Sprintf("%s is missing, so the call cannot be shown to be at most %g", k, r.Above[k])
		}
		n, isNum := number(v)
		if !isNum {
			return true, fmt.Sprintf("%s is not a number, so the call cannot be shown to be at most %g", k, r.Above[k])
		}
		if n > r.Above[k] {
			return true, fmt.Sprintf("%s is %g, above %g", k, n, r.Above[k])
		}
	}
	return false, ""
}

// CheckEdit checks arguments an approver wrote instead of the model's against the rule
// that asked for the approval (spec, as Decision.Spec): the constraints still apply. It
// returns the canonical arguments and their hash.
func CheckEdit(spec json.RawMessage, tool, arguments string) (canon, hash string, err error) {
	args, canon, hash, err := Canonical(arguments)
	if err != nil {
		return "", "", fmt.Errorf("the edited arguments are malformed: %w", err)
	}
	if len(spec) > 0 {
		var r Rule
		if err := json.Unmarshal(spec, &r); err != nil {
			return "", "", fmt.Errorf("the approval's rule cannot be read: %w", err)
		}
		if r.Schema != nil {
			if r.schema, err = compileSchema(r.Schema); err != nil {
				return "", "", fmt.Errorf("the approval's rule has an invalid schema: %w", err)
			}
		}
		if why := r.violation(args); why != "" {
			return "", "", fmt.Errorf("the edited arguments break the rule %q: %s", r.Name, why)
		}
	}
	return canon, hash, nil
}

// violation says how args break the rule's constraints, or "".
func (r *Rule) violation(args map[string]any) string {
	if r.schema != nil {
		if err := r.schema.Validate(toSchemaValue(args)); err != nil {
			return "the arguments fail its schema: " + schemaReason(err)
		}
	}
	for _, k := range sortedKeys(r.Values) {
		v, ok := lookup(args, k)
		if !ok {
			continue // an absent argument: the schema's required says whether it may be
		}
		if !slices.ContainsFunc(r.Values[k], func(a any) bool { return sameValue(a, v) }) {
			return fmt.Sprintf("%s is %s, not one of %s", k, show(v), listValues(r.Values[k]))
		}
	}
	for _, k := range sortedKeys(r.Max) {
		v, ok := lookup(args, k)
		if !ok {
			continue
		}
		n, isNum := number(v)
		if !isNum {
			return fmt.Sprintf("%s is %s, not a number (at most %g)", k, show(v), r.Max[k])
		}
		if n > r.Max[k] {
			return fmt.Sprintf("%s is %g, above the limit of %g", k, n, r.Max[k])
		}
	}
	return ""
}

// Canonical parses a call's arguments (a JSON object; "" counts as {}) and returns them,
// their canonical JSON (keys sorted, numbers as written, no HTML escaping, no spaces) and
// its SHA-256 in hex. Anything but one JSON object is an error, and so is what JSON
// parsers read differently (strict.go): a repeated key at any depth, invalid UTF-8, an
// unpaired surrogate escape, a number a 64-bit float does not hold as written.
func Canonical(arguments string) (args map[string]any, canon, hash string, err error) {
	s := strings.TrimSpace(arguments)
	if s == "" {
		s = "{}"
	}
	v, err := strictDecode(s)
	if err != nil {
		return nil, "", "", err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, "", "", fmt.Errorf("a JSON %s, not an object", kind(v))
	}
	canon, err = dataset.CanonicalJSON(obj)
	if err != nil {
		return nil, "", "", err
	}
	return obj, canon, Hash(canon), nil
}

// Hash is the SHA-256 of canonical arguments, in hex.
func Hash(canon string) string {
	sum := sha256.Sum256([]byte(canon))
	return hex.EncodeToString(sum[:])
}

func kind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "value"
}

// lookup finds a dotted path in the arguments.
func lookup(args map[string]any, path string) (any, bool) {
	var cur any = args
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case uint64:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// sameValue compares a configured value (from YAML) with an argument (from JSON): numbers
// by value, the rest by their JSON.
func sameValue(want, got any) bool {
	if a, ok := number(want); ok {
		b, ok := number(got)
		if !ok {
			return false
		}
		if x, ok := new(big.Float).SetString(fmt.Sprint(got)); ok {
			y := new(big.Float).SetFloat64(a)
			return x.Cmp(y) == 0
		}
		return a == b
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	return bytes.Equal(wb, gb)
}

func show(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func listValues(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = show(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// schemaURL is the name a rule's inline schema is compiled under.
const schemaURL = "plumb:///tool-arguments.json"

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema %s is not loaded; inline it", url)
}

func compileSchema(v any) (*jsonschema.Schema, error) {
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, errors.New(oneLine(strings.ReplaceAll(err.Error(), schemaURL, "schema")))
	}
	return s, nil
}

// jsonable turns YAML's map[string]any / map[any]any trees into what encoding/json takes.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = jsonable(x)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[fmt.Sprint(k)] = jsonable(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = jsonable(x)
		}
		return out
	}
	return v
}

// toSchemaValue re-reads args the way the schema library wants them.
func toSchemaValue(args map[string]any) any {
	b, _ := json.Marshal(args)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return args
	}
	return v
}

func schemaReason(err error) string {
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		leaves := leafErrors(ve)
		parts := make([]string, 0, len(leaves))
		for _, l := range leaves {
			at := "/" + strings.Join(l.InstanceLocation, "/")
			parts = append(parts, fmt.Sprintf("at %s: %s", at, l.ErrorKind.LocalizedString(printer)))
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; ")
		}
	}
	return oneLine(err.Error())
}

var printer = message.NewPrinter(language.English)

func leafErrors(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leafErrors(c)...)
	}
	return out
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
