package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/plumbhq/plumb/internal/provider"
)

// Defaults applied when the config leaves a value out.
const (
	DefaultRepeat      = 1
	DefaultConcurrency = 4
)

// LoadOptions are the loader's dependencies.
type LoadOptions struct {
	// Getenv resolves {{env.NAME}} references in provider settings that are not secrets
	// (base URLs, model names). os.Getenv in production; nil means os.Getenv.
	Getenv func(string) string
	// Registry resolves prompt:// and dataset:// references; nil refuses them.
	Registry Registry
}

// Load reads the suite at path: Plumb's plumb.yaml or promptfoo's promptfooconfig.yaml
// (Compat is "promptfoo" when the file name starts with "promptfooconfig"), with every file
// it references. On a user error it returns Errors holding every problem found, in file
// order, each at file:line:col with a hint, and, when the file could be parsed, the partial
// suite: good enough to look for more mistakes in, never to run.
//
// Top-level keys:
//
//	description         text shown in reports
//	prompts             a string or a list; each item is inline text, file://PATH (globs
//	                    allowed), prompt://NAME[@LABEL|@VERSION] (the prompt registry),
//	                    {raw|text, label, id} or {label, messages: [{role, content}]}
//	providers           a string or a list of providers and file:// references to .yaml,
//	                    .yml or .json files holding providers (alias: targets)
//	tests               a list of tests and file:// references (.yaml, .yml, .json, .jsonl, .csv;
//	                    globs allowed; a folder is an error suggesting a glob), and
//	                    dataset://NAME[@VERSION] references (a dataset version's items)
//	defaultTest         a test (or file://) merged into every test
//	repeat              samples per test (integer >= 1; default 1)
//	concurrency         parallel calls (integer >= 1; default 4)
//	judge               the provider that grades model-graded assertions
//	embedding           the embedding provider for `similar`
//	gates               acceptance criteria: [{metric, min | max, confidence}]
//	baseline            a run id to compare each run against
//	cassette            replay cassette path, relative to the config's folder, or
//	                    {path, live_when_env: [NAME, ...]}: run live when one of those is set
//	prices              model -> {input, output, cached}: USD per million tokens
//	judge_prompts       assertion type -> judge prompt template (text or file://)
//	assertionTemplates  promptfoo: name -> assertion, used in assert lists as
//	                    {$ref: "#/assertionTemplates/NAME"}
//	evaluateOptions     promptfoo: maxConcurrency (= concurrency), repeat; showProgressBar is ignored
//	outputPath          promptfoo: report files to write (a string or a list)
//	sharing, tags, writeLatestResults, $schema   accepted and ignored (they change no result)
//
// Refused with an error saying what to do instead: env, scenarios, derivedMetrics,
// nunjucksFilters, extensions, redteam. Any other key is an error with a "did you mean".
func Load(path string, opt LoadOptions) (*Suite, error) {
	if opt.Getenv == nil {
		opt.Getenv = os.Getenv
	}
	l := &loader{
		getenv:   opt.Getenv,
		registry: opt.Registry,
		dir:      filepath.Dir(path),
		files:    map[string]int{},
		hash:     sha256.New(),

		promptOpen:  map[string]bool{},
		badProvider: map[Pos]bool{},
	}
	s := &Suite{
		Path:        path,
		Dir:         l.dir,
		Repeat:      DefaultRepeat,
		Concurrency: DefaultConcurrency,
		Compat:      "plumb",
	}
	if strings.HasPrefix(filepath.Base(path), "promptfooconfig") {
		s.Compat = "promptfoo"
		l.promptfoo = true
	}
	l.fileIndex(path)
	data, err := os.ReadFile(path)
	if err != nil {
		l.fail(Pos{File: path}, "check the path, or pass the config with -c FILE", "cannot read the config: %s", ioReason(err))
		return nil, l.errs
	}
	l.addHash(path, data)
	root, _ := l.parse(data, path, 0)
	if root == nil {
		return nil, l.result()
	}
	l.top(s, root)
	l.validate(s, root)
	s.Hash = hex.EncodeToString(l.hash.Sum(nil))
	s.Sources = l.sources
	if len(l.errs) > 0 {
		// The partial suite lets the caller look for more mistakes (an invalid regex, say)
		// so that the user sees every error at once; it must not be run.
		return s, l.result()
	}
	return s, nil
}

