package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/queue"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/review"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// fixtureQueue is a panel queue over a run's results with one annotator.
func fixtureQueue(t *testing.T, st store.Store, p store.Project, run string, annotator store.User) string {
	t.Helper()
	ctx := context.Background()
	q, err := queue.Create(ctx, st, p.ID, queue.Spec{Name: "panel", Run: run,
		Rubric: review.Rubric{Fields: []review.Field{{Name: "verdict", Kind: review.Boolean}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddQueueMember(ctx, q.ID, annotator.ID); err != nil {
		t.Fatal(err)
	}
	return q.ID
}

// queueBody is the isolation walk's sample body of a queue route.
func queueBody(name string, in, res side) any {
	switch name {
	case "QueueCreate":
		return map[string]any{"name": "intruder", "run": res.run, "rubric": map[string]any{"fields": []any{map[string]any{"name": "verdict", "kind": "boolean"}}}}
	case "QueueUpdate":
		return map[string]any{"description": "intruder"}
	case "Guidelines":
		return map[string]any{"body": "intruder"}
	case "Annotator":
		return map[string]any{"email": in.memberEmail}
	case "Annotation":
		return map[string]any{"values": map[string]any{"verdict": "yes"}}
	case "Adjudication":
		return map[string]any{"field": "verdict", "value": "true"}
	}
	return map[string]any{"field": "verdict"}
}

// TestQueues: a queue over a dataset labelled by two people through the API, with k = 2:
// leases, rubric checks, agreement, disagreements, adjudication, write-back to the dataset
// as a new version; a panel over a run compares its LLM judge with the humans.
func TestQueues(t *testing.T) {
	for name, dsn := range map[string]func(*testing.T) string{"sqlite": sqliteDSN, "postgres": func(t *testing.T) string { return storetest.FreshPostgres(t) }} {
		t.Run(name, func(t *testing.T) { testQueues(t, newFixture(t, dsn(t))) })
	}
}

func testQueues(t *testing.T, f *fixture) {
	ctx := context.Background()
	ds, err := f.st.CreateDataset(ctx, f.a.ID, "golden", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.AddItems(ctx, ds.ID, []dataset.Item{
		{Vars: map[string]any{"q": "<script>alert(1)</script>"}, Expected: "A"},
		{Vars: map[string]any{"q": "two"}, Expected: "B"},
		{Vars: map[string]any{"q": "three"}, Expected: "C"},
	}, "v1", false); err != nil {
		t.Fatal(err)
	}
	alice, vera := asAlice(f), asVera(f)
	const base = "/api/v1/projects/alpha/queues"
	rubric := map[string]any{"fields": []any{
		map[string]any{"name": "answer", "kind": "categorical", "options": []string{"A", "B", "C", "X"}, "required": true},
		map[string]any{"name": "note", "kind": "comment"},
	}}
	// Bad input is a 400 that says what is wrong.
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"name": "golden-review", "dataset": "golden", "rubric": map[string]any{"fields": []any{map[string]any{"name": "x", "kind": "likert"}}}}, "likert"},
		{map[string]any{"name": "golden-review", "dataset": "golden", "rubric": rubric, "overlap": 99}, "overlap 99"},
		{map[string]any{"name": "golden-review", "dataset": "golden", "rubric": "fields:\n  - name: x\n    kind: likert\n"}, "likert"},
		{map[string]any{"name": "golden-review", "rubric": rubric}, "source"},
		{map[string]any{"name": "golden-review", "dataset": "golden", "rubric": rubric, "annotators": []string{"carol@example.com"}}, "carol@example.com"},
	} {
		if r := alice.do("POST", base, c.body); r.status/100 != 4 || !strings.Contains(r.raw, c.want) {
			t.Errorf("create %v: %d %s, want a 4xx naming %q", c.body, r.status, r.raw, c.want)
		}
	}
	r := alice.do("POST", base, map[string]any{"name": "golden-review", "dataset": "golden", "rubric": rubric, "overlap": 2,
		"guidelines": "# Answers\n<script>alert(1)</script>", "annotators": []string{"alice@example.com", "vera@example.com"}})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	q := base + "/golden-review"
	// The rubric may also be given as a rubric file's text (YAML or JSON), as the UI's form does.
	if r := alice.do("POST", base, map[string]any{"name": "golden-yaml", "dataset": "golden",
		"rubric": "fields:\n  - name: helpful\n    kind: boolean\n"}); r.status != 201 || !strings.Contains(r.raw, `"helpful"`) {
		t.Errorf("create with a YAML rubric: %d %s, want 201", r.status, r.raw)
	}
	if r := f.withKey(f.keyA).do("POST", q+"/next", nil); r.status != 403 {
		t.Errorf("a key labels: %d %s, want 403", r.status, r.raw)
	}
	if r := asAdminOf(f).do("POST", q+"/next", nil); r.status != 403 || !strings.Contains(r.raw, "not an annotator") {
		t.Errorf("a non-annotator takes an item: %d %s, want 403", r.status, r.raw)
	}
	next := func(c *client) int {
		t.Helper()
		r := c.do("POST", q+"/next", nil)
		if r.status != 200 {
			t.Fatalf("next: %d %s", r.status, r.raw)
		}
		if r.body["done"] == true {
			return 0
		}
		item := r.body["item"].(map[string]any)
		return int(item["id"].(float64))
	}
	label := func(c *client, item int, answer string) *response {
		return c.do("PUT", fmt.Sprintf("%s/items/%d/annotation", q, item), map[string]any{"values": map[string]string{"answer": answer}})
	}
	answers := map[int][2]string{1: {"a", "X"}, 2: {"B", "B"}, 3: {"C", "C"}}
	for range 3 {
		ia, iv := next(alice), next(vera)
		if ia != iv || ia == 0 {
			t.Fatalf("alice got %d, vera %d: with k = 2 both label the same item first", ia, iv)
		}
		if r := label(alice, ia, answers[ia][0]); r.status != 200 {
			t.Fatalf("label: %d %s", r.status, r.raw)
		}
		if r := label(vera, iv, answers[iv][1]); r.status != 200 {
			t.Fatalf("label: %d %s", r.status, r.raw)
		}
	}
	if n := next(alice); n != 0 {
		t.Errorf("alice got item %d after labelling all", n)
	}
	if r := label(alice, 2, "maybe"); r.status != 400 || !strings.Contains(r.raw, "answer") {
		t.Errorf("a value not in the options: %d %s, want 400 naming the field", r.status, r.raw)
	}
	if r := alice.do("PUT", q+"/items/2/annotation", map[string]any{"values": map[string]string{"tone": "x"}}); r.status != 400 || !strings.Contains(r.raw, "tone") {
		t.Errorf("an unknown field: %d %s", r.status, r.raw)
	}
	if r := alice.do("GET", q+"/items/99", nil); r.status != 404 {
		t.Errorf("missing item: %d", r.status)
	}
	prog := alice.do("GET", q+"/progress", nil)
	if !strings.Contains(prog.raw, `"complete":3`) || !strings.Contains(prog.raw, `"labelled":3`) {
		t.Errorf("progress: %s", prog.raw)
	}
	ag := alice.do("GET", q+"/agreement", nil)
	if ag.status != 200 || !strings.Contains(ag.raw, `"field":"answer"`) || !strings.Contains(ag.raw, `"cohen_kappa"`) {
		t.Errorf("agreement: %d %s", ag.status, ag.raw)
	}
	dis := alice.do("GET", q+"/disagreements", nil)
	if l := dis.list("disagreements"); len(l) != 1 || l[0].(map[string]any)["item_id"].(float64) != 1 {
		t.Fatalf("disagreements: %s", dis.raw)
	}
	// Annotators are named by email, as /progress names them, with their user ids beside.
	d0 := dis.list("disagreements")[0].(map[string]any)
	vals, _ := d0["values"].(map[string]any)
	ids, _ := d0["user_ids"].(map[string]any)
	if len(vals) != 2 || vals["alice@example.com"] != "A" || vals["vera@example.com"] != "X" ||
		ids["alice@example.com"] == nil || !strings.Contains(prog.raw, fmt.Sprint(ids["alice@example.com"])) {
		t.Errorf("disagreement values = %v, user ids %v; want keyed by email, ids as in progress %s", vals, ids, prog.raw)
	}
	if r := vera.do("PUT", q+"/items/1/adjudication", map[string]any{"field": "answer", "value": "X"}); r.status != 403 {
		t.Errorf("a viewer adjudicates: %d", r.status)
	}
	if r := alice.do("PUT", q+"/items/1/adjudication", map[string]any{"field": "answer", "value": "x", "note": "per guideline 2"}); r.status != 200 || r.str("adjudication.value") != "X" {
		t.Fatalf("adjudicate: %d %s", r.status, r.raw)
	}
	wb := alice.do("POST", q+"/writeback", map[string]any{"field": "answer"})
	if wb.status != 200 {
		t.Fatalf("writeback: %d %s", wb.status, wb.raw)
	}
	changed, _ := wb.body["writeback"].(map[string]any)["changed"].([]any)
	if len(changed) != 1 || changed[0].(map[string]any)["queue_item"].(float64) != 1 || !strings.Contains(wb.raw, `"version":2`) {
		t.Errorf("writeback: %s", wb.raw)
	}
	items, _, err := f.st.ListItems(ctx, ds.ID, 2, "", 0)
	if err != nil || len(items) != 3 || items[2].Expected != "X" && items[0].Expected != "X" {
		t.Errorf("dataset v2 = %+v, %v; want item 1's answer X", items, err)
	}
	audit := alice.do("GET", "/api/v1/projects/alpha/audit", nil)
	for _, a := range []string{"queue.create", "queue.member.add", "queue.adjudicate", "queue.writeback"} {
		if !strings.Contains(audit.raw, a) {
			t.Errorf("audit lacks %s", a)
		}
	}

	// A human panel over a run with an LLM judge.
	rep := sampleReport("run-judged", f.clock.Now().Add(-time.Hour), 1)
	for i := range rep.Results {
		if rep.Results[i].Error == "" {
			rep.Results[i].Assertions = append(rep.Results[i].Assertions, report.Assertion{Type: "llm-rubric", Weight: 1, Passed: i%2 == 0, Score: 1})
		}
	}
	if err := f.st.SaveRunIn(ctx, f.a.ID, rep); err != nil {
		t.Fatal(err)
	}
	r = alice.do("POST", base, map[string]any{"name": "judge-check", "run": "run-judged", "annotators": []string{"alice@example.com"},
		"rubric": map[string]any{"fields": []any{map[string]any{"name": "verdict", "kind": "boolean"}}}})
	if r.status != 201 {
		t.Fatalf("panel queue: %d %s", r.status, r.raw)
	}
	pq := base + "/judge-check"
	for {
		r := alice.do("POST", pq+"/next", nil)
		if r.body["done"] == true {
			break
		}
		item := r.body["item"].(map[string]any)
		pos := int(item["source_id"].(float64))
		v := "no"
		if pos%2 == 0 || pos < 4 { // agrees with the judge on even positions and on 1 and 3
			v = "yes"
		}
		if r := alice.do("PUT", fmt.Sprintf("%s/items/%d/annotation", pq, int(item["id"].(float64))), map[string]any{"values": map[string]string{"verdict": v}}); r.status != 200 {
			t.Fatalf("panel label: %d %s", r.status, r.raw)
		}
	}
	panel := alice.do("GET", "/api/v1/projects/alpha/runs/run-judged/panel", nil)
	if panel.status != 200 || !strings.Contains(panel.raw, `"assertion":"llm-rubric"`) || !strings.Contains(panel.raw, `"n":11`) {
		t.Errorf("panel: %d %s", panel.status, panel.raw)
	}
	// The human verdicts are stored scores of the results: the results API carries them
	// beside the automatic scores. Position 1 was labelled yes, position 5 no.
	res := alice.do("GET", "/api/v1/projects/alpha/runs/run-judged/results?limit=10", nil)
	results, _ := res.body["results"].([]any)
	if res.status != 200 || len(results) < 6 {
		t.Fatalf("results: %d %s", res.status, res.raw)
	}
	for pos, want := range map[int]float64{1: 1, 5: 0} {
		h, _ := results[pos].(map[string]any)["human"].(map[string]any)
		if h == nil || h["score"] != want || h["queue"] != "judge-check" || h["labels"] != 1.0 {
			t.Errorf("result %d human = %v, want score %v from judge-check with 1 label", pos, h, want)
		}
	}

	// A queue name with slashes works in paths when its slash is escaped (%2F).
	r = alice.do("POST", base, map[string]any{"name": "support/tone", "run": "run-judged",
		"rubric": map[string]any{"fields": []any{map[string]any{"name": "verdict", "kind": "boolean"}}}})
	if r.status != 201 {
		t.Fatalf("queue support/tone: %d %s", r.status, r.raw)
	}
	for _, path := range []string{base + "/support%2Ftone", base + "/support%2Ftone/progress", base + "/support%2ftone/guidelines"} {
		if r := alice.do("GET", path, nil); r.status != 200 {
			t.Errorf("GET %s: %d %s", path, r.status, r.raw)
		}
	}
	if r := alice.do("GET", base+"/support/tone", nil); r.status != 404 {
		t.Errorf("GET with an unescaped slash: %d, want 404", r.status)
	}
}

// asAdminOf is the instance admin, who is no annotator of anything.
func asAdminOf(f *fixture) *client { return f.session(f.admin.Email) }
