package store

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// TestBreakdown checks the per prompt × provider × segment counts against the report's
// own results, summed in Go, on both databases.
func TestBreakdown(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		rep := sampleReport("bd", time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), 24)
		if err := s.SaveRun(ctx, rep); err != nil {
			t.Fatal(err)
		}
		want := map[[3]string]*Group{}
		for _, r := range rep.Results {
			k := [3]string{r.Prompt, r.Provider, r.Test.Segment}
			g := want[k]
			if g == nil {
				g = &Group{Prompt: k[0], Provider: k[1], Segment: k[2]}
				want[k] = g
			}
			g.Samples++
			if r.Passed {
				g.Passed++
			}
			errored := r.Error != ""
			for _, a := range r.Assertions {
				errored = errored || a.Error
			}
			if errored {
				g.Errors++
			}
			g.Cost += r.Cost
			g.LatencyMS += r.LatencyMS
			g.Tokens += int64(r.Tokens.Total)
		}
		got, err := s.Breakdown(ctx, "bd")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d groups, want %d: %+v", len(got), len(want), got)
		}
		for i, g := range got {
			if i > 0 {
				p := got[i-1]
				if [3]string{p.Prompt, p.Provider, p.Segment} == [3]string{g.Prompt, g.Provider, g.Segment} ||
					p.Provider > g.Provider || p.Provider == g.Provider && p.Segment > g.Segment {
					t.Errorf("groups out of order: %+v before %+v", p, g)
				}
			}
			w := want[[3]string{g.Prompt, g.Provider, g.Segment}]
			if w == nil {
				t.Errorf("unexpected group %+v", g)
				continue
			}
			if g.Samples != w.Samples || g.Passed != w.Passed || g.Errors != w.Errors || g.Tokens != w.Tokens ||
				math.Abs(g.Cost-w.Cost) > 1e-12 || math.Abs(g.LatencyMS-w.LatencyMS) > 1e-9 {
				t.Errorf("group %s/%s/%q = %+v, want %+v", g.Prompt, g.Provider, g.Segment, g, *w)
			}
		}
		if got, err := s.Breakdown(ctx, "missing"); err != nil || len(got) != 0 {
			t.Errorf("missing run: %v, %v; want no groups", got, err)
		}
	})
}

// TestMigration0006BackfillsGroups: the migration's SQL counts the results stored before it
// exactly as SaveRun counts them in Go.
func TestMigration0006BackfillsGroups(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		for i, n := range []int{24, 7, 0} {
			if err := s.SaveRun(ctx, sampleReport(fmt.Sprintf("g%d", i), time.Date(2025, 6, 1, 12, i, 0, 0, time.UTC), n)); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string][]Group{}
		for _, id := range []string{"g0", "g1", "g2"} {
			g, err := s.Breakdown(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want[id] = g
		}
		if len(want["g0"]) == 0 || len(want["g2"]) != 0 {
			t.Fatalf("groups as saved: %+v", want)
		}
		mig, err := migrationFiles.ReadFile("migrations/" + driver + "/0006_result_groups.sql")
		if err != nil {
			t.Fatal(err)
		}
		backfill := string(mig[strings.Index(string(mig), "INSERT INTO"):])
		execArgs(t, s, "DELETE FROM result_groups")
		execArgs(t, s, backfill)
		for id, w := range want {
			got, err := s.Breakdown(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(w) {
				t.Fatalf("run %s: %d groups backfilled, %d saved", id, len(got), len(w))
			}
			for i := range w {
				g, x := got[i], w[i]
				if g.Prompt != x.Prompt || g.Provider != x.Provider || g.Segment != x.Segment || g.Samples != x.Samples ||
					g.Passed != x.Passed || g.Errors != x.Errors || g.Tokens != x.Tokens ||
					math.Abs(g.Cost-x.Cost) > 1e-12 || math.Abs(g.LatencyMS-x.LatencyMS) > 1e-9 {
					t.Errorf("run %s group %d: backfilled %+v, saved %+v", id, i, g, x)
				}
			}
		}
	})
}
