package web

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserLabelling: two annotators label a queue of three items (k = 2) in a real
// Chromium with the keyboard only (y/n, digits, Enter, ?), under the strict CSP; the queue
// page then shows their agreement and the item they disagree on.
func TestBrowserLabelling(t *testing.T) {
	b := newTab(t)
	f := newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db"))
	login := func(email string) {
		b.do("log in "+email, chromedp.Navigate(f.url+"/login?next=/p/alpha/queues/review/label"),
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
			chromedp.Click(chromedp.CSS(`section.login button[type=submit]`)))
	}
	label := func(who string, answers []string) {
		for i, ok := range answers {
			item := strconv.Itoa(i + 1)
			b.waitFor(who+" sees item "+item, `document.querySelector("#item") && document.querySelector("#item").dataset.item === "`+item+`" && document.body.dataset.keys === "on"`)
			if i == 0 {
				b.do("help", chromedp.KeyEvent("?"))
				b.waitFor("help shown", `!document.querySelector("#help").hidden`)
				b.do("help hidden", chromedp.KeyEvent("?"))
			}
			b.do(who+" labels item "+item, chromedp.KeyEvent(ok), chromedp.KeyEvent("2"))
			b.waitFor("answers picked", `document.querySelector("input[name=f_ok]:checked") && document.querySelector("input[name=f_grade]:checked").value === "fine"`)
			b.do("submit", chromedp.KeyEvent(kb.Enter))
		}
		b.waitFor(who+" is done", `!!document.querySelector("#done")`)
	}
	login("alice@example.com")
	label("alice", []string{"y", "y", "y"})
	b.do("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	b.waitFor("logged out", `location.pathname === "/login"`)
	login("vera@example.com")
	label("vera", []string{"n", "y", "y"})

	b.do("queue page", chromedp.Navigate(f.url+"/p/alpha/queues/review"))
	b.waitFor("agreement table", `document.querySelectorAll("#agreement tbody tr").length === 2`)
	if got := js[string](b, "ok row", `document.querySelector("#agreement tbody tr").cells[3].textContent.trim()`); got != "66.7%" {
		t.Errorf("agreement on ok = %q, want 66.7%% (2 of 3 items)", got)
	}
	if !js[bool](b, "grade agrees", `document.querySelectorAll("#agreement tbody tr")[1].cells[3].textContent.trim() === "100.0%"`) {
		t.Errorf("the grade row does not show full agreement")
	}
	if !js[bool](b, "disagreement listed", `[...document.querySelectorAll("#disagreements + table tbody tr")].some(r => r.cells[0].textContent.trim() === "1" && r.textContent.includes("vera@example.com: false"))`) {
		t.Errorf("item 1 is not listed for adjudication")
	}
	if v := js[string](b, "progress", `document.querySelector("#queue-progress").value + "/" + document.querySelector("#queue-progress").max`); v != "6/6" {
		t.Errorf("progress bar = %s, want 6/6", v)
	}
}
