package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/plumbhq/plumb/internal/report"
)

// The contract tests: each runs against SQLite and PostgreSQL, on real databases.

// jsonOf is the JSON report format of r: what "round-trips exactly" is measured in.
func jsonOf(t *testing.T, r *report.Report) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameJSON fails the test at the first difference between two reports' JSON. want is
// first read back from its own JSON, as a JSON report file would be: encoding/json writes
// invalid UTF-8 as the escape \ufffd but a real U+FFFD as itself, and only that difference
// is the JSON format's, not the store's.
func sameJSON(t *testing.T, got, want *report.Report) {
	t.Helper()
	var canon report.Report
	if err := json.Unmarshal(jsonOf(t, want), &canon); err != nil {
		t.Fatal(err)
	}
	g, w := jsonOf(t, got), jsonOf(t, &canon)
	if bytes.Equal(g, w) {
		return
	}
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	lo := max(0, i-80)
	t.Fatalf("report differs after the round trip at byte %d:\n got: …%s…\nwant: …%s…",
		i, g[lo:min(len(g), i+80)], w[lo:min(len(w), i+80)])
}

func TestSaveGetRoundTrip(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		// A non-UTC offset and nanoseconds: both must survive (PostgreSQL's timestamptz
		// alone would keep neither).
		started := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))
		want := sampleReport("run-2025-03-14-abc", started, 9)
		want.Results[5].Prompt = "bad utf8 \xff\xfe label"
		want.Results[6].Provider = "nul\x00provider"
		if err := s.SaveRun(ctx, want); err != nil {
			t.Fatalf("SaveRun: %v", err)
		}
		got, err := s.GetRun(ctx, want.Run.ID)
		if err != nil {
			t.Fatalf("GetRun: %v", err)
		}
		if len(got.Results) != len(want.Results) {
			t.Fatalf("got %d results, want %d", len(got.Results), len(want.Results))
		}
		for i := range got.Results {
			if got.Results[i].Test.Index != want.Results[i].Test.Index {
				t.Fatalf("result %d is test %d, want test %d: results lost their order", i, got.Results[i].Test.Index, want.Results[i].Test.Index)
			}
		}
		if got.Results[3].Output != want.Results[3].Output || len(got.Results[3].Output) < 100_000 {
			t.Errorf("100 KB output came back as %d bytes", len(got.Results[3].Output))
		}
		if got.Results[0].Output != want.Results[0].Output || got.Results[2].Output != want.Results[2].Output {
			t.Errorf("unicode or NUL output changed: %q, %q", got.Results[0].Output, got.Results[2].Output)
		}
		if !got.Run.StartedAt.Equal(want.Run.StartedAt) || got.Run.StartedAt.Nanosecond() != 535897932 {
			t.Errorf("started_at = %v, want %v", got.Run.StartedAt, want.Run.StartedAt)
		}
		if got.Results[5].Prompt != "bad utf8 \uFFFD\uFFFD label" || got.Results[6].Provider != "nul\x00provider" {
			t.Errorf("labels came back as %q, %q", got.Results[5].Prompt, got.Results[6].Provider)
		}
		sameJSON(t, got, want)
	})
}

func TestSaveRunReplaces(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		first := sampleReport("resumable", started, 6)
		first.Run.Status = report.StatusIncomplete
		other := sampleReport("other", started.Add(-time.Hour), 3)
		for _, r := range []*report.Report{first, other} {
			if err := s.SaveRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		second := sampleReport("resumable", started, 2)
		second.Run.Status = report.StatusComplete
		second.Summary.Passed, second.Summary.Cases = 2, 2
		if err := s.SaveRun(ctx, second); err != nil {
			t.Fatalf("re-save: %v", err)
		}
		got, err := s.GetRun(ctx, "resumable")
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, got, second)
		if n := resultRows(t, s, "resumable"); n != 2 {
			t.Errorf("%d result rows after re-save, want 2 (old rows must go)", n)
		}
		if n := resultRows(t, s, "other"); n != 3 {
			t.Errorf("other run has %d result rows, want 3", n)
		}
		runs, err := s.ListRuns(ctx, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2 || runs[0].ID != "resumable" || runs[0].Status != report.StatusComplete || runs[0].Cases != 2 {
			t.Errorf("after re-save, runs = %+v", summarize(runs))
		}
	})
}

