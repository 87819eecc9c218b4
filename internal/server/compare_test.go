package server

import (
	"context"
	"errors"
	"testing"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// TestCompareLimit: the compare API lists at most limit regressions and improvements, the
// first by test, with totals that count all of them, and refuses a limit out of range;
// Server.Comparison gives what the API gives.
func TestCompareLimit(t *testing.T) {
	for name, dsn := range map[string]func(*testing.T) string{"sqlite": sqliteDSN, "postgres": func(t *testing.T) string { return storetest.FreshPostgres(t) }} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t))
			ctx := context.Background()
			// "smart" fails tests 0-2 in the second run: 5 samples go pass → fail (the
			// sixth is a call error in both).
			if err := f.st.SaveRunIn(ctx, f.a.ID, sampleReport("cmp-base", f.clock.Now(), 0)); err != nil {
				t.Fatal(err)
			}
			if err := f.st.SaveRunIn(ctx, f.a.ID, sampleReport("cmp-worse", f.clock.Now(), 3)); err != nil {
				t.Fatal(err)
			}
			path := "/api/v1/projects/" + f.a.Slug + "/compare?a=cmp-base&b=cmp-worse"
			r := asVera(f).do("GET", path, nil)
			if r.status != 200 {
				t.Fatalf("compare: %d %s", r.status, truncate(r.raw))
			}
			wantInt(t, r, "pass_to_fail", 5)
			wantInt(t, r, "regressions_total", 5)
			wantInt(t, r, "improvements_total", 0)
			if n := len(r.list("regressions")); n != 5 {
				t.Errorf("default limit lists %d regressions, want all 5", n)
			}

			r = asVera(f).do("GET", path+"&limit=2", nil)
			if r.status != 200 {
				t.Fatalf("compare limit=2: %d %s", r.status, truncate(r.raw))
			}
			wantInt(t, r, "regressions_total", 5)
			regs := r.list("regressions")
			if len(regs) != 2 {
				t.Fatalf("limit=2 lists %d regressions, want 2", len(regs))
			}
			for i, x := range regs {
				if test := x.(map[string]any)["test"]; test != 0.0 {
					t.Errorf("regression %d is of test %v, want test 0 (listed by test)", i, test)
				}
			}

			for _, bad := range []string{"0", "1001", "ten"} {
				if r := asVera(f).do("GET", path+"&limit="+bad, nil); r.status != 400 || r.errCode() != "bad_request" {
					t.Errorf("limit=%s: %d %s, want 400 bad_request", bad, r.status, truncate(r.raw))
				}
			}

			c, err := f.srv.Comparison(ctx, "cmp-base", "cmp-worse", 0.05, 3)
			if err != nil || c.RegressionsTotal != 5 || len(c.Regressions) != 3 || c.Regressions[0].Reason != "contains: missing" {
				t.Errorf("Comparison(limit 3) = %+v, %v; want 3 of 5 regressions, with their reasons", c, err)
			}
			if _, err := f.srv.Comparison(ctx, "cmp-base", "no-such-run", 0.05, 3); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Comparison with a missing run: err = %v, want store.ErrNotFound", err)
			}
		})
	}
}
