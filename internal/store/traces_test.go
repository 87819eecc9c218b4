package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// traceAt is a live record of a route and key, started at t.
func traceAt(project, route, key string, t time.Time, status int, latency float64) Trace {
	return Trace{ProjectID: project, Key: key, Endpoint: "chat.completions", Route: route, Provider: "primary",
		Model: "fake-1", Status: status, StartedAt: t, LatencyMS: latency, TokensIn: 10, TokensOut: 5, CostUSD: 0.001}
}

func TestTracesRoundTrip(t *testing.T) {
	forEachDriver(t, func(t *testing.T, _, dsn string) {
		st := openStore(t, dsn)
		ctx := context.Background()
		p, err := st.CreateProject(ctx, Project{Slug: "gw", Name: "GW"})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.UTC)
		ttft := 12.5
		full := Trace{ID: "t_full", ProjectID: p.ID, Key: "team-a", Endpoint: "chat.completions", Route: "support-bot",
			Provider: "backup", Model: "fake-1", Fallbacks: 1, Stream: true, Canary: true, Status: 200,
			Attempts: []Attempt{{Provider: "primary", Model: "fake-1", Status: 503, Error: "upstream 503", LatencyMS: 3},
				{Provider: "backup", Model: "fake-1", Status: 200, LatencyMS: 40}},
			StartedAt: t0, LatencyMS: 43.25, TTFTMS: &ttft, TokensIn: 120, TokensOut: 30, CostUSD: 0.0042,
			RequestBody: `{"messages":[{"role":"user","content":"héllo <b>"}]}`, ResponseBody: `{"choices":[]}`}
		shadow := traceAt(p.ID, "support-bot", "team-a", t0.Add(time.Millisecond), 500, 9)
		shadow.ShadowOf, shadow.ErrorCode, shadow.Blocked = "t_full", "server_error", "pii"
		stray := traceAt("p_missing", "support-bot", "team-a", t0, 200, 1)
		batch := []Trace{full, shadow, stray}
		if err := st.SaveTraces(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if batch[1].ID == "" || batch[2].ProjectID != DefaultProjectID {
			t.Errorf("SaveTraces left id %q, project %q: want an id and the default project", batch[1].ID, batch[2].ProjectID)
		}
		got, err := st.GetTrace(ctx, p.ID, "t_full")
		if err != nil {
			t.Fatal(err)
		}
		want := full
		want.StartedAt = t0.Truncate(time.Microsecond)
		if g, w := asJSON(t, got), asJSON(t, want); g != w {
			t.Errorf("GetTrace:\n got %s\nwant %s", g, w)
		}
		page, next, err := st.ListTraces(ctx, p.ID, TraceFilter{}, "", 0)
		if err != nil || next != "" || len(page) != 1 || page[0].ID != "t_full" {
			t.Fatalf("ListTraces live = %+v, %q, %v: want t_full alone", page, next, err)
		}
		if page[0].RequestBody != "" || page[0].ResponseBody != "" || len(page[0].Attempts) != 2 {
			t.Errorf("a list row carries bodies or lost its attempts: %+v", page[0])
		}
		page, _, err = st.ListTraces(ctx, p.ID, TraceFilter{Shadow: true}, "", 0)
		if err != nil || len(page) != 1 || page[0].ShadowOf != "t_full" || page[0].TTFTMS != nil || page[0].Blocked != "pii" {
			t.Fatalf("ListTraces shadow = %+v, %v", page, err)
		}
		if g, err := st.GetTrace(ctx, p.ID, page[0].ID); err != nil || g.RequestBody != "" {
			t.Errorf("a record saved without bodies: %+v, %v", g, err)
		}
		// Isolation: another project's id is not found.
		if _, err := st.GetTrace(ctx, DefaultProjectID, "t_full"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetTrace from another project: %v, want ErrNotFound", err)
		}
		if err := st.SaveTraces(ctx, []Trace{full}); !errors.Is(err, ErrConflict) {
			t.Errorf("saving an id twice: %v, want ErrConflict", err)
		}
		if n := countRows(t, st, "SELECT count(*) FROM traces WHERE project_id = ?", DefaultProjectID); n != 1 {
			t.Errorf("default project holds %d records, want the stray one (a failed batch adds nothing)", n)
		}
	})
}

