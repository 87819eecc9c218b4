package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// TestPromptReviewAPI walks review before release through the API as a team would: push a
// version, see the diff, find production protected, request its release, be refused as
// the author (and as a key, and as a viewer), have another member approve it, which moves
// the label for applications at once; roll it back; a request gone stale is refused.
func TestPromptReviewAPI(t *testing.T) {
	for name, dsn := range map[string]func(*testing.T) string{"sqlite": sqliteDSN, "postgres": func(t *testing.T) string { return storetest.FreshPostgres(t) }} {
		t.Run(name, func(t *testing.T) { testPromptReviewAPI(t, newFixture(t, dsn(t))) })
	}
}

func testPromptReviewAPI(t *testing.T, f *fixture) {
	ctx := context.Background()
	if _, err := f.st.AddMember(ctx, store.Member{ProjectID: f.a.ID, UserID: f.carol.ID, Role: store.RoleEditor}); err != nil {
		t.Fatal(err)
	}
	alice, carol, vera, key := asAlice(f), asCarol(f), asVera(f), asKeyA(f)
	const base = "/api/v1/projects/alpha"
	name := f.promptA // alpha/triage, at version 1 (by "test"), production at 1
	expect := func(what string, r *response, status int, contains ...string) {
		t.Helper()
		if r.status != status {
			t.Errorf("%s: %d %s, want %d", what, r.status, truncate(r.raw), status)
			return
		}
		for _, c := range contains {
			if !strings.Contains(r.raw, c) {
				t.Errorf("%s: %s, want it to contain %q", what, truncate(r.raw), c)
			}
		}
	}

	// Push: 201 for a new version, 200 when unchanged; the author is the caller.
	push := map[string]any{"template": "Answer {{ question }} briefly. <script>alert(1)</script>", "params": map[string]any{"temperature": 0.2}, "message": "shorter"}
	r := alice.do("POST", base+"/prompt-versions/"+name, push)
	expect("push", r, 201, `"version":2`, `"author":"alice@example.com"`, `"created":true`)
	expect("push again", alice.do("POST", base+"/prompt-versions/"+name, push), 200, `"created":false`, `"version":2`)
	expect("push bad content", alice.do("POST", base+"/prompt-versions/"+name, map[string]any{"template": "Hi {{ x | upper }}"}), 400, "only plain variables")
	expect("push unknown key", alice.do("POST", base+"/prompt-versions/"+name, map[string]any{"templat": "x"}), 400, `unknown field \"templat\"`)
	expect("versions", vera.do("GET", base+"/prompt-versions/"+name, nil), 200, `"version":2`, `"version":1`)
	expect("versions of a missing prompt", vera.do("GET", base+"/prompt-versions/alpha/nope", nil), 404)

	// The diff: the same text as `plumb prompt diff`.
	r = vera.do("GET", base+"/prompt-diff/"+name+"?from=production&to=2", nil)
	expect("diff", r, 200, `"from":1`, `"to":2`, `--- alpha/triage@1\n+++ alpha/triage@2\n@@ text -1,1 +1,1 @@\n-Answer {{ question }} for alpha\n+Answer {{ question }} briefly.`, `"part":"params"`)
	expect("diff without to", vera.do("GET", base+"/prompt-diff/"+name+"?from=1", nil), 400, "give both versions")
	expect("diff with a missing label", vera.do("GET", base+"/prompt-diff/"+name+"?from=canary&to=2", nil), 404, `label \"canary\" not found`)

	// production is protected: a direct move is refused with how to request it.
	expect("move production", alice.do("POST", base+"/prompt-labels/"+name, map[string]any{"label": "production", "version": 2}), 409,
		"is protected", "POST /api/v1/projects/alpha/prompt-reviews")
	expect("move staging", key.do("POST", base+"/prompt-labels/"+name, map[string]any{"label": "canary", "version": 2}), 200, `"to_version":2`, `"actor":"API key test editor"`)
	expect("move by a viewer", vera.do("POST", base+"/prompt-labels/"+name, map[string]any{"label": "canary", "version": 1}), 403)

	// Request the release; its author may not approve it, nor a key, nor a viewer.
	r = alice.do("POST", base+"/prompt-reviews", map[string]any{"prompt": name, "version": 2, "description": "shorter <b>answers</b>"})
	expect("request", r, 201, `"label":"production"`, `"base_version":1`, `"status":"open"`, `"requester":"alice@example.com"`)
	id := fmt.Sprint(r.body["review"].(map[string]any)["id"])
	expect("request again", carol.do("POST", base+"/prompt-reviews", map[string]any{"prompt": name, "version": 2}), 409, "already asks")
	expect("request without a version", carol.do("POST", base+"/prompt-reviews", map[string]any{"prompt": name}), 400, "version must be")
	r = alice.do("GET", base+"/prompt-reviews/"+id, nil)
	expect("review as its author", r, 200, `"may_approve":false`, "you wrote version 2", `+Answer {{ question }} briefly.`)
	expect("review as carol", carol.do("GET", base+"/prompt-reviews/"+id, nil), 200, `"may_approve":true`, `"may_reject":true`)
	expect("review as a viewer", vera.do("GET", base+"/prompt-reviews/"+id, nil), 200, `"may_approve":false`, "needs the editor role")
	expect("approve as the author", alice.do("POST", base+"/prompt-reviews/"+id+"/approve", map[string]any{}), 403, "you wrote version 2")
	expect("approve as a key", key.do("POST", base+"/prompt-reviews/"+id+"/approve", map[string]any{}), 403, "an API key cannot approve")
	expect("approve as a viewer", vera.do("POST", base+"/prompt-reviews/"+id+"/approve", map[string]any{}), 403)
	expect("comment as a viewer", vera.do("POST", base+"/prompt-reviews/"+id+"/comments", map[string]any{"body": "hi"}), 403)
	expect("comment", carol.do("POST", base+"/prompt-reviews/"+id+"/comments", map[string]any{"body": "eval run passes <script>"}), 201, `"kind":"comment"`)
	expect("reject without a reason", carol.do("POST", base+"/prompt-reviews/"+id+"/reject", map[string]any{}), 400, "needs a comment")
	if v, _ := f.st.GetPromptVersion(ctx, f.a.ID, name, "production"); v.Version != 1 {
		t.Fatalf("production moved before the approval: at %d", v.Version)
	}

	// Another member approves: the label moves, and applications see it at once.
	r = carol.do("POST", base+"/prompt-reviews/"+id+"/approve", map[string]any{"comment": "ship it"})
	expect("approve", r, 200, `"status":"approved"`, `"decided_by":"carol@example.com"`, `"kind":"approve"`)
	expect("fetch production", asViewerKey(f).do("GET", base+"/prompts/"+name, nil), 200, `"version":2`)
	expect("approve again", carol.do("POST", base+"/prompt-reviews/"+id+"/approve", map[string]any{}), 409, "is approved")
	expect("approved list", vera.do("GET", base+"/prompt-reviews?status=approved", nil), 200, `"id":`+id)
	expect("every status", vera.do("GET", base+"/prompt-reviews?status=all", nil), 200, `"id":`+id)
	expect("bad status", vera.do("GET", base+"/prompt-reviews?status=pending", nil), 400, "use open, approved", "or all")
	expect("review of another number", vera.do("GET", base+"/prompt-reviews/99999", nil), 404)
	expect("review id not a number", vera.do("GET", base+"/prompt-reviews/x", nil), 404)

	// Roll back in one action, with a reason; no new review.
	expect("rollback", key.do("POST", base+"/prompt-rollback/"+name, map[string]any{"label": "production", "reason": "rude answers"}), 200,
		`"from_version":2`, `"to_version":1`, `"kind":"rollback"`, `"reason":"rude answers"`)
	expect("fetch after rollback", asViewerKey(f).do("GET", base+"/prompts/"+name, nil), 200, `"version":1`)
	expect("history", vera.do("GET", base+"/prompt-labels/"+name+"?label=production", nil), 200, `"kind":"rollback"`, `"kind":"review","review_id":`+id)
	expect("rollback of a label never set", alice.do("POST", base+"/prompt-rollback/"+name, map[string]any{"label": "nightly"}), 404, "nothing to roll back")

	// A request whose move a rollback made is superseded, with a note saying so; it cannot
	// be approved any more. (A request whose label moved elsewhere is stale: the store's
	// TestPromptReviewStale.)
	r = alice.do("POST", base+"/prompt-reviews", map[string]any{"prompt": name, "version": 2})
	expect("re-request", r, 201)
	made := fmt.Sprint(r.body["review"].(map[string]any)["id"])
	expect("rollback again", key.do("POST", base+"/prompt-rollback/"+name, map[string]any{"label": "production"}), 200, `"to_version":2`)
	expect("approve a superseded request", carol.do("POST", base+"/prompt-reviews/"+made+"/approve", map[string]any{}), 409, "superseded")
	expect("superseded shows", vera.do("GET", base+"/prompt-reviews/"+made, nil), 200, `"status":"superseded"`, "by a rollback")

	// Protected labels: admins set them.
	expect("settings", vera.do("GET", base+"/prompt-settings", nil), 200, `{"protected_labels":["production"]}`)
	expect("settings by an editor", key.do("PUT", base+"/prompt-settings", map[string]any{"protected_labels": []string{}}), 403)
	expect("settings without the list", alice.do("PUT", base+"/prompt-settings", map[string]any{}), 400, "protected_labels is required")
	expect("protect canary", alice.do("PUT", base+"/prompt-settings", map[string]any{"protected_labels": []string{"production", "canary"}}), 200, `["canary","production"]`)
	expect("move canary now", key.do("POST", base+"/prompt-labels/"+name, map[string]any{"label": "canary", "version": 1}), 409, "is protected")
	expect("protect a bad label", alice.do("PUT", base+"/prompt-settings", map[string]any{"protected_labels": []string{"latest"}}), 400, "reserved")

	// Everything is in the audit log, with who did it.
	log := alice.do("GET", base+"/audit?limit=100", nil)
	for _, action := range []string{"prompt.push", "prompt.label", "prompt.review.request", "prompt.review.comment",
		"prompt.review.approve", "prompt.rollback", "prompt.protect"} {
		if !strings.Contains(log.raw, `"action":"`+action+`"`) {
			t.Errorf("the audit log has no %s", action)
		}
	}
	if !strings.Contains(log.raw, f.carol.ID) || !strings.Contains(log.raw, f.keyAID) {
		t.Errorf("the audit log does not name carol and the key as actors")
	}
}

