package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/metric"
)

// AssertionTypes is every base assertion type Plumb supports (each also takes a "not-"
// prefix).
var AssertionTypes = []string{
	"equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any",
	"icontains-all", "starts-with", "regex", "word-count", "is-json", "contains-json",
	"json-schema", "levenshtein", "bleu", "rouge-n", "rouge-l", "similar", "llm-rubric",
	"factuality", "context-faithfulness", "answer-relevance", "is-refusal", "latency", "cost",
	"expr",
}

// modelGraded are the assertion types a judge grades. is-refusal is one only when its config
// asks for a judge (`config: {judge: true}`); otherwise it uses the shipped heuristics.
var modelGraded = map[string]bool{
	"llm-rubric": true, "factuality": true, "context-faithfulness": true,
	"answer-relevance": true, "is-refusal": true,
}

func modelGradedList() []string {
	var out []string
	for _, t := range AssertionTypes {
		if modelGraded[t] {
			out = append(out, t)
		}
	}
	return out
}

// needsJudge reports whether an assertion is graded by a judge provider; is-refusal only when
// its config says `judge: true` (else the shipped heuristics decide).
func needsJudge(a *Assertion) bool {
	if a.Base == "is-refusal" {
		j, _ := a.Config["judge"].(bool)
		return j
	}
	return judged(a.Base)
}

// judged reports whether assertions of type base are graded by a model: the model-graded
// types, and guard:llm_classifier (which takes no rubric).
func judged(base string) bool { return modelGraded[base] || base == GuardClassifier }

// unsupportedTypes are promptfoo assertion types Plumb refuses, with the closest supported
// alternative.
var unsupportedTypes = map[string]string{
	"javascript":                    "use `expr` (a sandboxed expression over output and vars), e.g. `type: expr`, `value: len(output) < 200`",
	"python":                        "use `expr` (a sandboxed expression over output and vars)",
	"ruby":                          "use `expr` (a sandboxed expression over output and vars)",
	"webhook":                       "use `expr`, or an `llm-rubric` graded by your own provider",
	"assert-set":                    "list the assertions directly; use `weight` and the test's `threshold` for partial credit",
	"select-best":                   "compare prompts with `plumb compare` instead",
	"max-score":                     "compare prompts with `plumb compare` instead",
	"human":                         "use `llm-rubric`, or review the outputs in the report",
	"moderation":                    "use `llm-rubric` with a safety rubric, or `is-refusal`",
	"perplexity":                    "no equivalent; remove it",
	"perplexity-score":              "no equivalent; remove it",
	"g-eval":                        "use `llm-rubric`",
	"classifier":                    "use `llm-rubric`",
	"is-xml":                        "use `regex` or `expr`",
	"contains-xml":                  "use `regex` or `expr`",
	"is-html":                       "use `regex` or `expr`",
	"contains-html":                 "use `regex` or `expr`",
	"is-sql":                        "use `regex` or `expr`",
	"contains-sql":                  "use `regex` or `expr`",
	"is-valid-openai-tools-call":    "use `is-json` or `json-schema` on the output",
	"is-valid-openai-function-call": "use `is-json` or `json-schema` on the output",
	"is-valid-function-call":        "use `is-json` or `json-schema` on the output",
	"tool-call-f1":                  "use `json-schema` or `expr`",
	"finish-reason":                 "no equivalent; remove it",
	"gleu":                          "use `bleu`",
	"meteor":                        "use `bleu` or `rouge-n`",
	"model-graded-closedqa":         "use `llm-rubric`",
	"model-graded-factuality":       "use `factuality`",
	"context-recall":                "use `context-faithfulness` (is the answer supported by the context)",
	"context-relevance":             "use `answer-relevance` or `llm-rubric`",
	"conversation-relevance":        "use `answer-relevance` or `llm-rubric`",
	"pi":                            "use `llm-rubric`",
	"search-rubric":                 "use `llm-rubric`",
	"guardrails":                    "use `guard:<detector>` (e.g. `not-guard:pii`, `guard:injection`), `is-refusal` or `llm-rubric`",
	"trace-span-count":              "no equivalent; remove it",
	"trace-span-duration":           "no equivalent; remove it",
	"trace-error-spans":             "no equivalent; remove it",
	"equals-json":                   "use `is-json` with a `json-schema`, or `expr`",
}

