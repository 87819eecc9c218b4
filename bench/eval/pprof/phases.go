package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
)

// clock records when each phase ended, relative to a start.
type clock struct {
	start time.Time
	last  time.Time
	w     io.Writer
}

func (c *clock) mark(name string) {
	now := time.Now()
	fmt.Fprintf(c.w, "phase: %-28s %8.1f ms  (at %7.1f ms)\n", name, ms(now.Sub(c.last)), ms(now.Sub(c.start)))
	c.last = now
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// samples notes when the first and last samples finished, through eval's Progress hook.
type samples struct {
	mu          sync.Mutex
	start       time.Time
	first, last time.Time
	n           int
}

func (s *samples) Start(int) { s.start = time.Now() }
func (s *samples) Done(*report.Result, int, int, float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.n == 0 {
		s.first = now
	}
	s.last = now
	s.n++
}
func (s *samples) Finish() {}

// timePhases takes the steps `plumb eval` takes (internal/cli/eval.go) on one suite and
// prints how long each took. It keeps to the path a plain run takes: no cache, no cassette,
// no filters, no baseline.
func timePhases(path, dsn string, jobs int) int {
	ctx := context.Background()
	c := &clock{start: time.Now(), w: os.Stderr}
	c.last = c.start
	suite, err := config.Load(path, config.LoadOptions{Getenv: os.Getenv})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c.mark(fmt.Sprintf("load suite (%d tests)", len(suite.Tests)))
	st, err := store.Open(ctx, dsn, store.OpenOptions{Migrate: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	closed := false
	defer func() {
		if !closed {
			st.Close()
		}
	}()
	c.mark("open store (migrate)")
	prog := &samples{}
	eng, err := eval.Prepare(suite, eval.Options{Concurrency: jobs, Getenv: os.Getenv, Version: "bench", Progress: prog})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c.mark("prepare (providers, assertions)")
	rep, err := eng.Run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	runEnd := time.Now()
	c.mark(fmt.Sprintf("run (%d samples)", len(rep.Results)))
	if prog.n > 0 {
		fmt.Fprintf(os.Stderr, "       first sample done %.1f ms after the run began, last %.1f ms; summary after the last %.1f ms\n",
			ms(prog.first.Sub(prog.start)), ms(prog.last.Sub(prog.start)), ms(runEnd.Sub(prog.last)))
	}
	if err := st.SaveRun(ctx, rep); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c.mark("store the run")
	report.WriteSummary(io.Discard, rep, false)
	c.mark("print the summary")
	closed = true
	if err := st.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	c.mark("close the store")
	if !eval.Passed(&rep.Summary) {
		return 1
	}
	return 0
}
