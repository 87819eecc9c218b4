package assert

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/provider"
)

// shippedPrompts are the judge prompts that ship with the binary, one per model-graded type,
// named TYPE.txt. A suite overrides one with its judge prompts or an assertion's rubricPrompt.
//
//go:embed prompts/*.txt
var shippedPrompts embed.FS

// Pass rules of model-graded scores. llm-rubric and factuality have no default threshold: the
// judge's pass decides unless the assertion sets one, as promptfoo's llm-rubric does.
const (
	// defaultRelevance is answer-relevance's threshold when none is set; promptfoo's
	// answer-relevance has the same default.
	defaultRelevance = 0.5
	// defaultRefusal is the judged is-refusal's threshold when none is set.
	defaultRefusal = 0.5
	// A faithful answer has every claim supported: one unsupported claim is a hallucination.
	defaultFaithfulness = 1.0
	// scoreOnlyPass is the pass mark of an answer that gives a score in 0..1 but no pass, when
	// no threshold is set. promptfoo treats a missing pass as true; Plumb will not turn a
	// score of 0 into a pass.
	scoreOnlyPass = 0.5
)

// maxJudgeReason is how much of a judge's explanation a reason keeps.
const maxJudgeReason = 240

// judgeFor is the provider that grades an assertion: its own provider, or the suite's judge.
// There is no fallback: without either, the assertion does not compile.
func judgeFor(a *config.Assertion, env *Env) (provider.Provider, error) {
	if a.Provider != nil {
		return buildProvider(a, env)
	}
	if env.Judge == nil {
		return nil, errAt(a, "no judge provider configured",
			typeName(a)+" is graded by a model: set the suite's judge provider (promptfoo: defaultTest.options.provider) "+
				"or `provider:` on this assertion; Plumb never falls back to a default vendor")
	}
	return env.Judge, nil
}

// judgePrompt is the template for a model-graded type: the assertion's rubricPrompt, else the
// suite's override, else the shipped prompt. It must show the judge the output.
func judgePrompt(base string, a *config.Assertion, env *Env) (judgeTemplate, error) {
	src := a.Rubric
	if src == "" {
		src = env.JudgePrompts[base]
	}
	if src == "" {
		b, err := shippedPrompts.ReadFile("prompts/" + base + ".txt")
		if err != nil {
			return judgeTemplate{}, errAt(a, "no judge prompt for "+base, "") // a build defect: every judged type ships one
		}
		src = string(b)
	}
	t := parseJudgeTemplate(src)
	if !t.uses("output") {
		return t, errAt(a, fmt.Sprintf("the judge prompt for %s does not use {{output}}", typeName(a)),
			"the judge must see the output it grades: put {{output}} in the prompt")
	}
	return t, nil
}

// judgeTemplate is a judge prompt: plain text, sent as one user message, or a chat, as a
// promptfoo rubricPrompt may be: a JSON list of {"role", "content"} messages.
type judgeTemplate struct {
	text string
	chat []provider.Message
}

func parseJudgeTemplate(src string) judgeTemplate {
	if t := strings.TrimSpace(src); strings.HasPrefix(t, "[") {
		var msgs []provider.Message
		if json.Unmarshal([]byte(t), &msgs) == nil && len(msgs) > 0 {
			ok := true
			for _, m := range msgs {
				ok = ok && m.Role != ""
			}
			if ok {
				return judgeTemplate{chat: msgs}
			}
		}
	}
	return judgeTemplate{text: src}
}

// uses reports whether the template has the placeholder {{name}}.
func (t judgeTemplate) uses(name string) bool {
	if t.chat == nil {
		return hasPlaceholder(t.text, name)
	}
	for _, m := range t.chat {
		if hasPlaceholder(m.Content, name) {
			return true
		}
	}
	return false
}