// Suggest returns the candidate closest to word by Levenshtein distance (ignoring case) when
// it is close enough to be a likely typo, else "". Ties go to the earlier candidate.
func Suggest(word string, candidates []string) string {
	w := strings.ToLower(word)
	best, bestD := "", -1
	for _, c := range candidates {
		d := metric.Levenshtein(w, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 {
		return ""
	}
	n := utf8.RuneCountInString(word)
	limit := max(1, n/3)
	if n >= 4 {
		// A swapped pair of letters ("contians") costs two edits.
		limit = max(limit, 2)
	}
	if bestD > limit || bestD >= utf8.RuneCountInString(best) {
		return ""
	}
	return best
}

// assertKeys are the keys of an assertion.
var assertKeys = []string{"type", "value", "threshold", "weight", "metric", "provider", "rubricPrompt", "config"}

// assertion reads one assertion. It checks structure and types; type-specific checks (a valid
// regex, a value of the right shape) are the assert package's Compile.
func (l *loader) assertion(n *node) (Assertion, bool) {
	a := Assertion{Pos: n.pos, Weight: 1}
	if n.kind != mapKind {
		l.fail(n.pos, "write e.g. `- type: contains` with `value: ...` below it", "an assertion must be a map with a `type`, not %s", n.kind)
		return a, false
	}
	ok := true
	// The type first: a value is read only for a type Plumb runs (a refused `python` type
	// is one error, not two).
	if v := n.get("type"); v != nil {
		if t, tok := l.str(v, "type"); tok {
			a.Type = t
			a.Base, a.Negate = strings.CutPrefix(t, "not-")
			ok = l.checkType(a.Base, v.pos)
		} else {
			ok = false
		}
	}
	typeOK := ok
	var providerNode *node
	for i, k := range n.keys {
		v := n.vals[i]
		switch k.text {
		case "type":
		case "value":
			if typeOK {
				a.Value = l.assertValue(v)
			}
		case "threshold":
			if f, fok := l.num(v, "threshold"); fok {
				a.Threshold = &f
			} else {
				ok = false
			}
		case "weight":
			if f, fok := l.num(v, "weight"); fok {
				if f < 0 {
					l.fail(v.pos, "use 0 to report an assertion without counting it", "weight must not be negative")
					ok = false
				}
				a.Weight = f
			} else {
				ok = false
			}
		case "metric":
			s, sok := l.str(v, "metric")
			switch {
			case !sok:
				ok = false
			case slices.Contains(builtinMetrics, s):
				// A named metric is a mean score; sharing a built-in's name would hide one.
				l.fail(v.pos, "choose another name, e.g. "+s+"_score", "metric name %q is a built-in metric", s)
				ok = false
			default:
				a.Metric = s
			}
		case "provider":
			providerNode = v
		case "rubricPrompt":
			if s, sok := l.rubric(v); sok {
				a.Rubric = s
			} else {
				ok = false
			}
		case "config":
			if v.kind != mapKind {
				l.fail(v.pos, hintMap, "config must be a map, not %s", v.kind)
				ok = false
				continue
			}
			a.Config, _ = toAny(v).(map[string]any)
		case "transform", "contextTransform":
			l.fail(k.pos, "transforms run JavaScript; compute the value in your provider, or use `expr`",
				"%s is not supported by Plumb", k.text)
			ok = false
		default:
			l.unknownKey(k, "key in assertion", assertKeys)
			ok = false
		}
	}
	if n.get("type") == nil {
		l.fail(n.pos, "add e.g. `type: contains`", "the assertion has no `type`")
		return a, false
	}
	if a.Base != "" && !modelGraded[a.Base] {
		graded := strings.Join(modelGradedList(), ", ")
		if k := keyNode(n, "provider"); k != nil && a.Base != "similar" && a.Base != GuardClassifier {
			l.fail(k.pos, "remove it: only model-graded assertions ("+graded+"), "+GuardClassifier+" and similar take a provider", "provider does not apply to %s", a.Base)
			providerNode, ok = nil, false
		}
		if k := keyNode(n, "rubricPrompt"); k != nil {
			l.fail(k.pos, "remove it: only model-graded assertions ("+graded+") take a rubric", "rubricPrompt does not apply to %s", a.Base)
			ok = false
		}
	}
	if providerNode != nil && a.Base == "is-refusal" && !needsJudge(&a) {
		l.fail(keyNode(n, "provider").pos, "add `config: {judge: true}` to have the provider judge refusals, or remove `provider`",
			"is-refusal uses its heuristics, not a provider, unless config.judge is true")
		providerNode, ok = nil, false
	}
	if providerNode != nil {
		role := roleJudge
		if a.Base == "similar" {
			role = roleEmbedding
		}
		if p, pok := l.provider(providerNode, role); pok {
			a.Provider = &p
		} else {
			l.badProvider[a.Pos] = true
			ok = false
		}
	}
	return a, ok
}

// checkType reports an assertion type Plumb does not run.
func (l *loader) checkType(base string, pos Pos) bool {
	if slices.Contains(AssertionTypes, base) {
		return true
	}
	if d, ok := strings.CutPrefix(base, GuardPrefix); ok {
		return l.checkGuardType(d, pos)
	}
	if alt, ok := unsupportedTypes[base]; ok {
		l.fail(pos, alt, "assertion type %q is not supported by Plumb", base)
		return false
	}
	hint := "supported types: " + strings.Join(AssertionTypes, ", ")
	if sug := Suggest(base, AssertionTypes); sug != "" {
		hint = fmt.Sprintf("did you mean %q?", sug)
	}
	l.fail(pos, hint, "unknown assertion type %q", base)
	return false
}

// assertValue reads an assertion's value; a file:// value is replaced by the file's parsed
// content (.json, .yaml, .yml) or text.
func (l *loader) assertValue(v *node) any {
	if v.kind != stringKind {
		return toAny(v)
	}
	rel, ok := fileRef(v.text)
	if !ok {
		return v.text
	}
	switch strings.ToLower(filepath.Ext(rel)) {
	case ".js", ".ts", ".mjs", ".cjs", ".py":
		l.fail(v.pos, "use `type: expr` with an inline expression", "assertion values from scripts (%s) are not supported by Plumb", rel)
		return nil
	}
	file, data, ok := l.readRef(rel, v.pos, "assertion value file")
	if !ok {
		return nil
	}
	switch strings.ToLower(filepath.Ext(rel)) {
	case ".json", ".yaml", ".yml":
		root, _ := l.parse(data, file, 0)
		return toAny(root)
	}
	return string(data)
}

// rubric reads a rubricPrompt: text, file://, or a chat message list (kept as JSON text).
func (l *loader) rubric(v *node) (string, bool) {
	if v.kind == listKind {
		msgs, ok := l.messages(v, "rubricPrompt")
		if !ok {
			return "", false
		}
		return chatJSON(msgs), true
	}
	return l.textOrFile(v, "rubricPrompt", "rubric prompt file")
}

// keyNode returns the key node of key in a map node, or nil.
func keyNode(n *node, key string) *node {
	for _, k := range n.keys {
		if k.text == key {
			return k
		}
	}
	return nil
}
