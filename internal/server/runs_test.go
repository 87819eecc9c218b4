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