// summarize is a readable form of a run list for failure messages.
func summarize(runs []RunInfo) []string {
	var out []string
	for _, r := range runs {
		out = append(out, fmt.Sprintf("%s(%s,%s,cases=%d)", r.ID, r.Suite, r.Status, r.Cases))
	}
	return out
}

func TestListRuns(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		// Saved out of time order; "b" and "c" differ by half a second and "d" is in
		// another time zone, to catch text ordering of times.
		runs := []struct {
			id, suite, status string
			started           time.Time
		}{
			{"c", "support", report.StatusComplete, base.Add(1500 * time.Millisecond)},
			{"a", "support", report.StatusComplete, base.Add(-time.Hour)},
			{"d", "search", report.StatusIncomplete, base.Add(2 * time.Second).In(time.FixedZone("", -8*3600))},
			{"b", "search", report.StatusComplete, base.Add(time.Second)},
		}
		for _, r := range runs {
			rep := sampleReport(r.id, r.started, 3)
			rep.Run.Suite, rep.Run.Status = r.suite, r.status
			rep.Run.Description = map[string]string{"c": "Prompt v2: 50%_off", "b": "Baseline"}[r.id]
			if r.status == report.StatusIncomplete {
				rep.Run.FinishedAt = time.Time{}
			}
			if err := s.SaveRun(ctx, rep); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name string
			opt  ListOptions
			want []string
		}{
			{"all newest first", ListOptions{}, []string{"d", "c", "b", "a"}},
			{"limit", ListOptions{Limit: 2}, []string{"d", "c"}},
			{"suite", ListOptions{Suite: "support"}, []string{"c", "a"}},
			{"status", ListOptions{Status: report.StatusComplete}, []string{"c", "b", "a"}},
			{"suite and status", ListOptions{Suite: "search", Status: report.StatusIncomplete}, []string{"d"}},
			{"suite, status and limit", ListOptions{Suite: "support", Status: report.StatusComplete, Limit: 1}, []string{"c"}},
			{"no match", ListOptions{Suite: "nope"}, []string{}},
			{"search: suite, any case", ListOptions{Search: "SUPP"}, []string{"c", "a"}},
			{"search: id prefix only", ListOptions{Search: "d"}, []string{"d"}},
			{"search: description", ListOptions{Search: "baseline"}, []string{"b"}},
			{"search: % and _ are literal", ListOptions{Search: "50%_o"}, []string{"c"}},
			{"search: % alone matches no wildcard", ListOptions{Search: "%"}, []string{"c"}},
			{"search and suite", ListOptions{Search: "v2", Suite: "search"}, []string{}},
			{"search: git commit prefix", ListOptions{Search: "4B825D"}, []string{"d", "c", "b", "a"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListRuns(ctx, tt.opt)
				if err != nil {
					t.Fatal(err)
				}
				ids := []string{}
				for _, r := range got {
					ids = append(ids, r.ID)
				}
				if !slices.Equal(ids, tt.want) {
					t.Errorf("ListRuns(%+v) = %v, want %v", tt.opt, ids, tt.want)
				}
			})
		}
		got, err := s.ListRuns(ctx, ListOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := RunInfo{Cases: 3, Passed: 2, Failed: 1, Errors: 1, PassRate: 0.6667, GatesPassed: 1, GatesTotal: 2}
		g := got[0]
		if g.Cases != want.Cases || g.Passed != want.Passed || g.Failed != want.Failed || g.Errors != want.Errors ||
			g.PassRate != want.PassRate || g.GatesPassed != want.GatesPassed || g.GatesTotal != want.GatesTotal {
			t.Errorf("counts = %+v, want %+v", g, want)
		}
		if g.Provenance.GitCommit == "" || g.Provenance.Providers[0].Model != "gpt-4o-mini" || !g.FinishedAt.IsZero() {
			t.Errorf("run header incomplete: %+v", g.Run)
		}
	})
}

