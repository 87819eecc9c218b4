package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/plumbhq/plumb/internal/report"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// newProgress shows a live bar on a terminal, and a plain line every few seconds otherwise
// (CI logs stay readable).
func newProgress(w io.Writer, tty bool) *progress {
	return &progress{w: w, tty: tty, every: 5 * time.Second}
}

type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration

	mu      sync.Mutex
	bar     *progressbar.ProgressBar
	total   int
	start   time.Time
	lastOut time.Time
}

func (p *progress) Start(total int) {
	p.total, p.start, p.lastOut = total, time.Now(), time.Now()
	if p.tty && total > 0 {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("running"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30),
		)
		return
	}
	fmt.Fprintf(p.w, "plumb: running %d samples\n", total)
}

func (p *progress) Done(_ *report.Result, passed, done int, cost float64) {
	rate := 100 * float64(passed) / float64(max(done, 1))
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("pass %.1f%% · $%.4f", rate, cost))
		_ = p.bar.Add(1)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.lastOut) < p.every {
		return
	}
	p.lastOut = time.Now()
	fmt.Fprintf(p.w, "plumb: %d done · pass %.1f%% · $%.4f · %s elapsed\n", done, rate, cost, time.Since(p.start).Round(time.Second))
}

func (p *progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
