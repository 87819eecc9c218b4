// Command prompt measures how fast `plumb serve` answers an application fetching its
// production prompt (issue 4: p99 under 5 ms at 1,000 requests/s). It serves the real
// handler stack (web over server over store) on a loopback port, pushes a prompt, labels it
// production, and sends requests at a fixed rate (open loop: a slow answer does not slow
// the senders down), each with an API key, half of them conditional (If-None-Match, as a
// refreshing client sends), then prints p50, p90, p99 and max.
//
//	go run ./bench/prompt -db sqlite -rate 1000 -duration 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/web"
)

func main() {
	db := flag.String("db", "sqlite", "sqlite, or a postgres:// URL")
	rate := flag.Int("rate", 1000, "requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	flag.Parse()
	if err := run(*db, *rate, *duration); err != nil {
		log.Fatal(err)
	}
}

func run(db string, rate int, duration time.Duration) error {
	ctx := context.Background()
	dsn := db
	if db == "sqlite" {
		dir, err := os.MkdirTemp("", "plumb-prompt-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dsn = "sqlite:" + filepath.Join(dir, "plumb.db")
	}
	st, err := store.Open(ctx, dsn, store.OpenOptions{Migrate: true})
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := st.GetProject(ctx, store.DefaultProjectID)
	if err != nil {
		return err
	}
	v, _, err := st.PushPrompt(ctx, p.ID, "support/triage", store.PromptContent{
		Template: "You are the support assistant of Lumen. Answer {{ question }} for a {{ plan }} customer in two sentences.",
		Model:    "gpt-4o-mini", Params: map[string]any{"temperature": 0.2}}, "bench", "")
	if err != nil {
		return err
	}
	// production is protected; this store has no user, so nobody else could review.
	if _, err := st.ForceMovePromptLabel(ctx, p.ID, "support/triage", "production", v.Version, "bench", "bench set-up"); err != nil {
		return err
	}
	secret, shown := auth.NewAPIKey()
	if _, err := st.CreateAPIKey(ctx, store.APIKey{ProjectID: p.ID, Name: "bench", Role: store.RoleViewer, Prefix: shown, KeyHash: store.HashToken(secret)}); err != nil {
		return err
	}
	api := server.New(server.Config{Store: st, CacheTTL: time.Second}) // as plumb serve
	ui, err := web.New(web.Config{Server: api, Store: st})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: ui.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	u := "http://" + ln.Addr().String() + "/api/v1/projects/default/prompts/support/triage"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	etag := `"` + v.ContentHash + `"`
	fetch := func(conditional bool) (time.Duration, int, error) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		if conditional {
			req.Header.Set("If-None-Match", etag)
		}
		start := time.Now()
		res, err := hc.Do(req)
		if err != nil {
			return 0, 0, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return time.Since(start), res.StatusCode, nil
	}
	for range 200 { // warm up connections and caches
		if _, code, err := fetch(false); err != nil || code != 200 {
			return fmt.Errorf("warm-up: %d %v", code, err)
		}
	}
	n := int(duration.Seconds() * float64(rate))
	lat := make([]time.Duration, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	began := time.Now()
	for i := range n {
		// Each request leaves at its own time on the schedule (a ticker drops ticks at 1 ms
		// here), so the rate holds even when a send runs late.
		if wait := time.Until(began.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, code, err := fetch(i%2 == 1)
			if err != nil {
				code = -1
			}
			lat[i], codes[i] = d, code
		}()
	}
	wg.Wait()
	sent := time.Since(began)
	bad := 0
	for _, c := range codes {
		if c != 200 && c != 304 {
			bad++
		}
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("%s: %d requests in %.1fs (%.0f/s; half conditional), %d failed: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		db, n, sent.Seconds(), float64(n)/sent.Seconds(), bad,
		ms(q(0.5)), ms(q(0.9)), ms(q(0.99)), ms(lat[len(lat)-1]))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
