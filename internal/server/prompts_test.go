package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// TestPromptFetch: an application fetches its production prompt with a viewer key, gets
// the content hash as ETag and cache headers, and a 304 without a body when it already has
// that version; a label move is seen at once; other labels and versions by ?ref=.
func TestPromptFetch(t *testing.T) {
	for name, dsn := range map[string]func(*testing.T) string{"sqlite": sqliteDSN, "postgres": func(t *testing.T) string { return storetest.FreshPostgres(t) }} {
		t.Run(name, func(t *testing.T) { testPromptFetch(t, newFixture(t, dsn(t))) })
	}
}

func testPromptFetch(t *testing.T, f *fixture) {
	{
		ctx := context.Background()
		app := f.withKey(f.keyAViewer)
		res := app.do("GET", "/api/v1/projects/alpha/prompts/alpha/triage", nil)
		if res.status != 200 {
			t.Fatalf("fetch: %d %s", res.status, res.raw)
		}
		v1, err := f.st.GetPromptVersion(ctx, f.a.ID, f.promptA, "production")
		if err != nil {
			t.Fatal(err)
		}
		etag := res.header.Get("ETag")
		if etag != `"`+v1.ContentHash+`"` || !strings.Contains(res.raw, "Answer {{ question }} for alpha") {
			t.Errorf("ETag %q, body %s; want the content hash and the template", etag, res.raw)
		}
		if cc := res.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") || !strings.Contains(cc, "stale-if-error=") || strings.Contains(cc, "no-store") {
			t.Errorf("Cache-Control %q: want a short max-age and stale-if-error", cc)
		}
		conditional := func(tag string) *http.Response {
			req, _ := http.NewRequest("GET", f.url+"/api/v1/projects/alpha/prompts/alpha/triage", nil)
			req.Header.Set("Authorization", "Bearer "+f.keyAViewer)
			req.Header.Set("If-None-Match", tag)
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			return r
		}
		for _, tag := range []string{etag, `W/` + etag, `"other", ` + etag, "*"} {
			if r := conditional(tag); r.StatusCode != http.StatusNotModified || r.ContentLength > 0 {
				t.Errorf("If-None-Match %s: %d (length %d), want 304 without a body", tag, r.StatusCode, r.ContentLength)
			}
		}
		// A new version labelled production is what the next fetch gets.
		v2, _, err := f.st.PushPrompt(ctx, f.a.ID, f.promptA, store.PromptContent{Template: "Answer {{ question }} briefly"}, "test", "shorter")
		if err != nil {
			t.Fatal(err)
		}
		if err := release(f.st, f.a.ID, f.promptA, v2.Version); err != nil {
			t.Fatal(err)
		}
		if r := conditional(etag); r.StatusCode != 200 || r.Header.Get("ETag") != `"`+v2.ContentHash+`"` {
			t.Errorf("after the label moved: %d with ETag %q, want 200 and the new version's", r.StatusCode, r.Header.Get("ETag"))
		}
		if res := app.do("GET", "/api/v1/projects/alpha/prompts/alpha/triage?ref=1", nil); res.status != 200 || !strings.Contains(res.raw, "for alpha") {
			t.Errorf("?ref=1: %d %s", res.status, res.raw)
		}
		if res := app.do("GET", "/api/v1/projects/alpha/prompts/alpha/triage?ref=staging", nil); res.status != 404 || !strings.Contains(res.raw, "plumb prompt label") {
			t.Errorf("a label that does not exist: %d %s, want 404 saying how to set it", res.status, res.raw)
		}
		if res := app.do("GET", "/api/v1/projects/alpha/prompts/alpha/triage?ref=99", nil); res.status != 404 || !strings.Contains(res.raw, "prompt-versions/alpha/triage") || strings.Contains(res.raw, "plumb prompt label") {
			t.Errorf("a version that does not exist: %d %s, want 404 pointing at the versions, not at a label", res.status, res.raw)
		}
		if res := app.do("GET", "/api/v1/projects/alpha/prompts/alpha/nope", nil); res.status != 404 {
			t.Errorf("a missing prompt: %d, want 404", res.status)
		}
		if res := app.do("GET", "/api/v1/projects/alpha/prompts", nil); res.status != 200 || !strings.Contains(res.raw, f.promptA) || strings.Contains(res.raw, f.promptB) {
			t.Errorf("list: %d %s, want A's prompt and not B's", res.status, res.raw)
		}
	}
}

// TestKeyUseRecordedOncePerMinute: a key's last use is recorded on its first request and
// then at most once a minute, so that polling applications do not write on every request.
func TestKeyUseRecordedOncePerMinute(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	ctx := context.Background()
	lastUsed := func() *time.Time {
		ks, err := f.st.ListAPIKeys(ctx, f.a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if k.ID == f.keyAID {
				return k.LastUsedAt
			}
		}
		t.Fatal("key not found")
		return nil
	}
	app := f.withKey(f.keyA)
	app.do("GET", "/api/v1/projects/alpha/runs", nil)
	first := lastUsed()
	if first == nil {
		t.Fatal("first use not recorded")
	}
	f.clock.Advance(30 * time.Second)
	app.do("GET", "/api/v1/projects/alpha/runs", nil)
	if got := lastUsed(); !got.Equal(*first) {
		t.Errorf("a use 30 s later was recorded: %v, want still %v", got, first)
	}
	f.clock.Advance(31 * time.Second)
	app.do("GET", "/api/v1/projects/alpha/runs", nil)
	if got := lastUsed(); !got.After(*first) {
		t.Errorf("a use 61 s later was not recorded: %v", got)
	}
}
