package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// rawTest is a test as read, before defaultTest is merged in and list vars are expanded.
type rawTest struct {
	t        Test
	varOrder []string      // var names in file order, for a stable expansion order
	judge    *ProviderSpec // options.provider: grades this test's model-graded assertions
	embedder *ProviderSpec // options.provider.embedding: embeds for this test's `similar`
	rubric   string        // options.rubricPrompt
	noExpand *bool         // options.disableVarExpansion
	csv      *csvSource    // set for tests read from a CSV file
	varsBad  bool          // vars could not be read: its missing variables are not reported
	// judgeBad and embedderBad say options.provider was given but wrong: its assertions are
	// not reported again as lacking a judge or an embedding provider.
	judgeBad, embedderBad bool
	repeatAt              *node // where repeat or options.repeat was set, to refuse the other
}

// csvSource is the CSV file a test came from, so that a missing variable is reported once,
// as a missing column, instead of once per row.
type csvSource struct {
	file    string
	header  Pos
	columns map[string]bool
}

// testKeys are the keys of a test.
var testKeys = []string{"description", "vars", "assert", "threshold", "metadata", "options", "segment", "repeat"}

// defaultTestKeys are the keys defaultTest may have.
var defaultTestKeys = []string{"vars", "assert", "threshold", "metadata", "options"}

// optionKeys are the keys of a test's options.
var optionKeys = []string{"provider", "rubricPrompt", "repeat", "disableVarExpansion"}

// maxExpansion bounds how many tests list-valued vars may expand one test into.
const maxExpansion = 100_000

// tests reads `tests`: a list of tests and file references, or one file reference. A file is
// file://PATH or a bare PATH (a test is never a plain string), globs allowed: .yaml/.yml (a
// list of tests), .json (a list of tests), .jsonl (one test per line), .csv (a header row of
// var names and promptfoo's special columns). A file that is missing, unreadable or holds no
// tests is an error at the reference.
func (l *loader) tests(v *node) []*rawTest {
	var out []*rawTest
	switch v.kind {
	case stringKind:
		out = l.testRefs(v)
	case listKind:
		for _, it := range v.items {
			switch it.kind {
			case stringKind:
				out = append(out, l.testRefs(it)...)
			case mapKind:
				if t := l.test(it, false); t != nil {
					out = append(out, t)
				}
			default:
				l.fail(it.pos, "write a test as a map with `vars:` and `assert:`, or a file://PATH", "a test must be a map or a file reference, not %s", it.kind)
			}
		}
		if len(v.items) == 0 {
			l.fail(v.pos, "add tests, each with `vars:` and `assert:`", "tests is empty")
		}
	default:
		l.fail(v.pos, "write `tests:` followed by `- ` items, or `tests: file://tests.csv`", "tests must be a list or a file reference, not %s", v.kind)
	}
	return out
}

