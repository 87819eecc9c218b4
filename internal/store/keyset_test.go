package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestListRunsKeyset pages through runs by the keyset cursor and checks that every run
// comes exactly once, in the order of the unpaged list, whatever the page size. The start
// times are what breaks a careless cursor: several runs start at the same instant (the id
// decides), and several differ by nanoseconds within one microsecond, which SQLite keeps
// and PostgreSQL rounds away, so a key taken from the report instead of the column would
// repeat or skip runs there.
func TestListRunsKeyset(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		p, err := s.CreateProject(ctx, Project{Slug: "keyset", Name: "Keyset"})
		if err != nil {
			t.Fatal(err)
		}
		base := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
		var starts []time.Time
		for i := range 5 { // the same instant, in two time zones
			at := base
			if i%2 == 1 {
				at = at.In(time.FixedZone("", 5*3600))
			}
			starts = append(starts, at)
		}
		for _, ns := range []int{1, 2, 500, 999, 1001} { // within and across a microsecond
			starts = append(starts, base.Add(time.Duration(ns)))
		}
		starts = append(starts, base.Add(-time.Hour), base.Add(time.Hour), time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC))
		for i, at := range starts {
			r := sampleReport(fmt.Sprintf("run-%02d", i), at, 1)
			if err := s.SaveRunIn(ctx, p.ID, r); err != nil {
				t.Fatal(err)
			}
		}
		// A run of another project, at the same instant, must not appear.
		if err := s.SaveRun(ctx, sampleReport("run-zz-default", base, 1)); err != nil {
			t.Fatal(err)
		}
		all, err := s.ListRuns(ctx, ListOptions{Project: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, r := range all {
			want = append(want, r.ID)
		}
		if len(want) != len(starts) {
			t.Fatalf("unpaged list has %d runs, want %d: %v", len(want), len(starts), want)
		}
		for _, limit := range []int{1, 2, 3, 4, 7, 20} {
			t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
				var got []string
				opt := ListOptions{Project: p.ID, Limit: limit}
				for pages := 0; ; pages++ {
					if pages > len(starts)+1 {
						t.Fatalf("paging does not end: %v", got)
					}
					page, err := s.ListRuns(ctx, opt)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range page {
						got = append(got, r.ID)
					}
					if len(page) < limit {
						break
					}
					key := page[len(page)-1].Key
					opt.After = &key
				}
				if !slices.Equal(got, want) {
					t.Errorf("pages give %v,\nwant %v", got, want)
				}
			})
		}
		// The key holds what the column holds: nanoseconds in SQLite, microseconds in
		// PostgreSQL.
		var k RunKey
		for _, r := range all {
			if r.ID == "run-05" { // base + 1ns
				k = r.Key
			}
		}
		wantT := base.Add(1)
		if driver == DriverPostgres {
			wantT = wantT.Truncate(time.Microsecond)
		}
		if !k.StartedAt.Equal(wantT) || k.ID != "run-05" {
			t.Errorf("key of run-05 = %v %q, want %v", k.StartedAt, k.ID, wantT)
		}
	})
}