func TestResolveRun(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		if _, err := s.ResolveRun(ctx, "latest"); !errors.Is(err, ErrNotFound) {
			t.Errorf("latest on an empty store: err = %v, want ErrNotFound", err)
		}
		base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		ids := []string{"20250601-abc123", "20250601-abd456", "run1", "run10", "x_y%z", "zzz-newest"}
		for i, id := range ids {
			if err := s.SaveRun(ctx, sampleReport(id, base.Add(time.Duration(i)*time.Minute), 1)); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			ref       string
			want      string
			notFound  bool
			ambiguous []string
		}{
			{ref: "20250601-abc123", want: "20250601-abc123"},
			{ref: "latest", want: "zzz-newest"},
			{ref: "20250601-abc", want: "20250601-abc123"},
			{ref: " 20250601-abd ", want: "20250601-abd456"},
			{ref: "run1", want: "run1"}, // exact id beats being a prefix of run10
			{ref: "run10", want: "run10"},
			{ref: "20250601-ab", ambiguous: []string{"20250601-abd456", "20250601-abc123"}},
			{ref: "r", ambiguous: []string{"run10", "run1"}},
			{ref: "nope", notFound: true},
			{ref: "RUN1", notFound: true}, // ids are case-sensitive
			{ref: "x%", notFound: true},   // % is not a wildcard
			{ref: "x_", want: "x_y%z"},
			{ref: "_", notFound: true},
		}
		for _, tt := range tests {
			t.Run(tt.ref, func(t *testing.T) {
				got, err := s.ResolveRun(ctx, tt.ref)
				var amb *AmbiguousError
				switch {
				case tt.notFound:
					if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), strings.TrimSpace(tt.ref)) {
						t.Errorf("ResolveRun(%q) = %q, %v; want ErrNotFound naming the ref", tt.ref, got, err)
					}
				case tt.ambiguous != nil:
					if !errors.As(err, &amb) || !slices.Equal(amb.Candidates, tt.ambiguous) {
						t.Fatalf("ResolveRun(%q) = %q, %v; want ambiguity between %v", tt.ref, got, err, tt.ambiguous)
					}
					for _, c := range tt.ambiguous {
						if !strings.Contains(err.Error(), c) {
							t.Errorf("ambiguity error %q does not list %s", err, c)
						}
					}
				default:
					if err != nil || got != tt.want {
						t.Errorf("ResolveRun(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
					}
				}
			})
		}
		if _, err := s.ResolveRun(ctx, ""); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("empty ref: err = %v, want a usage error", err)
		}
	})
}

func TestResolveRunManyCandidates(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		for i := range maxCandidates + 2 {
			if err := s.SaveRun(ctx, sampleReport(fmt.Sprintf("run-%02d", i), base.Add(time.Duration(i)*time.Second), 0)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := s.ResolveRun(ctx, "run-")
		var amb *AmbiguousError
		if !errors.As(err, &amb) || len(amb.Candidates) != maxCandidates || !amb.More || amb.Candidates[0] != "run-11" {
			t.Fatalf("err = %v; want the %d newest candidates and a note that there are more", err, maxCandidates)
		}
		if !strings.Contains(err.Error(), "and more") {
			t.Errorf("error %q does not say that more runs match", err)
		}
	})
}

func TestDeleteRun(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		for _, id := range []string{"doomed", "kept"} {
			if err := s.SaveRun(ctx, sampleReport(id, base, 5)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteRun(ctx, "doomed"); err != nil {
			t.Fatalf("DeleteRun: %v", err)
		}
		if _, err := s.GetRun(ctx, "doomed"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetRun after delete: err = %v, want ErrNotFound", err)
		}
		if n := resultRows(t, s, "doomed"); n != 0 {
			t.Errorf("%d result rows left after delete, want 0 (cascade)", n)
		}
		if n := resultRows(t, s, "kept"); n != 5 {
			t.Errorf("the other run has %d result rows, want 5", n)
		}
		err := s.DeleteRun(ctx, "doomed")
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"doomed"`) {
			t.Errorf("second delete: err = %v, want ErrNotFound naming the run", err)
		}
	})
}

func TestGetRunNotFound(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		s := openStore(t, dsn)
		_, err := s.GetRun(context.Background(), "missing")
		if !errors.Is(err, ErrNotFound) || err.Error() != `run "missing" not found` {
			t.Errorf("err = %v, want `run \"missing\" not found` wrapping ErrNotFound", err)
		}
	})
}

