package config

import (
	"fmt"
	"slices"
	"strings"
)

// validate finishes the suite (merging defaultTest, expanding list vars) and checks the rules
// that span sections: a suite needs prompts, providers and tests; every variable a prompt
// uses is defined by every test; model-graded assertions have a judge, `similar` an
// embedding provider, context-faithfulness a context; gates name known metrics. A check is
// skipped when a section it depends on could not be read, so that one mistake is not reported
// again as its consequences.
func (l *loader) validate(s *Suite, root *node) {
	if l.bad["all"] {
		return
	}
	tests := l.finalize(s)
	top := Pos{File: s.Path}

	required := []struct {
		key, alt string
		n        int
		hint     string
	}{
		{"prompts", "", len(s.Prompts), "add `prompts:` with at least one prompt, e.g. `- 'Answer briefly: {{question}}'`"},
		{"providers", "targets", len(s.Providers), "add `providers:` with at least one provider, e.g. `- openai:chat:gpt-4o-mini`"},
		{"tests", "", len(s.Tests), "add `tests:` with at least one test, or `tests: file://tests.csv`"},
	}
	for _, r := range required {
		if r.n > 0 || l.bad[r.key] || l.bad[r.alt] {
			continue
		}
		if k := root.get(r.key); k != nil || r.alt != "" && root.get(r.alt) != nil {
			if k == nil {
				k = root.get(r.alt)
			}
			l.fail(k.pos, r.hint, "%s is empty", r.key)
			continue
		}
		l.fail(top, r.hint, "the config has no `%s`", r.key)
	}

	varsOK := !l.bad["prompts"] && !l.bad["defaultTest"]
	named := map[string]bool{}
	for _, rt := range tests {
		t := &rt.t
		if varsOK && !rt.varsBad {
			l.checkVars(s, rt)
		}
		for i := range t.Assert {
			a := &t.Assert[i]
			if a.Metric != "" {
				named[a.Metric] = true
			}
			l.checkAssertionNeeds(s, rt, a)
		}
	}
	if l.testsIncomplete || l.bad["defaultTest"] {
		named = nil
	}
	l.checkGates(s.Gates, named)
}

// checkVars reports the variables of the prompts that a test does not define.
func (l *loader) checkVars(s *Suite, rt *rawTest) {
	for _, p := range s.Prompts {
		for _, v := range p.Vars {
			if defined(rt.t.Vars, v) {
				continue
			}
			l.missingVar(rt, v, fmt.Sprintf("used by prompt %q", p.Label))
		}
	}
}

// envVarHint answers {{env.NAME}} in a prompt: promptfoo reads the environment there, Plumb
// does not, so that a secret in the environment can never be sent inside a prompt.
func envVarHint(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "env.")
	if !ok {
		return "", false
	}
	return fmt.Sprintf("environment variables are not available in prompts (Plumb keeps secrets out of prompts): pass the value as a var, e.g. {{%s}} with %s in the test's vars or defaultTest.vars", rest, rest), true
}

// missingVar reports a variable a test lacks: for a CSV file once, as a missing column.
func (l *loader) missingVar(rt *rawTest, name, why string) {
	envHint, isEnv := envVarHint(name)
	if rt.csv != nil {
		hint := fmt.Sprintf("add a %q column to the CSV, or set it in defaultTest.vars", name)
		if isEnv {
			hint = envHint
		}
		l.fail(rt.csv.header, hint, "the CSV has no column %q (%s)", name, why)
		return
	}
	if isEnv {
		l.fail(rt.t.Pos, envHint, "variable %q (%s) is not defined in this test", name, why)
		return
	}
	hint := "add it to the test's vars or to defaultTest.vars"
	var have []string
	for k := range rt.t.Vars {
		have = append(have, k)
	}
	slices.Sort(have)
	if sug := Suggest(name, have); sug != "" {
		hint = fmt.Sprintf("the test defines %q: did you mean %q? Otherwise add it to the test's vars or to defaultTest.vars", sug, name)
	}
	l.fail(rt.t.Pos, hint, "variable %q (%s) is not defined in this test", name, why)
}

// checkAssertionNeeds reports an assertion that lacks the provider or the var it needs.
func (l *loader) checkAssertionNeeds(s *Suite, rt *rawTest, a *Assertion) {
	switch {
	case l.badProvider[a.Pos]:
		// its own provider was wrong: reported there
	case classifierProviderInValue(a):
		l.fail(a.Pos, ClassifierProviderHint, "%s", ClassifierProviderMsg)
	case needsJudge(a) && a.Provider == nil && s.Judge == nil && !l.bad["judge"] && !rt.judgeBad:
		l.fail(a.Pos, "add `judge: PROVIDER` at the top level (e.g. judge: openai:chat:gpt-4o-mini), `provider:` on the assertion, or defaultTest.options.provider; Plumb never picks a judge for you",
			"no judge provider configured: %s needs one", a.Type)
	case a.Base == "similar" && a.Provider == nil && s.Embedder == nil && !l.bad["embedding"] && !rt.embedderBad:
		l.fail(a.Pos, "add `embedding: openai:embedding:text-embedding-3-small` at the top level, or `provider:` on the assertion",
			"no embedding provider configured: %s needs one", a.Type)
	}
	if a.Base == "context-faithfulness" && !l.bad["defaultTest"] {
		name := "context"
		if c, ok := a.Config["context"].(string); ok && strings.TrimSpace(c) != "" {
			name = c
		}
		if !defined(rt.t.Vars, name) {
			l.missingVar(rt, name, "the context that context-faithfulness checks the answer against")
		}
	}
}

// defined reports whether vars defines name: as a key, or as a dotted path through maps
// ("user.name"), the way templates look names up.
func defined(vars map[string]any, name string) bool {
	if _, ok := vars[name]; ok {
		return true
	}
	if !strings.Contains(name, ".") {
		return false
	}
	var cur any = vars
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
