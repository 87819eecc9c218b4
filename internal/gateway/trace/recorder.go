// Package trace records the gateway's calls in the store without slowing them: a Recorder
// takes records on the request path without ever blocking (or waking anything but once a
// batch) and writes them in batches from one goroutine; Body prepares a request or response
// body for a record (cut to size, with secrets and, when asked, personal data redacted).
package trace

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plumbhq/plumb/internal/store"
)

// Defaults of Options.
const (
	DefaultBufferSize    = 10_000
	DefaultBatchSize     = 100
	DefaultFlushInterval = time.Second
	DefaultMaxRetries    = 5
	DefaultRetryBackoff  = 100 * time.Millisecond
	DefaultWriteTimeout  = 10 * time.Second
	// maxRetryBackoff caps the doubling of RetryBackoff.
	maxRetryBackoff = 5 * time.Second
)

// Options tune a Recorder; zero values take the defaults.
type Options struct {
	// BufferSize is how many records wait for the writer at most, those it is writing
	// included; a record arriving at a full buffer is dropped (and counted).
	BufferSize int
	// BatchSize is how many records one store write carries at most.
	BatchSize int
	// FlushInterval is how long a record waits at most for its batch to fill.
	FlushInterval time.Duration
	// MaxRetries is how many times a failed batch is written again (with a doubling
	// backoff from RetryBackoff) before it is dropped and counted.
	MaxRetries   int
	RetryBackoff time.Duration
	// WriteTimeout bounds one store write.
	WriteTimeout time.Duration
	// Registerer gets the recorder's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger gets failed writes and dropped batches; nil logs nothing.
	Logger *slog.Logger
}

// Drop reasons, the reason label of plumb_gateway_traces_dropped_total.
const (
	ReasonBufferFull = "buffer_full"
	ReasonStoreError = "store_error"
	ReasonClosed     = "closed"
)

// Recorder writes trace records to the store in batches. Record never blocks; Close
// flushes. It is safe for concurrent use.
//
// Records wait in a slice rather than a channel: a send on a channel that the writer waits
// on wakes the writer for every record, and on an idle machine that is a thread woken per
// call; Record wakes the writer only when a batch is full (the flush interval's ticker
// takes the rest).
type Recorder struct {
	st  store.Traces
	opt Options
	log *slog.Logger

	// mu guards pending, taken and closed. Close marks the recorder closed under it, so
	// that no record is added after the writer's final drain.
	mu      sync.Mutex
	pending []store.Trace // recorded, not yet taken by the writer
	taken   int           // taken by the writer, not yet written
	closed  bool
	full    chan struct{} // a batch is pending (capacity 1: one wake-up is enough)

	stop     chan struct{} // closed by Close: drain and exit
	done     chan struct{} // closed by the writer when it exits
	ctx      context.Context
	cancel   context.CancelFunc // aborts the writer's store calls (Close's deadline passed)
	stopOnce sync.Once

	dropped, written atomic.Uint64

	mDropped *prometheus.CounterVec
	mWritten prometheus.Counter
	mBatches *prometheus.CounterVec
	mWrite   prometheus.Histogram
	mBuffer  prometheus.GaugeFunc
}

// NewRecorder starts a recorder writing to st.
func NewRecorder(st store.Traces, opt Options) *Recorder {
	if opt.BufferSize <= 0 {
		opt.BufferSize = DefaultBufferSize
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatchSize
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = DefaultFlushInterval
	}
	if opt.MaxRetries < 0 {
		opt.MaxRetries = 0
	} else if opt.MaxRetries == 0 {
		opt.MaxRetries = DefaultMaxRetries
	}
	if opt.RetryBackoff <= 0 {
		opt.RetryBackoff = DefaultRetryBackoff
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultWriteTimeout
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Recorder{st: st, opt: opt, log: log, full: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.mDropped = register(opt.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "plumb_gateway_traces_dropped_total",
		Help: "Trace records dropped: buffer_full (the writer fell behind), store_error (a batch failed past its retries), closed (recorded after Close).",
	}, []string{"reason"}))
	for _, reason := range []string{ReasonBufferFull, ReasonStoreError, ReasonClosed} {
		r.mDropped.WithLabelValues(reason) // exported at 0 from the start
	}
	r.mWritten = register(opt.Registerer, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "plumb_gateway_traces_written_total", Help: "Trace records written to the store.",
	}))
	r.mBatches = register(opt.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "plumb_gateway_trace_batches_total", Help: "Trace batch writes, by result (ok, error: each failed attempt).",
	}, []string{"result"}))
	r.mWrite = register(opt.Registerer, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "plumb_gateway_trace_write_seconds", Help: "Time to write one trace batch to the store.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	}))
	r.mBuffer = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "plumb_gateway_trace_buffer", Help: "Trace records waiting for the writer, or being written.",
	}, func() float64 {
		r.mu.Lock()
		defer r.mu.Unlock()
		return float64(len(r.pending) + r.taken)
	})
	if opt.Registerer != nil {
		// A second recorder on the same registry keeps the first one's gauge.
		_ = opt.Registerer.Register(r.mBuffer)
	}
	go r.run()
	return r
}

