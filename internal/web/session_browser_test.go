package web

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// logIn logs email in on the UI at base and lands on next.
func (b *tab) logIn(base, email, next string) {
	b.t.Helper()
	b.do("log in "+email, chromedp.Navigate(base+"/login?next="+next),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`section.login button[type=submit]`)))
	b.waitFor(email+" lands on "+next, `location.pathname === "`+next+`"`)
}

func (b *tab) logOut() {
	b.t.Helper()
	b.do("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	b.waitFor("logged out", `location.pathname === "/login"`)
}

// noInjected fails when the page's main holds elements that hostile text could have made.
func noInjected(t *testing.T, b *tab, where string) {
	t.Helper()
	if n := js[int](b, "injected elements on "+where, `document.querySelectorAll("main script, main img, main [onload], main [onerror]").length`); n != 0 {
		t.Errorf("%s: %d elements injected by stored text", where, n)
	}
}

// TestBrowserApprovals: the user a held payment was asked for (vera, a viewer) sees it but
// no approve button; alice (an admin, so an editor) opens it from the queue, checks the
// tool, canonical arguments and their hash, and approves it with a reason; the decision is
// on the page, for vera too.
func TestBrowserApprovals(t *testing.T) {
	b := newTab(t)
	f := newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db")) // with approvals, traces and red-team runs
	_, canon, hash, err := toolpolicy.Canonical(`{"amount": 250, "to": "` + strings.ReplaceAll(hostile, `"`, `\"`) + `"}`)
	if err != nil {
		t.Fatal(err)
	}

	// The requester's view: the held call, why she may not decide, no forms.
	b.logIn(f.url, "vera@example.com", "/p/alpha/approvals/1")
	b.waitFor("vera sees the approval", `!!document.querySelector("#approval")`)
	if js[bool](b, "vera's forms", `!!document.querySelector("#approve, #edit, #reject")`) {
		t.Errorf("the requester is offered the approve/edit/reject forms")
	}
	if got := js[string](b, "refusal", `(document.querySelector("#refusal") || {textContent: ""}).textContent.trim()`); got == "" {
		t.Errorf("the requester is not told why she may not decide")
	}
	b.logOut()

	// The editor: the queue lists the pending call; open it.
	b.logIn(f.url, "alice@example.com", "/p/alpha/approvals")
	b.waitFor("queue", `document.querySelectorAll("#approvals tbody tr").length === 1`)
	if !js[bool](b, "queue row", `document.querySelector("#approvals tbody tr").textContent.includes("pay <script>alert(1)</script>")`) {
		t.Errorf("the queue does not show the held tool call by name, as text")
	}
	js[bool](b, "open it", `(document.querySelector('#approvals a[href="/p/alpha/approvals/1"]').click(), true)`)
	b.waitFor("approval page", `location.pathname === "/p/alpha/approvals/1" && !!document.querySelector("#approve")`)
	if got := js[string](b, "tool", `document.querySelector("h1 code").textContent`); got != "pay "+hostile {
		t.Errorf("the tool is shown as %q, want %q", got, "pay "+hostile)
	}
	// The canonical arguments, laid out for reading: the same JSON text, character for
	// character, once the layout is taken out.
	shown := js[string](b, "arguments", `document.querySelector("#arguments").textContent`)
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(shown)); err != nil || compact.String() != canon {
		t.Errorf("the arguments shown are %q, want the canonical %q", shown, canon)
	}
	if got := js[string](b, "hash", `document.querySelector("#hash").textContent`); got != hash {
		t.Errorf("the hash shown is %q, want %q", got, hash)
	}
	if js[string](b, "remaining", `document.querySelector("#remaining").textContent`) == "" {
		t.Errorf("the time left to decide is not shown")
	}
	noInjected(t, b, "approval")

	b.do("approve with a reason",
		chromedp.SendKeys(chromedp.CSS(`#approve input[name=reason]`), "invoice checked "+hostile),
		chromedp.Click(chromedp.CSS(`#approve button[type=submit]`)))
	b.waitFor("decided", `!!document.querySelector("#decision") && !document.querySelector("#approve")`)
	want := "approve by alice@example.com: invoice checked " + hostile
	if got := js[string](b, "decision", `document.querySelector("#decision").textContent`); got != want {
		t.Errorf("the decision reads %q, want %q", got, want)
	}
	if got := js[string](b, "status", `document.querySelector("h1 .tag").textContent`); got != "approved" {
		t.Errorf("the approval's status is %q after approving, want approved", got)
	}
	noInjected(t, b, "decided approval")
	b.logOut()

	// The requester now sees the decision.
	b.logIn(f.url, "vera@example.com", "/p/alpha/approvals/1")
	b.waitFor("vera sees the decision", `!!document.querySelector("#decision")`)
	if got := js[string](b, "vera's decision", `document.querySelector("#decision").textContent`); got != want {
		t.Errorf("the requester sees the decision as %q, want %q", got, want)
	}
}