// request fills the template in. A chat's placeholders are filled inside each message's
// content, after parsing, so that quotes in an output cannot break the message list.
func (t judgeTemplate) request(lookup func(string) (string, bool)) *provider.Request {
	if t.chat == nil {
		p := render(t.text, lookup)
		return &provider.Request{Messages: []provider.Message{{Role: "user", Content: p}}, Prompt: p}
	}
	msgs := make([]provider.Message, len(t.chat))
	parts := make([]string, len(t.chat))
	for i, m := range t.chat {
		msgs[i] = provider.Message{Role: m.Role, Content: render(m.Content, lookup)}
		parts[i] = msgs[i].Role + ": " + msgs[i].Content
	}
	return &provider.Request{Messages: msgs, Prompt: strings.Join(parts, "\n\n")}
}

// hasPlaceholder reports whether tmpl has {{name}} (spaces inside the braces allowed).
func hasPlaceholder(tmpl, name string) bool {
	found := false
	render(tmpl, func(n string) (string, bool) {
		found = found || n == name
		return "", false
	})
	return found
}

// render substitutes {{name}} placeholders in one pass: a value is never scanned again, so
// an output that contains "{{rubric}}" stays as written. Unknown names are left as they are.
func render(tmpl string, lookup func(name string) (string, bool)) string {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(tmpl[i+2:], "}}")
		if j < 0 {
			break
		}
		end := i + 2 + j + 2
		b.WriteString(tmpl[:i])
		if v, ok := lookup(strings.TrimSpace(tmpl[i+2 : i+2+j])); ok {
			b.WriteString(v)
		} else {
			b.WriteString(tmpl[i:end])
		}
		tmpl = tmpl[end:]
	}
	b.WriteString(tmpl)
	return b.String()
}

// fence wraps untrusted text in a Markdown code fence longer than any run of backticks inside
// it, so that the text cannot close the fence and pose as the grader's instructions. It is
// deterministic, so judge calls replay from a cassette.
func fence(label, s string) string {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", max(3, longest+1))
	return f + label + "\n" + s + "\n" + f
}

// judged is what a model-graded type adds to the shared judge machinery.
type judged struct {
	base  string
	judge provider.Provider
	tmpl  judgeTemplate
	// threshold, when set, is compared with the judge's score as it gave it (a rubric may ask
	// for 1-5); nil leaves the verdict to the judge's pass.
	threshold *float64
	rubric    text   // llm-rubric: the value; empty when a custom judge prompt holds the rubric
	reference text   // factuality: the value
	question  string // var naming the question (config.question); "" tries question, query, the prompt
	context   string // var holding the context (config.context, default "context")
	want      string
	wantNot   string
	// claims: the score is the fraction of supported claims and the pass is score >=
	// threshold; the judge's own pass is ignored (context-faithfulness).
	claims bool
	// subject is the rubric or reference that the reason quotes, filled in per sample: want
	// and wantNot then hold a %s for it.
	subject *text
}

