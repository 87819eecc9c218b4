package eval

import (
	"context"
	"errors"
	"sort"

	"github.com/plumbhq/plumb/internal/assert"
	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/provider"
)

// CheckAssertions compiles every assertion of a suite that failed to load, so that a
// mistake such as an invalid regex is reported together with the loader's errors rather
// than after they are fixed. Assertions on a line the loader already complained about are
// skipped, so one mistake is reported once. Nothing is called: model-graded assertions get a
// stand-in judge.
func CheckAssertions(s *config.Suite, known config.Errors) config.Errors {
	if s == nil {
		return known
	}
	reported := map[config.Pos]bool{}
	for _, e := range known {
		reported[config.Pos{File: e.Pos.File, Line: e.Pos.Line}] = true
	}
	env := &assert.Env{Judge: standIn{}, Embedder: standIn{}, JudgePrompts: s.JudgePrompts,
		Build:         func(*config.ProviderSpec) (provider.Provider, error) { return standIn{}, nil },
		BuildEmbedder: func(*config.ProviderSpec) (provider.Embedder, error) { return standIn{}, nil },
	}
	all := append(config.Errors(nil), known...)
	for i := range s.Tests {
		for j := range s.Tests[i].Assert {
			a := &s.Tests[i].Assert[j]
			if reported[config.Pos{File: a.Pos.File, Line: a.Pos.Line}] {
				continue
			}
			if _, err := assert.Compile(a, env); err != nil {
				ce := asConfigError(err, a.Pos)
				line := config.Pos{File: ce.Pos.File, Line: ce.Pos.Line}
				if !reported[line] {
					reported[line] = true
					all = append(all, ce)
				}
			}
		}
	}
	main := s.Path
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].Pos, all[j].Pos
		if (a.File == main) != (b.File == main) {
			return a.File == main
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return all
}

// standIn satisfies the judge and embedder of a suite that is only being checked.
type standIn struct{}

var errNotRun = errors.New("the suite is only being checked")

func (standIn) Label() string { return "check" }

func (standIn) Call(context.Context, *provider.Request) (*provider.Response, error) {
	return nil, errNotRun
}

func (standIn) Embed(context.Context, string) ([]float64, provider.Usage, error) {
	return nil, provider.Usage{}, errNotRun
}