// TestBrowserTraffic: the traffic page shows support-bot's p95 over its 150 ms SLA; the
// route opens its traces, a day's dot opens that day's traces; a trace shows the bodies as
// the text they are.
func TestBrowserTraffic(t *testing.T) {
	b := newTab(t)
	f := newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db")) // with approvals, traces and red-team runs
	f = f.withSLAs(map[string]float64{"support-bot": 150})
	b.logIn(f.url, "vera@example.com", "/p/alpha/traffic")

	row := `[...document.querySelectorAll("#routes tbody tr")].find(r => r.cells[0].textContent.trim() === "support-bot")`
	b.waitFor("routes table", `!!`+row)
	// 60 calls of 100..159 ms: p95 is above 150 ms.
	p95 := js[string](b, "p95", row+`.cells[4].textContent.trim()`)
	if ms, err := strconv.ParseFloat(strings.TrimSuffix(p95, " ms"), 64); err != nil || ms <= 150 || ms >= 160 {
		t.Errorf("support-bot's p95 is shown as %q, want between 150 and 160 ms", p95)
	}
	if got := js[string](b, "sla", row+`.cells[6].textContent.trim()`); got != "over 150 ms" {
		t.Errorf("support-bot's SLA cell reads %q, want over 150 ms", got)
	}
	if got := js[string](b, "no sla", `[...document.querySelectorAll("#routes tbody tr")].find(r => r.cells[0].textContent.includes("<script>")).cells[6].textContent.trim()`); got != "none set" {
		t.Errorf("the route without an SLA reads %q, want none set", got)
	}
	noInjected(t, b, "traffic")

	// The route opens its traces.
	js[bool](b, "open the route", `(`+row+`.querySelector("a").click(), true)`)
	b.waitFor("route's traces", `location.pathname === "/p/alpha/traces" && document.querySelectorAll("#traces tbody tr").length > 0`)
	if got := js[string](b, "route filter", `document.querySelector("input[name=route]").value`); got != "support-bot" {
		t.Errorf("the traces list is filtered on route %q, want support-bot", got)
	}
	if !js[bool](b, "only support-bot", `[...document.querySelectorAll("#traces tbody tr")].every(r => r.cells[1].textContent.trim() === "support-bot")`) {
		t.Errorf("the route's traces list shows another route's calls")
	}

	// Today's dot on the requests chart opens today's traces.
	b.do("back to traffic", chromedp.Navigate(f.url+"/p/alpha/traffic"))
	b.waitFor("charts", `document.querySelectorAll(".charts svg a").length > 0`)
	today := time.Now().UTC().Format(time.DateOnly)
	js[bool](b, "click today's dot", `(() => {
		const fig = [...document.querySelectorAll(".charts figure")].find(f => f.querySelector("figcaption").textContent.toLowerCase().includes("requests"));
		const dots = fig.querySelectorAll("svg a circle");
		dots[dots.length - 1].dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true, view: window}));
		return true;
	})()`)
	b.waitFor("today's traces", `location.pathname === "/p/alpha/traces" && location.search.includes("since=`+today+`") && document.querySelectorAll("#traces tbody tr").length > 0`)
	if got := js[string](b, "since filter", `document.querySelector("input[name=since]").value`); got != today {
		t.Errorf("the day's traces are filtered since %q, want %s", got, today)
	}

	// Open A's hostile trace: its bodies are text.
	js[bool](b, "open a trace", `(document.querySelector('#traces a[href="/p/alpha/traces/`+traceA+`"]').click(), true)`)
	b.waitFor("trace page", `location.pathname === "/p/alpha/traces/`+traceA+`" && !!document.querySelector("#request-body")`)
	if !js[bool](b, "request body", `document.querySelector("#request-body").textContent.includes("<script>alert(1)</script>")`) {
		t.Errorf("the request body is not shown as the text it is")
	}
	if !js[bool](b, "response body", `document.querySelector("#response-body").textContent.startsWith("data: <script>alert(1)</script>")`) {
		t.Errorf("the response body is not shown as the text it is")
	}
	if n := js[int](b, "body children", `document.querySelector("#request-body").children.length + document.querySelector("#response-body").children.length`); n != 0 {
		t.Errorf("the bodies were parsed into %d elements", n)
	}
	noInjected(t, b, "trace")
}

