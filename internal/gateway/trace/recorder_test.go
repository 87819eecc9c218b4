package trace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plumbhq/plumb/internal/store"
)

// memStore keeps saved records in memory; block, when set, holds every SaveTraces until it
// is closed or the call's context ends; fail makes SaveTraces fail.
type memStore struct {
	store.Traces // only SaveTraces is called
	mu           sync.Mutex
	ids          map[string]int
	batches      int
	maxBatch     int
	calls        int
	block        chan struct{}
	fail         error
}

func newMemStore() *memStore { return &memStore{ids: map[string]int{}} }

func (m *memStore) SaveTraces(ctx context.Context, batch []store.Trace) error {
	m.mu.Lock()
	m.calls++
	block, fail := m.block, m.fail
	m.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches++
	m.maxBatch = max(m.maxBatch, len(batch))
	for _, t := range batch {
		m.ids[t.ID]++
	}
	return nil
}

// unblock lets the held SaveTraces calls, and the ones after, through.
func (m *memStore) unblock() {
	m.mu.Lock()
	defer m.mu.Unlock()
	close(m.block)
	m.block = nil
}

func (m *memStore) callCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

func (m *memStore) stored() (records, batches int, dup bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.ids {
		dup = dup || n > 1
	}
	return len(m.ids), m.batches, dup
}

// droppedMetric reads plumb_gateway_traces_dropped_total{reason} from reg.
func droppedMetric(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "plumb_gateway_traces_dropped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no plumb_gateway_traces_dropped_total{reason=%q}", reason)
	return 0
}

// TestRecorderManyWriters: 100,000 records from 32 goroutines, none dropped, each stored
// once, in batches (not one write per record).
func TestRecorderManyWriters(t *testing.T) {
	const writers, per = 32, 100_000 / 32
	ms := newMemStore()
	reg := prometheus.NewRegistry()
	r := NewRecorder(ms, Options{BufferSize: 100_000, BatchSize: 1000, FlushInterval: 10 * time.Millisecond, Registerer: reg})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				r.Record(store.Trace{ID: fmt.Sprintf("t_%02d_%05d", w, i), Route: "support-bot"})
			}
		})
	}
	wg.Wait()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, batches, dup := ms.stored()
	if n != writers*per || dup || r.Dropped() != 0 || r.Written() != uint64(n) {
		t.Fatalf("stored %d distinct (duplicates: %v), dropped %d, written %d; want all %d once", n, dup, r.Dropped(), r.Written(), writers*per)
	}
	if batches > n/10 {
		t.Errorf("%d writes for %d records: the recorder is not batching", batches, n)
	}
	if d := droppedMetric(t, reg, ReasonBufferFull); d != 0 {
		t.Errorf("dropped metric = %v, want 0", d)
	}
}

// TestRecorderFullBatchesAndTheRest: records are written without waiting for the flush
// interval as soon as a batch is full, so that fewer than a batch ever wait for it; never
// more than BatchSize records a write; the rest at Close.
func TestRecorderFullBatchesAndTheRest(t *testing.T) {
	ms := newMemStore()
	r := NewRecorder(ms, Options{BatchSize: 10, FlushInterval: time.Hour})
	for i := range 25 {
		r.Record(store.Trace{ID: fmt.Sprint("t_", i)})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, batches, _ := ms.stored()
		if n > 25-10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %d of 25 records in %d writes; want all but fewer than a batch of 10 before the hour's flush", n, batches)
		}
		time.Sleep(time.Millisecond)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, batches, dup := ms.stored(); n != 25 || batches > 4 || dup || ms.maxBatch > 10 {
		t.Errorf("after Close: %d records in %d writes of at most %d (duplicates: %v); want 25 in 3 or 4 of at most 10", n, batches, ms.maxBatch, dup)
	}

	// A backlog taken at once is still written BatchSize at a time.
	ms = newMemStore()
	ms.block = make(chan struct{})
	r = NewRecorder(ms, Options{BatchSize: 10, FlushInterval: time.Hour})
	for i := range 10 {
		r.Record(store.Trace{ID: fmt.Sprint("a_", i)}) // taken, then held by the stuck store
	}
	for ms.callCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := range 35 {
		r.Record(store.Trace{ID: fmt.Sprint("b_", i)})
	}
	ms.unblock()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, batches, _ := ms.stored(); n != 45 || batches != 5 || ms.maxBatch != 10 {
		t.Errorf("a backlog of 35 behind a batch of 10: %d records in %d writes; want 45 in 5 (10, 10, 10, 10, 5)", n, batches)
	}
}

// TestRecorderSQLite writes through the real store: records from 32 goroutines are all in
// the database after Close. (The race detector slows the pure-Go SQLite down a hundredfold:
// the rate the store keeps up with is BenchmarkSaveTraces' subject, not this test's.)
func TestRecorderSQLite(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "plumb.db"), store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := NewRecorder(st, Options{BufferSize: 2048, BatchSize: 500, FlushInterval: 20 * time.Millisecond})
	const writers, per = 32, 50
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				r.Record(store.Trace{ProjectID: store.DefaultProjectID, Route: "support-bot", Key: fmt.Sprint("k", w),
					StartedAt: t0.Add(time.Duration(w*per+i) * time.Microsecond), Status: 200, RequestBody: "{}"})
			}
		})
	}
	wg.Wait()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	total, cursor := 0, ""
	for {
		page, next, err := st.ListTraces(context.Background(), store.DefaultProjectID, store.TraceFilter{}, cursor, store.MaxPageSize)
		if err != nil {
			t.Fatal(err)
		}
		total += len(page)
		if cursor = next; next == "" {
			break
		}
	}
	if total != writers*per || r.Dropped() != 0 {
		t.Errorf("%d records in the store, %d dropped; want %d, 0", total, r.Dropped(), writers*per)
	}
}

