package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store/storetest"
)

// TestRunListPaging pages through a project's runs over the API: runs that started at the
// same instant and runs nanoseconds apart each come exactly once, newest first, and a
// cursor that the list did not make is a 400.
func TestRunListPaging(t *testing.T) {
	for name, dsn := range map[string]func(*testing.T) string{"sqlite": sqliteDSN, "postgres": func(t *testing.T) string { return storetest.FreshPostgres(t) }} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t))
			ctx := context.Background()
			base := f.clock.Now().Add(-time.Hour).Add(123456789)
			want := []string{f.runA2, f.runA1} // the fixture's runs are older than base
			var ids []string
			for i := range 9 {
				at := base
				if i >= 5 {
					at = base.Add(-time.Duration(i)) // a few nanoseconds earlier
				}
				ids = append(ids, fmt.Sprintf("same-%d", i))
				if err := f.st.SaveRunIn(ctx, f.a.ID, sampleReport(ids[i], at, 1)); err != nil {
					t.Fatal(err)
				}
			}
			// Newest first, then by id descending at equal times. PostgreSQL keeps
			// microseconds, so there the nanosecond-apart runs tie with the others.
			newest := []string{"same-4", "same-3", "same-2", "same-1", "same-0", "same-5", "same-6", "same-7", "same-8"}
			if name == "postgres" {
				newest = []string{"same-8", "same-7", "same-6", "same-5", "same-4", "same-3", "same-2", "same-1", "same-0"}
			}
			want = append(newest, want...)
			for _, limit := range []int{1, 2, 4, 11, 50} {
				var got []string
				cursor := ""
				for pages := 0; ; pages++ {
					if pages > len(want)+1 {
						t.Fatalf("limit %d: paging does not end: %v", limit, got)
					}
					path := fmt.Sprintf("/api/v1/projects/alpha/runs?limit=%d", limit)
					if cursor != "" {
						path += "&cursor=" + url.QueryEscape(cursor)
					}
					r := asVera(f).do("GET", path, nil)
					if r.status != 200 {
						t.Fatalf("limit %d: %d %s", limit, r.status, truncate(r.raw))
					}
					for _, x := range r.list("runs") {
						got = append(got, x.(map[string]any)["id"].(string))
					}
					if cursor = r.str("next_cursor"); cursor == "" {
						break
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("limit %d: pages give %v,\nwant %v", limit, got, want)
				}
			}
		})
	}
}

func TestRunListBadCursor(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for name, cursor := range map[string]string{
		"not base64":        "!!!",
		"not JSON":          b64("o:2"),
		"a results cursor":  b64("r:5"),
		"no id":             b64(`{"t":"2025-01-01T00:00:00Z"}`),
		"bad time":          b64(`{"t":"yesterday","id":"x"}`),
		"unknown field":     b64(`{"t":"2025-01-01T00:00:00Z","id":"x","n":1}`),
		"trailing data":     b64(`{"t":"2025-01-01T00:00:00Z","id":"x"}{}`),
		"wrong type":        b64(`{"t":1,"id":"x"}`),
		"padded base64":     base64.URLEncoding.EncodeToString([]byte(`{"t":"2025-01-01T00:00:00Z","id":"x"}`)) + "=",
		"time without zone": b64(`{"t":"2025-01-01T00:00:00","id":"x"}`),
	} {
		r := asVera(f).do("GET", "/api/v1/projects/alpha/runs?cursor="+url.QueryEscape(cursor), nil)
		if r.status != 400 || r.errCode() != "bad_request" {
			t.Errorf("%s: %d %s, want 400 bad_request", name, r.status, truncate(r.raw))
		}
	}
}

// TestRunPageAndTests: the run page has the summary without its per-test rows, but with
// their counts, and /tests pages through them (flaky ones with flaky=true) as the report
// has them.
func TestRunPageAndTests(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	ctx := context.Background()
	rep := sampleReport("tests-run", f.clock.Now().Add(-time.Minute), 0)
	if err := f.st.SaveRunIn(ctx, f.a.ID, rep); err != nil {
		t.Fatal(err)
	}
	nTests, nFlaky := len(rep.Summary.Tests), len(rep.Summary.Flaky)
	if nTests != 6 || nFlaky != 1 {
		t.Fatalf("fixture: %d tests, %d flaky; want 6 and 1", nTests, nFlaky)
	}
	r := asVera(f).do("GET", "/api/v1/projects/alpha/runs/tests-run", nil)
	sum, _ := r.body["summary"].(map[string]any)
	if r.status != 200 || sum == nil {
		t.Fatalf("run page: %d %s", r.status, truncate(r.raw))
	}
	if _, ok := sum["tests"]; ok {
		t.Errorf("run page summary has tests: %s", truncate(r.raw))
	}
	if _, ok := sum["flaky"]; ok {
		t.Errorf("run page summary has flaky: %s", truncate(r.raw))
	}
	if sum["tests_count"] != float64(nTests) || sum["flaky_count"] != float64(nFlaky) || sum["cases"] != float64(len(rep.Results)) {
		t.Errorf("run page counts: tests_count %v flaky_count %v cases %v; want %d, %d, %d", sum["tests_count"], sum["flaky_count"], sum["cases"], nTests, nFlaky, len(rep.Results))
	}
	for _, tc := range []struct {
		query string
		want  int
	}{{"limit=4", nTests}, {"limit=1&flaky=true", nFlaky}, {"flaky=false", nTests}} {
		var got []any
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("%s: paging does not end", tc.query)
			}
			path := "/api/v1/projects/alpha/runs/tests-run/tests?" + tc.query
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			r := asVera(f).do("GET", path, nil)
			if r.status != 200 || r.body["total"] != float64(tc.want) {
				t.Fatalf("%s: %d %s", tc.query, r.status, truncate(r.raw))
			}
			got = append(got, r.list("tests")...)
			if cursor = r.str("next_cursor"); cursor == "" {
				break
			}
		}
		if len(got) != tc.want {
			t.Errorf("%s: %d rows over the pages, want %d", tc.query, len(got), tc.want)
			continue
		}
		first := got[0].(map[string]any)
		wantFirst := rep.Summary.Tests[0]
		if tc.want == nFlaky {
			wantFirst = rep.Summary.Flaky[0]
		}
		if first["provider"] != wantFirst.Provider || first["test"] != float64(wantFirst.Test) {
			t.Errorf("%s: first row %v, want %+v", tc.query, first, wantFirst)
		}
	}
	for _, q := range []string{"cursor=nope", "flaky=maybe", "limit=0"} {
		if r := asVera(f).do("GET", "/api/v1/projects/alpha/runs/tests-run/tests?"+q, nil); r.status != 400 {
			t.Errorf("?%s: %d, want 400", q, r.status)
		}
	}
}
