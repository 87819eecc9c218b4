package web

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
)

var (
	rowRE  = regexp.MustCompile(`<tr class="row-(pass|fail|error)">\s*<td><a href="[^"]*/cases/(\d+)">`)
	nextRE = regexp.MustCompile(`<a href="([^"]+)" hx-get="[^"]*"[^>]*rel="next">`)
)

// TestCaseTablePages walks the case table of a run larger than a page by its "next"
// links, in the default failures-first order and in the plain order, and checks that
// every case appears exactly once, failures before passes, a page at a time.
func TestCaseTablePages(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		const n = 130
		var results []report.Result
		for i := range n {
			r := report.Result{Test: report.TestRef{Index: i}, Prompt: "p", Provider: "m", Output: "ok", Passed: i%3 != 0, Score: 1}
			if i%3 == 0 {
				r.Score = 0
			}
			if i == 7 {
				r.Passed, r.Error = false, "timeout"
			}
			results = append(results, r)
		}
		rep := &report.Report{Run: report.Run{ID: "big", Suite: "s", Status: report.StatusComplete, StartedAt: time.Now().UTC()},
			Summary: eval.Summarize(results, nil), Results: results}
		if err := f.st.SaveRunIn(context.Background(), f.a.ID, rep); err != nil {
			t.Fatal(err)
		}
		failing := func(i int) bool { return i%3 == 0 || i == 7 }
		alice := f.as(f.alice)
		// 44 multiples of 3 below 130, and case 7: 45 failures, 85 passes.
		for path, want := range map[string]string{
			"/p/alpha/runs/big":                  "130 cases, failures first (85 passed)",
			"/p/alpha/runs/big?view=all":         "130 cases match",
			"/p/alpha/runs/big?view=failed":      "45 cases match",
			"/p/alpha/runs/big?view=errors":      "1 case match",
			"/p/alpha/runs/big?provider=nothing": "0 cases, failures first (0 passed)",
		} {
			if body := alice.get(path).body; !strings.Contains(body, want) {
				t.Errorf("GET %s does not say %q", path, want)
			}
		}
		for _, tc := range []struct {
			view  string
			order func() []int
		}{
			{"", func() []int { // failures first, each part in report order
				var out []int
				for i := range n {
					if failing(i) {
						out = append(out, i)
					}
				}
				for i := range n {
					if !failing(i) {
						out = append(out, i)
					}
				}
				return out
			}},
			{"?view=all", func() []int {
				out := make([]int, n)
				for i := range out {
					out[i] = i
				}
				return out
			}},
		} {
			var got []int
			path, pages := "/p/alpha/runs/big"+tc.view, 0
			for path != "" && pages < 10 {
				res := alice.get(path)
				if res.status != 200 {
					t.Fatalf("GET %s: %d", path, res.status)
				}
				rows := rowRE.FindAllStringSubmatch(res.body, -1)
				if len(rows) == 0 || len(rows) > casePage {
					t.Fatalf("GET %s: %d rows, want 1 to %d", path, len(rows), casePage)
				}
				for _, r := range rows {
					var i int
					fmt.Sscan(r[2], &i)
					if (r[1] != "pass") != failing(i) {
						t.Errorf("case %d shown as %s", i, r[1])
					}
					got = append(got, i)
				}
				path = ""
				if m := nextRE.FindStringSubmatch(res.body); m != nil {
					path = html.UnescapeString(m[1])
				}
				pages++
			}
			want := tc.order()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("view %q: walked %v\nwant %v", tc.view, got, want)
			}
			if pages != 3 {
				t.Errorf("view %q: %d pages, want 3 of at most %d", tc.view, pages, casePage)
			}
		}
	})
}
