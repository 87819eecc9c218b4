// Command load is the gateway benchmark's fixed-rate load generator: it sends POST requests
// at a constant rate over a fixed number of keep-alive connections and reports the latency
// percentiles of what it sent, each request's latency counted from the moment the schedule
// said it should leave, not from when a connection was free to send it (wrk2's correction of
// "coordinated omission": a server that stalls is charged for every request the stall held
// back, not for one).
//
// wrk, which the benchmark's main runs use, keeps every connection busy: each system runs
// saturated, at its own rate, and its p99 is mostly the time a request waits for a core. Two
// systems' p99s at their own saturation are not "the latency one adds over the other"; at one
// rate that both sustain with room to spare, they are.
//
//	load -url http://127.0.0.1:19003/v1/chat/completions -body req.json \
//	     -H 'Authorization: Bearer KEY' -rate 3000 -conns 32 -d 10s -warm 2s
//
// It prints one line, as the benchmark's wrk script does:
//
//	RESULT requests=30000 duration_us=10000000 p50_us=310 p99_us=812 p999_us=2101 max_us=3310 non2xx=0 errors=0 warm_requests=6000
//
// where requests are the answers received (any status) to the requests scheduled in the
// measured window; errors count requests that failed, or that had no answer 5 s after the
// window closed; warm_requests are those scheduled in the warm-up.
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

// outcome is one request's result.
type outcome struct {
	latency time.Duration
	status  int
	err     error
}

func main() {
	url := flag.String("url", "", "the URL to POST to")
	bodyFile := flag.String("body", "", "a file with the request body")
	rate := flag.Float64("rate", 1000, "requests per second")
	conns := flag.Int("conns", 32, "keep-alive connections (each carries one request at a time)")
	dur := flag.Duration("d", 10*time.Second, "measured duration")
	warm := flag.Duration("warm", 2*time.Second, "warm-up at the same rate before, not counted")
	var hs headers
	flag.Var(&hs, "H", `a request header, "Name: value" (repeatable)`)
	flag.Parse()
	if err := run(*url, *bodyFile, hs, *rate, *conns, *dur, *warm); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
}

func run(url, bodyFile string, hs headers, rate float64, conns int, dur, warm time.Duration) error {
	switch {
	case url == "":
		return errors.New("-url is required")
	case bodyFile == "":
		return errors.New("-body is required: a file with the request body")
	case rate <= 0 || conns <= 0 || dur <= 0 || warm < 0:
		return errors.New("-rate, -conns and -d must be positive, -warm not negative")
	}
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return err
	}
	header := http.Header{"Content-Type": {"application/json"}}
	for _, h := range hs {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return fmt.Errorf("-H %q: write a header as \"Name: value\"", h)
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: conns,
		DisableCompression:  true,
	}}

	// The schedule: request i is due at start + i/rate. The senders take due times from the
	// queue as their connection frees; the queue holds the whole run, so that the schedule
	// never waits for a sender.
	interval := time.Duration(float64(time.Second) / rate)
	total := int((warm + dur) / interval)
	due := make(chan time.Time, total)
	results := make([][]outcome, conns)
	start := time.Now().Add(50 * time.Millisecond)
	measureFrom := start.Add(warm)
	end := measureFrom.Add(dur)
	ctx, cancel := context.WithDeadline(context.Background(), end.Add(5*time.Second))
	defer cancel()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			for t := range due {
				o := send(ctx, client, url, header, body)
				o.latency = time.Since(t)
				if !t.Before(measureFrom) {
					results[w] = append(results[w], o)
				}
			}
		})
	}
	measured := 0 // requests due in the measured window
	for i := range total {
		t := start.Add(time.Duration(i) * interval)
		if d := time.Until(t); d > 0 {
			time.Sleep(d)
		}
		if !t.Before(measureFrom) {
			measured++
		}
		due <- t
	}
	close(due)
	wg.Wait()

	var lat []time.Duration
	non2xx, failed := 0, 0
	var firstErr error
	for _, rs := range results {
		for _, o := range rs {
			switch {
			case o.err != nil:
				failed++
				firstErr = cmp.Or(firstErr, o.err)
			default:
				if o.status < 200 || o.status > 299 {
					non2xx++
				}
				lat = append(lat, o.latency)
			}
		}
	}
	// Requests due in the window but never sent (the deadline passed first) are errors too.
	failed += max(0, measured-len(lat)-failed)
	slices.Sort(lat)
	fmt.Printf("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d non2xx=%d errors=%d warm_requests=%d\n",
		len(lat), dur.Microseconds(), pct(lat, 50), pct(lat, 99), pct(lat, 99.9), pct(lat, 100), non2xx, failed, total-measured)
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "load: %d requests failed; the first: %v\n", failed, firstErr)
	}
	return nil
}

// send makes one request and reads its answer to the end.
func send(ctx context.Context, client *http.Client, url string, header http.Header, body []byte) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header = header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return outcome{status: resp.StatusCode, err: err}
}

// pct is the nearest-rank p-th percentile of sorted latencies, in microseconds (0 for none).
func pct(sorted []time.Duration, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)].Microseconds()
}