// testRefs reads the tests of the file(s) a reference names.
func (l *loader) testRefs(n *node) []*rawTest {
	if strings.HasPrefix(n.text, datasetScheme) {
		return l.datasetTests(n)
	}
	rel, _ := fileRef(n.text)
	if rel == "" {
		rel = n.text
	}
	ext := strings.ToLower(filepath.Ext(rel))
	if l.isDir(rel) {
		l.fail(n.pos, "reference the files in it with a glob: "+folderGlobs(l.display(rel), rel),
			"tests file %q is a folder", rel)
		l.testsIncomplete = true
		return nil
	}
	switch ext {
	case ".yaml", ".yml", ".json", ".jsonl", ".csv":
	case ".js", ".ts", ".mjs", ".cjs", ".py":
		l.fail(n.pos, "write the tests to a .yaml, .json, .jsonl or .csv file", "tests from scripts (%s) are not supported by Plumb", rel)
		return nil
	default:
		if strings.HasPrefix(rel, "http://") || strings.HasPrefix(rel, "https://") {
			l.fail(n.pos, "export the sheet as .csv next to the config and reference that", "tests from URLs are not supported by Plumb")
			return nil
		}
		if _, isRef := fileRef(n.text); !isRef && ext == "" {
			l.fail(n.pos, "write a test as a map with `vars:` and `assert:`, reference a file as file://PATH, or a dataset as dataset://NAME@VERSION", "a test must be a map or a file reference, not a string")
			return nil
		}
		l.fail(n.pos, "use a .yaml, .yml, .json, .jsonl or .csv file", "unsupported tests file %q", rel)
		return nil
	}
	paths, ok := l.expandRef(rel, n.pos, "tests file")
	if !ok {
		return nil
	}
	var out []*rawTest
	for _, p := range paths {
		file, data, ok := l.readRef(p, n.pos, "tests file")
		if !ok {
			l.testsIncomplete = true
			continue
		}
		var got []*rawTest
		n0 := len(l.errs)
		switch strings.ToLower(filepath.Ext(p)) {
		case ".csv":
			got = l.csvTests(file, data)
		case ".jsonl":
			got = l.jsonlTests(file, data)
		case ".json":
			if !l.validJSON(file, data, 0) {
				l.testsIncomplete = true
				continue
			}
			got = l.docTests(file, data)
		default:
			got = l.docTests(file, data)
		}
		if len(got) == 0 && len(l.errs) == n0 {
			l.fail(n.pos, "add tests to the file, or remove the reference", "tests file %q has no tests", p)
		}
		out = append(out, got...)
	}
	return out
}

// isDir reports whether a config-relative path names a folder: it ends in a slash, or a
// folder of that name exists.
func (l *loader) isDir(rel string) bool {
	if strings.HasSuffix(rel, "/") || strings.HasSuffix(rel, string(filepath.Separator)) {
		return true
	}
	if strings.ContainsAny(rel, "*?[") {
		return false
	}
	fi, err := os.Stat(l.display(rel))
	return err == nil && fi.IsDir()
}

// testsExts are the tests file types, in the order a folder's glob is suggested.
var testsExts = []string{".yaml", ".yml", ".json", ".jsonl", ".csv"}

// folderGlobs suggests the globs that reference the tests files in a folder: one per tests
// file type it holds, or *.yaml when it holds none (or cannot be read).
func folderGlobs(dir, rel string) string {
	base := "file://" + strings.TrimRight(filepath.ToSlash(rel), "/") + "/*"
	have := map[string]bool{}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if !e.IsDir() {
				have[strings.ToLower(filepath.Ext(e.Name()))] = true
			}
		}
	}
	var globs []string
	for _, ext := range testsExts {
		if have[ext] {
			globs = append(globs, base+ext)
		}
	}
	if len(globs) == 0 {
		globs = []string{base + ".yaml"}
	}
	return strings.Join(globs, ", ")
}

// docTests reads a YAML or JSON tests file: a list of tests (or a single test).
func (l *loader) docTests(file string, data []byte) []*rawTest {
	root, _ := l.parse(data, file, 0)
	if root == nil {
		l.testsIncomplete = true
		return nil
	}
	items := []*node{root}
	switch root.kind {
	case nullKind:
		return nil
	case listKind:
		items = root.items
	case mapKind:
	default:
		l.fail(root.pos, "write a list of tests, each with `vars:` and `assert:`", "a tests file must hold a list of tests, not %s", root.kind)
		return nil
	}
	var out []*rawTest
	for _, it := range items {
		if it.kind != mapKind {
			l.fail(it.pos, "write each test as a map with `vars:` and `assert:`", "a test must be a map, not %s", it.kind)
			continue
		}
		if t := l.test(it, false); t != nil {
			out = append(out, t)
		}
	}
	return out
}