func TestSaveRunRejects(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		tests := []struct {
			name string
			r    *report.Report
			want string
		}{
			{"nil report", nil, "no report"},
			{"no id", &report.Report{}, "no id"},
			{"blank id", &report.Report{Run: report.Run{ID: "  "}}, "no id"},
			{"NaN score", func() *report.Report {
				r := sampleReport("nan", time.Now(), 1)
				r.Results[0].Score = nanValue()
				return r
			}(), "encode result 0"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.SaveRun(ctx, tt.r)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("SaveRun = %v, want an error containing %q", err, tt.want)
				}
			})
		}
		if runs, err := s.ListRuns(ctx, ListOptions{}); err != nil || len(runs) != 0 {
			t.Errorf("after rejected saves, runs = %v, %v; want none", summarize(runs), err)
		}
	})
}

// nanValue is a NaN the compiler does not fold.
func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func TestMigrateIdempotent(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		if err := s.SaveRun(ctx, sampleReport("survivor", time.Now(), 2)); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
		}
		// And a second Open of the same, migrated database, both with and without Migrate.
		for _, opt := range []OpenOptions{{}, {Migrate: true}} {
			s2, err := Open(ctx, dsn, opt)
			if err != nil {
				t.Fatalf("re-Open(%+v): %v", opt, err)
			}
			s2.Close()
		}
		cur, latest, err := s.SchemaStatus(ctx)
		if err != nil || cur != latest || latest < 1 {
			t.Fatalf("SchemaStatus = %d, %d, %v; want current == latest >= 1", cur, latest, err)
		}
		if n := countRows(t, s, "SELECT count(*) FROM schema_migrations WHERE version >= ?", 0); n != latest {
			t.Errorf("schema_migrations has %d rows, want %d (one per migration)", n, latest)
		}
		if _, err := s.GetRun(ctx, "survivor"); err != nil {
			t.Errorf("data lost after re-migrating: %v", err)
		}
	})
}

// upgradeSet is the shipped migrations plus a staged next version.
func upgradeSet(t *testing.T, driver string) (fs.FS, int) {
	t.Helper()
	shipped, err := embeddedMigrations(driver)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(shipped)
	if err != nil {
		t.Fatal(err)
	}
	set := fstest.MapFS{}
	for _, m := range ms {
		set[fmt.Sprintf("%04d_%s.sql", m.version, m.name)] = &fstest.MapFile{Data: []byte(m.sql)}
	}
	next := len(ms) + 1
	set[fmt.Sprintf("%04d_staged.sql", next)] = &fstest.MapFile{Data: []byte(
		"ALTER TABLE runs ADD COLUMN staged_note TEXT; CREATE INDEX runs_by_staged_note ON runs (staged_note);")}
	return set, next
}

func TestOutdatedSchema(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		// A new, empty database is initialised even without Migrate.
		old, err := Open(ctx, dsn, OpenOptions{})
		if err != nil {
			t.Fatalf("Open on an empty database: %v", err)
		}
		if err := old.SaveRun(ctx, sampleReport("before-upgrade", time.Now(), 3)); err != nil {
			t.Fatal(err)
		}
		old.Close()

		// A binary with one more migration refuses the now outdated schema...
		next, latest := upgradeSet(t, driver)
		_, err = open(ctx, dsn, OpenOptions{}, next)
		if !errors.Is(err, ErrSchemaOutdated) {
			t.Fatalf("Open on an outdated schema: err = %v, want ErrSchemaOutdated", err)
		}
		for _, want := range []string{"run `plumb migrate` (with the same --db)", fmt.Sprintf("version %d", latest-1), fmt.Sprintf("version %d", latest)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		// ...can still report the status...
		st, err := open(ctx, dsn, OpenOptions{SkipSchemaCheck: true}, next)
		if err != nil {
			t.Fatalf("Open with SkipSchemaCheck: %v", err)
		}
		if cur, l, err := st.SchemaStatus(ctx); err != nil || cur != latest-1 || l != latest {
			t.Errorf("SchemaStatus = %d, %d, %v; want %d, %d", cur, l, err, latest-1, latest)
		}
		st.Close()
		// ...and upgrades when told to, keeping the data.
		up, err := open(ctx, dsn, OpenOptions{Migrate: true}, next)
		if err != nil {
			t.Fatalf("Open with Migrate: %v", err)
		}
		defer up.Close()
		if cur, l, err := up.SchemaStatus(ctx); err != nil || cur != latest || l != latest {
			t.Errorf("after migrating, SchemaStatus = %d, %d, %v; want %d, %d", cur, l, err, latest, latest)
		}
		if got, err := up.GetRun(ctx, "before-upgrade"); err != nil || len(got.Results) != 3 {
			t.Errorf("run lost in the upgrade: %v", err)
		}
		// The old binary now meets a schema newer than it knows.
		_, err = Open(ctx, dsn, OpenOptions{Migrate: true})
		if err == nil || !strings.Contains(err.Error(), "upgrade plumb") {
			t.Errorf("old binary on a newer schema: err = %v, want a request to upgrade plumb", err)
		}
	})
}

