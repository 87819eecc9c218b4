package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// traceChunk is rows per multi-row INSERT of traces on SQLite. The statement of a full chunk
// is prepared once and kept (parsing it cost as much as running it), and the writer yields
// its processor between chunks (runtime.Gosched), so that the calls waiting for the same
// processor run before the rest of the batch: a batch is milliseconds of work, a call's
// added latency should not be.
const traceChunk = 25

// traceCursor is the kind of ListTraces' cursors.
const traceCursor = "tr"

// traceCols are the columns a list reads: everything but the bodies.
const traceCols = `id, project_id, key, endpoint, route, provider, model, attempts, fallbacks, stream, cached,
	canary, COALESCE(shadow_of, ''), status, error_code, blocked, started_at, latency_ms, ttft_ms, tokens_in,
	tokens_out, cost_usd`

// traceInsertCols is traceCols as written.
const traceInsertCols = `id, project_id, key, endpoint, route, provider, model, attempts, fallbacks, stream, cached,
	canary, shadow_of, status, error_code, blocked, started_at, latency_ms, ttft_ms, tokens_in, tokens_out, cost_usd`

func scanTrace(r rowScanner) (Trace, error) {
	var t Trace
	var attempts string
	var started timeCol
	var ttft *float64
	err := r.Scan(&t.ID, &t.ProjectID, &t.Key, &t.Endpoint, &t.Route, &t.Provider, &t.Model, &attempts,
		&t.Fallbacks, &t.Stream, &t.Cached, &t.Canary, &t.ShadowOf, &t.Status, &t.ErrorCode, &t.Blocked,
		&started, &t.LatencyMS, &ttft, &t.TokensIn, &t.TokensOut, &t.CostUSD)
	if err != nil {
		return t, err
	}
	t.StartedAt, t.TTFTMS = started.T, ttft
	if attempts != "" && attempts != "null" {
		if err := json.Unmarshal([]byte(attempts), &t.Attempts); err != nil {
			return t, fmt.Errorf("trace %s: stored attempts are corrupt: %w", t.ID, err)
		}
	}
	return t, nil
}

// SaveTraces implements Traces. Records without an id get one; records of a project that
// does not exist (or of none) go to the default project.
func (a *accounts) SaveTraces(ctx context.Context, batch []Trace) error {
	if len(batch) == 0 {
		return nil
	}
	if sq, ok := a.db.(sqliteDB); ok && len(batch) >= traceChunk {
		for _, q := range []string{traceInserts, traceBodiesInserts} {
			if err := sq.stmts.prepare(ctx, sq.writer, q); err != nil {
				return fmt.Errorf("save traces: %w", err)
			}
		}
	}
	return a.db.inTx(ctx, func(d db) error {
		projects, err := existingProjects(ctx, d, batch)
		if err != nil {
			return err
		}
		prepareTraces(batch, projects)
		if tx, ok := d.(pgTx); ok {
			return copyTraces(ctx, tx, batch)
		}
		for start := 0; start < len(batch); start += traceChunk {
			if start > 0 {
				runtime.Gosched()
			}
			part := batch[start:min(start+traceChunk, len(batch))]
			args := make([]any, 0, len(part)*22)
			bargs := make([]any, 0, len(part)*3)
			for i := range part {
				t := &part[i]
				var err error
				// The start in the schema's text form, so that the statement's arguments
				// need no converted copy (sqliteArgs).
				if args, err = appendTraceRow(args, t, sqliteTime(storedTime(t.StartedAt))); err != nil {
					return err
				}
				if t.RequestBody != "" || t.ResponseBody != "" {
					bargs = append(bargs, t.ID, t.RequestBody, t.ResponseBody)
				}
			}
			if _, err := d.exec(ctx, traceInsert(len(part)), args...); err != nil {
				if d.isUnique(err) {
					return fmt.Errorf("save traces: %w: a trace id is already stored", ErrConflict)
				}
				return fmt.Errorf("save traces: %w", err)
			}
			if len(bargs) > 0 {
				if _, err := d.exec(ctx, traceBodiesInsert(len(bargs)/3), bargs...); err != nil {
					return fmt.Errorf("save trace bodies: %w", err)
				}
			}
		}
		return nil
	})
}

