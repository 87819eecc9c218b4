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