func TestConcurrentSaves(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		// Two stores on one database stand for two processes (plumb eval in two terminals,
		// or two server instances); within each, several goroutines save and read at once.
		stores := []Store{openStore(t, dsn), openStore(t, dsn)}
		const writers, runsEach = 6, 4
		start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		errs := make(chan error, writers*runsEach*3)
		for w := range writers {
			wg.Go(func() {
				s := stores[w%len(stores)]
				for i := range runsEach {
					id := fmt.Sprintf("w%d-r%d", w, i)
					if err := s.SaveRun(ctx, sampleReport(id, start.Add(time.Duration(w*runsEach+i)*time.Second), 40)); err != nil {
						errs <- err
						continue
					}
					// Re-save the same id from the other store, as a resumed run does.
					if err := stores[(w+1)%len(stores)].SaveRun(ctx, sampleReport(id, start, 20)); err != nil {
						errs <- err
					}
					if _, err := s.ListRuns(ctx, ListOptions{Limit: 5}); err != nil {
						errs <- err
					}
					if r, err := s.GetRun(ctx, id); err != nil {
						errs <- err
					} else if len(r.Results) != 20 && len(r.Results) != 40 {
						errs <- fmt.Errorf("run %s has %d results: a torn read", id, len(r.Results))
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		runs, err := stores[0].ListRuns(ctx, ListOptions{})
		if err != nil || len(runs) != writers*runsEach {
			t.Fatalf("ListRuns = %d runs, %v; want %d", len(runs), err, writers*runsEach)
		}
		if n := countRows(t, stores[0], "SELECT count(*) FROM results WHERE idx >= ?", 0); n != writers*runsEach*20 {
			t.Errorf("%d result rows, want %d", n, writers*runsEach*20)
		}
	})
}

func TestSaveManyResults(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		// Sizes around the SQLite batch boundary, and a large run.
		ctx := context.Background()
		s := openStore(t, dsn)
		for _, n := range []int{0, 1, sqliteBatch - 1, sqliteBatch, sqliteBatch + 1, 3*sqliteBatch + 7} {
			id := fmt.Sprintf("n%d", n)
			want := benchReport(id, n)
			if err := s.SaveRun(ctx, want); err != nil {
				t.Fatalf("SaveRun(%d results): %v", n, err)
			}
			got, err := s.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if want.Results == nil {
				want.Results = []report.Result{}
			}
			sameJSON(t, got, want)
		}
	})
}

func TestGetRunHeader(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		s := openStore(t, dsn)
		ctx := context.Background()
		rep := sampleReport("r-head", time.Now().UTC(), 5)
		if err := s.SaveRun(ctx, rep); err != nil {
			t.Fatal(err)
		}
		h, err := s.GetRunHeader(ctx, "r-head")
		if err != nil {
			t.Fatal(err)
		}
		if h.Results != nil || h.Run.ID != "r-head" || h.Summary.Cases != rep.Summary.Cases {
			t.Errorf("header = %+v with %d results; want the run and summary without results", h.Run, len(h.Results))
		}
		if _, err := s.GetRunHeader(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing run: err = %v, want ErrNotFound", err)
		}
	})
}
