package eval

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/plumbhq/plumb/internal/report"
)

// StoredRuns is what CompareStored reads from a store of runs (store.Store is one).
type StoredRuns interface {
	// GetRunHeader is the run without its results: its header and summary.
	GetRunHeader(ctx context.Context, id string) (*report.Report, error)
	// PairSamples is one report.PairSample per result of the run, in report order.
	PairSamples(ctx context.Context, runID string) ([]report.PairSample, error)
	// ResultsAt is the run's results at these positions in report order, in the order asked.
	ResultsAt(ctx context.Context, runID string, idx []int) ([]report.Result, error)
}

// errChanged is a run saved again while it was being compared.
var errChanged = errors.New("changed while it was being compared")

// CompareStored is Compare on two stored runs, a the baseline, without loading them: it
// pairs and tests their stored samples (PairSamples) exactly as Compare pairs and tests
// their results, and reads the results of only the regressions and improvements it lists,
// the first limit of each in Compare's order (none for limit <= 0). Everything else in the
// Comparison, RegressionsTotal and ImprovementsTotal included, is what Compare gives.
func CompareStored(ctx context.Context, runs StoredRuns, a, b string, alpha float64, limit int) (*Comparison, error) {
	c, err := compareStored(ctx, runs, a, b, alpha, limit)
	if errors.Is(err, errChanged) {
		// A run re-saved (a resumed run uploaded again) between the reads: read both again.
		c, err = compareStored(ctx, runs, a, b, alpha, limit)
	}
	return c, err
}

