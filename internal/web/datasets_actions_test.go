package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// upload sends the dataset page's import form: a multipart body with the file and fields,
// the session's CSRF token unless fields has one, from this server's origin.
func (b *browser) upload(path, filename, content string, fields url.Values) response {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if _, ok := fields["csrf_token"]; !ok && b.csrf != "" {
		mw.WriteField("csrf_token", b.csrf)
	}
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	if filename != "" {
		fw, _ := mw.CreateFormFile("file", filename)
		fw.Write([]byte(content))
	}
	mw.Close()
	req, _ := http.NewRequest("POST", b.f.url+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.f.url)
	return b.do(req)
}

// TestDatasetActions: an editor creates a dataset and uploads a file to it from the pages
// (errors name the file's lines, nothing imported), revokes an item's consent from its row,
// and an admin previews the purge (ids and counts, never content) and confirms it; viewers
// cannot, forms need the CSRF token, and B's dataset is 404 through A's pages.
func TestDatasetActions(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		alice, vera := f.as(f.alice), f.as(f.vera)
		hostile := `<script>alert(1)</script>`
		if body := alice.get("/p/alpha/datasets").body; !strings.Contains(body, `id="create-dataset"`) {
			t.Fatal("the datasets page lacks the create form for an admin")
		}
		if strings.Contains(vera.get("/p/alpha/datasets").body, `id="create-dataset"`) {
			t.Error("a viewer sees the create form")
		}
		res := alice.post("/p/alpha/datasets", url.Values{"name": {"support/new"}, "description": {hostile}})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != "/p/alpha/datasets/support%2Fnew" {
			t.Fatalf("create: %d %s %s", res.status, res.header.Get("Location"), res.body)
		}
		if res := alice.post("/p/alpha/datasets", url.Values{"name": {"bad name"}}); res.status != http.StatusBadRequest || !strings.Contains(res.body, "use letters, digits") {
			t.Errorf("bad name: %d", res.status)
		}
		if res := alice.post("/p/alpha/datasets", url.Values{"name": {"support/new"}}); res.status != http.StatusConflict {
			t.Errorf("taken name: %d, want 409", res.status)
		}
		if res := vera.post("/p/alpha/datasets", url.Values{"name": {"x"}}); res.status != http.StatusForbidden {
			t.Errorf("viewer create: %d, want 403", res.status)
		}
		page := alice.get("/p/alpha/datasets/support%2Fnew")
		checkSafe(t, "new dataset", page)
		if !strings.Contains(page.body, `id="import"`) || !strings.Contains(page.body, `enctype="multipart/form-data"`) || strings.Contains(page.body, hostile) {
			t.Fatal("the dataset page lacks the import form, or shows the description unescaped")
		}

		imp := "/p/alpha/datasets/support%2Fnew/import"
		// A bad file: every bad line is named, with the file's name escaped; nothing imported.
		bad := `{"question":"ok","expected":"fine"}` + "\n{oops\n" + `{"question":"x","consent":"maybe"}` + "\n"
		res = alice.upload(imp, hostile+".jsonl", bad, nil)
		checkSafe(t, "import problems", res)
		if res.status != http.StatusBadRequest || !strings.Contains(res.body, `id="import-problems"`) ||
			!strings.Contains(res.body, ":2: invalid JSON") || !strings.Contains(res.body, ":3: field consent") || strings.Contains(res.body, hostile) {
			t.Fatalf("bad file: %d\n%s", res.status, res.body)
		}
		if ds, _ := f.st.GetDataset(context.Background(), f.a.ID, "support/new"); ds.LatestVersion != 0 {
			t.Errorf("a bad file made version %d", ds.LatestVersion)
		}
		if res := alice.upload(imp, "items.txt", "x", nil); res.status != http.StatusBadRequest || !strings.Contains(res.body, "cannot tell the format") {
			t.Errorf("unknown extension: %d %s", res.status, res.body)
		}
		if res := alice.upload(imp, "items.csv", "q,a\nx,y\n", url.Values{"map": {"expected=nope"}}); res.status != http.StatusBadRequest || !strings.Contains(res.body, "no record has the field") {
			t.Errorf("bad mapping: %d", res.status)
		}
		if res := alice.upload(imp, "", "", nil); res.status != http.StatusBadRequest || !strings.Contains(res.body, "choose a file") {
			t.Errorf("no file: %d", res.status)
		}
		if res := alice.upload(imp, "a.jsonl", `{"q":"x"}`, url.Values{"csrf_token": {"forged"}}); res.status != http.StatusForbidden {
			t.Errorf("upload with a forged token: %d, want 403", res.status)
		}
		if res := vera.upload(imp, "a.jsonl", `{"q":"x"}`, nil); res.status != http.StatusForbidden {
			t.Errorf("viewer upload: %d, want 403", res.status)
		}
		if res := f.as(f.bob).upload(imp, "a.jsonl", `{"q":"x"}`, nil); res.status != http.StatusNotFound {
			t.Errorf("upload by another project's member: %d, want 404", res.status)
		}
		if res := alice.upload("/p/alpha/datasets/"+url.PathEscape("beta-only/golden")+"/import", "a.jsonl", `{"q":"x"}`, nil); res.status != http.StatusNotFound {
			t.Errorf("upload into B's dataset: %d, want 404", res.status)
		}
		// A good CSV with a mapping, as the CLI's --map.
		csv := "q,answer,lang,who\n" + hostile + ",Yes,en,cust-1\nWhere is my refund?,Soon,fr,cust-2\nwhere is my refund,soon,fr,cust-3\n"
		res = alice.upload(imp, "tickets.csv", csv, url.Values{"map": {"expected=answer,segment.locale=lang,metadata.subject_id=who"}, "message": {"March"}})
		checkSafe(t, "import result", res)
		if res.status != http.StatusOK || !strings.Contains(res.body, "Read 3 items from tickets.csv: 3 added") ||
			!strings.Contains(res.body, "Version 1: 3 items.") || !strings.Contains(res.body, "lines 3, 4") {
			t.Fatalf("import: %d\n%s", res.status, res.body)
		}
		page = alice.get("/p/alpha/datasets/support%2Fnew")
		if !strings.Contains(page.body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(page.body, "locale=fr") {
			t.Error("the dataset page does not show the imported items (escaped)")
		}
		if !strings.Contains(page.body, `name="item" value="2"`) || strings.Contains(vera.get("/p/alpha/datasets/support%2Fnew").body, `name="item"`) {
			t.Error("revoke forms: missing for the admin, or shown to a viewer")
		}

		// Revoke item 2's consent from its row.
		rev := "/p/alpha/datasets/support%2Fnew/revoke"
		res = alice.post(rev, url.Values{"item": {"2"}, "reason": {"asked by phone " + hostile}, "version": {"1"}})
		if res.status != http.StatusSeeOther || !strings.Contains(res.header.Get("Location"), "revoked=2") {
			t.Fatalf("revoke: %d %s", res.status, res.header.Get("Location"))
		}
		if body := alice.get(res.header.Get("Location")).body; !strings.Contains(body, "Consent of item 2 revoked") {
			t.Error("the dataset page does not confirm the revocation")
		}
		if res := alice.post(rev, url.Values{"item": {"99"}}); res.status != http.StatusBadRequest || !strings.Contains(res.body, "99") {
			t.Errorf("revoke a missing item: %d", res.status)
		}
		if res := alice.post(rev, url.Values{"item": {"x"}}); res.status != http.StatusBadRequest {
			t.Errorf("revoke a bad id: %d", res.status)
		}
		if res := vera.post(rev, url.Values{"item": {"1"}}); res.status != http.StatusForbidden {
			t.Errorf("viewer revoke: %d, want 403", res.status)
		}

		// The purge: a preview with ids, never content; viewers cannot; then the confirm.
		purge := "/p/alpha/datasets/support%2Fnew/purge"
		if res := vera.get(purge); res.status != http.StatusForbidden {
			t.Errorf("viewer purge preview: %d, want 403", res.status)
		}
		res = alice.get(purge)
		checkSafe(t, "purge preview", res)
		main := res.body[strings.Index(res.body, "<main>"):]
		if res.status != http.StatusOK || !strings.Contains(main, `<b id="purge-count">1</b>`) || !strings.Contains(main, `<span id="purge-ids">2</span>`) ||
			!strings.Contains(main, `id="confirm-purge"`) || strings.Contains(main, "refund") {
			t.Fatalf("purge preview: %d\n%s", res.status, main)
		}
		if n, _, _ := f.st.ListItems(context.Background(), mustDataset(t, f, "support/new"), 0, "", 10); len(n) != 3 {
			t.Errorf("the preview deleted items: %d left", len(n))
		}
		if res := vera.post(purge, nil); res.status != http.StatusForbidden {
			t.Errorf("viewer purge: %d, want 403", res.status)
		}
		res = alice.post(purge, nil)
		if res.status != http.StatusOK || !strings.Contains(res.body, `id="purged"`) || !strings.Contains(res.body, `<span id="purge-ids">2</span>`) {
			t.Fatalf("purge: %d\n%s", res.status, res.body)
		}
		items, _, _ := f.st.ListItems(context.Background(), mustDataset(t, f, "support/new"), 0, "", 10)
		if len(items) != 2 || items[0].ID != 1 || items[1].ID != 3 {
			t.Errorf("after the purge: %+v, want items 1 and 3", items)
		}
		if body := alice.get(purge).body; !strings.Contains(body, "Nothing to purge") {
			t.Error("a second preview still finds items")
		}
		if res := alice.get("/p/alpha/datasets/" + url.PathEscape("beta-only/golden") + "/purge"); res.status != http.StatusNotFound {
			t.Errorf("purge preview of B's dataset: %d, want 404", res.status)
		}
		if res := alice.post("/p/alpha/datasets/"+url.PathEscape("beta-only/golden")+"/revoke", url.Values{"item": {"1"}}); res.status != http.StatusNotFound {
			t.Errorf("revoke in B's dataset: %d, want 404", res.status)
		}
	})
}

func mustDataset(t *testing.T, f *fixture, name string) string {
	t.Helper()
	ds, err := f.st.GetDataset(context.Background(), f.a.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	return ds.ID
}