// A batch larger than a chunk is written in several INSERTs (full chunks through a kept
// statement on SQLite, then the rest): every record and every body arrives, the same kept
// statement serves the next batch, and a conflict in a later chunk leaves none of the batch.
func TestSaveTracesManyChunks(t *testing.T) {
	forEachDriver(t, func(t *testing.T, _, dsn string) {
		st := openStore(t, dsn)
		ctx := context.Background()
		t0 := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
		batch := func(first, n int) []Trace {
			b := make([]Trace, n)
			for i := range b {
				b[i] = traceAt(DefaultProjectID, "support-bot", "team-a", t0.Add(time.Duration(first+i)*time.Millisecond), 200, 1)
				b[i].ID = fmt.Sprintf("t_%04d", first+i)
				if (first+i)%3 != 0 {
					b[i].RequestBody, b[i].ResponseBody = fmt.Sprintf("req %d", first+i), fmt.Sprintf("resp %d", first+i)
				}
			}
			return b
		}
		for _, b := range [][]Trace{batch(0, 2*traceChunk+7), batch(100, traceChunk), batch(200, 3)} {
			if err := st.SaveTraces(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		if n := countRows(t, st, "SELECT count(*) FROM traces WHERE route = ?", "support-bot"); n != 2*traceChunk+7+traceChunk+3 {
			t.Errorf("%d records stored, want %d", n, 2*traceChunk+7+traceChunk+3)
		}
		for _, id := range []int{1, 2*traceChunk + 5, 101, 202} {
			got, err := st.GetTrace(ctx, DefaultProjectID, fmt.Sprintf("t_%04d", id))
			if err != nil || got.RequestBody != fmt.Sprintf("req %d", id) || got.ResponseBody != fmt.Sprintf("resp %d", id) {
				t.Errorf("record %d: %+v, %v; want its bodies", id, got, err)
			}
		}
		if got, err := st.GetTrace(ctx, DefaultProjectID, "t_0030"); err != nil || got.RequestBody != "" {
			t.Errorf("record 30 was saved without bodies: %+v, %v", got, err)
		}
		again := batch(300, 2*traceChunk)
		again[traceChunk+1].ID = "t_0001" // already stored: the second chunk fails
		if err := st.SaveTraces(ctx, again); !errors.Is(err, ErrConflict) {
			t.Fatalf("a batch with a stored id: %v, want ErrConflict", err)
		}
		if n := countRows(t, st, "SELECT count(*) FROM traces WHERE id >= ?", "t_0300"); n != 0 {
			t.Errorf("%d records of the failed batch stored, want none", n)
		}
	})
}

func TestListTracesPagingAndFilters(t *testing.T) {
	forEachDriver(t, func(t *testing.T, _, dsn string) {
		st := openStore(t, dsn)
		ctx := context.Background()
		t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		var batch []Trace
		for i := range 57 {
			// Pairs of records share a start time: the cursor must break ties by id.
			tr := traceAt(DefaultProjectID, []string{"a", "b", "c"}[i%3], []string{"k1", "k2"}[i%2],
				t0.Add(time.Duration(i/2)*time.Minute), []int{200, 200, 429, 500, 201}[i%5], float64(i))
			tr.ID = fmt.Sprintf("t_%03d", i)
			if i%7 == 0 && tr.Status < 300 {
				tr.ErrorCode = "upstream_stream_cut" // a stream that broke off after its 200
			}
			batch = append(batch, tr)
		}
		if err := st.SaveTraces(ctx, batch); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			f    TraceFilter
			keep func(Trace) bool
		}{
			{"all", TraceFilter{}, func(Trace) bool { return true }},
			{"route", TraceFilter{Route: "b"}, func(r Trace) bool { return r.Route == "b" }},
			{"key+error", TraceFilter{Key: "k2", Status: "error"}, func(r Trace) bool { return r.Key == "k2" && (r.Status >= 300 || r.ErrorCode != "") }},
			{"ok", TraceFilter{Status: "ok"}, func(r Trace) bool { return r.Status < 300 && r.ErrorCode == "" }},
			{"window", TraceFilter{Since: t0.Add(5 * time.Minute), Until: t0.Add(10 * time.Minute)},
				func(r Trace) bool {
					return !r.StartedAt.Before(t0.Add(5*time.Minute)) && r.StartedAt.Before(t0.Add(10*time.Minute))
				}},
		}
		for _, c := range cases {
			var want []string
			for i := len(batch) - 1; i >= 0; i-- { // newest first: later index, later or same time, larger id
				if c.keep(batch[i]) {
					want = append(want, batch[i].ID)
				}
			}
			var got []string
			cursor, pages := "", 0
			for {
				page, next, err := st.ListTraces(ctx, DefaultProjectID, c.f, cursor, 4)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				for _, r := range page {
					got = append(got, r.ID)
				}
				pages++
				if next == "" {
					break
				}
				cursor = next
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: listed %v\nwant %v", c.name, got, want)
			}
			if pages != max(1, (len(want)+3)/4) {
				t.Errorf("%s: %d pages for %d records of 4 per page", c.name, pages, len(want))
			}
		}
		if _, _, err := st.ListTraces(ctx, DefaultProjectID, TraceFilter{}, "bm90LWEtY3Vyc29y", 4); !errors.Is(err, ErrInvalid) {
			t.Errorf("a forged cursor: %v, want ErrInvalid", err)
		}
		if _, _, err := st.ListTraces(ctx, DefaultProjectID, TraceFilter{Status: "bad"}, "", 4); !errors.Is(err, ErrInvalid) {
			t.Errorf("status bad: %v, want ErrInvalid", err)
		}
	})
}

func TestTrafficStats(t *testing.T) {
	forEachDriver(t, func(t *testing.T, _, dsn string) {
		st := openStore(t, dsn)
		ctx := context.Background()
		day1 := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
		day2 := day1.Add(2 * time.Hour) // 2026-11-25 01:00
		var batch []Trace
		// Route "a": latencies 1..100 in shuffled order, 10 errors, 5 with fallbacks.
		lat := rand.Perm(100)
		for i, l := range lat {
			status := 200
			if i < 10 {
				status = 503
			}
			tr := traceAt(DefaultProjectID, "a", "k-big", day1, status, float64(l+1))
			if i >= 50 {
				tr.StartedAt = day2
			}
			if i%20 == 0 {
				tr.Fallbacks = 1
			}
			tr.Cached = i == 99
			batch = append(batch, tr)
		}
		batch = append(batch, traceAt(DefaultProjectID, "b", "k-small", day2, 200, 7))
		// Route "b" also had a stream its guard cut after the 200: an error.
		cut := traceAt(DefaultProjectID, "b", "k-small", day2, 200, 7)
		cut.ErrorCode = "content_blocked"
		batch = append(batch, cut)
		// Not counted: a shadow, a record before the period, another project's.
		sh := traceAt(DefaultProjectID, "a", "k-big", day2, 500, 100000)
		sh.ShadowOf = "x"
		batch = append(batch, sh, traceAt(DefaultProjectID, "a", "k-big", day1.Add(-72*time.Hour), 200, 100000))
		p, err := st.CreateProject(ctx, Project{Slug: "other", Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, traceAt(p.ID, "a", "k-big", day2, 200, 100000))
		if err := st.SaveTraces(ctx, batch); err != nil {
			t.Fatal(err)
		}
		got, err := st.TrafficStats(ctx, DefaultProjectID, day1.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Routes) != 2 {
			t.Fatalf("routes = %+v, want a and b", got.Routes)
		}
		a, b := got.Routes[0], got.Routes[1]
		if a.Route != "a" || a.Requests != 100 || a.Errors != 10 || a.Fallbacks != 5 || a.Cached != 1 ||
			a.P50MS != 50 || a.P95MS != 95 || a.P99MS != 99 || a.TokensIn != 1000 || a.TokensOut != 500 {
			t.Errorf("route a = %+v\nwant 100 requests, 10 errors, 5 fallbacks, 1 cached, p50 50, p95 95, p99 99, 1000/500 tokens", a)
		}
		if b.Route != "b" || b.Requests != 2 || b.Errors != 1 || b.P50MS != 7 || b.P95MS != 7 || b.P99MS != 7 {
			t.Errorf("route b = %+v, want two requests of 7 ms at every percentile, one an error (a stream cut after its 200)", b)
		}
		if len(got.Days) != 2 || !got.Days[0].Day.Equal(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)) ||
			got.Days[0].Requests != 50 || got.Days[0].Errors != 10 || got.Days[1].Requests != 52 || got.Days[1].Errors != 1 {
			t.Errorf("days = %+v, want 24th: 50 (10 errors), 25th: 52 (1 error)", got.Days)
		}
		if d := got.Days[0].CostUSD; d < 0.0499 || d > 0.0501 {
			t.Errorf("cost on the 24th = %v, want 0.05", d)
		}
		if len(got.Keys) != 2 || got.Keys[0].Key != "k-big" || got.Keys[0].Requests != 100 || got.Keys[1].Key != "k-small" || got.Keys[1].Errors != 1 {
			t.Errorf("keys = %+v, want k-big (100) then k-small (2, 1 error)", got.Keys)
		}
		empty, err := st.TrafficStats(ctx, DefaultProjectID, day2.Add(time.Hour))
		if err != nil || len(empty.Routes) != 0 || len(empty.Days) != 0 || len(empty.Keys) != 0 {
			t.Errorf("stats of an empty period = %+v, %v", empty, err)
		}
	})
}

func TestDeleteTracesBefore(t *testing.T) {
	forEachDriver(t, func(t *testing.T, _, dsn string) {
		st := openStore(t, dsn)
		ctx := context.Background()
		now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		var batch []Trace
		for i := range 30 {
			tr := traceAt(DefaultProjectID, "a", "k", now.Add(-time.Duration(i)*24*time.Hour), 200, 1)
			tr.RequestBody = "req"
			batch = append(batch, tr)
		}
		if err := st.SaveTraces(ctx, batch); err != nil {
			t.Fatal(err)
		}
		n, err := st.DeleteTracesBefore(ctx, now.Add(-7*24*time.Hour))
		if err != nil || n != 22 {
			t.Fatalf("DeleteTracesBefore = %d, %v; want the 22 records older than 7 days", n, err)
		}
		if left := countRows(t, st, "SELECT count(*) FROM traces WHERE project_id = ?", DefaultProjectID); left != 8 {
			t.Errorf("%d records left, want 8", left)
		}
		if bodies := countRows(t, st, "SELECT count(*) FROM trace_bodies WHERE request = ?", "req"); bodies != 8 {
			t.Errorf("%d bodies left, want 8 (a deleted record's body goes with it)", bodies)
		}
	})
}

// BenchmarkSaveTraces is the recorder's write: one batch of 1,000 records with small bodies.
func BenchmarkSaveTraces(b *testing.B) {
	for _, driver := range []string{DriverSQLite, DriverPostgres} {
		b.Run(driver, func(b *testing.B) {
			st := openStore(b, freshDSN(b, driver))
			ctx := context.Background()
			t0 := time.Now()
			n := 0
			for b.Loop() {
				batch := make([]Trace, 1000)
				for i := range batch {
					n++
					tr := traceAt(DefaultProjectID, "support-bot", "team-a", t0.Add(time.Duration(n)*time.Microsecond), 200, 42)
					tr.Attempts = []Attempt{{Provider: "primary", Model: "fake-1", Status: 200, LatencyMS: 40}}
					tr.RequestBody = `{"model":"support-bot","messages":[{"role":"user","content":"Where is my refund for order 1234?"}]}`
					tr.ResponseBody = `{"choices":[{"message":{"role":"assistant","content":"Your refund is on its way."}}]}`
					batch[i] = tr
				}
				if err := st.SaveTraces(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestNearestRank(t *testing.T) {
	// Published definition (nearest-rank method): for 5, 1, 9, 3, 7 the 50th percentile
	// is 5, the 95th and 99th 9; for 1..100 the p-th is p; for 1..10 the 95th is 10.
	odd := []float64{1, 3, 5, 7, 9}
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	for _, c := range []struct {
		vals []float64
		p    int
		want float64
	}{{odd, 50, 5}, {odd, 95, 9}, {odd, 99, 9}, {odd, 20, 1}, {odd, 21, 3}, {hundred, 50, 50}, {hundred, 95, 95}, {hundred, 99, 99},
		{hundred[:10], 95, 10}, {hundred[:10], 50, 5}, {hundred[:2], 50, 1}, {nil, 50, 0}} {
		if got := nearestRank(c.vals, c.p); got != c.want {
			t.Errorf("p%d of %v = %v, want %v", c.p, c.vals, got, c.want)
		}
	}
}
