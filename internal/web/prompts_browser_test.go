package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
)

// TestBrowserPromptRelease releases a prompt as a team does, in a real headless Chromium:
// CI pushes two versions through the API (production is at the first), Alice requests
// production for the second and is told she may not approve her own request, Carol logs
// in and approves it, production moves for applications at once, and Carol rolls it back
// from the prompt's page, through the confirmation.
func TestBrowserPromptRelease(t *testing.T) {
	b := newTab(t)
	f := newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db"))
	ctx := context.Background()
	carol := f.addEditor()
	secret, shown := auth.NewAPIKey()
	if _, err := f.st.CreateAPIKey(ctx, store.APIKey{ProjectID: f.a.ID, Name: "ci", Role: store.RoleEditor, Prefix: shown, KeyHash: store.HashToken(secret)}); err != nil {
		t.Fatal(err)
	}
	const name = "support/bot"
	push := func(body map[string]any) {
		t.Helper()
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", f.url+"/api/v1/projects/alpha/prompt-versions/"+name, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("push: %d", res.StatusCode)
		}
	}
	push(map[string]any{"template": "You help {{ user }}.\nBe polite.", "message": "first"})
	push(map[string]any{"template": "You help {{ user }}.\nBe brief.\nBe polite.", "params": map[string]any{"temperature": 0.2}, "message": "shorter"})
	r, err := f.st.RequestPromptReview(ctx, f.a.ID, name, "production", 1, "alice@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.DecidePromptReview(ctx, f.a.ID, r.ID, true, "carol@example.com", ""); err != nil {
		t.Fatal(err)
	}
	production := func() int {
		t.Helper()
		v, err := f.st.GetPromptVersion(ctx, f.a.ID, name, "production")
		if err != nil {
			t.Fatal(err)
		}
		return v.Version
	}
	login := func(email string) {
		t.Helper()
		b.do("login page "+email, chromedp.Navigate(f.url+"/login"))
		b.do("log in "+email,
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
			chromedp.Click(chromedp.CSS(`section.login button[type=submit]`)))
		b.waitFor("logged in "+email, `location.pathname === "/"`)
	}

	// Alice asks for version 2 in production.
	login("alice@example.com")
	b.do("prompt page", chromedp.Navigate(f.url+"/p/alpha/prompts/"+name))
	b.waitFor("labels", `!!document.querySelector("#labels") && document.querySelector("#labels tbody tr").textContent.includes("production")`)
	b.do("request the release",
		chromedp.SetValue(chromedp.CSS(`#request-release select[name=version]`), "2"),
		chromedp.SendKeys(chromedp.CSS(`#request-release input[name=description]`), "shorter answers"),
		chromedp.Click(chromedp.CSS(`#request-release button[type=submit]`)))
	b.waitFor("review page", `location.pathname.startsWith("/p/alpha/reviews/") && !!document.querySelector("#review-status")`)
	reviewPath := js[string](b, "review path", `location.pathname`)
	if !js[bool](b, "diff shown", `document.querySelector("#diff-b ins") !== null && document.querySelector("#diff-b ins").textContent.includes("brief.")`) {
		t.Errorf("the review page does not mark what the release adds")
	}
	if got := js[string](b, "refusal", `(document.querySelector("#approve-refusal") || {}).textContent || ""`); got == "" ||
		js[bool](b, "approve hidden", `!!document.querySelector("#approve")`) {
		t.Errorf("the requester is offered to approve, or not told why not (%q)", got)
	}
	if production() != 1 {
		t.Fatal("production moved on request")
	}

	// Carol, who neither wrote version 2 nor asked, approves it.
	b.do("log out", chromedp.Click(chromedp.CSS(`header form.inline button[type=submit]`)))
	b.waitFor("logged out", `location.pathname === "/login"`)
	login(carol.Email)
	b.do("open the request", chromedp.Navigate(f.url+reviewPath))
	b.waitFor("approve form", `!!document.querySelector("#approve")`)
	b.do("approve",
		chromedp.SendKeys(chromedp.CSS(`#approve input[name=comment]`), "eval passes"),
		chromedp.Click(chromedp.CSS(`#approve button[type=submit]`)))
	b.waitFor("approved", `document.querySelector("#review-status").textContent.includes("approved") && document.querySelector("#thread").textContent.includes("eval passes")`)
	if production() != 2 {
		t.Fatalf("production is at %d after the approval, want 2", production())
	}
	if st := apiStatus(t, f.url+"/api/v1/projects/alpha/prompts/"+name+"?ref=2", secret); st != http.StatusOK {
		t.Errorf("fetching the released version: %d", st)
	}

	// Something is wrong in production: roll back from the prompt's page.
	b.do("prompt page again", chromedp.Navigate(f.url+"/p/alpha/prompts/"+name))
	b.do("roll back", chromedp.Click(chromedp.CSS(`a[aria-label="Roll back production"]`)))
	b.waitFor("confirmation", `!!document.querySelector("#rollback") && document.querySelector("#rollback-what").textContent.includes("version 1 again")`)
	if production() != 2 {
		t.Fatal("opening the confirmation rolled back")
	}
	b.do("confirm",
		chromedp.SendKeys(chromedp.CSS(`#rollback input[name=reason]`), "answers too curt"),
		chromedp.Click(chromedp.CSS(`#rollback button[type=submit]`)))
	b.waitFor("back on the prompt", `location.pathname === "/p/alpha/prompts/`+name+`" && document.querySelector("#history tbody tr").textContent.includes("answers too curt")`)
	if production() != 1 {
		t.Errorf("production is at %d after the rollback, want 1", production())
	}
}