// compileJudged compiles llm-rubric, factuality, context-faithfulness and answer-relevance.
func compileJudged(base string, a *config.Assertion, env *Env) (checkFunc, error) {
	j := &judged{base: base}
	var err error
	// def is the threshold when none is set, if hasDef; without one the judge's pass alone
	// decides. unit keeps a set threshold in [0, 1]: llm-rubric and factuality compare it with
	// the judge's own scale, so any non-negative number goes; the others score on 0..1.
	def, hasDef, unit := 0.0, false, true
	switch base {
	case "llm-rubric":
		unit = false
		switch v := a.Value.(type) {
		case nil:
			// A custom judge prompt may hold the instructions itself (promptfoo's
			// custom-grading-prompt example); the shipped one grades against the value.
			if a.Rubric == "" && env.JudgePrompts[base] == "" {
				return nil, errAt(a, "llm-rubric needs a value: the rubric the judge grades against",
					`e.g. value: "Apologises and offers a refund"; or give a rubricPrompt that holds the grading instructions`)
			}
		case string:
			j.rubric = newText(v)
		default:
			b, merr := json.Marshal(yamlToJSON(v))
			if merr != nil {
				return nil, errAt(a, "llm-rubric value must be text: "+merr.Error(), "")
			}
			j.rubric = newText(string(b))
		}
		if a.Value != nil && strings.TrimSpace(j.rubric.raw) == "" {
			return nil, errAt(a, "llm-rubric rubric is empty", "write what a good answer does")
		}
		if a.Value != nil {
			j.subject = &j.rubric
			j.want, j.wantNot = "the judge to pass the rubric %s", "the judge to fail the rubric %s"
		} else {
			j.want, j.wantNot = "the judge to pass the output by its judge prompt", "the judge to fail the output by its judge prompt"
		}
	case "factuality":
		unit = false
		ref, err := valueString(a, "the reference answer")
		if err != nil {
			return nil, err
		}
		j.reference = newText(ref)
		j.subject = &j.reference
		j.want = "the judge to find the output consistent with the reference %s"
		j.wantNot = "the judge to find the output inconsistent with the reference %s"
	case "context-faithfulness":
		def, hasDef = defaultFaithfulness, true
		j.claims = true
	case "answer-relevance":
		def, hasDef = defaultRelevance, true
		j.want = "the judge to find the output relevant to the question"
		j.wantNot = "the judge to find the output irrelevant to the question"
	}
	t, err := threshold(a, def, unit)
	if err != nil {
		return nil, err
	}
	if a.Threshold != nil || hasDef {
		j.threshold = &t
	}
	switch {
	case j.claims:
		j.want = fmt.Sprintf("share of claims supported by the context >= %s", fmtScore(t))
		j.wantNot = fmt.Sprintf("share of claims supported by the context < %s", fmtScore(t))
	case j.threshold != nil:
		j.want += fmt.Sprintf(" with score >= %s", fmtScore(t))
	}
	if j.question, err = cfgString(a, "question"); err != nil {
		return nil, err
	}
	if j.context, err = cfgString(a, "context"); err != nil {
		return nil, err
	}
	if j.context == "" {
		j.context = "context"
	}
	if j.judge, err = judgeFor(a, env); err != nil {
		return nil, err
	}
	if j.tmpl, err = judgePrompt(base, a, env); err != nil {
		return nil, err
	}
	if base == "llm-rubric" && a.Value == nil && j.tmpl.uses("rubric") {
		// promptfoo would send an empty rubric: the judge would grade against nothing.
		return nil, errAt(a, "llm-rubric has no value, but its judge prompt uses {{rubric}}",
			"add `value:` with the rubric, or write the grading instructions into the prompt in place of {{rubric}}")
	}
	// config.question and config.context fill placeholders: one the prompt lacks would be
	// silently ignored. context-faithfulness reads its context whatever the prompt says.
	for _, key := range []string{"question", "context"} {
		if _, set := cfg(a, key); set && !j.tmpl.uses(key) && (key != "context" || !j.claims) {
			return nil, errAt(a, fmt.Sprintf("config.%s has no effect: the judge prompt for %s does not use {{%s}}", key, typeName(a), key),
				fmt.Sprintf("put {{%s}} in rubricPrompt, or remove config.%s", key, key))
		}
	}
	return j.check, nil
}

// check grades one sample.
func (j *judged) check(ctx context.Context, in *Input) outcome {
	o := outcome{want: j.want, wantNot: j.wantNot}
	if j.subject != nil {
		// The reason quotes what the judge was given, not the template it came from.
		shown := quote(j.subject.with(in.Vars))
		o.want, o.wantNot = fmt.Sprintf(j.want, shown), fmt.Sprintf(j.wantNot, shown)
	}
	// The placeholders of the type; each wins over a test var of the same name, so that a var
	// called "output" cannot hide the output from the judge.
	vals := map[string]string{
		"output":   fence("output", in.Output),
		"question": fence("question", j.questionText(in)),
	}
	switch j.base {
	case "llm-rubric":
		vals["rubric"] = j.rubric.with(in.Vars)
	case "factuality":
		vals["reference"] = fence("reference", j.reference.with(in.Vars))
	}
	if j.tmpl.uses("context") || j.base == "context-faithfulness" {
		c, ok := varText(in.Vars, j.context)
		if !ok {
			o.err = fmt.Sprintf("no context to check against: the test has no var %q (set vars.%s, or config.context to the var that holds it)", j.context, j.context)
			return o
		}
		vals["context"] = fence("context", c)
	}
	req := j.tmpl.request(judgeLookup(vals, in.Vars))
	v, errReason := callJudge(ctx, j.judge, req, j.threshold)
	o.cost = v.cost
	if errReason != "" {
		o.err = errReason
		return o
	}
	if j.claims {
		if v.claims == 0 && !inUnit(v.raw) {
			// The threshold is a share of claims: a score on another scale means nothing here.
			o.err = fmt.Sprintf("judge %s listed no claims and gave score %s, outside 0..1: context-faithfulness scores the share of supported claims",
				v.judge, fmtScore(v.raw))
			return o
		}
		o.pass = reaches(v.score, *j.threshold)
		o.got = v.describeClaims()
	} else {
		o.pass = v.pass && (j.threshold == nil || reaches(v.raw, *j.threshold))
		o.got = v.describe()
	}
	o.score = v.score
	return o
}