// traceInsert and traceBodiesInsert are the INSERTs of n traces rows and n trace_bodies rows;
// traceInserts and traceBodiesInserts, those of a full chunk, which SQLite keeps prepared.
const (
	traceInsertHead       = `INSERT INTO traces (` + traceInsertCols + `) VALUES `
	traceBodiesInsertHead = `INSERT INTO trace_bodies (trace_id, request, response) VALUES `
)

var (
	traceInserts       = valuesInsert(traceInsertHead, 22, traceChunk)
	traceBodiesInserts = valuesInsert(traceBodiesInsertHead, 3, traceChunk)
)

func traceInsert(n int) string {
	if n == traceChunk {
		return traceInserts
	}
	return valuesInsert(traceInsertHead, 22, n)
}

func traceBodiesInsert(n int) string {
	if n == traceChunk {
		return traceBodiesInserts
	}
	return valuesInsert(traceBodiesInsertHead, 3, n)
}

// valuesInsert is head followed by n rows of cols placeholders.
func valuesInsert(head string, cols, n int) string {
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	return head + row + strings.Repeat(", "+row, n-1)
}

// prepareTraces gives each record an id and a project that exists.
func prepareTraces(batch []Trace, projects map[string]bool) {
	for i := range batch {
		t := &batch[i]
		if t.ID == "" {
			t.ID = NewTraceID(t.StartedAt)
		}
		if !projects[t.ProjectID] {
			t.ProjectID = DefaultProjectID
		}
	}
}

// appendTraceRow appends a record's traces row, in traceInsertCols' order, to args, with
// started as its start (the driver's form of storedTime(t.StartedAt)).
func appendTraceRow(args []any, t *Trace, started any) ([]any, error) {
	attempts, err := json.Marshal(t.Attempts)
	if err != nil {
		return nil, fmt.Errorf("save trace %s: %w", t.ID, err)
	}
	var ttft any
	if t.TTFTMS != nil {
		ttft = *t.TTFTMS
	}
	return append(args, t.ID, t.ProjectID, t.Key, t.Endpoint, t.Route, t.Provider, t.Model, string(attempts),
		t.Fallbacks, t.Stream, t.Cached, t.Canary, nullable(t.ShadowOf), t.Status, t.ErrorCode, t.Blocked,
		started, t.LatencyMS, ttft, t.TokensIn, t.TokensOut, t.CostUSD), nil
}

// copyTraces writes a batch with PostgreSQL's COPY, which a large multi-row INSERT is
// several times slower than.
func copyTraces(ctx context.Context, tx pgTx, batch []Trace) error {
	rows := make([][]any, 0, len(batch))
	var bodies [][]any
	for i := range batch {
		row, err := appendTraceRow(nil, &batch[i], storedTime(batch[i].StartedAt))
		if err != nil {
			return err
		}
		rows = append(rows, row)
		if t := &batch[i]; t.RequestBody != "" || t.ResponseBody != "" {
			bodies = append(bodies, []any{t.ID, t.RequestBody, t.ResponseBody})
		}
	}
	cols := strings.Split(strings.Join(strings.Fields(traceInsertCols), ""), ",")
	if _, err := tx.tx.CopyFrom(ctx, pgx.Identifier{"traces"}, cols, pgx.CopyFromRows(rows)); err != nil {
		if isPgCode(err, pgUniqueViolation) {
			return fmt.Errorf("save traces: %w: a trace id is already stored", ErrConflict)
		}
		return fmt.Errorf("save traces: %w", err)
	}
	if len(bodies) > 0 {
		if _, err := tx.tx.CopyFrom(ctx, pgx.Identifier{"trace_bodies"}, []string{"trace_id", "request", "response"}, pgx.CopyFromRows(bodies)); err != nil {
			return fmt.Errorf("save trace bodies: %w", err)
		}
	}
	return nil
}