// jsonlTests reads a JSONL tests file: one JSON test object per line; blank lines are skipped.
func (l *loader) jsonlTests(file string, data []byte) []*rawTest {
	var out []*rawTest
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		root, err := parseJSONLine(line, file, i)
		if err != nil {
			l.errs = append(l.errs, err)
			l.testsIncomplete = true
			continue
		}
		if root.kind != mapKind {
			l.fail(root.pos, "write one JSON object per line, e.g. {\"vars\": {...}, \"assert\": [...]}", "each line of a .jsonl tests file must be a JSON object, not %s", root.kind)
			continue
		}
		if t := l.test(root, false); t != nil {
			out = append(out, t)
		}
	}
	return out
}

// validJSON reports a JSON syntax error at its line and column (line0 lines into the file).
func (l *loader) validJSON(file string, data []byte, line0 int) bool {
	var v any
	err := json.Unmarshal(data, &v)
	if err == nil {
		return true
	}
	pos := Pos{File: file, Line: line0 + 1}
	if se, ok := err.(*json.SyntaxError); ok {
		p := textPos(file, string(data), int(se.Offset)-1)
		pos = Pos{File: file, Line: p.Line + line0, Col: p.Col}
	}
	l.fail(pos, "fix the JSON syntax", "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	return false
}

// test reads one test (or defaultTest when isDefault).
func (l *loader) test(n *node, isDefault bool) *rawTest {
	rt := &rawTest{t: Test{Pos: n.pos}}
	t := &rt.t
	keys := testKeys
	if isDefault {
		keys = defaultTestKeys
	}
	for i, k := range n.keys {
		v := n.vals[i]
		if isDefault && !slices.Contains(defaultTestKeys, k.text) && slices.Contains(testKeys, k.text) {
			l.fail(k.pos, "set it on each test instead", "defaultTest cannot have %q", k.text)
			continue
		}
		switch k.text {
		case "description":
			t.Description, _ = l.str(v, "description")
		case "vars":
			l.vars(rt, v)
		case "assert":
			if v.kind == nullKind {
				continue
			}
			items, ok := l.list(v, "assert")
			if !ok {
				continue
			}
			for _, it := range items {
				if it.kind == mapKind {
					var ok bool
					if it, ok = l.assertRef(it); !ok {
						continue
					}
				}
				a, _ := l.assertion(it)
				t.Assert = append(t.Assert, a)
			}
		case "threshold":
			if f, ok := l.num(v, "threshold"); ok {
				t.Threshold = &f
			}
		case "metadata":
			if v.kind == nullKind {
				continue
			}
			if v.kind != mapKind {
				l.fail(v.pos, hintMap, "metadata must be a map, not %s", v.kind)
				continue
			}
			t.Metadata, _ = toAny(v).(map[string]any)
			if seg := v.get("segment"); seg != nil && t.Segment == "" {
				t.Segment, _ = l.str(seg, "metadata.segment")
			}
		case "segment":
			if s, ok := l.str(v, "segment"); ok {
				t.Segment = s
			}
		case "repeat":
			l.testRepeat(rt, v, "repeat")
		case "options":
			l.testOptions(rt, v)
		case "provider":
			l.fail(k.pos, "list the providers under the top-level `providers:`; to grade with a provider use options.provider", "a per-test `provider` is not supported by Plumb")
		case "providerOutput":
			l.fail(k.pos, "run the suite against a provider, or an echo provider", "`providerOutput` is not supported by Plumb")
		default:
			l.unknownKey(k, "test key", keys)
		}
	}
	return rt
}

// vars reads a test's vars. A file:// value is replaced by the file's text; a list value, or a
// file:// glob (the texts of its files), expands the test into one test per item later.
func (l *loader) vars(rt *rawTest, v *node) {
	if v.kind == nullKind {
		return
	}
	if v.kind != mapKind {
		l.fail(v.pos, "write `vars:` with `name: value` lines below it", "vars must be a map, not %s", v.kind)
		rt.varsBad = true
		return
	}
	if rt.t.Vars == nil {
		rt.t.Vars = map[string]any{}
	}
	for i, k := range v.keys {
		val := v.vals[i]
		switch {
		case val.kind == listKind:
			items := make([]any, 0, len(val.items))
			for _, it := range val.items {
				if files, isGlob := l.varGlob(it); isGlob {
					items = append(items, files...)
					continue
				}
				items = append(items, l.varValue(it))
			}
			rt.t.Vars[k.text] = items
		default:
			if files, isGlob := l.varGlob(val); isGlob {
				// One test per matching file, like a list of values (promptfoo's behaviour).
				rt.t.Vars[k.text] = files
				break
			}
			rt.t.Vars[k.text] = l.varValue(val)
		}
		rt.varOrder = append(rt.varOrder, k.text)
	}
}

// varGlob reads a file:// var value holding a glob: the texts of the matching files, in sorted
// path order (folders skipped). isGlob is false for any other value. A glob that matches no
// file is an error at the value.
func (l *loader) varGlob(n *node) (texts []any, isGlob bool) {
	if n.kind != stringKind {
		return nil, false
	}
	rel, ok := fileRef(n.text)
	if !ok || !strings.ContainsAny(rel, "*?[") {
		return nil, false
	}
	paths, ok := l.expandRef(rel, n.pos, "var file")
	if !ok {
		return []any{}, true
	}
	texts = []any{}
	for _, p := range paths {
		if fi, err := os.Stat(l.display(p)); err == nil && fi.IsDir() {
			continue
		}
		texts = append(texts, l.varFile(p, n.pos))
	}
	if len(texts) == 0 {
		l.fail(n.pos, fmt.Sprintf("file:// paths are relative to the config's folder; looked for %s", l.display(rel)),
			"no var file matches %q (it matches only folders)", rel)
	}
	return texts, true
}

// binaryExts are files that cannot be a text var.
var binaryExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".bmp": true,
	".pdf": true, ".mp3": true, ".wav": true, ".mp4": true, ".zip": true,
}

