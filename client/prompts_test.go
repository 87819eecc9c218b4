package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

// TestPromptCache: an application's cached prompt follows a label move, costs a 304 when
// nothing changed, and keeps being served while the registry is down or gone.
func TestPromptCache(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	alpha, err := ts.st.GetProject(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	push := func(text string) int {
		v, _, err := ts.st.PushPrompt(ctx, alpha.ID, "support/triage", store.PromptContent{Template: text}, "test", "")
		if err != nil {
			t.Fatal(err)
		}
		// production is protected: released through an approved review, as a team does.
		r, err := ts.st.RequestPromptReview(ctx, alpha.ID, "support/triage", "production", v.Version, "test", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.st.DecidePromptReview(ctx, alpha.ID, r.ID, true, "reviewer", ""); err != nil {
			t.Fatal(err)
		}
		return v.Version
	}
	push("Triage {{ ticket }}")

	// The registry behind a switch: up, or answering 503.
	target, _ := url.Parse(ts.url)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var down atomic.Bool
	var notModified atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "registry down", http.StatusServiceUnavailable)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		proxy.ServeHTTP(rec, r)
		if rec.status == http.StatusNotModified {
			notModified.Add(1)
		}
	}))
	defer front.Close()

	c, err := New(front.URL, WithAPIKey(ts.keyAView))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Prompt(ctx, "alpha", "support/triage", ""); err != nil || v.Content.Template != "Triage {{ ticket }}" {
		t.Fatalf("Prompt = %+v, %v", v, err)
	}
	pc := c.NewPromptCache("alpha", "support/triage", "", time.Minute)
	pc.ttl = time.Millisecond // refresh on every Get after the first
	get := func() PromptVersion {
		t.Helper()
		v, err := pc.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// refreshOnce serves a Get while a refresh runs and waits for that refresh.
	refreshOnce := func() PromptVersion {
		t.Helper()
		time.Sleep(2 * time.Millisecond)
		pc.mu.Lock()
		done := pc.refreshed
		pc.mu.Unlock()
		v := get()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("no refresh")
		}
		return v
	}
	if v := get(); v.Version != 1 {
		t.Fatalf("first Get: version %d", v.Version)
	}
	refreshOnce()
	if notModified.Load() != 1 {
		t.Errorf("an unchanged prompt was refreshed with %d 304 answers, want 1", notModified.Load())
	}
	v2 := push("Triage {{ ticket }} in one line")
	if v := refreshOnce(); v.Version != 1 {
		t.Errorf("the Get that starts a refresh answers from the copy held: version %d, want 1", v.Version)
	}
	if v := get(); v.Version != v2 || pc.Err() != nil {
		t.Errorf("after the label moved: version %d (err %v), want %d", v.Version, pc.Err(), v2)
	}
	down.Store(true)
	if v := refreshOnce(); v.Version != v2 {
		t.Errorf("registry down: version %d, want the copy held, %d", v.Version, v2)
	}
	if v := get(); v.Version != v2 || pc.Err() == nil {
		t.Errorf("registry down: version %d, Err %v; want the copy held and the outage in Err", v.Version, pc.Err())
	}
	front.Close() // gone altogether: connections refused
	if v := refreshOnce(); v.Version != v2 {
		t.Errorf("registry gone: version %d, want the copy held", v.Version)
	}
	// A cache that never fetched has nothing to serve: the first Get says why.
	fresh := c.NewPromptCache("alpha", "support/triage", "", time.Minute)
	if _, err := fresh.Get(ctx); err == nil {
		t.Errorf("first Get with the registry gone: no error")
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
