package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/queue"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/review"
	"github.com/plumbhq/plumb/internal/store"
)

// hostileGuidelines is Markdown with raw HTML, which must never become markup.
const hostileGuidelines = "# Rules " + hostile + "\n\n" + xssScript + "\n\nSay **yes** when right.\n"

// fixtureQueues gives A a queue "review" over a dataset of hostile items (alice and vera
// annotate, k = 2) and B a queue of its own.
func fixtureQueues(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	for _, side := range []struct {
		p    store.Project
		anns []store.User
	}{{f.a, []store.User{f.alice, f.vera}}, {f.b, []store.User{f.bob}}} {
		ds, err := f.st.CreateDataset(ctx, side.p.ID, "labelled", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.st.AddItems(ctx, ds.ID, []dataset.Item{
			{Vars: map[string]any{"q": "one " + hostile}, Expected: "expected " + hostile},
			{Vars: map[string]any{"q": "two"}, Expected: "B"},
			{Vars: map[string]any{"q": "three"}, Expected: "C"},
		}, "", false); err != nil {
			t.Fatal(err)
		}
		q, err := queue.Create(ctx, f.st, side.p.ID, queue.Spec{Name: "review", Dataset: "labelled", Overlap: 2,
			Guidelines: hostileGuidelines, Rubric: review.Rubric{Fields: []review.Field{
				{Name: "ok", Kind: review.Boolean, Required: true},
				{Name: "grade", Kind: review.Ordinal, Options: []string{"bad", "fine", "great " + hostile}},
			}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range side.anns {
			if _, err := f.st.AddQueueMember(ctx, q.ID, u.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestQueuePages: two annotators label through the pages' forms; the guidelines render as
// Markdown with raw HTML left out; hostile item text is escaped; agreement and the
// disagreement appear on the queue page; an editor adjudicates and writes back.
func TestQueuePages(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		alice, vera, bob := f.as(f.alice), f.as(f.vera), f.as(f.bob)
		page := alice.get("/p/alpha/queues/review/label")
		if page.status != 200 {
			t.Fatalf("label page: %d %s", page.status, page.body)
		}
		checkSafe(t, "label page", page)
		for _, want := range []string{"<strong>yes</strong>", "one &lt;script&gt;alert(1)&lt;/script&gt;", `src="/static/label.js`, `name="f_ok" value="true"`, "<kbd>3</kbd>"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("label page lacks %q", want)
			}
		}
		label := func(b *browser, ok, grade string) {
			t.Helper()
			body := b.get("/p/alpha/queues/review/label").body
			i := strings.Index(body, `id="item" data-item="`)
			if i < 0 {
				t.Fatalf("no item on the page")
			}
			item := body[i+len(`id="item" data-item="`):]
			item = item[:strings.Index(item, `"`)]
			res := b.post("/p/alpha/queues/review/items/"+item+"/label", url.Values{"f_ok": {ok}, "f_grade": {grade}})
			if res.status != http.StatusSeeOther {
				t.Fatalf("label item %s: %d %s", item, res.status, res.body)
			}
		}
		// Items 1-3 by both; they disagree on item 1's ok.
		label(alice, "true", "fine")
		label(vera, "false", "fine")
		for range 2 {
			label(alice, "true", "bad")
			label(vera, "true", "bad")
		}
		if body := alice.get("/p/alpha/queues/review/label").body; !strings.Contains(body, `id="done"`) {
			t.Error("alice has nothing left but the page offers an item")
		}
		if res := alice.post("/p/alpha/queues/review/items/1/label", url.Values{"f_ok": {"perhaps"}}); res.status != 400 || !strings.Contains(res.body, "ok") {
			t.Errorf("a bad value: %d, want 400 naming the field", res.status)
		}
		if res := bob.get("/p/alpha/queues/review/label"); res.status != 404 {
			t.Errorf("B's member on A's queue: %d", res.status)
		}
		qp := alice.get("/p/alpha/queues/review")
		checkSafe(t, "queue page", qp)
		for _, want := range []string{`id="agreement"`, "Cohen", "<td>ok <span", "alice@example.com: true", "vera@example.com: false", "Adjudicate", "3 / 3"} {
			if !strings.Contains(qp.body, want) {
				t.Errorf("queue page lacks %q", want)
			}
		}
		if res := vera.post("/p/alpha/queues/review/items/1/adjudicate", url.Values{"field": {"ok"}, "value": {"true"}}); res.status != 403 {
			t.Errorf("a viewer adjudicates: %d", res.status)
		}
		if res := alice.post("/p/alpha/queues/review/items/1/adjudicate", url.Values{"field": {"expected"}, "value": {"the agreed answer"}}); res.status != http.StatusSeeOther {
			t.Fatalf("adjudicate: %d %s", res.status, res.body)
		}
		wb := alice.post("/p/alpha/queues/review/writeback", url.Values{"field": {"expected"}})
		if wb.status != 200 || !strings.Contains(wb.body, "new version 2") || !strings.Contains(wb.body, "the agreed answer") {
			t.Errorf("write back: %d %s", wb.status, wb.body)
		}
		checkSafe(t, "write back", wb)
		// A new guidelines version with a script link: the link target is dropped.
		if res := alice.post("/p/alpha/queues/review/guidelines", url.Values{"body": {"v2 [click](javascript:alert(1)) " + xssImg}}); res.status != http.StatusSeeOther {
			t.Fatalf("guidelines: %d %s", res.status, res.body)
		}
		if body := alice.get("/p/alpha/queues/review").body; !strings.Contains(body, "version 2") || strings.Contains(body, `href="javascript`) || strings.Contains(body, xssImg) {
			t.Errorf("guidelines v2 rendered unsafely or not at all")
		}
	})
}

// TestPanelPages: a human panel over a run with an LLM judge: the run page shows how the
// judge agrees with the humans, the case page each result's human verdict.
func TestPanelPages(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		rep := hostileReport("run-judged", time.Now().Add(-time.Minute), 1)
		for i := range rep.Results {
			if rep.Results[i].Error == "" {
				rep.Results[i].Assertions = append(rep.Results[i].Assertions, report.Assertion{Type: "llm-rubric", Weight: 1, Passed: true, Score: 1})
			}
		}
		if err := f.st.SaveRunIn(ctx, f.a.ID, rep); err != nil {
			t.Fatal(err)
		}
		alice := f.as(f.alice)
		if res := alice.post("/p/alpha/queues", url.Values{"name": {"judge-check"}, "run": {"run-judged"}, "overlap": {"1"},
			"annotators": {"alice@example.com"}, "rubric": {"fields:\n  - name: verdict\n    kind: boolean\n"}}); res.status != http.StatusSeeOther {
			t.Fatalf("create panel: %d %s", res.status, res.body)
		}
		if body := alice.get("/p/alpha/runs/run-judged").body; !strings.Contains(body, `id="panel"`) || !strings.Contains(body, "No result has a human verdict yet") {
			t.Errorf("run page before labels lacks the empty panel")
		}
		for n := 0; ; n++ {
			body := alice.get("/p/alpha/queues/judge-check/label").body
			if strings.Contains(body, `id="done"`) {
				break
			}
			if n == 0 && (!strings.Contains(body, "Automatic scores") || !strings.Contains(body, "llm-rubric")) {
				t.Error("the panel's label page does not show the output's automatic scores")
			}
			i := strings.Index(body, `id="item" data-item="`)
			item := body[i+len(`id="item" data-item="`):]
			item = item[:strings.Index(item, `"`)]
			v := "true"
			if n%3 == 0 {
				v = "false" // the humans fail what the judge passed
			}
			res := alice.post("/p/alpha/queues/judge-check/items/"+item+"/label", url.Values{"f_verdict": {v}})
			if res.status != http.StatusSeeOther {
				t.Fatalf("label: %d %s", res.status, res.body)
			}
		}
		run := alice.get("/p/alpha/runs/run-judged")
		checkSafe(t, "run page with a panel", run)
		for _, want := range []string{`id="judges"`, "<td>llm-rubric</td>", "7 of 11 result(s) with a human verdict pass",
			"[35.4%, 84.8%]" /* Wilson 95% of 7/11, by hand */, `href="/p/alpha/queues/`} {
			if !strings.Contains(run.body, want) {
				t.Errorf("run page lacks %q", want)
			}
		}
		cs := alice.get("/p/alpha/runs/run-judged/cases/0")
		if !strings.Contains(cs.body, "human fail") || !strings.Contains(cs.body, "human pass") {
			t.Errorf("the case page does not show the human verdicts")
		}
	})
}