// register registers c, or returns the collector already registered under its name (a
// second recorder on the same registry then adds to the same series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

// Record queues a record for writing. It never blocks: when the buffer is full, or the
// recorder is closed, the record is dropped and counted.
func (r *Recorder) Record(t store.Trace) {
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		r.drop(ReasonClosed, 1)
		return
	case len(r.pending)+r.taken >= r.opt.BufferSize:
		r.mu.Unlock()
		r.drop(ReasonBufferFull, 1)
		return
	}
	r.pending = append(r.pending, t)
	full := len(r.pending) == r.opt.BatchSize
	r.mu.Unlock()
	if full {
		select {
		case r.full <- struct{}{}:
		default: // already told
		}
	}
}

func (r *Recorder) drop(reason string, n int) {
	r.dropped.Add(uint64(n))
	r.mDropped.WithLabelValues(reason).Add(float64(n))
}

// Dropped is how many records were dropped since the recorder started.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Written is how many records were written to the store.
func (r *Recorder) Written() uint64 { return r.written.Load() }

// Close stops taking records and writes the ones buffered. If ctx ends first, the writes
// in progress are abandoned, what is left is dropped (and counted) and ctx's error is
// returned. Close may be called more than once.
func (r *Recorder) Close(ctx context.Context) error {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.stop)
	})
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		r.cancel()
		<-r.done
		return ctx.Err()
	}
}

// run is the writer: when a batch is pending, or at each flush interval, it takes every
// pending record and writes them in batches; after Close, it writes what is left and
// returns.
func (r *Recorder) run() {
	defer close(r.done)
	defer r.cancel()
	tick := time.NewTicker(r.opt.FlushInterval)
	defer tick.Stop()
	var spare []store.Trace // the slice written last, reused for the next records
	for {
		last := false
		select {
		case <-r.full:
		case <-tick.C:
		case <-r.stop:
			last = true // nothing is added any more: Close marked the recorder closed first
		}
		r.mu.Lock()
		recs := r.pending
		r.pending, r.taken = spare[:0], len(recs)
		r.mu.Unlock()
		for part := recs; len(part) > 0; {
			n := min(len(part), r.opt.BatchSize)
			r.write(part[:n])
			part = part[n:]
			r.mu.Lock()
			r.taken -= n
			r.mu.Unlock()
		}
		clear(recs) // let the bodies be collected
		spare = recs
		if last {
			return
		}
	}
}

// write stores a batch, retrying with a doubling backoff. A batch that still fails after
// MaxRetries, or when Close gave up, is dropped and counted.
func (r *Recorder) write(batch []store.Trace) {
	backoff := r.opt.RetryBackoff
	for attempt := 0; ; attempt++ {
		if r.ctx.Err() != nil {
			r.drop(ReasonStoreError, len(batch))
			r.log.Warn("trace batch dropped: the recorder was closed before it could be written", "records", len(batch))
			return
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.ctx, r.opt.WriteTimeout)
		err := r.st.SaveTraces(ctx, batch)
		cancel()
		r.mWrite.Observe(time.Since(start).Seconds())
		if err == nil {
			r.mBatches.WithLabelValues("ok").Inc()
			r.written.Add(uint64(len(batch)))
			r.mWritten.Add(float64(len(batch)))
			return
		}
		r.mBatches.WithLabelValues("error").Inc()
		if attempt >= r.opt.MaxRetries || errors.Is(err, store.ErrConflict) {
			// A conflict (an id stored twice) fails the same way every time.
			r.drop(ReasonStoreError, len(batch))
			r.log.Error("trace batch dropped after failed writes", "records", len(batch), "attempts", attempt+1, "err", err)
			return
		}
		r.log.Warn("trace batch write failed; retrying", "records", len(batch), "attempt", attempt+1, "retry_in", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-r.ctx.Done():
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

// Retain deletes the records older than days (whole days back from now) at once and then
// every interval, until ctx ends: the trace log's retention. days <= 0 keeps records for
// ever (Retain returns at once).
func Retain(ctx context.Context, st store.Traces, days int, every time.Duration, now func() time.Time, log *slog.Logger) {
	if days <= 0 || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		before := now().AddDate(0, 0, -days)
		n, err := st.DeleteTracesBefore(ctx, before)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("trace retention", "err", err)
		case err == nil:
			log.Info("trace retention done", "deleted", n, "before", before.UTC().Format(time.RFC3339), "retention_days", days)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
