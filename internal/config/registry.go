package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/provider"
)

// Registry resolves the prompt:// and dataset:// references of a suite: prompts from the
// prompt registry and tests from the datasets of the project the run belongs to. The CLI
// backs it with the store (or, with --server, the server's API).
type Registry interface {
	// Prompt returns a version of a registry prompt: ref is a label, a version number, or
	// "" for the latest version. A missing prompt, label or version is an error wrapping
	// ErrNotInRegistry.
	Prompt(name, ref string) (RegistryPrompt, error)
	// Dataset returns the items of a dataset version (0: the latest). A missing dataset or
	// version is an error wrapping ErrNotInRegistry.
	Dataset(name string, version int) (RegistryDataset, error)
}

// ErrNotInRegistry is what a Registry wraps when a prompt, label, version or dataset does
// not exist.
var ErrNotInRegistry = errors.New("not in the registry")

// RegistryPrompt is one version of a registry prompt: a template or chat messages.
type RegistryPrompt struct {
	Name        string
	Version     int
	ContentHash string // the registry's content hash
	Template    string
	Messages    []provider.Message
}

// RegistryDataset is one version of a dataset and its items.
type RegistryDataset struct {
	Name    string
	Version int
	Items   []RegistryItem
}

// RegistryItem is one dataset item, as a test reads it.
type RegistryItem struct {
	ID       int64
	Vars     map[string]any
	Expected string
	Metadata map[string]any
	Segment  map[string]string
}

// Source is where a prompt or the tests came from when that is not a file: the exact
// registry version a reference resolved to, which the run records.
type Source struct {
	Kind    string // "prompt" or "dataset"
	Ref     string // as written: prompt://NAME@production, dataset://NAME
	Pinned  string // the exact version: prompt://NAME@3, dataset://NAME@7
	Name    string
	Version int
	Hash    string // a prompt's registry content hash; "" for a dataset
	Items   int    // a dataset's items; 0 for a prompt
}

const (
	promptScheme  = "prompt://"
	datasetScheme = "dataset://"
)

// registryRef splits "prompt://NAME@REF" (or dataset://) into the name and the ref after
// the last @; ok is false for any other string.
func registryRef(s, scheme string) (name, ref string, ok bool) {
	rest, ok := strings.CutPrefix(s, scheme)
	if !ok {
		return "", "", false
	}
	name, ref, _ = strings.Cut(rest, "@")
	return name, ref, true
}

// registryFail reports a registry error at pos: a missing entry says how to list what there
// is, anything else (the store cannot be reached) says what failed.
func (l *loader) registryFail(pos Pos, what string, err error) {
	if errors.Is(err, ErrNotInRegistry) {
		hint := "list the prompts with `plumb prompt list`, or push this one with `plumb prompt push`"
		if what == "dataset" {
			hint = "list the datasets with `plumb dataset list` (and a dataset's versions with `plumb dataset show NAME`)"
		}
		l.fail(pos, hint, "%s", strings.TrimPrefix(err.Error(), ErrNotInRegistry.Error()+": "))
		return
	}
	l.fail(pos, "check --db (or --server) and that the store is reachable", "cannot read %s from the registry: %v", what, err)
}

// registryPrompt reads a prompt://NAME[@LABEL|@VERSION] reference: the exact version it
// names now becomes the prompt, labelled with the reference as written unless a label is
// given, and the version is recorded in Suite.Sources.
func (l *loader) registryPrompt(n *node, ref, label string) []Prompt {
	name, at, _ := registryRef(ref, promptScheme)
	if name == "" {
		l.fail(n.pos, "write prompt://NAME, prompt://NAME@LABEL or prompt://NAME@VERSION", "the prompt reference %q names no prompt", ref)
		return nil
	}
	if l.registry == nil {
		l.fail(n.pos, "run the suite with `plumb eval`, which reads the registry of --db (or --server)", "prompt references need the prompt registry")
		return nil
	}
	p, err := l.registry.Prompt(name, at)
	if err != nil {
		l.registryFail(n.pos, "prompt "+name, err)
		return nil
	}
	if label == "" {
		label = ref
	}
	pinned := fmt.Sprintf("%s%s@%d", promptScheme, p.Name, p.Version)
	l.addHash(pinned, []byte(p.ContentHash))
	l.sources = append(l.sources, Source{Kind: "prompt", Ref: ref, Pinned: pinned, Name: p.Name, Version: p.Version, Hash: p.ContentHash})
	// Template errors point at the reference: the text is in the registry, not in a file.
	at0 := func(int, int) Pos { return n.pos }
	var out []Prompt
	if p.Messages != nil {
		out = l.makePrompt(label, "", p.Messages, nil, n.pos, at0)
	} else {
		out = l.makePrompt(label, p.Template, nil, nil, n.pos, at0)
	}
	for i := range out {
		out[i].Registry = pinned
	}
	return out
}