// varValue reads one var value, loading file:// text.
func (l *loader) varValue(n *node) any {
	if n.kind != stringKind {
		return toAny(n)
	}
	rel, ok := fileRef(n.text)
	if !ok {
		return n.text
	}
	return l.varFile(rel, n.pos)
}

// varFile reads the text of a var file; pos is the var's value, where errors are reported.
func (l *loader) varFile(rel string, pos Pos) any {
	ext := strings.ToLower(filepath.Ext(rel))
	switch {
	case ext == ".js" || ext == ".ts" || ext == ".py" || strings.Contains(ext, ".py:") || strings.Contains(ext, ".js:"):
		l.fail(pos, "write the value to a text file and reference that", "vars from scripts (%s) are not supported by Plumb", rel)
		return nil
	case binaryExts[ext]:
		l.fail(pos, "Plumb sends text prompts; put the text in a .txt file", "binary file %q cannot be a var", rel)
		return nil
	}
	_, data, ok := l.readRef(rel, pos, "var file")
	if !ok {
		return nil
	}
	return string(data)
}

// testOptions reads a test's options.
func (l *loader) testOptions(rt *rawTest, v *node) {
	l.eachKey(v, "options", func(k, val *node) {
		switch k.text {
		case "provider":
			l.gradingProvider(rt, val)
		case "rubricPrompt":
			rt.rubric, _ = l.rubric(val)
		case "repeat":
			l.testRepeat(rt, val, "options.repeat")
		case "disableVarExpansion":
			if b, ok := l.boolean(val, "options.disableVarExpansion"); ok {
				rt.noExpand = &b
			}
		case "transform", "postprocess":
			l.fail(k.pos, "compute the value in your provider, or check it with `expr`", "options.%s (JavaScript) is not supported by Plumb", k.text)
		case "prefix", "suffix":
			l.fail(k.pos, "write the text into the prompt itself", "options.%s is not supported by Plumb", k.text)
		case "storeOutputAs", "runSerially", "disableConversationVar":
			l.fail(k.pos, "remove it: Plumb runs every test independently", "options.%s is not supported by Plumb", k.text)
		default:
			l.unknownKey(k, "key in options", optionKeys)
		}
	})
}