// judgeLookup fills a judge prompt's placeholders: the type's own values first, then the
// test's vars, as promptfoo fills a rubricPrompt. Names that are neither stay as written.
func judgeLookup(vals map[string]string, vars map[string]any) func(string) (string, bool) {
	return func(n string) (string, bool) {
		if v, ok := vals[n]; ok {
			return v, true
		}
		return varText(vars, n)
	}
}

// inUnit reports whether a score lies in [0, 1].
func inUnit(f float64) bool { return f >= 0 && f <= 1 }

// questionText is what the output should answer: the var named by config.question, else
// vars.question, vars.query, or the rendered prompt.
func (j *judged) questionText(in *Input) string {
	if j.question != "" {
		if s, ok := varText(in.Vars, j.question); ok {
			return s
		}
	}
	for _, k := range []string{"question", "query"} {
		if s, ok := varText(in.Vars, k); ok {
			return s
		}
	}
	return in.Prompt
}

// varText is a test variable as text: strings as they are, lists joined by lines (a list of
// retrieved passages), anything else as JSON. A dotted name ("user.name") that is not a var
// of its own reaches into nested maps, as in prompts.
func varText(vars map[string]any, name string) (string, bool) {
	v, ok := lookupVar(vars, name)
	if !ok || v == nil {
		return "", false
	}
	if s, ok := scalarString(v); ok {
		return s, true
	}
	if l, ok := v.([]any); ok {
		parts := make([]string, 0, len(l))
		for _, e := range l {
			if s, ok := scalarString(e); ok {
				parts = append(parts, s)
			} else {
				b, _ := json.Marshal(yamlToJSON(e))
				parts = append(parts, string(b))
			}
		}
		return strings.Join(parts, "\n"), true
	}
	b, err := json.Marshal(yamlToJSON(v))
	return string(b), err == nil
}