// loader holds the state of one Load: the errors found so far, the files read (in order, for
// sorting errors and hashing) and what later checks need to know about the walk.
type loader struct {
	getenv   func(string) string
	registry Registry
	sources  []Source
	dir      string
	errs     Errors
	files    map[string]int
	hash     hash.Hash
	// promptfoo is set when the suite is read as promptfoo's (Suite.Compat): its OpenAI chat
	// providers then get promptfoo's default parameters.
	promptfoo bool
	// templates are the top-level assertionTemplates by name, read before the tests so that
	// a $ref may come before the templates in the file.
	templates map[string]*node

	// Sections that failed to read are not cross-checked, so that one mistake is reported
	// once rather than as a cascade.
	bad map[string]bool
	// Filled by the walk for the cross checks.
	rawTests    []*rawTest
	defaultTest *rawTest
	// structural holds the YAML structure errors by position (see parse).
	structural map[Pos]*Error
	// testsIncomplete is set when a tests file could not be read: the metric names its
	// assertions define are unknown, so gates on named metrics are not checked.
	testsIncomplete bool
	// promptOpen holds the prompts files being read, so that one listing itself is an
	// error instead of an endless loop.
	promptOpen map[string]bool
	// badProvider holds the assertions whose own provider was wrong: that error is theirs,
	// not also "no judge configured".
	badProvider map[Pos]bool
}

