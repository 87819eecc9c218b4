package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/provider"
)

// fakeRegistry holds prompts by "name@ref" and datasets by "name@version".
type fakeRegistry struct {
	prompts  map[string]RegistryPrompt
	datasets map[string]RegistryDataset
}

func (f fakeRegistry) Prompt(name, ref string) (RegistryPrompt, error) {
	p, ok := f.prompts[name+"@"+ref]
	if !ok {
		return p, fmt.Errorf("%w: no prompt %q", ErrNotInRegistry, name)
	}
	return p, nil
}

func (f fakeRegistry) Dataset(name string, version int) (RegistryDataset, error) {
	d, ok := f.datasets[fmt.Sprintf("%s@%d", name, version)]
	if !ok {
		return d, fmt.Errorf("%w: no dataset %q", ErrNotInRegistry, name)
	}
	return d, nil
}

func loadWith(t *testing.T, reg Registry, yaml string) (*Suite, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plumb.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(path, LoadOptions{Getenv: func(string) string { return "" }, Registry: reg})
}

func TestRegistryReferences(t *testing.T) {
	reg := fakeRegistry{
		prompts: map[string]RegistryPrompt{
			"chat@production": {Name: "chat", Version: 4, ContentHash: "abc", Messages: []provider.Message{
				{Role: "system", Content: "Be kind."}, {Role: "user", Content: "{{question}} ({{locale}})"}}},
			"broken@": {Name: "broken", Version: 1, ContentHash: "def", Template: "Hi {{ name"},
		},
		datasets: map[string]RegistryDataset{
			"golden@0": {Name: "golden", Version: 7, Items: []RegistryItem{
				{ID: 3, Vars: map[string]any{"question": "<script>alert(1)</script>", "locale": "fr"},
					Expected: "contains: merci", Segment: map[string]string{"locale": "fr", "tier": "pro"},
					Metadata: map[string]any{"ticket": "T-1"}},
				{ID: 5, Vars: map[string]any{"question": "Où?", "locale": "de"}},
			}},
		},
	}
	s, err := loadWith(t, reg, "prompts:\n  - prompt://chat@production\nproviders: [echo]\ntests: dataset://golden\n")
	if err != nil {
		t.Fatal(err)
	}
	p := s.Prompts[0]
	if p.Label != "prompt://chat@production" || p.Registry != "prompt://chat@4" || len(p.Messages) != 2 ||
		strings.Join(p.Vars, ",") != "locale,question" {
		t.Errorf("prompt = %+v", p)
	}
	if len(s.Tests) != 2 {
		t.Fatalf("tests = %d, want 2", len(s.Tests))
	}
	t0 := s.Tests[0]
	if t0.Vars["question"] != "<script>alert(1)</script>" || t0.Segment != "locale=fr,tier=pro" ||
		t0.Metadata["ticket"] != "T-1" || t0.Description != "dataset://golden item 3" {
		t.Errorf("test 0 = %+v", t0)
	}
	if len(t0.Assert) != 1 || t0.Assert[0].Type != "contains" || t0.Assert[0].Value != "merci" {
		t.Errorf("test 0 assertions = %+v", t0.Assert)
	}
	if len(s.Tests[1].Assert) != 0 {
		t.Errorf("an item without an expected answer has no assertion: %+v", s.Tests[1].Assert)
	}
	want := []Source{
		{Kind: "prompt", Ref: "prompt://chat@production", Pinned: "prompt://chat@4", Name: "chat", Version: 4, Hash: "abc"},
		{Kind: "dataset", Ref: "dataset://golden", Pinned: "dataset://golden@7", Name: "golden", Version: 7, Items: 2},
	}
	if fmt.Sprint(s.Sources) != fmt.Sprint(want) {
		t.Errorf("sources = %+v\nwant %+v", s.Sources, want)
	}

	// Another version of the dataset is another suite.
	reg.datasets["golden@0"] = RegistryDataset{Name: "golden", Version: 8, Items: reg.datasets["golden@0"].Items[:1]}
	s2, err := loadWith(t, reg, "prompts:\n  - prompt://chat@production\nproviders: [echo]\ntests: dataset://golden\n")
	if err != nil {
		t.Fatal(err)
	}
	if s2.Hash == s.Hash {
		t.Error("the suite hash did not change with the dataset version")
	}

	// A template error in a registry prompt is reported at the reference.
	_, err = loadWith(t, reg, "prompts:\n  - prompt://broken\nproviders: [echo]\ntests:\n  - vars: {name: x}\n")
	if err == nil || !strings.Contains(err.Error(), "plumb.yaml:2:5") {
		t.Errorf("err = %v, want the reference's position", err)
	}
}

func TestRegistryReferencesWithoutRegistry(t *testing.T) {
	_, err := loadWith(t, nil, "prompts:\n  - prompt://chat\nproviders: [echo]\ntests: dataset://golden@2\n")
	for _, want := range []string{"plumb.yaml:2:5: prompt references need the prompt registry", "plumb.yaml:4:8: dataset references need the dataset store"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}
