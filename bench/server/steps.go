package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/store"
)

// runPageSteps times, three times each, the store reads the UI's run page makes: for the
// whole page (header, breakdown, test counts) and for the case table of its views (the
// breakdown again, for the totals, and one page of results or of flaky tests), as
// internal/web's runPage and cases make them, so that a slow run page can be told apart
// from its rendering.
func runPageSteps(ctx context.Context, st store.Store, runID string) ([]string, error) {
	type step struct {
		name string
		do   func() error
	}
	list := func(f store.ResultFilter) func() error {
		return func() error { _, _, err := st.ListResults(ctx, runID, f, "", 50); return err }
	}
	steps := []step{
		{"GetRunHeader", func() error { _, err := st.GetRunHeader(ctx, runID); return err }},
		{"Breakdown", func() error { _, err := st.Breakdown(ctx, runID); return err }},
		{"TestCounts", func() error { _, _, err := st.TestCounts(ctx, runID); return err }},
		{"ListResults(failed, 50)", list(store.ResultFilter{FailedOnly: true})},
		{"ListResults(passed, 50)", list(store.ResultFilter{PassedOnly: true})},
		{"ListResults(all, 50)", list(store.ResultFilter{})},
		{"ListResults(failed, provider=claude, 50)", list(store.ResultFilter{FailedOnly: true, Provider: "claude"})},
		{"ListTests(flaky, 50)", func() error { _, _, err := st.ListTests(ctx, runID, true, "", 50); return err }},
	}
	var out []string
	for range 3 {
		var line []string
		for _, s := range steps {
			start := time.Now()
			if err := s.do(); err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			line = append(line, s.name+" "+ms2(time.Since(start)))
		}
		out = append(out, strings.Join(line, ", "))
	}
	return out, nil
}

// withinSteps times, three times each, what the UI's compare page reads to compare two
// models of one run (internal/web's compareWithin: Breakdown, then eval.CompareWithin
// through server.ComparisonWithin, which reads the header, the run's pairing samples and
// each combo's result positions, then the listed results), one by one and then whole.
func withinSteps(ctx context.Context, st store.Store, runID string, a, b eval.Combo) ([]string, error) {
	var out []string
	for range 3 {
		t0 := time.Now()
		if _, err := st.Breakdown(ctx, runID); err != nil {
			return nil, err
		}
		t1 := time.Now()
		if _, err := st.GetRunHeader(ctx, runID); err != nil {
			return nil, err
		}
		t2 := time.Now()
		all, err := st.PairSamples(ctx, runID)
		if err != nil {
			return nil, err
		}
		t3 := time.Now()
		var pos [2][]int
		var took [2]time.Duration
		for i, c := range []eval.Combo{a, b} {
			start := time.Now()
			if pos[i], err = (comboStore{st}).ComboPositions(ctx, runID, c); err != nil {
				return nil, err
			}
			took[i] = time.Since(start)
		}
		t4 := time.Now()
		c, err := eval.CompareWithin(ctx, comboStore{st}, runID, a, b, 0.05, 100)
		if err != nil {
			return nil, err
		}
		t5 := time.Now()
		out = append(out, fmt.Sprintf("Breakdown %s, GetRunHeader %s, PairSamples %s (%d samples), ResultPositions(%s) %s (%d), ResultPositions(%s) %s (%d); eval.CompareWithin whole %s (%d of %d regressions, %d of %d improvements listed)",
			ms2(t1.Sub(t0)), ms2(t2.Sub(t1)), ms2(t3.Sub(t2)), len(all), a, ms2(took[0]), len(pos[0]), b, ms2(took[1]), len(pos[1]),
			ms2(t5.Sub(t4)), len(c.Regressions), c.RegressionsTotal, len(c.Improvements), c.ImprovementsTotal))
	}
	return out, nil
}

// comboStore is what eval.CompareWithin reads, as internal/server gives it: a combo's
// positions are its results' positions filtered by prompt and provider.
type comboStore struct{ store.Store }

func (s comboStore) ComboPositions(ctx context.Context, run string, c eval.Combo) ([]int, error) {
	return s.ResultPositions(ctx, run, store.ResultFilter{Prompt: c.Prompt, Provider: c.Provider})
}