// TestRecorderSlowStoreDrops: with the store stuck, Record returns at once and the records
// beyond the buffer are dropped and counted; Close then writes what was buffered.
func TestRecorderSlowStoreDrops(t *testing.T) {
	ms := newMemStore()
	ms.block = make(chan struct{})
	reg := prometheus.NewRegistry()
	r := NewRecorder(ms, Options{BufferSize: 100, BatchSize: 10, FlushInterval: time.Millisecond, Registerer: reg})
	start := time.Now()
	const n = 20_000
	for i := range n {
		r.Record(store.Trace{ID: fmt.Sprint("t_", i)})
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("20,000 Record calls against a stuck store took %v: Record blocks", took)
	}
	// The buffer holds at most 100 records, those the writer is writing included.
	if d := r.Dropped(); d < n-100 {
		t.Errorf("dropped %d of %d with a stuck store and a buffer of 100", d, n)
	}
	if got := droppedMetric(t, reg, ReasonBufferFull); uint64(got) != r.Dropped() {
		t.Errorf("metric says %v dropped, Dropped() %d", got, r.Dropped())
	}
	ms.unblock()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored, _, _ := ms.stored()
	if uint64(stored)+r.Dropped() != n {
		t.Errorf("stored %d + dropped %d != %d recorded", stored, r.Dropped(), n)
	}
}

// TestRecorderFailingStore: a store that keeps failing gets each batch MaxRetries+1 times,
// then the batch is dropped and counted; the recorder keeps going.
func TestRecorderFailingStore(t *testing.T) {
	ms := newMemStore()
	ms.fail = errors.New("disk full")
	reg := prometheus.NewRegistry()
	r := NewRecorder(ms, Options{BufferSize: 100, BatchSize: 5, FlushInterval: time.Millisecond,
		MaxRetries: 2, RetryBackoff: time.Millisecond, Registerer: reg})
	for i := range 5 {
		r.Record(store.Trace{ID: fmt.Sprint("t_", i)})
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Dropped() < 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if r.Dropped() != 5 || droppedMetric(t, reg, ReasonStoreError) != 5 {
		t.Fatalf("dropped %d (metric %v) after the store failed, want the batch of 5", r.Dropped(), droppedMetric(t, reg, ReasonStoreError))
	}
	ms.mu.Lock()
	calls := ms.calls
	ms.fail = nil
	ms.mu.Unlock()
	if calls != 3 {
		t.Errorf("the failing batch was tried %d times, want 3 (1 + MaxRetries 2)", calls)
	}
	r.Record(store.Trace{ID: "t_after"})
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := ms.stored(); n != 1 {
		t.Errorf("stored %d after the store recovered, want the 1 new record", n)
	}
}

// TestRecorderCloseFlushes: records waiting for a long flush interval are written by Close;
// a record after Close is dropped, not lost silently.
func TestRecorderCloseFlushes(t *testing.T) {
	ms := newMemStore()
	r := NewRecorder(ms, Options{BatchSize: 1000, FlushInterval: time.Hour})
	for i := range 123 {
		r.Record(store.Trace{ID: fmt.Sprint("t_", i)})
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := ms.stored(); n != 123 {
		t.Fatalf("stored %d after Close, want 123", n)
	}
	r.Record(store.Trace{ID: "late"})
	if r.Dropped() != 1 {
		t.Errorf("a record after Close: dropped %d, want 1", r.Dropped())
	}
	if err := r.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestRecorderCloseDeadline: Close on a stuck store returns when its context ends, and the
// abandoned records are counted.
func TestRecorderCloseDeadline(t *testing.T) {
	ms := newMemStore()
	ms.block = make(chan struct{})
	r := NewRecorder(ms, Options{BatchSize: 10, FlushInterval: time.Hour, WriteTimeout: time.Hour})
	for i := range 25 {
		r.Record(store.Trace{ID: fmt.Sprint("t_", i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := r.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close on a stuck store = %v, want the deadline", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %v past its deadline", took)
	}
	if r.Dropped() != 25 {
		t.Errorf("dropped %d, want the 25 records never written", r.Dropped())
	}
}

// TestRetain: the retention job deletes what is older than its days at once, and again on
// its interval as time passes; 0 days keeps everything.
func TestRetain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db"), store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var batch []store.Trace
	for i := range 10 { // one a day, today back to 9 days ago
		batch = append(batch, store.Trace{ID: fmt.Sprint("t_", i), StartedAt: now.AddDate(0, 0, -i), Status: 200})
	}
	if err := st.SaveTraces(ctx, batch); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		page, _, err := st.ListTraces(ctx, store.DefaultProjectID, store.TraceFilter{}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(page)
	}
	log := slog.New(slog.DiscardHandler)
	Retain(ctx, st, 0, time.Millisecond, clock, log) // returns at once
	if n := count(); n != 10 {
		t.Fatalf("0 days deleted records: %d left", n)
	}
	go Retain(ctx, st, 7, 10*time.Millisecond, clock, log)
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for count() != want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := count(); n != want {
			t.Fatalf("%d records left, want %d", n, want)
		}
	}
	waitFor(8) // today and 7 days back at noon: the one exactly 7 days old stays
	mu.Lock()
	now = now.AddDate(0, 0, 3)
	mu.Unlock()
	waitFor(5)
}