func compareStored(ctx context.Context, runs StoredRuns, a, b string, alpha float64, limit int) (*Comparison, error) {
	ids := [2]string{a, b}
	var heads [2]*report.Report
	var samples [2][]report.PairSample
	// The two runs are read side by side: each read is a few milliseconds of I/O and decoding.
	err := bothRuns(func(i int) error {
		var err error
		if heads[i], err = runs.GetRunHeader(ctx, ids[i]); err != nil {
			return err
		}
		samples[i], err = runs.PairSamples(ctx, ids[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	c, regs, imps := comparePaired(heads[0], heads[1], samples[0], samples[1], alpha)
	limit = max(limit, 0)
	regs, imps = regs[:min(limit, len(regs))], imps[:min(limit, len(imps))]
	if len(regs)+len(imps) == 0 {
		return c, nil
	}
	// The listed pairs' results, read by position and checked against the samples paired.
	listed := append(append(make([]pairRef, 0, len(regs)+len(imps)), regs...), imps...)
	var results [2]map[int]*report.Result
	err = bothRuns(func(i int) error {
		idx := make([]int, len(listed))
		for k, p := range listed {
			idx[k] = [2]int{p.a, p.b}[i]
		}
		rs, err := runs.ResultsAt(ctx, ids[i], idx)
		if err != nil {
			return err
		}
		if len(rs) != len(idx) {
			return fmt.Errorf("run %s: %d results read for %d positions", ids[i], len(rs), len(idx))
		}
		results[i] = make(map[int]*report.Result, len(idx))
		for k, pos := range idx {
			r, s := &rs[k], &samples[i][pos]
			if r.Test.Index != s.Test || r.Passed != s.Passed || math.Float64bits(r.Score) != math.Float64bits(s.Score) {
				return fmt.Errorf("run %s %w: try again", ids[i], errChanged)
			}
			results[i][pos] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range regs {
		ra, rb := results[0][p.a], results[1][p.b]
		c.Regressions = append(c.Regressions, change(ra, rb, rb))
	}
	for _, p := range imps {
		ra, rb := results[0][p.a], results[1][p.b]
		c.Improvements = append(c.Improvements, change(ra, rb, ra))
	}
	return c, nil
}

// bothRuns runs read(0) and read(1) concurrently and returns the first run's error, else the
// second's.
func bothRuns(read func(i int) error) error {
	var errs [2]error
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = read(i) })
	}
	wg.Wait()
	return cmp.Or(errs[0], errs[1])
}

// Combo is one prompt × provider of a run.
type Combo struct {
	Prompt   string `json:"prompt"`
	Provider string `json:"provider"`
}

// String names the combo as pages show it.
func (c Combo) String() string { return c.Prompt + " · " + c.Provider }

// StoredCombos is what CompareWithin reads: StoredRuns, and the positions of a combo's
// results within a run (store.Store is one).
type StoredCombos interface {
	StoredRuns
	// ComboPositions is the positions, in report order, of the run's results of one
	// prompt × provider.
	ComboPositions(ctx context.Context, runID string, c Combo) ([]int, error)
}

// CompareWithin compares two prompts or models within one run, a the baseline: the
// results of combo a and of combo b pair by test and repeat, exactly as two runs of one
// prompt × provider each pair (Compare), and are tested the same way. The sides are named
// by their combos; their pass rates are their results'; cost and latency are left at zero
// (the run's per-model breakdown has them).
func CompareWithin(ctx context.Context, runs StoredCombos, run string, a, b Combo, alpha float64, limit int) (*Comparison, error) {
	head, err := runs.GetRunHeader(ctx, run)
	if err != nil {
		return nil, err
	}
	all, err := runs.PairSamples(ctx, run)
	if err != nil {
		return nil, err
	}
	var pos [2][]int
	var samples [2][]report.PairSample
	var sides [2]*report.Report
	for i, c := range []Combo{a, b} {
		if pos[i], err = runs.ComboPositions(ctx, run, c); err != nil {
			return nil, err
		}
		passed := 0
		for _, p := range pos[i] {
			if p >= len(all) {
				return nil, fmt.Errorf("run %s %w: try again", run, errChanged)
			}
			samples[i] = append(samples[i], all[p])
			if all[p].Passed {
				passed++
			}
		}
		// A side is the combo's share of the run: one prompt and one provider, so the
		// samples pair by test and repeat.
		sides[i] = &report.Report{Run: report.Run{ID: head.Run.ID, Suite: c.String()}}
		if n := len(pos[i]); n > 0 {
			sides[i].Summary.PassRate = float64(passed) / float64(n)
		}
	}
	c, regs, imps := comparePaired(sides[0], sides[1], samples[0], samples[1], alpha)
	limit = max(limit, 0)
	regs, imps = regs[:min(limit, len(regs))], imps[:min(limit, len(imps))]
	if len(regs)+len(imps) == 0 {
		return c, nil
	}
	// The listed results of both sides, by their positions in the run, read side by side
	// (decoding their JSON is most of the time left).
	listed := append(append([]pairRef{}, regs...), imps...)
	var got [2]map[int]*report.Result
	err = bothRuns(func(i int) error {
		idx := make([]int, len(listed))
		for k, p := range listed {
			idx[k] = pos[i][[2]int{p.a, p.b}[i]]
		}
		rs, err := runs.ResultsAt(ctx, run, idx)
		if err != nil {
			return err
		}
		if len(rs) != len(idx) {
			return fmt.Errorf("run %s: %d results read for %d positions", run, len(rs), len(idx))
		}
		got[i] = make(map[int]*report.Result, len(idx))
		for k, p := range idx {
			r, s := &rs[k], &all[p]
			if r.Test.Index != s.Test || r.Passed != s.Passed || math.Float64bits(r.Score) != math.Float64bits(s.Score) {
				return fmt.Errorf("run %s %w: try again", run, errChanged)
			}
			got[i][p] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	at := func(p int) *report.Result {
		if r := got[0][p]; r != nil {
			return r
		}
		return got[1][p]
	}
	for _, p := range regs {
		ra, rb := at(pos[0][p.a]), at(pos[1][p.b])
		c.Regressions = append(c.Regressions, change(ra, rb, rb))
	}
	for _, p := range imps {
		ra, rb := at(pos[0][p.a]), at(pos[1][p.b])
		c.Improvements = append(c.Improvements, change(ra, rb, ra))
	}
	return c, nil
}