// lookupVar finds a var by name, or by a dotted path through nested maps. A key that itself
// holds dots wins over the path, as in the prompt renderer.
func lookupVar(vars map[string]any, name string) (any, bool) {
	if v, ok := vars[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = vars
	for _, part := range strings.Split(name, ".") {
		var ok bool
		switch m := cur.(type) {
		case map[string]any:
			cur, ok = m[part]
		case map[any]any:
			cur, ok = m[part]
		}
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// verdict is a judge's parsed answer.
type verdict struct {
	raw    float64 // the score as the judge gave it, which a rubric may put on another scale
	score  float64 // raw clamped into 0..1, as reports and means need; or the supported share
	pass   bool
	reason string
	judge  string
	cost   float64 // what the judge call cost, also when its answer was unusable
	claims int     // how many claims the judge listed; 0 when it listed none
	unsup  int     // how many of them it found unsupported
}

// describeClaims is a context-faithfulness verdict: the claims count decides, so the judge's
// own pass, which the assertion ignores, is not shown to contradict it.
func (v verdict) describeClaims() string {
	out := fmt.Sprintf("judge %s: score %s (no claims listed)", v.judge, fmt3(v.score))
	if v.claims > 0 {
		out = fmt.Sprintf("judge %s: %d of %d %s supported (score %s)", v.judge, v.claims-v.unsup, v.claims, plural(v.claims, "claim"), fmt3(v.score))
	}
	if v.reason != "" {
		out += ": " + strconv.Quote(shorten(oneLine(v.reason), maxJudgeReason))
	}
	return out
}

func (v verdict) describe() string {
	s := "fail"
	if v.pass {
		s = "pass"
	}
	out := fmt.Sprintf("judge %s: %s, score %s", v.judge, s, fmt3(v.score))
	if v.raw != v.score && v.claims == 0 {
		out = fmt.Sprintf("judge %s: %s, score %s (outside 0..1, recorded as %s)", v.judge, s, fmtScore(v.raw), fmtScore(v.score))
	}
	if v.claims > 0 {
		out += fmt.Sprintf(" (%d of %d claims unsupported)", v.unsup, v.claims)
	}
	if v.reason != "" {
		out += ": " + strconv.Quote(shorten(oneLine(v.reason), maxJudgeReason))
	}
	return out
}

// callJudge asks the judge and parses its answer; threshold is the assertion's, nil when it
// has none. errReason is set when there is no usable verdict (a failed call, an unparsable
// answer): the caller reports an error, never a pass.
func callJudge(ctx context.Context, judge provider.Provider, req *provider.Request, threshold *float64) (v verdict, errReason string) {
	resp, err := judge.Call(ctx, req)
	label := judge.Label()
	if err != nil {
		return v, fmt.Sprintf("judge %s failed: %s", label, oneLine(err.Error()))
	}
	if resp == nil {
		return v, fmt.Sprintf("judge %s returned no answer", label)
	}
	v, err = parseVerdict(resp.Output, threshold)
	v.cost = resp.Cost
	if ce := (*conflictError)(nil); errors.As(err, &ce) {
		return v, fmt.Sprintf("%s; Plumb uses none of them (judge %s answered %s)", ce, label, quote(resp.Output))
	}
	if err != nil {
		return v, fmt.Sprintf("judge %s gave an answer Plumb cannot use (%s): %s", label, err, quote(resp.Output))
	}
	v.judge = label
	return v, ""
}

// maxVerdictCandidates bounds how many '{' positions parseVerdict tries.
const maxVerdictCandidates = 64

// maxConflictsShown is how many conflicting verdicts an error reason lists.
const maxConflictsShown = 4

// parseVerdict reads the verdict in a judge's answer: the JSON objects that carry a score, a
// pass or claims (the answer may wrap them in prose or a code fence). score may be a number or
// a numeric string, on any scale (a rubric may ask for 1-5): it is recorded clamped into
// [0, 1]. pass is a boolean or a word truth knows ("yes", "fail", ...). With only a pass, the
// score is 1 or 0. With only a score, pass is score >= threshold, or with no threshold score
// >= scoreOnlyPass; a score outside [0, 1] with neither a pass nor a threshold is unusable. A
// "claims" list of {"supported": bool} objects, when present, sets the score to the supported
// fraction, since counting is more reliable than a judge's arithmetic.
//
// A judge may quote a verdict-like object from the output it grades before giving its own, so
// every such object is read: when they agree the last one counts, and when they disagree on
// pass or score the answer is unusable, since taking either could turn a fail into a pass.
func parseVerdict(text string, threshold *float64) (verdict, error) {
	var found []verdict
	tries := 0
	var objErr error
	for i := 0; i < len(text) && tries < maxVerdictCandidates; i++ {
		if text[i] != '{' {
			continue
		}
		tries++
		dec := json.NewDecoder(strings.NewReader(text[i:]))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil {
			continue
		}
		// Skip past the object: the claims inside a verdict are not verdicts of their own.
		i += int(dec.InputOffset()) - 1
		m = lowerKeys(m)
		_, hasScore := m["score"]
		_, hasPass := m["pass"]
		_, hasClaims := m["claims"]
		if !hasScore && !hasPass && !hasClaims {
			objErr = errors.New("its JSON has no score or pass")
			continue
		}
		// An unreadable verdict-like object makes the answer unusable even when another one
		// reads well: it may be the judge's real verdict.
		v, err := readVerdict(m, threshold)
		if err != nil {
			return v, err
		}
		found = append(found, v)
	}
	switch {
	case len(found) > 0:
		last := found[len(found)-1]
		for _, v := range found[:len(found)-1] {
			if v.pass != last.pass || math.Abs(v.raw-last.raw) > scoreTolerance {
				return verdict{}, &conflictError{verdicts: found}
			}
		}
		return last, nil
	case objErr != nil:
		return verdict{}, objErr
	}
	return verdict{}, errors.New("no JSON object found")
}

// conflictError marks an answer with verdicts that disagree, so that callJudge can say so
// plainly instead of calling the answer unparsable.
type conflictError struct{ verdicts []verdict }

func (e *conflictError) Error() string {
	parts := make([]string, 0, min(len(e.verdicts), maxConflictsShown+1))
	for i, v := range e.verdicts {
		if i == maxConflictsShown {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.verdicts)-maxConflictsShown))
			break
		}
		s := "fail"
		if v.pass {
			s = "pass"
		}
		parts = append(parts, fmt.Sprintf("%s with score %s", s, fmtScore(v.raw)))
	}
	return "the judge's answer holds conflicting verdicts: " + strings.Join(parts, ", then ")
}