// testRepeat reads a test's `repeat` or `options.repeat`, which mean the same: setting both
// is an error, as for any setting given twice.
func (l *loader) testRepeat(rt *rawTest, v *node, what string) {
	if rt.repeatAt != nil {
		l.fail(v.pos, "keep one of them: `repeat:` and `options.repeat:` mean the same", "the test's repeat is set twice (also at line %d)", rt.repeatAt.pos.Line)
		return
	}
	rt.repeatAt = v
	if r, ok := l.posInt(v, what, 1, hintRepeat); ok {
		rt.t.Repeat = r
	}
}

// gradingProvider reads options.provider: a provider (the judge), or promptfoo's
// {text: PROVIDER, embedding: PROVIDER}.
func (l *loader) gradingProvider(rt *rawTest, v *node) {
	if v.kind == mapKind && len(v.keys) > 0 && (v.get("text") != nil || v.get("embedding") != nil) {
		for i, k := range v.keys {
			switch k.text {
			case "text":
				if p, ok := l.provider(v.vals[i], roleJudge); ok {
					rt.judge = &p
				} else {
					rt.judgeBad = true
				}
			case "embedding":
				if p, ok := l.provider(v.vals[i], roleEmbedding); ok {
					rt.embedder = &p
				} else {
					rt.embedderBad = true
				}
			default:
				l.unknownKey(k, "key in options.provider", []string{"text", "embedding"})
			}
		}
		return
	}
	if p, ok := l.provider(v, roleJudge); ok {
		rt.judge = &p
	} else {
		rt.judgeBad = true
	}
}

// defaultTestValue reads defaultTest: a test map, or file:// to a YAML or JSON file holding one.
func (l *loader) defaultTestValue(v *node) *rawTest {
	if v.kind == stringKind {
		rel, ok := fileRef(v.text)
		if !ok {
			l.fail(v.pos, "write a map with `vars:`, `assert:` or `options:`, or file://PATH", "defaultTest must be a map or a file reference")
			return nil
		}
		switch strings.ToLower(filepath.Ext(rel)) {
		case ".yaml", ".yml", ".json":
		default:
			l.fail(v.pos, "use a .yaml, .yml or .json file", "unsupported defaultTest file %q", rel)
			return nil
		}
		file, data, ok := l.readRef(rel, v.pos, "defaultTest file")
		if !ok {
			return nil
		}
		root, _ := l.parse(data, file, 0)
		if root == nil {
			return nil
		}
		v = root
	}
	if v.kind == nullKind {
		return nil
	}
	if v.kind != mapKind {
		l.fail(v.pos, "write a map with `vars:`, `assert:` or `options:`", "defaultTest must be a map, not %s", v.kind)
		return nil
	}
	return l.test(v, true)
}

// finalize merges defaultTest into every test, applies test options to assertions, expands
// list vars and numbers the tests. It returns each final test's source for the cross checks.
func (l *loader) finalize(s *Suite) []*rawTest {
	var out []*rawTest
	for _, rt := range l.rawTests {
		m := merge(l.defaultTest, rt)
		combos, total := expand(m)
		if total > maxExpansion {
			l.fail(m.t.Pos, "use fewer list values, or options.disableVarExpansion: true", "the test's list vars expand into more than %d tests", maxExpansion)
			continue
		}
		for _, vars := range combos {
			c := *m
			c.t.Vars = vars
			c.t.Assert = append([]Assertion(nil), m.t.Assert...)
			c.t.Index = len(s.Tests)
			s.Tests = append(s.Tests, c.t)
			out = append(out, &c)
		}
	}
	return out
}

