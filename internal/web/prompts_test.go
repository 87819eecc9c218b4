package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
)

// addEditor makes carol, an editor of A.
func (f *fixture) addEditor() store.User {
	f.t.Helper()
	ctx := context.Background()
	h, err := auth.HashPassword(password, cheapHash)
	if err != nil {
		f.t.Fatal(err)
	}
	carol, err := f.st.CreateUser(ctx, store.User{Email: "carol@example.com", PasswordHash: h})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.st.AddMember(ctx, store.Member{ProjectID: f.a.ID, UserID: carol.ID, Role: store.RoleEditor}); err != nil {
		f.t.Fatal(err)
	}
	return carol
}

// TestPromptPages: the registry's pages show a prompt, its versions, labels, history and
// diffs with the hostile text escaped; a review request's page offers approve and reject
// only to who may use them and tells the others why; approving moves the label, the
// rollback page rolls it back; viewers and other projects change nothing.
func TestPromptPages(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		carol := f.addEditor()
		alice, vera, cb := f.as(f.alice), f.as(f.vera), f.as(carol)
		labelAt := func(project, name, label string) int {
			t.Helper()
			v, err := f.st.GetPromptVersion(ctx, project, name, label)
			if err != nil {
				t.Fatal(err)
			}
			return v.Version
		}
		page := func(b *browser, path string, status int, want ...string) string {
			t.Helper()
			res := b.get(path)
			if res.status != status {
				t.Fatalf("GET %s: %d, want %d\n%s", path, res.status, status, res.body)
			}
			checkSafe(t, path, res)
			for _, w := range want {
				if !strings.Contains(res.body, w) {
					t.Errorf("GET %s does not show %q", path, w)
				}
			}
			return res.body
		}
		esc := "&lt;script&gt;alert(1)&lt;/script&gt;"

		page(alice, "/p/alpha/prompts", 200, `href="/p/alpha/prompts/team/triage"`, "production → 1", "(1 open)")
		body := page(alice, "/p/alpha/prompts/"+promptA, 200, "writer "+esc, "first "+esc, `<span class="tag">protected</span>`,
			`href="/p/alpha/reviews/`+openReview+`"`, `id="request-release"`, "reviewer "+esc)
		if strings.Contains(body, `aria-label="Roll back production"`) {
			t.Errorf("production, created by its only move, offers a rollback")
		}
		page(vera, "/p/alpha/prompts/"+promptA, 200)
		if strings.Contains(vera.get("/p/alpha/prompts/"+promptA).body, `id="request-release"`) {
			t.Errorf("a viewer is offered the release request form")
		}
		page(alice, "/p/alpha/prompt-version/2/"+promptA, 200, "model "+esc, `<h3>system</h3>`, `&#34;stop&#34;: &#34;`+esc, `&#34;name&#34;: &#34;`+esc)
		page(alice, "/p/alpha/prompt-version/1/"+promptA, 200, `<pre class="prompt" id="template">Answer {{ q }}.`)
		page(alice, "/p/alpha/prompt-diff/"+promptA, 200, "<del>", "<ins>", `<span class="ins">&#43;  &#34;model&#34;: &#34;model `+esc)

		// Alice wrote version 2: she sees why she may not approve; vera is a viewer.
		ab := page(alice, "/p/alpha/reviews/"+openReview, 200, "why "+esc, "comment "+esc, "You cannot approve: you wrote version 2",
			"You cannot reject: you wrote version 2", `id="comment"`)
		if strings.Contains(ab, `id="approve"`) || strings.Contains(ab, `id="reject"`) {
			t.Errorf("the version's author is offered to decide")
		}
		vb := page(vera, "/p/alpha/reviews/"+openReview, 200, "needs the editor role")
		if strings.Contains(vb, `id="approve"`) || strings.Contains(vb, `id="comment"`) {
			t.Errorf("a viewer is offered to approve or comment")
		}
		if res := alice.post("/p/alpha/reviews/"+openReview+"/approve", nil); res.status != http.StatusForbidden || !strings.Contains(res.body, "you wrote version 2") {
			t.Errorf("approval by the author: %d, want 403 saying why", res.status)
		}
		for _, path := range []string{"/approve", "/reject", "/comment"} {
			if res := vera.post("/p/alpha/reviews/"+openReview+path, url.Values{"comment": {"x"}, "body": {"x"}}); res.status != http.StatusForbidden {
				t.Errorf("a viewer posting %s: %d, want 403", path, res.status)
			}
		}
		if labelAt(f.a.ID, promptA, "production") != 1 {
			t.Fatal("a refused approval moved production")
		}

		// Carol may: a comment, then the approval moves production to 2.
		page(cb, "/p/alpha/reviews/"+openReview, 200, `id="approve"`, `id="comment"`)
		if res := cb.post("/p/alpha/reviews/"+openReview+"/comment", url.Values{"body": {"checked " + hostile}}); res.status != http.StatusSeeOther {
			t.Fatalf("comment: %d %s", res.status, res.body)
		}
		if res := cb.post("/p/alpha/reviews/"+openReview+"/approve", url.Values{"comment": {"ship it"}}); res.status != http.StatusSeeOther || res.header.Get("Location") != "/p/alpha/reviews/"+openReview {
			t.Fatalf("approve: %d to %q", res.status, res.header.Get("Location"))
		}
		if labelAt(f.a.ID, promptA, "production") != 2 {
			t.Fatal("the approval did not move production to 2")
		}
		page(cb, "/p/alpha/reviews/"+openReview, 200, "approved", "by carol@example.com", "checked "+esc, "ship it")

		// Roll back from the prompt's page, through the confirmation.
		page(cb, "/p/alpha/prompts/"+promptA, 200, `href="/p/alpha/prompt-rollback/team/triage?label=production"`, "Roll back to version 1")
		page(cb, "/p/alpha/prompt-rollback/"+promptA+"?label=production", 200, "Rolling back points it at version 1", `id="rollback"`)
		if res := vera.post("/p/alpha/prompt-rollback/"+promptA, url.Values{"label": {"production"}, "reason": {"x"}}); res.status != http.StatusForbidden {
			t.Errorf("a viewer rolling back: %d, want 403", res.status)
		}
		if res := cb.post("/p/alpha/prompt-rollback/"+promptA, url.Values{"label": {"production"}, "reason": {"rude " + hostile}}); res.status != http.StatusSeeOther {
			t.Fatalf("rollback: %d %s", res.status, res.body)
		}
		if labelAt(f.a.ID, promptA, "production") != 1 {
			t.Fatal("the rollback did not move production back to 1")
		}
		page(cb, "/p/alpha/prompts/"+promptA, 200, "rollback", "rude "+esc)

		// A release requested from the prompt's page.
		res := cb.post("/p/alpha/reviews", url.Values{"prompt": {promptA}, "label": {"production"}, "version": {"2"}, "description": {"again"}})
		if res.status != http.StatusSeeOther || !strings.HasPrefix(res.header.Get("Location"), "/p/alpha/reviews/") {
			t.Fatalf("request from the form: %d to %q", res.status, res.header.Get("Location"))
		}
		page(cb, res.header.Get("Location"), 200, "you requested this release")
		page(alice, "/p/alpha/reviews?status=all", 200, `href="/p/alpha/reviews/1"`, `href="/p/alpha/reviews/`+openReview+`"`)

		// Admins choose the protected labels; editors may not.
		if res := cb.post("/p/alpha/prompt-settings", url.Values{"protected": {"production"}}); res.status != http.StatusForbidden {
			t.Errorf("an editor setting protected labels: %d, want 403", res.status)
		}
		page(alice, "/p/alpha/prompts", 200, `id="protected-labels"`, `value="production"`)
		if strings.Contains(cb.get("/p/alpha/prompts").body, `id="protected-labels"`) {
			t.Errorf("an editor is offered the protected labels form")
		}
		if res := alice.post("/p/alpha/prompt-settings", url.Values{"protected": {"production, staging"}}); res.status != http.StatusSeeOther {
			t.Fatalf("set protected labels: %d %s", res.status, res.body)
		}
		if got, _ := f.st.ProtectedLabels(ctx, f.a.ID); strings.Join(got, " ") != "production staging" {
			t.Errorf("protected labels = %v, want production staging", got)
		}
		if res := alice.post("/p/alpha/prompt-settings", url.Values{"protected": {"latest"}}); res.status != http.StatusBadRequest || !strings.Contains(res.body, "reserved") {
			t.Errorf("protecting latest: %d, want 400 saying why", res.status)
		}

		// A diff's versions: a bad one is 400, a missing one 404, each naming the parameter;
		// one alone is compared with its neighbour, never "Pick two versions" in silence.
		for _, c := range []struct {
			query  string
			status int
			want   string
		}{
			{"?a=x", 404, "a=x: prompt " + promptA + " has no such version or label"},
			{"?a=1&b=7", 404, "b=7: prompt"},
			{"?a=1.5&b=1", 400, "a=1.5 is not a version"},
			{"?b=0", 400, "b=0 is not a version"},
			{"?a=%3Cscript%3Ealert(1)%3C/script%3E", 400, "a=&lt;script&gt;alert(1)&lt;/script&gt; is neither a version number nor a label"},
			{"?b=2", 200, "<del>"},
		} {
			path := "/p/alpha/prompt-diff/" + promptA + c.query
			res := alice.get(path)
			if res.status != c.status || !strings.Contains(res.body, c.want) || strings.Contains(res.body, "Pick two versions") {
				t.Errorf("GET %s: %d, want %d saying %q", path, res.status, c.status, c.want)
			}
			checkSafe(t, path, res)
		}

		// Bad input and other projects.
		for path, status := range map[string]int{
			"/p/alpha/prompts/no/such":                        404,
			"/p/alpha/prompts/bad%20name":                     404,
			"/p/alpha/prompt-version/9/" + promptA:            404,
			"/p/alpha/prompt-version/x/" + promptA:            404,
			"/p/alpha/prompt-diff/" + promptA + "?a=9&b=1":    404,
			"/p/alpha/reviews/999":                            404,
			"/p/alpha/reviews/x":                              404,
			"/p/alpha/reviews?status=bogus":                   400,
			"/p/alpha/prompt-rollback/" + promptA:             400,
			"/p/alpha/prompts/beta-only/answer":               404,
			"/p/alpha/prompt-version/1/beta-only/answer":      404,
			"/p/alpha/reviews/3":                              404,
			"/p/alpha/prompt-rollback/" + promptA + "?label=": 400,
		} {
			if res := alice.get(path); res.status != status {
				t.Errorf("GET %s: %d, want %d", path, res.status, status)
			} else {
				checkSafe(t, path, res)
			}
		}
		if res := alice.post("/p/alpha/reviews/3/reject", url.Values{"comment": {"x"}}); res.status != http.StatusNotFound {
			t.Errorf("rejecting B's review through A: %d, want 404", res.status)
		}
		if res := alice.post("/p/alpha/prompt-rollback/beta-only/answer", url.Values{"label": {"production"}}); res.status != http.StatusNotFound {
			t.Errorf("rolling back B's prompt through A: %d, want 404", res.status)
		}
		if rv, err := f.st.GetPromptReview(ctx, f.b.ID, 3); err != nil || rv.Status != store.ReviewOpen || len(rv.Comments) != 0 {
			t.Errorf("B's review changed: %+v, %v", rv, err)
		}
		// The approval and the rollback are audited as carol.
		log, _, _ := f.st.ListAudit(ctx, f.a.ID, "", 100)
		seen := map[string]bool{}
		for _, e := range log {
			if e.ActorID == carol.ID {
				seen[e.Action] = true
			}
		}
		for _, a := range []string{"prompt.review.comment", "prompt.review.approve", "prompt.label", "prompt.rollback", "prompt.review.request"} {
			if !seen[a] {
				t.Errorf("no %s by carol in the audit log", a)
			}
		}
	})
}