// datasetTests reads a dataset://NAME[@VERSION] reference: each item of that version
// becomes a test. An item's vars are the test's vars; its expected answer is an assertion
// written as a CSV __expected cell (promptfoo's shorthand: "contains: x", "grade: ...", or
// plain text for equals); its metadata and segment fields become the test's metadata, and
// its segment fields ("field=value" pairs, sorted) the test's segment. A problem in an item
// is reported at dataset://NAME@VERSION:ITEM_ID.
func (l *loader) datasetTests(n *node) []*rawTest {
	name, at, _ := registryRef(n.text, datasetScheme)
	if name == "" {
		l.fail(n.pos, "write dataset://NAME or dataset://NAME@VERSION", "the dataset reference %q names no dataset", n.text)
		l.testsIncomplete = true
		return nil
	}
	version := 0
	if at != "" {
		v, err := strconv.Atoi(at)
		if err != nil || v < 1 {
			l.fail(n.pos, "pin a version by its number, e.g. dataset://"+name+"@3, or leave it out for the latest", "dataset version %q is not a version number", at)
			l.testsIncomplete = true
			return nil
		}
		version = v
	}
	if l.registry == nil {
		l.fail(n.pos, "run the suite with `plumb eval`, which reads the datasets of --db (or --server)", "dataset references need the dataset store")
		l.testsIncomplete = true
		return nil
	}
	d, err := l.registry.Dataset(name, version)
	if err != nil {
		l.registryFail(n.pos, "dataset", err)
		l.testsIncomplete = true
		return nil
	}
	pinned := fmt.Sprintf("%s%s@%d", datasetScheme, d.Name, d.Version)
	l.sources = append(l.sources, Source{Kind: "dataset", Ref: n.text, Pinned: pinned, Name: d.Name, Version: d.Version, Items: len(d.Items)})
	if len(d.Items) == 0 {
		l.fail(n.pos, "import items with `plumb dataset import`, or pin a version that has some", "%s has no items", pinned)
		return nil
	}
	var out []*rawTest
	for _, it := range d.Items {
		line, err := itemJSON(it, d.Name)
		if err != nil {
			l.fail(Pos{File: pinned, Line: int(it.ID)}, "fix the item in the dataset", "item %d cannot be read: %v", it.ID, err)
			continue
		}
		// The item's bytes feed the suite hash, so that a run on another version is
		// another suite version.
		l.addHash(fmt.Sprintf("%s#%d", pinned, it.ID), line)
		root, perr := parseJSONLine(line, pinned, int(it.ID)-1)
		if perr != nil {
			l.errs = append(l.errs, perr)
			continue
		}
		if e := strings.TrimSpace(it.Expected); e != "" {
			pos := Pos{File: pinned, Line: int(it.ID)}
			if a := l.csvAssertion(e, pos, nil); a != nil {
				root = addKey(root, "assert", &node{kind: listKind, pos: pos, items: []*node{a}})
			}
		}
		if t := l.test(root, false); t != nil {
			out = append(out, t)
		}
	}
	return out
}

// itemJSON is the test an item becomes, as one JSON line for the JSONL reader.
func itemJSON(it RegistryItem, name string) ([]byte, error) {
	// The description leaves the version out, so that comparing runs on two versions pairs
	// each item with itself.
	t := map[string]any{"description": fmt.Sprintf("%s%s item %d", datasetScheme, name, it.ID)}
	vars := it.Vars
	if vars == nil {
		vars = map[string]any{}
	}
	t["vars"] = vars
	meta := map[string]any{}
	for k, v := range it.Metadata {
		meta[k] = v
	}
	keys := make([]string, 0, len(it.Segment))
	for k, v := range it.Segment {
		meta[k] = v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	meta["dataset_item"] = it.ID
	if it.Expected != "" {
		// Kept as metadata too, so that a failed case added back to a dataset
		// (`plumb dataset add-failed`) keeps its expected answer.
		meta["expected"] = it.Expected
	}
	t["metadata"] = meta
	// Always field=value, so that the segment says which field it is, and a failed case
	// added back to a dataset (plumb dataset add-failed) gets its segment fields back.
	if len(keys) > 0 {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + it.Segment[k]
		}
		t["segment"] = strings.Join(parts, ",")
	}
	return json.Marshal(t)
}