// fail records an error at pos.
func (l *loader) fail(pos Pos, hint, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// markBad records that a section could not be read completely.
func (l *loader) markBad(section string) {
	if l.bad == nil {
		l.bad = map[string]bool{}
	}
	l.bad[section] = true
}

// parse parses a YAML or JSON file, recording its structural errors (an unknown alias, a
// refused tag) so that the errors their placeholder values cause later are not reported too.
func (l *loader) parse(data []byte, file string, line0 int) (*node, []*Error) {
	root, errs := parseYAML(data, file, line0)
	if l.structural == nil {
		l.structural = map[Pos]*Error{}
	}
	for _, e := range errs {
		if _, seen := l.structural[e.Pos]; !seen {
			l.structural[e.Pos] = e
		}
	}
	l.errs = append(l.errs, errs...)
	return root, errs
}

// result sorts the errors into file order (files in the order they were first referenced,
// then line and column) and drops exact repeats (a defaultTest mistake is found once per test).
func (l *loader) result() Errors {
	seen := map[string]bool{}
	out := make(Errors, 0, len(l.errs))
	for _, e := range l.errs {
		if first, ok := l.structural[e.Pos]; ok && first != e {
			continue // a consequence of a YAML structure error at the same place
		}
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	order := func(file string) int {
		if i, ok := l.files[file]; ok {
			return i
		}
		return len(l.files)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if fa, fb := order(a.File), order(b.File); fa != fb {
			return fa < fb
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out
}

// fileIndex numbers files in the order they are first seen.
func (l *loader) fileIndex(file string) int {
	i, ok := l.files[file]
	if !ok {
		i = len(l.files)
		l.files[file] = i
	}
	return i
}

// addHash feeds one file into the suite hash, framed by its length and its path relative to
// the config's folder: moving bytes between files changes the hash, running the same suite
// from another working directory does not.
func (l *loader) addHash(name string, data []byte) {
	if rel, err := filepath.Rel(l.dir, name); err == nil {
		name = rel
	}
	fmt.Fprintf(l.hash, "%s\x00%d\x00", filepath.ToSlash(name), len(data))
	l.hash.Write(data)
}

// display is the path of a config-relative file as a user would open it from the working
// directory.
func (l *loader) display(rel string) string {
	if filepath.IsAbs(rel) {
		return filepath.Clean(rel)
	}
	return filepath.Join(l.dir, rel)
}

// readRef reads the file that a file:// reference at pos names. what says what the file is
// for ("tests file"), for the messages.
func (l *loader) readRef(rel string, pos Pos, what string) (file string, data []byte, ok bool) {
	file = l.display(rel)
	data, err := os.ReadFile(file)
	if err != nil {
		l.fail(pos, fmt.Sprintf("file:// paths are relative to the config's folder; looked for %s", file),
			"cannot read %s %q: %s", what, rel, ioReason(err))
		return file, nil, false
	}
	l.fileIndex(file)
	l.addHash(file, data)
	return file, data, true
}

// expandRef turns a file:// path (without the scheme) into the config-relative paths it names:
// itself, or the sorted matches of a glob. A glob that matches nothing is an error.
func (l *loader) expandRef(rel string, pos Pos, what string) ([]string, bool) {
	if !strings.ContainsAny(rel, "*?[") {
		return []string{rel}, true
	}
	matches, err := filepath.Glob(l.display(rel))
	if err != nil {
		l.fail(pos, "check the glob syntax", "invalid file pattern %q: %v", rel, err)
		return nil, false
	}
	if len(matches) == 0 {
		l.fail(pos, fmt.Sprintf("file:// paths are relative to the config's folder; looked for %s", l.display(rel)),
			"no %s matches %q", what, rel)
		return nil, false
	}
	sort.Strings(matches)
	out := make([]string, len(matches))
	for i, m := range matches {
		if filepath.IsAbs(rel) {
			out[i] = m
			continue
		}
		r, err := filepath.Rel(l.dir, m)
		if err != nil {
			r = m
		}
		out[i] = filepath.ToSlash(r)
	}
	return out, true
}

// ioReason is a file error without the path (the message names the file already).
func ioReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if pe.Err.Error() == "is a directory" {
			return "it is a directory"
		}
		return pe.Err.Error()
	}
	return err.Error()
}

// fileRef returns the path of a "file://PATH" string, or ok=false for any other string.
func fileRef(s string) (string, bool) {
	if rest, ok := strings.CutPrefix(s, "file://"); ok {
		return rest, true
	}
	return "", false
}

// topKeys are the top-level keys Plumb reads; the order is the documented order.
var topKeys = []string{
	"description", "prompts", "providers", "targets", "tests", "defaultTest", "repeat",
	"concurrency", "judge", "embedding", "gates", "baseline", "cassette", "prices",
	"judge_prompts", "assertionTemplates", "evaluateOptions", "outputPath", "sharing", "tags",
	"writeLatestResults", "$schema",
}

// refusedTop are promptfoo keys Plumb does not support, with what to do instead.
var refusedTop = map[string][2]string{
	"env": {"`env` is not supported: secrets never go in config files",
		"set these variables in your shell or CI secrets instead (e.g. export OPENAI_API_KEY=...)"},
	"scenarios": {"`scenarios` is not supported by Plumb",
		"list the combinations as tests, or give a var a list of values (a test expands into one test per value)"},
	"derivedMetrics": {"`derivedMetrics` is not supported by Plumb",
		"name the metrics on the assertions (`metric:`) and gate on them under `gates:`"},
	"nunjucksFilters": {"`nunjucksFilters` is not supported: templates are plain {{var}} substitution",
		"compute the value beforehand and pass it as a var"},
	"extensions": {"`extensions` is not supported: Plumb runs no hook code",
		"remove it; use an exec: provider if you need to run a program"},
	"redteam": {"`redteam` is not supported by `plumb eval`",
		"remove the redteam section from the eval config"},
}

// top walks the top-level map into s.
func (l *loader) top(s *Suite, root *node) {
	if root.kind == nullKind {
		l.fail(root.pos, "start from `prompts:`, `providers:` and `tests:`", "the config is empty")
		l.markBad("all")
		return
	}
	if root.kind != mapKind {
		l.fail(root.pos, "start from `prompts:`, `providers:` and `tests:`", "the config must be a map of keys, not %s", root.kind)
		l.markBad("all")
		return
	}
	var concurrencySet, repeatSet *node
	var providersKey *node
	if v := root.get("assertionTemplates"); v != nil {
		// Read first: tests that $ref a template usually come before it in the file.
		if !l.assertionTemplates(v) {
			l.markBad("assertionTemplates")
		}
	}
	for i, k := range root.keys {
		v := root.vals[i]
		n0 := len(l.errs)
		l.section(s, k, v, &providersKey, &concurrencySet, &repeatSet)
		if len(l.errs) > n0 {
			l.markBad(k.text)
		}
	}
}

// section reads one top-level key.
func (l *loader) section(s *Suite, k, v *node, providersKey, concurrencySet, repeatSet **node) {
	switch k.text {
	case "description":
		s.Description, _ = l.str(v, "description")
	case "prompts":
		s.Prompts = l.prompts(v)
	case "providers", "targets":
		if *providersKey != nil {
			l.fail(k.pos, "keep one of them", "both `providers` and `targets` are set (targets is another name for providers)")
			return
		}
		*providersKey = k
		s.Providers = l.providers(v)
	case "tests":
		l.rawTests = l.tests(v)
	case "defaultTest":
		l.defaultTest = l.defaultTestValue(v)
	case "repeat":
		if n, ok := l.posInt(v, "repeat", 1, hintRepeat); ok {
			if *repeatSet != nil {
				l.fail(v.pos, "keep one of them", "repeat is set twice (also at line %d)", (*repeatSet).pos.Line)
			}
			s.Repeat, *repeatSet = n, v
		}
	case "concurrency":
		if n, ok := l.posInt(v, "concurrency", 1, hintConcurrency); ok {
			if *concurrencySet != nil {
				l.fail(v.pos, "keep one of them", "concurrency is set twice (also at line %d)", (*concurrencySet).pos.Line)
			}
			s.Concurrency, *concurrencySet = n, v
		}
	case "judge":
		if p, ok := l.provider(v, roleJudge); ok {
			s.Judge = &p
		}
	case "embedding":
		if p, ok := l.provider(v, roleEmbedding); ok {
			s.Embedder = &p
		}
	case "gates":
		s.Gates = l.gateList(v)
	case "baseline":
		s.Baseline, _ = l.str(v, "baseline")
	case "cassette":
		l.cassette(s, v)
	case "prices":
		s.Prices = l.prices(v)
	case "judge_prompts":
		s.JudgePrompts = l.judgePrompts(v)
	case "evaluateOptions":
		l.evaluateOptions(s, v, concurrencySet, repeatSet)
	case "outputPath":
		for _, it := range l.strOrList(v, "outputPath") {
			if p, ok := l.str(it, "outputPath"); ok {
				s.OutputPaths = append(s.OutputPaths, p)
			}
		}
	case "assertionTemplates":
		// read by top before the other keys
	case "sharing", "tags", "writeLatestResults", "$schema":
		// promptfoo bookkeeping that changes no result: accepted so that an existing
		// promptfooconfig.yaml runs unchanged.
	default:
		if r, ok := refusedTop[k.text]; ok {
			l.fail(k.pos, r[1], "%s", r[0])
			return
		}
		l.unknownKey(k, "top-level key", topKeys)
	}
}

// unknownKey reports a key that is not one of known, suggesting the closest.
func (l *loader) unknownKey(k *node, what string, known []string) {
	hint := "valid keys here: " + strings.Join(known, ", ")
	if sug := Suggest(k.text, known); sug != "" {
		hint = fmt.Sprintf("did you mean %q?", sug)
	}
	l.fail(k.pos, hint, "unknown %s %q", what, k.text)
}

// evaluateOptions reads promptfoo's evaluateOptions.
func (l *loader) evaluateOptions(s *Suite, v *node, concurrencySet, repeatSet **node) {
	known := []string{"maxConcurrency", "repeat", "showProgressBar"}
	l.eachKey(v, "evaluateOptions", func(k, val *node) {
		switch k.text {
		case "maxConcurrency":
			if n, ok := l.posInt(val, "evaluateOptions.maxConcurrency", 1, hintConcurrency); ok {
				if *concurrencySet != nil {
					l.fail(val.pos, "keep one of them", "concurrency is set twice (also at line %d)", (*concurrencySet).pos.Line)
				}
				s.Concurrency, *concurrencySet = n, val
			}
		case "repeat":
			if n, ok := l.posInt(val, "evaluateOptions.repeat", 1, hintRepeat); ok {
				if *repeatSet != nil {
					l.fail(val.pos, "keep one of them", "repeat is set twice (also at line %d)", (*repeatSet).pos.Line)
				}
				s.Repeat, *repeatSet = n, val
			}
		case "showProgressBar":
			// Display only: Plumb shows a progress bar on a terminal.
		case "delay":
			l.fail(k.pos, "limit the request rate with `rpm:` on the provider instead", "evaluateOptions.delay is not supported")
		case "cache":
			l.fail(k.pos, "run `plumb eval --no-cache` instead", "evaluateOptions.cache is not supported in the config")
		case "timeoutMs", "maxEvalTimeMs":
			l.fail(k.pos, "set `timeout_ms:` on the provider (or config.timeout, in ms) instead", "evaluateOptions.%s is not supported", k.text)
		default:
			l.unknownKey(k, "key in evaluateOptions", known)
		}
	})
}

// cassetteKeys are the keys of `cassette:` written as a map.
var cassetteKeys = []string{"path", "live_when_env"}

// cassette reads `cassette: PATH` or `cassette: {path: PATH, live_when_env: [NAME, ...]}`.
// live_when_env names the environment variables that mean "call the real providers": the CLI
// replays unless one of them is set and non-empty, so the same suite replays in CI and runs
// live on a machine that has a key.
func (l *loader) cassette(s *Suite, v *node) {
	var pathNode *node
	switch v.kind {
	case mapKind:
		unknown := false
		l.eachKey(v, "cassette", func(k, val *node) {
			switch k.text {
			case "path":
				pathNode = val
			case "live_when_env":
				s.CassetteLiveEnv = l.envNames(val, "cassette.live_when_env")
			default:
				l.unknownKey(k, "key in cassette", cassetteKeys)
				unknown = true
			}
		})
		if pathNode == nil {
			if unknown {
				return // most likely the path under a misspelled key: reported there
			}
			l.fail(v.pos, "add `path: cassette.json` (relative to the config's folder)", "the cassette has no path")
			return
		}
	case listKind, nullKind:
		l.fail(v.pos, "write a path, e.g. `cassette: cassette.json`, or a map with `path:` and `live_when_env:`",
			"cassette must be a path or a map, not %s", v.kind)
		return
	default:
		pathNode = v
	}
	p, ok := l.str(pathNode, "cassette.path")
	if !ok {
		return
	}
	if rel, isRef := fileRef(p); isRef {
		p = rel
	}
	if strings.TrimSpace(p) == "" {
		l.fail(pathNode.pos, "write the cassette file's path, e.g. cassette.json", "the cassette path is empty")
		return
	}
	s.Cassette = l.display(p)
}

// envNames reads a list (or one) of environment variable names. A value that is not a name is
// never echoed: it may be a secret pasted in the wrong place.
func (l *loader) envNames(v *node, what string) []string {
	var out []string
	seen := map[string]bool{}
	for _, it := range l.strOrList(v, what) {
		name, ok := l.str(it, what)
		if !ok {
			continue
		}
		if !envNameRe.MatchString(name) {
			l.fail(it.pos, "write the variable's name, such as OPENAI_API_KEY: letters, digits and _, not starting with a digit (no $, no {{env.}})",
				"%s: each item must be the name of an environment variable", what)
			continue
		}
		if seen[name] {
			l.fail(it.pos, "remove the repeat", "%s lists %s twice", what, name)
			continue
		}
		seen[name] = true
		out = append(out, name)
	}
	return out
}

// prices reads `prices: {MODEL: {input, output, cached}}`.
func (l *loader) prices(v *node) map[string]provider.Price {
	out := map[string]provider.Price{}
	l.eachKey(v, "prices", func(k, val *node) {
		if p, ok := l.price(val, "prices."+k.text, true); ok {
			out[k.text] = *p
		}
	})
	return out
}

// price reads {input, output, cached} in USD per million tokens.
func (l *loader) price(v *node, what string, needBoth bool) (*provider.Price, bool) {
	p := &provider.Price{}
	var hasIn, hasOut bool
	ok := l.eachKey(v, what, func(k, val *node) {
		var dst *float64
		switch k.text {
		case "input":
			dst, hasIn = &p.Input, true
		case "output":
			dst, hasOut = &p.Output, true
		case "cached":
			dst = &p.Cached
		default:
			l.unknownKey(k, "key in "+what, []string{"input", "output", "cached"})
			return
		}
		if f, ok := l.num(val, what+"."+k.text); ok {
			if f < 0 {
				l.fail(val.pos, "prices are USD per million tokens", "%s.%s must not be negative", what, k.text)
				return
			}
			*dst = f
		}
	})
	if ok && needBoth && (!hasIn || !hasOut) {
		l.fail(v.pos, "write both, e.g. {input: 0.15, output: 0.60} (USD per million tokens)", "%s needs both input and output prices", what)
		return nil, false
	}
	return p, ok
}

// judgePrompts reads `judge_prompts: {TYPE: TEXT | file://PATH}`.
func (l *loader) judgePrompts(v *node) map[string]string {
	out := map[string]string{}
	l.eachKey(v, "judge_prompts", func(k, val *node) {
		if !modelGraded[k.text] {
			known := modelGradedList()
			hint := "judge prompts exist for: " + strings.Join(known, ", ")
			if sug := Suggest(k.text, known); sug != "" {
				hint = fmt.Sprintf("did you mean %q?", sug)
			}
			l.fail(k.pos, hint, "judge_prompts: %q is not a model-graded assertion type", k.text)
			return
		}
		if t, ok := l.textOrFile(val, "judge_prompts."+k.text, "judge prompt"); ok {
			out[k.text] = t
		}
	})
	return out
}

// textOrFile reads a string value, or the text of the file a file:// value names.
func (l *loader) textOrFile(v *node, what, fileWhat string) (string, bool) {
	s, ok := l.str(v, what)
	if !ok {
		return "", false
	}
	rel, isRef := fileRef(s)
	if !isRef {
		return s, true
	}
	_, data, ok := l.readRef(rel, v.pos, fileWhat)
	return string(data), ok
}