// existingProjects is which of the batch's project ids exist.
func existingProjects(ctx context.Context, d db, batch []Trace) (map[string]bool, error) {
	seen := map[string]bool{DefaultProjectID: true}
	var ids []any
	for _, t := range batch {
		if _, ok := seen[t.ProjectID]; !ok && t.ProjectID != "" {
			seen[t.ProjectID] = false
			ids = append(ids, t.ProjectID)
		}
	}
	if len(ids) == 0 {
		return seen, nil
	}
	rows, err := d.query(ctx, `SELECT id FROM projects WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("save traces: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("save traces: %w", err)
		}
		seen[id] = true
	}
	return seen, rows.Err()
}

// NewTraceID makes a trace id that sorts as the calls started: "t_", the start time in
// microseconds since 1970 as 16 hex digits, and 8 random hex digits.
func NewTraceID(started time.Time) string {
	r := newID("t")[2:10]
	return fmt.Sprintf("t_%016x%s", started.UnixMicro(), r)
}

// encodeTraceCursor is the position after a record in the list's order.
func encodeTraceCursor(t Trace) string {
	return base64.RawURLEncoding.EncodeToString([]byte(traceCursor + ":" + t.StartedAt.UTC().Format(time.RFC3339Nano) + "|" + t.ID))
}

func decodeTraceCursor(cursor string) (time.Time, string, error) {
	bad := invalid("cursor %q is not one this list returned: start again without a cursor", cursor)
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return time.Time{}, "", bad
	}
	kind, rest, ok := strings.Cut(string(b), ":")
	ts, id, ok2 := strings.Cut(rest, "|")
	if !ok || !ok2 || kind != traceCursor || id == "" {
		return time.Time{}, "", bad
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", bad
	}
	return t, id, nil
}

// traceWhere is the condition of a project's records matching f.
func traceWhere(projectID string, f TraceFilter) (string, []any, error) {
	where := []string{"project_id = ?"}
	args := []any{projectID}
	if f.Route != "" {
		where, args = append(where, "route = ?"), append(args, f.Route)
	}
	if f.Key != "" {
		where, args = append(where, "key = ?"), append(args, f.Key)
	}
	switch f.Status {
	case "":
	case "ok":
		where = append(where, "status >= 200 AND status < 300 AND error_code = ''")
	case "error":
		// A stream that broke off or was cut by a guard after its 200 is a failure too.
		where = append(where, "(status < 200 OR status >= 300 OR error_code <> '')")
	default:
		return "", nil, invalid("status %q: use ok, error or leave it out", f.Status)
	}
	if f.Shadow {
		where = append(where, "shadow_of IS NOT NULL")
	} else {
		where = append(where, "shadow_of IS NULL")
	}
	if !f.Since.IsZero() {
		where, args = append(where, "started_at >= ?"), append(args, storedTime(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "started_at < ?"), append(args, storedTime(f.Until))
	}
	return strings.Join(where, " AND "), args, nil
}

// ListTraces implements Traces.
func (a *accounts) ListTraces(ctx context.Context, projectID string, f TraceFilter, cursor string, limit int) ([]Trace, string, error) {
	where, args, err := traceWhere(projectID, f)
	if err != nil {
		return nil, "", err
	}
	if cursor != "" {
		at, id, err := decodeTraceCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		where += " AND (started_at < ? OR (started_at = ? AND id < ?))"
		args = append(args, at, at, id)
	}
	n := pageSize(limit)
	rows, err := a.db.query(ctx, `SELECT `+traceCols+` FROM traces WHERE `+where+
		` ORDER BY started_at DESC, id DESC LIMIT ?`, append(args, n+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list traces: %w", err)
	}
	page, err := collect(rows, "list traces", scanTrace)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(page) > n {
		page = page[:n]
		next = encodeTraceCursor(page[n-1])
	}
	return page, next, nil
}

// GetTrace implements Traces.
func (a *accounts) GetTrace(ctx context.Context, projectID, id string) (Trace, error) {
	t, err := scanTrace(a.db.queryRow(ctx, `SELECT `+traceCols+` FROM traces WHERE project_id = ? AND id = ?`, projectID, id))
	if errors.Is(err, errNoRows) {
		return Trace{}, fmt.Errorf("trace %q %w", id, ErrNotFound)
	}
	if err != nil {
		return Trace{}, fmt.Errorf("get trace %s: %w", id, err)
	}
	err = a.db.queryRow(ctx, `SELECT request, response FROM trace_bodies WHERE trace_id = ?`, id).Scan(&t.RequestBody, &t.ResponseBody)
	if err != nil && !errors.Is(err, errNoRows) {
		return Trace{}, fmt.Errorf("get trace %s: %w", id, err)
	}
	return t, nil
}

// TrafficStats implements Traces. Percentiles are exact, by nearest rank (the smallest
// latency at or under which p of the calls fall: PostgreSQL's percentile_disc), over every
// live call of the period: PostgreSQL computes them; on SQLite, which has no percentile
// function, the period's latencies are read (in the table's order, no lookups) and sorted
// here.
func (a *accounts) TrafficStats(ctx context.Context, projectID string, since time.Time) (TrafficStats, error) {
	st := TrafficStats{Routes: []RouteTraffic{}, Days: []DayTraffic{}, Keys: []KeyTraffic{}}
	const live = ` FROM traces WHERE project_id = ? AND started_at >= ? AND shadow_of IS NULL`
	const errs = `sum(CASE WHEN status >= 200 AND status < 300 AND error_code = '' THEN 0 ELSE 1 END)`
	from := storedTime(since)
	pg := a.db.driver() == DriverPostgres
	cachedSum, day, pcts := "sum(cached)", "substr(started_at, 1, 10)", "0, 0, 0"
	if pg {
		cachedSum = "sum(CASE WHEN cached THEN 1 ELSE 0 END)"
		day = "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
		pcts = `percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms), percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms),
			percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_ms)`
	}
	byRoute := map[string]int{}
	rows, err := a.db.query(ctx, `SELECT route, count(*), `+errs+`, sum(CASE WHEN fallbacks > 0 THEN 1 ELSE 0 END), `+cachedSum+`,
		CAST(sum(tokens_in) AS bigint), CAST(sum(tokens_out) AS bigint), sum(cost_usd), `+pcts+live+` GROUP BY route ORDER BY route`, projectID, from)
	if err != nil {
		return st, fmt.Errorf("traffic stats: %w", err)
	}
	for rows.Next() {
		var r RouteTraffic
		if err := rows.Scan(&r.Route, &r.Requests, &r.Errors, &r.Fallbacks, &r.Cached, &r.TokensIn, &r.TokensOut, &r.CostUSD,
			&r.P50MS, &r.P95MS, &r.P99MS); err != nil {
			rows.Close()
			return st, fmt.Errorf("traffic stats: %w", err)
		}
		byRoute[r.Route] = len(st.Routes)
		st.Routes = append(st.Routes, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("traffic stats: %w", err)
	}
	if len(st.Routes) == 0 {
		return st, nil
	}
	if !pg {
		lat := make([][]float64, len(st.Routes))
		for i, r := range st.Routes {
			lat[i] = make([]float64, 0, r.Requests)
		}
		rows, err = a.db.query(ctx, `SELECT route, latency_ms`+live, projectID, from)
		if err != nil {
			return st, fmt.Errorf("traffic percentiles: %w", err)
		}
		last, li := "", -1
		for rows.Next() {
			var route string
			var v float64
			if err := rows.Scan(&route, &v); err != nil {
				rows.Close()
				return st, fmt.Errorf("traffic percentiles: %w", err)
			}
			if route != last || li < 0 {
				i, ok := byRoute[route]
				if !ok {
					continue // recorded after the sums were read
				}
				last, li = route, i
			}
			lat[li] = append(lat[li], v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, fmt.Errorf("traffic percentiles: %w", err)
		}
		for i := range st.Routes {
			r := &st.Routes[i]
			sort.Float64s(lat[i])
			r.P50MS, r.P95MS, r.P99MS = nearestRank(lat[i], 50), nearestRank(lat[i], 95), nearestRank(lat[i], 99)
		}
	}
	rows, err = a.db.query(ctx, `SELECT `+day+` AS d, count(*), `+errs+`, CAST(sum(tokens_in) AS bigint), CAST(sum(tokens_out) AS bigint), sum(cost_usd)`+live+
		` GROUP BY d ORDER BY d`, projectID, from)
	if err != nil {
		return st, fmt.Errorf("traffic per day: %w", err)
	}
	for rows.Next() {
		var d DayTraffic
		var ds string
		if err := rows.Scan(&ds, &d.Requests, &d.Errors, &d.TokensIn, &d.TokensOut, &d.CostUSD); err != nil {
			rows.Close()
			return st, fmt.Errorf("traffic per day: %w", err)
		}
		if d.Day, err = time.Parse(time.DateOnly, ds); err != nil {
			rows.Close()
			return st, fmt.Errorf("traffic per day: stored day %q: %w", ds, err)
		}
		st.Days = append(st.Days, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("traffic per day: %w", err)
	}
	rows, err = a.db.query(ctx, `SELECT key, count(*), `+errs+`, sum(cost_usd)`+live+` GROUP BY key`, projectID, from)
	if err != nil {
		return st, fmt.Errorf("traffic per key: %w", err)
	}
	for rows.Next() {
		var k KeyTraffic
		if err := rows.Scan(&k.Key, &k.Requests, &k.Errors, &k.CostUSD); err != nil {
			rows.Close()
			return st, fmt.Errorf("traffic per key: %w", err)
		}
		st.Keys = append(st.Keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("traffic per key: %w", err)
	}
	sort.Slice(st.Keys, func(i, j int) bool {
		if st.Keys[i].Requests != st.Keys[j].Requests {
			return st.Keys[i].Requests > st.Keys[j].Requests
		}
		return st.Keys[i].Key < st.Keys[j].Key
	})
	return st, nil
}

// nearestRank is the p-th percentile (p in 1..100) of sorted values by nearest rank: the
// value at rank ceil(p/100 * n) in ascending order.
func nearestRank(sorted []float64, p int) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (p*n + 99) / 100 // ceil(p*n/100)
	return sorted[max(rank, 1)-1]
}

// traceDeleteBatch is how many records one retention statement deletes, so that a large
// purge never holds SQLite's write lock for long.
const traceDeleteBatch = 5000

// DeleteTracesBefore implements Traces, project by project (through the list's index).
func (a *accounts) DeleteTracesBefore(ctx context.Context, before time.Time) (int64, error) {
	at := storedTime(before)
	rows, err := a.db.query(ctx, `SELECT id FROM projects`)
	if err != nil {
		return 0, fmt.Errorf("delete traces: %w", err)
	}
	projects, err := collect(rows, "delete traces", func(r rowScanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return 0, err
	}
	var total int64
	for _, p := range projects {
		for {
			n, err := a.db.exec(ctx, `DELETE FROM traces WHERE id IN (
				SELECT id FROM traces WHERE project_id = ? AND started_at < ? LIMIT ?)`, p, at, traceDeleteBatch)
			if err != nil {
				return total, fmt.Errorf("delete traces before %s: %w", at.Format(time.RFC3339), err)
			}
			total += n
			if n < traceDeleteBatch {
				break
			}
		}
	}
	return total, nil
}
