package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserDatasets walks a dataset's life in a real headless Chromium, as a data owner
// would: create a dataset, upload a JSONL file through the import form, see its items,
// open the audit report (the item holding an e-mail address flagged, masked), revoke an
// item's consent from its row, preview the purge and confirm it, and see the item gone.
func TestBrowserDatasets(t *testing.T) {
	b := newTab(t)
	f := newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db"))
	file := filepath.Join(t.TempDir(), "tickets.jsonl")
	lines := strings.Join([]string{
		`{"question":"Where is my refund?","expected":"Within 5 days.","segment":{"locale":"en"},"consent":true}`,
		`{"question":"Please write to carol.jones@example.com about my order","expected":"Done.","segment":{"locale":"fr"},"metadata":{"subject_id":"cust-7"},"consent":true}`,
		`{"question":"<script>alert(1)</script> cancel","expected":"Cancelled.","segment":{"locale":"en"}}`,
	}, "\n") + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}

	b.do("open the datasets logged out", chromedp.Navigate(f.url+"/p/alpha/datasets"))
	b.waitFor("login form", `location.pathname === "/login" && !!document.querySelector("input[name=email]")`)
	b.do("log in",
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`section.login button[type=submit]`)))
	b.waitFor("datasets page", `location.pathname === "/p/alpha/datasets" && !!document.querySelector("#create-dataset")`)

	b.do("create a dataset",
		chromedp.SendKeys(chromedp.CSS(`#create-dataset input[name=name]`), "support/erasure"),
		chromedp.SendKeys(chromedp.CSS(`#create-dataset input[name=description]`), "tickets with consent"),
		chromedp.Click(chromedp.CSS(`#create-dataset button[type=submit]`)))
	b.waitFor("the new dataset's page", `location.pathname === "/p/alpha/datasets/support%2Ferasure" && !!document.querySelector("#import")`)

	b.do("upload the file",
		chromedp.SetUploadFiles(chromedp.CSS(`#import input[name=file]`), []string{file}),
		chromedp.SendKeys(chromedp.CSS(`#import input[name=message]`), "first tickets"),
		chromedp.Click(chromedp.CSS(`#import button[type=submit]`)))
	b.waitFor("import result", `!!document.querySelector("#import-result")`)
	if got := js[string](b, "result", `document.querySelector("#import-result").textContent`); !strings.Contains(got, "Read 3 items from tickets.jsonl: 3 added") ||
		!strings.Contains(got, "Version 1: 3 items.") {
		t.Errorf("the import says %q", got)
	}

	b.do("back to the dataset", chromedp.Click(chromedp.CSS(`main a[href="/p/alpha/datasets/support%2Ferasure"]`)))
	b.waitFor("items", `document.querySelectorAll("#items tbody tr").length === 3`)
	if !js[bool](b, "hostile text shown as text", `[...document.querySelectorAll("#items tbody td")].some(td => td.textContent.includes("<script>alert(1)</script>"))`) {
		t.Error("the hostile question is not shown as the text it is")
	}
	if n := js[int](b, "no injected elements", `document.querySelectorAll("main script, main img").length`); n != 0 {
		t.Errorf("%d elements injected by item text", n)
	}

	b.do("open the audit report", chromedp.Click(chromedp.CSS(`main a[href$="/audit"]`)))
	b.waitFor("audit page", `!!document.querySelector("#pii")`)
	pii := js[string](b, "personal data", `document.querySelector("#pii").textContent`)
	if !strings.Contains(pii, "#2") || !strings.Contains(pii, "EMAIL") || !strings.Contains(pii, "@example.com") || strings.Contains(pii, "carol") {
		t.Errorf("the audit's personal data table = %q; want item #2 flagged EMAIL, masked", pii)
	}
	if js[bool](b, "nowhere unmasked", `document.querySelector("main").textContent.includes("carol.jones")`) {
		t.Error("the audit page shows the e-mail address unmasked")
	}

	b.do("back to the dataset", chromedp.Navigate(f.url+"/p/alpha/datasets/support%2Ferasure"))
	b.waitFor("revoke forms", `!!document.querySelector("form.revoke input[name=item][value='2']")`)
	b.do("revoke item 2",
		chromedp.SendKeys(chromedp.CSS(`input[aria-label="reason for revoking item 2"]`), "asked by e-mail"),
		chromedp.Click(chromedp.CSS(`input[aria-label="reason for revoking item 2"] ~ button`)))
	b.waitFor("revocation confirmed", `!!document.querySelector("#revoked") && document.querySelector("#revoked").textContent.includes("item 2")`)

	b.do("open the purge", chromedp.Click(chromedp.CSS(`#purge-link`)))
	b.waitFor("purge preview", `!!document.querySelector("#confirm-purge")`)
	if ids := js[string](b, "ids", `document.querySelector("#purge-ids").textContent`); ids != "2" {
		t.Errorf("the preview lists items %q, want 2", ids)
	}
	if js[bool](b, "no content in the preview", `document.querySelector("main").textContent.includes("carol")`) {
		t.Error("the purge preview shows an item's content")
	}
	b.do("confirm the purge", chromedp.Click(chromedp.CSS(`#confirm-purge button[type=submit]`)))
	b.waitFor("purged", `!!document.querySelector("#purged")`)
	if n := js[string](b, "count", `document.querySelector("#purge-count").textContent`); n != "1" {
		t.Errorf("purged %s items, want 1", n)
	}

	b.do("the dataset after the purge", chromedp.Navigate(f.url+"/p/alpha/datasets/support%2Ferasure"))
	b.waitFor("two items left", `document.querySelectorAll("#items tbody tr").length === 2`)
	if js[bool](b, "item 2 gone", `[...document.querySelectorAll("#items tbody tr td:first-child")].some(td => td.textContent.trim() === "2") || document.querySelector("main").textContent.includes("carol")`) {
		t.Error("item 2 is still listed after the purge")
	}
}
