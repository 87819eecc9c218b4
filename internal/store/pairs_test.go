package store

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/report"
)

func TestPairsEncodingRoundTrips(t *testing.T) {
	samples := []report.PairSample{
		{Key: 1, LabelKey: math.MaxUint64, Test: 0, Passed: true, Score: 1},
		{Key: 0, LabelKey: 0, Test: -3, Passed: false, Score: 0},
		{Key: 42, LabelKey: 43, Test: math.MaxInt32 + 7, Passed: true, Score: 2.0 / 3},
		{Key: 7, LabelKey: 8, Test: 5, Score: math.Copysign(0, -1)}, // -0 keeps its sign bit
		{Key: 9, LabelKey: 10, Test: 6, Passed: true, Score: -0.25},
	}
	b := encodePairs(samples)
	got, err := decodePairs("r", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(samples) {
		t.Fatalf("%d samples back, want %d", len(got), len(samples))
	}
	for i := range samples {
		g, w := got[i], samples[i]
		if g.Key != w.Key || g.LabelKey != w.LabelKey || g.Test != w.Test || g.Passed != w.Passed ||
			math.Float64bits(g.Score) != math.Float64bits(w.Score) {
			t.Errorf("sample %d = %+v, want %+v", i, g, w)
		}
	}
	if got, err := decodePairs("r", encodePairs(nil)); err != nil || len(got) != 0 {
		t.Errorf("no samples: %v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{9}, b[1:]...),
		"truncated":      b[:len(b)-3],
		"trailing bytes": append(append([]byte{}, b...), 0),
		"huge count":     {pairsFormat, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		if _, err := decodePairs("r", bad); err == nil || !strings.Contains(err.Error(), "run r are corrupt") {
			t.Errorf("%s: err = %v, want a corruption error naming the run", name, err)
		}
	}
}

// TestPairSamplesAndResultsAt: the samples SaveRun stores are report.PairSamples of the
// report, replaced with the run and deleted with it; ResultsAt reads results by position.
func TestPairSamplesAndResultsAt(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		r := sampleReport("pairs-1", time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), 9)
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		got, err := s.PairSamples(ctx, "pairs-1")
		if err != nil || !reflect.DeepEqual(got, report.PairSamples(r.Results)) {
			t.Fatalf("PairSamples = %+v, %v\nwant %+v", got, err, report.PairSamples(r.Results))
		}
		if got[0].Key == got[1].Key || got[0].Key == got[0].LabelKey {
			t.Errorf("keys do not tell samples apart: %+v", got[:2])
		}

		res, err := s.ResultsAt(ctx, "pairs-1", []int{7, 0, 3, 7})
		if err != nil {
			t.Fatal(err)
		}
		for k, i := range []int{7, 0, 3, 7} {
			g, _ := json.Marshal(&res[k])
			w, _ := json.Marshal(&r.Results[i])
			if string(g) != string(w) {
				t.Errorf("ResultsAt #%d (position %d) = %s\nwant %s", k, i, g, w)
			}
		}
		if res, err := s.ResultsAt(ctx, "pairs-1", nil); err != nil || len(res) != 0 {
			t.Errorf("ResultsAt(no positions) = %v, %v", res, err)
		}
		many := make([]int, 1200) // more than one query's chunk
		for i := range many {
			many[i] = i % 9
		}
		if res, err := s.ResultsAt(ctx, "pairs-1", many); err != nil || len(res) != len(many) || res[1199].Output != r.Results[1199%9].Output {
			t.Errorf("ResultsAt(1,200 positions): %d results, %v", len(res), err)
		}
		if _, err := s.ResultsAt(ctx, "pairs-1", []int{2, 9}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "position 9") {
			t.Errorf("ResultsAt past the end: err = %v, want ErrNotFound naming position 9", err)
		}
		if _, err := s.PairSamples(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("PairSamples(missing run): err = %v, want ErrNotFound", err)
		}
		if _, err := s.ResultsAt(ctx, "nope", []int{0}); !errors.Is(err, ErrNotFound) {
			t.Errorf("ResultsAt(missing run): err = %v, want ErrNotFound", err)
		}

		// Saved again with other results: the samples follow.
		r2 := sampleReport("pairs-1", time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), 4)
		r2.Results[0].Passed, r2.Results[0].Score = false, 0.125
		if err := s.SaveRun(ctx, r2); err != nil {
			t.Fatal(err)
		}
		if got, err := s.PairSamples(ctx, "pairs-1"); err != nil || !reflect.DeepEqual(got, report.PairSamples(r2.Results)) {
			t.Errorf("PairSamples after a re-save = %+v, %v", got, err)
		}
		if err := s.DeleteRun(ctx, "pairs-1"); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "SELECT count(*) FROM run_pairs WHERE run_id = ?", "pairs-1"); n != 0 {
			t.Errorf("%d run_pairs rows left after DeleteRun", n)
		}
	})
}

// TestMigration0004BackfillsPairs: a database at version 3 with runs gets their pairing
// samples from migration 0004, computed from the stored results.
func TestMigration0004BackfillsPairs(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		old, err := open(ctx, dsn, OpenOptions{}, firstMigrations(t, driver, 3))
		if err != nil {
			t.Fatal(err)
		}
		saved := map[string]*report.Report{}
		for i, id := range []string{"v3-a", "v3-b", "v3-empty"} {
			r := sampleReport(id, time.Date(2025, 3, 1, 8+i, 0, 0, 0, time.UTC), []int{7, 12, 0}[i])
			saveV1Run(t, old, r) // rows as a binary before 0004 stored them: no pairing samples
			saved[id] = r
		}
		old.Close()
		if _, err := Open(ctx, dsn, OpenOptions{}); !errors.Is(err, ErrSchemaOutdated) {
			t.Fatalf("Open on a version 3 database: err = %v, want ErrSchemaOutdated", err)
		}
		s := openStore(t, dsn)
		if cur, _, err := s.SchemaStatus(ctx); err != nil || cur < 4 {
			t.Fatalf("SchemaStatus after migrating = %d, %v", cur, err)
		}
		for id, r := range saved {
			got, err := s.PairSamples(ctx, id)
			if err != nil || len(got) != len(r.Results) || !reflect.DeepEqual(got, report.PairSamples(r.Results)) {
				t.Errorf("run %s after migration 0004: PairSamples = %+v, %v\nwant %+v", id, got, err, report.PairSamples(r.Results))
			}
		}
	})
}