// merge applies defaultTest d to test t: vars and metadata (the test wins), assertions (the
// default's first), options and threshold (the test wins). Options then reach the test's
// assertions: options.provider grades its model-graded assertions (and embeds for
// `similar`), options.rubricPrompt is their rubric, unless an assertion sets its own.
func merge(d, t *rawTest) *rawTest {
	m := &rawTest{t: t.t, varOrder: t.varOrder, judge: t.judge, embedder: t.embedder, rubric: t.rubric, noExpand: t.noExpand, csv: t.csv, varsBad: t.varsBad,
		judgeBad: t.judgeBad, embedderBad: t.embedderBad}
	if d != nil {
		m.t.Vars = map[string]any{}
		for k, v := range d.t.Vars {
			m.t.Vars[k] = v
		}
		for k, v := range t.t.Vars {
			m.t.Vars[k] = v
		}
		m.varOrder = append([]string(nil), t.varOrder...)
		for _, k := range d.varOrder {
			if _, own := t.t.Vars[k]; !own {
				m.varOrder = append(m.varOrder, k)
			}
		}
		m.t.Assert = append(append([]Assertion(nil), d.t.Assert...), t.t.Assert...)
		if len(d.t.Metadata) > 0 {
			md := map[string]any{}
			for k, v := range d.t.Metadata {
				md[k] = v
			}
			for k, v := range t.t.Metadata {
				md[k] = v
			}
			m.t.Metadata = md
		}
		if m.t.Segment == "" {
			m.t.Segment = d.t.Segment
		}
		if m.t.Threshold == nil {
			m.t.Threshold = d.t.Threshold
		}
		if m.t.Repeat == 0 {
			m.t.Repeat = d.t.Repeat
		}
		if m.judge == nil && !m.judgeBad {
			m.judge, m.judgeBad = d.judge, d.judgeBad
		}
		if m.embedder == nil && !m.embedderBad {
			m.embedder, m.embedderBad = d.embedder, d.embedderBad
		}
		if m.rubric == "" {
			m.rubric = d.rubric
		}
		if m.noExpand == nil {
			m.noExpand = d.noExpand
		}
	}
	asserts := make([]Assertion, len(m.t.Assert))
	for i, a := range m.t.Assert {
		switch {
		case needsJudge(&a):
			if a.Provider == nil {
				a.Provider = m.judge
			}
			if a.Rubric == "" && a.Base != GuardClassifier { // the classifier's prompt is Llama Guard's
				a.Rubric = m.rubric
			}
		case a.Base == "similar" && a.Provider == nil:
			a.Provider = m.embedder
		}
		asserts[i] = a
	}
	m.t.Assert = asserts
	return m
}

// expand returns the vars of every test that t's list-valued vars expand into (promptfoo's
// behaviour): the cartesian product, the first var varying slowest. Without list vars, or with
// options.disableVarExpansion, it is t's vars alone. total is the number of combinations; when
// it exceeds maxExpansion no combination is built.
func expand(t *rawTest) (combos []map[string]any, total int) {
	noExpand := t.noExpand != nil && *t.noExpand
	order := t.varOrder
	if len(order) != len(t.t.Vars) {
		order = append([]string(nil), order...)
		var rest []string
		for k := range t.t.Vars {
			if !slices.Contains(order, k) {
				rest = append(rest, k)
			}
		}
		slices.Sort(rest)
		order = append(order, rest...)
	}
	total = 1
	for _, name := range order {
		if list, ok := t.t.Vars[name].([]any); ok && !noExpand && len(list) > 0 {
			total = min(total*len(list), maxExpansion+1)
		}
	}
	if total > maxExpansion {
		return nil, total
	}
	if t.t.Vars == nil {
		return []map[string]any{nil}, 1
	}
	combos = []map[string]any{{}}
	for _, name := range order {
		v := t.t.Vars[name]
		list, isList := v.([]any)
		if !isList || noExpand || len(list) == 0 {
			for _, c := range combos {
				c[name] = v
			}
			continue
		}
		next := make([]map[string]any, 0, len(combos)*len(list))
		for _, c := range combos {
			for _, item := range list {
				n := make(map[string]any, len(c)+1)
				for k, x := range c {
					n[k] = x
				}
				n[name] = item
				next = append(next, n)
			}
		}
		combos = next
	}
	return combos, total
}
