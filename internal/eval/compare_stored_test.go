package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// runShape describes a generated run: which tests it has, on which prompts and providers,
// with how many repeats, and how its outcomes are drawn.
type runShape struct {
	tests     []int // test numbers; equal description and vars for equal numbers (duplicates)
	prompts   []string
	providers []string
	repeats   int
	graded    bool    // scores in thirds rather than 0 or 1
	failP     float64 // chance that a sample fails
	seed      uint64
}

// shapedRun builds a run of the shape: results in prompt × provider × test × repeat order
// with outputs and failure reasons, and its summary.
func shapedRun(id string, sh runShape) *report.Report {
	rng := rand.New(rand.NewPCG(sh.seed, 99))
	r := &report.Report{Run: report.Run{ID: id, Suite: "suite", Status: report.StatusComplete,
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	for _, p := range sh.prompts {
		r.Run.Provenance.Prompts = append(r.Run.Provenance.Prompts, report.PromptRef{Label: p})
	}
	for _, p := range sh.providers {
		r.Run.Provenance.Providers = append(r.Run.Provenance.Providers, report.ProviderRef{Label: p})
	}
	for _, p := range sh.prompts {
		for _, prov := range sh.providers {
			for i, t := range sh.tests {
				for rep := range sh.repeats {
					res := report.Result{
						Test: report.TestRef{Index: i, Description: fmt.Sprintf("case %d", t%7),
							Vars: map[string]any{"n": t, "q": fmt.Sprintf("question %d", t)}},
						Prompt: p, Provider: prov, Repeat: rep,
						Output:    fmt.Sprintf("%s answer %d.%d from %s/%s", id, t, rep, p, prov),
						LatencyMS: float64(100 + rng.IntN(900)), Cost: 0.001,
					}
					res.Passed = rng.Float64() >= sh.failP
					switch {
					case sh.graded:
						res.Score = float64(rng.IntN(4)) / 3
						res.Passed = res.Passed && res.Score > 0
					case res.Passed:
						res.Score = 1
					}
					if !res.Passed {
						res.Assertions = []report.Assertion{{Type: "contains", Weight: 1, Reason: "missing " + id}}
						if rng.IntN(5) == 0 {
							res.Error = "provider " + prov + ": timeout"
						}
					}
					r.Results = append(r.Results, res)
				}
			}
		}
	}
	r.Summary = Summarize(r.Results, nil)
	return r
}

// comparePairs are run pairs that exercise the pairing: duplicates, samples on one side
// only, several prompts and providers, graded and binary scores, empty runs, and random
// ones.
func comparePairs() [][2]runShape {
	seq := func(from, to int) []int {
		var s []int
		for i := from; i < to; i++ {
			s = append(s, i)
		}
		return s
	}
	one, two := []string{"v1"}, []string{"v1", "v2"}
	pairs := [][2]runShape{
		// A model change: single combos with other provider labels pair by test alone.
		{{tests: seq(0, 30), prompts: one, providers: []string{"gpt"}, repeats: 2, failP: 0.2, seed: 1},
			{tests: seq(0, 30), prompts: one, providers: []string{"claude"}, repeats: 2, failP: 0.5, seed: 2}},
		// Several prompts and providers: labels are part of the key; tests removed and added.
		{{tests: seq(0, 25), prompts: two, providers: []string{"gpt", "claude"}, repeats: 1, graded: true, failP: 0.3, seed: 3},
			{tests: seq(5, 32), prompts: two, providers: []string{"claude", "gpt"}, repeats: 1, graded: true, failP: 0.3, seed: 4}},
		// One run of several providers against one of a single provider.
		{{tests: seq(0, 10), prompts: one, providers: []string{"gpt", "claude"}, repeats: 2, failP: 0.4, seed: 5},
			{tests: seq(0, 10), prompts: one, providers: []string{"gpt"}, repeats: 3, failP: 0.4, seed: 6}},
		// Duplicate tests: 3 copies of test 1 in a, 2 in b; 2 of test 2 in b, 1 in a.
		{{tests: []int{0, 1, 1, 2, 1, 3}, prompts: one, providers: []string{"m"}, repeats: 2, failP: 0.5, seed: 7},
			{tests: []int{1, 0, 2, 2, 1, 4}, prompts: one, providers: []string{"m"}, repeats: 2, failP: 0.5, seed: 8}},
		// Graded scores on many pairs: the sampled sign-flip test.
		{{tests: seq(0, 400), prompts: one, providers: []string{"m"}, repeats: 2, graded: true, failP: 0.2, seed: 9},
			{tests: seq(0, 400), prompts: one, providers: []string{"m"}, repeats: 2, graded: true, failP: 0.3, seed: 10}},
		// Nothing in common; an empty run on either side; two empty runs.
		{{tests: seq(0, 5), prompts: one, providers: []string{"m"}, repeats: 1, failP: 0.5, seed: 11},
			{tests: seq(5, 9), prompts: one, providers: []string{"m"}, repeats: 1, failP: 0.5, seed: 12}},
		{{prompts: one, providers: []string{"m"}, repeats: 1, seed: 13},
			{tests: seq(0, 4), prompts: one, providers: []string{"m"}, repeats: 1, failP: 0.5, seed: 14}},
		{{tests: seq(0, 4), prompts: one, providers: []string{"m"}, repeats: 1, failP: 0.5, seed: 15},
			{prompts: one, providers: []string{"m"}, repeats: 1, seed: 16}},
		{{prompts: one, providers: []string{"m"}, repeats: 1, seed: 17}, {prompts: one, providers: []string{"m"}, repeats: 1, seed: 18}},
	}
	rng := rand.New(rand.NewPCG(2026, 3))
	for i := range 8 {
		var sh [2]runShape
		for k := range sh {
			var tests []int
			for t := range 10 + rng.IntN(40) {
				if rng.IntN(6) > 0 {
					tests = append(tests, t)
				}
				if rng.IntN(10) == 0 {
					tests = append(tests, t) // a duplicate
				}
			}
			provs := []string{"gpt", "claude"}[:1+rng.IntN(2)]
			sh[k] = runShape{tests: tests, prompts: two[:1+rng.IntN(2)], providers: provs, repeats: 1 + rng.IntN(3),
				graded: i%2 == 0, failP: rng.Float64() * 0.6, seed: uint64(100 + 2*i + k)}
		}
		pairs = append(pairs, sh)
	}
	return pairs
}

// TestCompareStoredIsCompare compares each pair of comparePairs twice, in memory
// (Compare) and from the store (CompareStored, on SQLite and PostgreSQL): the same
// comparison, except that CompareStored lists the first limit regressions and improvements
// of Compare's lists.
func TestCompareStoredIsCompare(t *testing.T) {
	ctx := context.Background()
	for _, driver := range []string{store.DriverSQLite, store.DriverPostgres} {
		t.Run(driver, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "plumb.db")
			if driver == store.DriverPostgres {
				dsn = storetest.FreshPostgres(t)
			}
			st, err := store.Open(ctx, dsn, store.OpenOptions{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for i, sh := range comparePairs() {
				a, b := shapedRun(fmt.Sprintf("a%d", i), sh[0]), shapedRun(fmt.Sprintf("b%d", i), sh[1])
				for _, r := range []*report.Report{a, b} {
					if err := st.SaveRun(ctx, r); err != nil {
						t.Fatal(err)
					}
				}
				want := Compare(a, b, 0.05)
				if i == 0 && (want.Matched == 0 || want.PassToFail == 0 || want.FailToPass == 0) {
					t.Fatalf("pair 0 compares nothing worth testing: %+v", want)
				}
				for _, limit := range []int{1 << 20, 3, 0} {
					got, err := CompareStored(ctx, st, a.Run.ID, b.Run.ID, 0.05, limit)
					if err != nil {
						t.Fatalf("pair %d: %v", i, err)
					}
					if limit >= len(want.Regressions)+len(want.Improvements) {
						wj, _ := json.Marshal(want)
						gj, _ := json.Marshal(got)
						if string(wj) != string(gj) {
							t.Errorf("pair %d: CompareStored\n%s\nCompare\n%s", i, gj, wj)
						}
						continue
					}
					for _, l := range []struct {
						name      string
						got, want []CaseChange
					}{{"regressions", got.Regressions, want.Regressions}, {"improvements", got.Improvements, want.Improvements}} {
						n := min(limit, len(l.want))
						if len(l.got) != n || (n > 0 && !reflect.DeepEqual(l.got, l.want[:n])) {
							t.Errorf("pair %d, limit %d: %s %+v, want the first %d of %+v", i, limit, l.name, l.got, n, l.want)
						}
					}
					g, w := *got, *want
					g.Regressions, g.Improvements, w.Regressions, w.Improvements = nil, nil, nil, nil
					gj, _ := json.Marshal(g)
					wj, _ := json.Marshal(w)
					if string(gj) != string(wj) {
						t.Errorf("pair %d, limit %d: CompareStored\n%s\nCompare\n%s", i, limit, gj, wj)
					}
				}
			}
			if _, err := CompareStored(ctx, st, "a0", "no-such-run", 0.05, 10); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("CompareStored with a missing run: err = %v, want store.ErrNotFound", err)
			}
		})
	}
}

// comboStore is the store with ComboPositions, as the server adapts it.
type comboStore struct{ store.Store }

func (s comboStore) ComboPositions(ctx context.Context, run string, c Combo) ([]int, error) {
	return s.ResultPositions(ctx, run, store.ResultFilter{Prompt: c.Prompt, Provider: c.Provider})
}

// TestCompareWithinIsCompare: comparing two prompts × providers of one stored run gives
// what Compare gives on the run split in two runs of one combo each.
func TestCompareWithinIsCompare(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db"), store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run := shapedRun("multi", runShape{tests: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3}, prompts: []string{"v1", "v2"},
		providers: []string{"cheap", "smart"}, repeats: 2, failP: 0.4, seed: 5})
	graded := shapedRun("graded", runShape{tests: []int{0, 1, 2, 3, 4, 5}, prompts: []string{"v1"},
		providers: []string{"cheap", "smart"}, repeats: 3, graded: true, failP: 0.3, seed: 6})
	split := func(r *report.Report, c Combo) *report.Report {
		out := &report.Report{Run: r.Run}
		out.Run.Provenance.Prompts = []report.PromptRef{{Label: c.Prompt}}
		out.Run.Provenance.Providers = []report.ProviderRef{{Label: c.Provider}}
		for _, res := range r.Results {
			if res.Prompt == c.Prompt && res.Provider == c.Provider {
				out.Results = append(out.Results, res)
			}
		}
		return out
	}
	for _, tc := range []struct {
		run  *report.Report
		a, b Combo
	}{
		{run, Combo{"v1", "cheap"}, Combo{"v1", "smart"}},
		{run, Combo{"v1", "smart"}, Combo{"v2", "smart"}},
		{run, Combo{"v2", "cheap"}, Combo{"v1", "smart"}},
		{graded, Combo{"v1", "cheap"}, Combo{"v1", "smart"}},
		{run, Combo{"v1", "cheap"}, Combo{"v9", "none"}},
	} {
		if err := st.SaveRun(ctx, tc.run); err != nil {
			t.Fatal(err)
		}
		want := Compare(split(tc.run, tc.a), split(tc.run, tc.b), 0.05)
		got, err := CompareWithin(ctx, comboStore{st}, tc.run.Run.ID, tc.a, tc.b, 0.05, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		// The sides differ by design: named by combo, pass rate of the combo, no cost.
		if got.A.Suite != tc.a.String() || got.B.Samples != len(split(tc.run, tc.b).Results) {
			t.Errorf("%s vs %s: sides %+v %+v", tc.a, tc.b, got.A, got.B)
		}
		g, w := *got, *want
		g.A, g.B, w.A, w.B = RunSide{}, RunSide{}, RunSide{}, RunSide{}
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("%s vs %s in %s: CompareWithin\n%s\nCompare of the split runs\n%s", tc.a, tc.b, tc.run.Run.ID, gj, wj)
		}
		if tc.a.Provider == "cheap" && tc.b.Provider == "smart" && tc.run == run && got.Matched != 22 {
			t.Errorf("matched %d samples, want 11 tests × 2 repeats", got.Matched)
		}
	}
}