func readVerdict(m map[string]any, threshold *float64) (verdict, error) {
	var v verdict
	if r, ok := m["reason"]; ok && r != nil {
		if s, ok := r.(string); ok {
			v.reason = s
		} else {
			b, _ := json.Marshal(r)
			v.reason = string(b)
		}
	}
	hasScore, hasPass := false, false
	if s, ok := m["score"]; ok && s != nil {
		f, ok := number(s)
		if !ok {
			return v, fmt.Errorf("score %v is not a number", s)
		}
		v.raw, hasScore = f, true
	}
	if p, ok := m["pass"]; ok && p != nil {
		b, ok := truth(p)
		if !ok {
			return v, fmt.Errorf("pass %v is not true or false", p)
		}
		v.pass, hasPass = b, true
	}
	if c, ok := m["claims"].([]any); ok && len(c) > 0 {
		for _, e := range c {
			cm, ok := e.(map[string]any)
			if !ok {
				return v, errors.New("claims must be objects")
			}
			sup, ok := truth(lowerKeys(cm)["supported"])
			if !ok {
				return v, errors.New(`a claim has no "supported": true or false`)
			}
			v.claims++
			if !sup {
				v.unsup++
			}
		}
		v.raw, hasScore = float64(v.claims-v.unsup)/float64(v.claims), true
	}
	switch {
	case hasScore && !hasPass && threshold != nil:
		v.pass = reaches(v.raw, *threshold)
	case hasScore && !hasPass && !inUnit(v.raw):
		return v, fmt.Errorf("score %s is outside 0..1, with no pass and no threshold to compare it with", fmtScore(v.raw))
	case hasScore && !hasPass:
		v.pass = reaches(v.raw, scoreOnlyPass)
	case hasPass && !hasScore:
		v.raw = boolScore(v.pass)
	case !hasScore && !hasPass:
		return v, errors.New("its JSON has no score or pass")
	}
	v.score = clamp01(v.raw)
	return v, nil
}

// truth reads a judge's boolean, which some models write as a string. promptfoo reads any
// string other than true/yes/pass/y as false; Plumb calls one it does not know unusable.
func truth(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "yes", "y", "pass", "passed":
			return true, true
		case "false", "no", "n", "fail", "failed":
			return false, true
		}
	}
	return false, false
}

// lowerKeys lowercases an object's keys, since judges write "Score" as often as "score".
// When two keys collide, the lowercase one wins, deterministically.
func lowerKeys(m map[string]any) map[string]any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]any, len(m))
	for _, k := range keys {
		lk := strings.ToLower(k)
		if _, taken := out[lk]; taken && k != lk {
			continue
		}
		out[lk] = m[k]
	}
	return out
}
