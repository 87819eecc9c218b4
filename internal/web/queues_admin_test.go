package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestQueueAdminPages: an editor closes and reopens a queue, browses the guideline versions
// with the annotations made under each, and removes an annotator; every change is a CSRF-
// protected form, audited, refused to a viewer and invisible to another project.
func TestQueueAdminPages(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		alice, vera, bob := f.as(f.alice), f.as(f.vera), f.as(f.bob)
		const q = "/p/alpha/queues/review"

		// Close and reopen.
		if res := vera.post(q+"/status", url.Values{"status": {"closed"}}); res.status != http.StatusForbidden {
			t.Errorf("a viewer closes the queue: %d, want 403", res.status)
		}
		if res := alice.post(q+"/status", url.Values{"status": {"closed"}, "csrf_token": {"forged"}}); res.status != http.StatusForbidden {
			t.Errorf("a forged CSRF token: %d, want 403", res.status)
		}
		if res := bob.post(q+"/status", url.Values{"status": {"closed"}}); res.status != http.StatusNotFound {
			t.Errorf("B's member closes A's queue: %d, want 404", res.status)
		}
		if res := alice.post(q+"/status", url.Values{"status": {"paused"}}); res.status != http.StatusBadRequest || !strings.Contains(res.body, "use open or closed") {
			t.Errorf("an unknown status: %d, want 400 saying what to use", res.status)
		}
		if body := alice.get(q).body; !strings.Contains(body, "Close the queue") {
			t.Fatal("the open queue's page has no close button")
		}
		if res := alice.post(q+"/status", url.Values{"status": {"closed"}}); res.status != http.StatusSeeOther {
			t.Fatalf("close: %d %s", res.status, res.body)
		}
		if body := alice.get(q).body; !strings.Contains(body, "Reopen the queue") || !strings.Contains(body, "· closed") {
			t.Error("the closed queue's page does not say it is closed or offer to reopen it")
		}
		if res := vera.get(q + "/label"); res.status != http.StatusBadRequest || !strings.Contains(res.body, "closed") {
			t.Errorf("labelling a closed queue: %d, want 400 saying it is closed", res.status)
		}
		if res := alice.post(q+"/status", url.Values{"status": {"open"}}); res.status != http.StatusSeeOther {
			t.Fatalf("reopen: %d %s", res.status, res.body)
		}
		if res := vera.get(q + "/label"); res.status != http.StatusOK {
			t.Errorf("labelling the reopened queue: %d", res.status)
		}

		// Guideline versions: vera labels under version 1, alice saves version 2, vera
		// labels again under version 2, with a hostile comment.
		label := func(b *browser, comment string) {
			t.Helper()
			body := b.get(q + "/label").body
			i := strings.Index(body, `id="item" data-item="`)
			if i < 0 {
				t.Fatal("no item on the label page")
			}
			item := body[i+len(`id="item" data-item="`):]
			item = item[:strings.Index(item, `"`)]
			if res := b.post(q+"/items/"+item+"/label", url.Values{"f_ok": {"true"}, "comment": {comment}}); res.status != http.StatusSeeOther {
				t.Fatalf("label: %d %s", res.status, res.body)
			}
		}
		label(vera, "first")
		if res := alice.post(q+"/guidelines", url.Values{"body": {"# Second " + hostile}}); res.status != http.StatusSeeOther {
			t.Fatalf("guidelines v2: %d", res.status)
		}
		label(vera, "second "+hostile)
		if body := alice.get(q).body; !strings.Contains(body, `/guidelines/1">version 1</a>`) || !strings.Contains(body, `/guidelines/2">version 2</a>`) {
			t.Error("the queue page does not link the guideline versions")
		}
		v1 := alice.get(q + "/guidelines/1")
		checkSafe(t, "guidelines v1", v1)
		for _, want := range []string{"version 1", "Say <strong>yes</strong> when right.", "<td>first</td>", "vera@example.com"} {
			if !strings.Contains(v1.body, want) {
				t.Errorf("guidelines v1 page lacks %q", want)
			}
		}
		if strings.Contains(v1.body, "second") {
			t.Error("guidelines v1 lists an annotation made under version 2")
		}
		v2 := vera.get(q + "/guidelines/2")
		checkSafe(t, "guidelines v2", v2)
		if !strings.Contains(v2.body, "second &lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(v2.body, "<td>first</td>") {
			t.Error("guidelines v2 does not list (escaped) exactly the annotation made under it")
		}
		// The versions table counts the annotations made under each version: 1 and 1.
		if strings.Count(v2.body, `<td class="num">1</td>`) < 2 {
			t.Errorf("versions table lacks the counts:\n%s", v2.body)
		}
		for _, bad := range []string{"/guidelines/9", "/guidelines/x", "/guidelines/0"} {
			if res := alice.get(q + bad); res.status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", bad, res.status)
			}
		}
		if res := bob.get(q + "/guidelines/1"); res.status != http.StatusNotFound {
			t.Errorf("B's member reads A's guidelines: %d, want 404", res.status)
		}

		// Remove an annotator: vera's labels stay, she can no longer label.
		rm := q + "/annotators/" + url.PathEscape(f.vera.ID) + "/remove"
		if res := vera.post(rm, nil); res.status != http.StatusForbidden {
			t.Errorf("a viewer removes an annotator: %d, want 403", res.status)
		}
		if res := bob.post(rm, nil); res.status != http.StatusNotFound {
			t.Errorf("B's member removes A's annotator: %d, want 404", res.status)
		}
		button := "/annotators/" + url.PathEscape(f.vera.ID) + "/remove" // the page links by id
		if body := alice.get(q).body; !strings.Contains(body, button) {
			t.Fatal("the queue page has no remove button for vera")
		}
		if res := alice.post(rm, nil); res.status != http.StatusSeeOther {
			t.Fatalf("remove: %d %s", res.status, res.body)
		}
		if res := alice.post(rm, nil); res.status != http.StatusNotFound {
			t.Errorf("removing her twice: %d, want 404", res.status)
		}
		qp := alice.get(q).body
		if strings.Contains(qp, button) || !strings.Contains(qp, "(removed)") {
			t.Error("after the removal vera is still listed as an annotator, or her labels are gone")
		}
		if res := vera.get(q + "/label"); res.status != http.StatusForbidden {
			t.Errorf("a removed annotator labels: %d, want 403", res.status)
		}
		audit := alice.get("/p/alpha/audit").body
		for _, want := range []string{"queue.update", "queue.member.remove", "queue.guidelines"} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit log lacks %s", want)
			}
		}
	})
}