// TestBrowserRedTeam: a red-team run's page shows its category × strategy table; comparing
// it with the earlier run from its own form shows the holes the later run closed.
func TestBrowserRedTeam(t *testing.T) {
	b := newTab(t)
	f := newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db")) // with approvals, traces and red-team runs
	b.logIn(f.url, "vera@example.com", "/p/alpha/redteam/"+rtRunA2)

	b.waitFor("table", `document.querySelectorAll("#redteam-table tbody tr").length === 2`)
	if got := js[string](b, "strategies", `[...document.querySelectorAll("#redteam-table thead th")].map(th => th.textContent).join("|")`); got != "category|threshold|all|direct|jailbreak|multi-turn" {
		t.Errorf("the table's columns are %q", got)
	}
	// A2 leaked once, on jailbreak's second attempt: LLM07 1/4, direct 0/2, jailbreak 1/2.
	cells := js[string](b, "LLM07 row", `[...document.querySelectorAll("#redteam-table tbody tr")[0].querySelectorAll("td")].map(c => c.textContent.trim()).join("|")`)
	if !strings.Contains(cells, "above 25% (1/4)") || !strings.Contains(cells, "|0% (0/2)") || !strings.Contains(cells, "|50% (1/2)") {
		t.Errorf("LLM07's row reads %q", cells)
	}
	noInjected(t, b, "redteam")

	// Compare with the earlier run from the page's form: A1 (before) → A2 (after).
	b.do("pick the run before", chromedp.SetValue(chromedp.CSS(`form[action$="/redteam-compare"] select[name=a]`), rtRunA1))
	js[bool](b, "compare", `(document.querySelector('form[action$="/redteam-compare"] button[type=submit]').click(), true)`)
	b.waitFor("comparison", `location.pathname === "/p/alpha/redteam-compare" && !!document.querySelector("#redteam-compare")`)
	if got := js[string](b, "verdict", `document.querySelector("#redteam-compare-verdict").textContent.trim()`); got != "1 holes opened, 3 closed" {
		t.Errorf("the comparison's verdict reads %q", got)
	}
	// direct: both attempts leaked before and held after.
	direct := js[string](b, "direct row", `[...document.querySelectorAll("#redteam-compare tbody tr")].filter(r => r.cells[0].textContent === "LLM07" && r.cells[1].textContent === "direct").map(r => [r.cells[5].textContent, r.cells[6].textContent].join("/")).join(",")`)
	if direct != "2/0" {
		t.Errorf("LLM07 × direct: closed/opened = %q, want 2/0", direct)
	}
	closed := js[string](b, "closed holes", `[...document.querySelectorAll("h2")].find(h => h.textContent.startsWith("Holes closed")).textContent`)
	if !strings.Contains(closed, "(3: succeeded before, held after)") {
		t.Errorf("the closed holes heading reads %q", closed)
	}
	noInjected(t, b, "redteam compare")
}

// TestIndentJSON: the approval page lays out arguments for reading without changing what an
// approver reads: big numbers keep their digits, markup characters are not escaped.
func TestIndentJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"amount":100000000000000000000000,"to":"AT&T <ops>"}`: "{\n  \"amount\": 100000000000000000000000,\n  \"to\": \"AT&T <ops>\"\n}",
		`{"pi":3.14159265358979323846}`:                         "{\n  \"pi\": 3.14159265358979323846\n}",
		`not json`:                                              `not json`,
		``:                                                      ``,
	} {
		if got := indentJSON(in); got != want {
			t.Errorf("indentJSON(%q) = %q, want %q", in, got, want)
		}
	}
}