// TestPromptFetchCache: with a prompt cache (as plumb serve runs), a fetch reuses the
// version for the TTL, a change made through this server is seen at once, and one made
// elsewhere (the CLI on the same database, another instance) once the TTL has passed.
func TestPromptFetchCache(t *testing.T) {
	f := newFixture(t, sqliteDSN(t)).withServer(Config{CacheTTL: time.Second})
	ctx := context.Background()
	if _, err := f.st.AddMember(ctx, store.Member{ProjectID: f.a.ID, UserID: f.carol.ID, Role: store.RoleEditor}); err != nil {
		t.Fatal(err)
	}
	app := asViewerKey(f)
	path := "/api/v1/projects/alpha/prompts/" + f.promptA
	version := func() string {
		t.Helper()
		r := app.do("GET", path, nil)
		if r.status != 200 {
			t.Fatalf("fetch: %d %s", r.status, r.raw)
		}
		return fmt.Sprint(r.body["prompt"].(map[string]any)["version"])
	}
	if v := version(); v != "1" {
		t.Fatalf("production = %s, want 1", v)
	}
	// Elsewhere: v2 released straight in the store. Not seen until the TTL passes.
	v2, _, err := f.st.PushPrompt(ctx, f.a.ID, f.promptA, store.PromptContent{Template: "v2 {{ q }}"}, "test", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := release(f.st, f.a.ID, f.promptA, v2.Version); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != "1" {
		t.Errorf("within the TTL the fetch = %s, want the kept 1", v)
	}
	f.clock.Advance(1100 * time.Millisecond)
	if v := version(); v != "2" {
		t.Errorf("after the TTL the fetch = %s, want 2", v)
	}
	// Through this server: a rollback is seen at once.
	if r := asKeyA(f).do("POST", "/api/v1/projects/alpha/prompt-rollback/"+f.promptA, map[string]any{"label": "production"}); r.status != 200 {
		t.Fatalf("rollback: %d %s", r.status, r.raw)
	}
	if v := version(); v != "1" {
		t.Errorf("after a rollback through the server the fetch = %s, want 1 at once", v)
	}
	// So is an approval.
	r := asAlice(f).do("POST", "/api/v1/projects/alpha/prompt-reviews", map[string]any{"prompt": f.promptA, "version": 2})
	id := fmt.Sprint(r.body["review"].(map[string]any)["id"])
	if r := asCarol(f).do("POST", "/api/v1/projects/alpha/prompt-reviews/"+id+"/approve", map[string]any{}); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
	if v := version(); v != "2" {
		t.Errorf("after an approval through the server the fetch = %s, want 2 at once", v)
	}
}
