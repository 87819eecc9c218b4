package server

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/store/storetest"
)

// TestDatasetAPI walks a dataset's life through the API: create, import (with errors that
// name the line), items in pages, export, policy, revocation, purge, audit and failed
// cases of a run; with the roles each step needs and the client's mistakes as 4xx.
func TestDatasetAPI(t *testing.T) {
	for name, dsn := range map[string]func(*testing.T) string{"sqlite": sqliteDSN, "postgres": func(t *testing.T) string { return storetest.FreshPostgres(t) }} {
		t.Run(name, func(t *testing.T) { testDatasetAPI(t, newFixture(t, dsn(t))) })
	}
}

func testDatasetAPI(t *testing.T, f *fixture) {
	editor, admin, viewer := asKeyA(f), asAlice(f), asViewerKey(f)
	const base = "/api/v1/projects/alpha/datasets"
	ds := base + "/" + url.PathEscape("support/golden")
	check := func(r *response, status int, what string) *response {
		t.Helper()
		if r.status != status {
			t.Fatalf("%s: %d %s, want %d", what, r.status, truncate(r.raw), status)
		}
		return r
	}
	check(editor.do("POST", base, map[string]any{"name": "support/golden", "description": "refunds"}), 201, "create")
	check(editor.do("POST", base, map[string]any{"name": "support/golden"}), 409, "create twice")
	if r := editor.do("POST", base, map[string]any{"name": "bad name"}); r.status != 400 || r.str("error.field") != "name" {
		t.Errorf("bad name: %d %s", r.status, r.raw)
	}
	check(viewer.do("POST", base, map[string]any{"name": "x"}), 403, "viewer create")

	hostile := `<script>alert(1)</script>`
	jsonl := strings.Join([]string{
		`{"question":"Where is my refund?","expected":"In 5 days.","segment":{"locale":"en"},"metadata":{"subject_id":"cust-1"},"consent":true}`,
		`{"question":"mail alice@example.com ` + strings.ReplaceAll(hostile, `"`, `\"`) + `","expected":"Done.","segment":{"locale":"fr"},"consent":true}`,
		`{"question":"Cancel","expected":"Done.","segment":{"locale":"en"},"metadata":{"subject_id":"cust-1"}}`,
		`{"question":"cancel!","expected":"done","segment":{"locale":"en"}}`,
	}, "\n")
	r := check(editor.do("POST", ds+"/import?message=first", rawBody{"application/x-ndjson", jsonl}), 200, "import")
	if !strings.Contains(r.raw, `"read":4`) || !strings.Contains(r.raw, `"added":4`) || !strings.Contains(r.raw, `"near_duplicate_lines":[[3,4]]`) {
		t.Errorf("import answer = %s", r.raw)
	}
	if !strings.Contains(r.raw, `"near_duplicate_records":[[3,4]]`) || !strings.Contains(r.raw, `"near_duplicates":["lines 3, 4"]`) {
		t.Errorf("import answer = %s, want the group by record and in words", r.raw)
	}
	// A bad line is named, and nothing is imported.
	r = check(editor.do("POST", ds+"/import", rawBody{"application/x-ndjson", `{"question":"ok"}` + "\n{not json\n"}), 400, "bad line")
	if !strings.Contains(r.str("error.message"), "body:2:") {
		t.Errorf("bad line error = %s, want it to name line 2", r.raw)
	}
	check(editor.do("POST", ds+"/import", rawBody{"text/plain", "x"}), 415, "unknown format")
	check(editor.do("POST", ds+"/import?format=xml", rawBody{"text/plain", "x"}), 400, "bad format")
	check(editor.do("POST", ds+"/import?format=csv&map=expected", rawBody{"text/csv", "q\nx\n"}), 400, "bad map")
	small := f.withServer(Config{MaxUpload: 64})
	check(small.withKey(f.keyA).do("POST", ds+"/import", rawBody{"application/x-ndjson", jsonl}), 413, "too large")
	check(viewer.do("POST", ds+"/import", rawBody{"application/x-ndjson", jsonl}), 403, "viewer import")
	// CSV by ?format, as a second version.
	check(editor.do("POST", ds+"/import?format=csv&map=vars.question=q,expected=a", rawBody{"text/csv", "q,a\nShip to Canada?,Yes.\n"}), 200, "csv import")

	r = check(viewer.do("GET", ds, nil), 200, "get")
	if len(r.list("versions")) != 2 || r.str("dataset.name") != "support/golden" || !strings.Contains(r.raw, `"drop_revoked":true`) {
		t.Errorf("get = %s", r.raw)
	}
	check(viewer.do("GET", base+"/nope", nil), 404, "missing dataset")
	if r := check(viewer.do("GET", base, nil), 200, "list"); len(r.list("datasets")) != 2 {
		t.Errorf("list = %s", r.raw)
	}
	// Items in pages of 2: 5 items in version 2, 4 in version 1.
	var all []any
	cursor := ""
	for i := 0; i < 5; i++ {
		r := check(viewer.do("GET", ds+"/items?limit=2&cursor="+cursor, nil), 200, "items")
		all = append(all, r.list("items")...)
		if cursor = r.str("next_cursor"); cursor == "" {
			break
		}
	}
	if len(all) != 5 {
		t.Errorf("%d items over the pages, want 5", len(all))
	}
	if r := check(viewer.do("GET", ds+"/items?version=1", nil), 200, "v1 items"); len(r.list("items")) != 4 {
		t.Errorf("version 1 has %d items, want 4", len(r.list("items")))
	}
	check(viewer.do("GET", ds+"/items?version=9", nil), 404, "missing version")
	check(viewer.do("GET", ds+"/items?version=x", nil), 400, "bad version")
	check(viewer.do("GET", ds+"/items?cursor=zz", nil), 400, "bad cursor")
	r = check(viewer.do("GET", ds+"/export?format=csv&version=1", nil), 200, "export")
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || strings.Count(r.raw, "\n") != 5 {
		t.Errorf("export: %s %q", r.header.Get("Content-Type"), r.raw)
	}

	// The audit: JSON, and Markdown with the hostile text escaped and the e-mail masked.
	r = check(viewer.do("GET", ds+"/audit?version=1&min_share=0.3", nil), 200, "audit")
	for _, want := range []string{`"pii_items":1`, `"count":1`, `"value":"fr"`, `"under":true`} {
		if !strings.Contains(r.raw, want) {
			t.Errorf("audit lacks %s: %s", want, r.raw)
		}
	}
	r = check(viewer.do("GET", ds+"/audit?format=md", nil), 200, "audit md")
	if strings.Contains(r.raw, "alice@example.com") || strings.Contains(r.raw, "<script>") || !strings.Contains(r.raw, "@example.com") {
		t.Errorf("markdown audit echoes PII or markup: %s", r.raw)
	}
	check(viewer.do("GET", ds+"/audit?min_share=2", nil), 400, "bad min_share")
	check(viewer.do("GET", ds+"/audit?label=output", nil), 400, "bad label")

	// Policy: admins only; partial changes; bad values are 400.
	check(editor.do("PATCH", ds+"/policy", map[string]any{"retention_days": 30}), 403, "editor policy")
	r = check(admin.do("PATCH", ds+"/policy", map[string]any{"retention_days": 30}), 200, "policy")
	if !strings.Contains(r.raw, `"retention_days":30`) || !strings.Contains(r.raw, `"subject_field":"metadata.subject_id"`) {
		t.Errorf("policy = %s", r.raw)
	}
	check(admin.do("PATCH", ds+"/policy", map[string]any{"subject_field": "expected"}), 400, "bad subject field")
	check(admin.do("PATCH", ds+"/policy", map[string]any{"retention_days": "x"}), 400, "bad days")
	if r := check(viewer.do("GET", ds+"/policy", nil), 200, "get policy"); !strings.Contains(r.raw, `"retention_days":30`) {
		t.Errorf("policy read back = %s", r.raw)
	}

	// Revoke the subject cust-1 (items 1 and 3) and item 2; purge.
	r = check(editor.do("POST", ds+"/revocations", map[string]any{"subjects": []string{"cust-1"}, "item_ids": []int{2}, "reason": "erasure"}), 200, "revoke")
	if !strings.Contains(r.raw, `"matching":3`) {
		t.Errorf("revoke = %s", r.raw)
	}
	check(editor.do("POST", ds+"/revocations", map[string]any{"item_ids": []int{99}}), 400, "revoke missing item")
	check(editor.do("POST", ds+"/purge", nil), 403, "editor purge")
	r = check(admin.do("POST", ds+"/purge?dry_run=true", nil), 200, "dry run")
	if !strings.Contains(r.raw, `"purged":3`) || !strings.Contains(r.raw, `"dry_run":true`) {
		t.Errorf("dry run = %s", r.raw)
	}
	r = check(admin.do("POST", ds+"/purge", nil), 200, "purge")
	if !strings.Contains(r.raw, `"purged":3`) || !strings.Contains(r.raw, `"item_ids":[1,2,3]`) {
		t.Errorf("purge = %s", r.raw)
	}
	if r := check(viewer.do("GET", ds+"/items?version=1", nil), 200, "v1 after purge"); len(r.list("items")) != 1 {
		t.Errorf("version 1 holds %d items after the purge, want 1", len(r.list("items")))
	}

	// Failed cases of A's run (test 0 fails on smart, test 2 errs once): 2 items.
	r = check(editor.do("POST", ds+"/failed", map[string]any{"run": f.runA1}), 200, "add failed")
	if !strings.Contains(r.raw, `"failed_cases":2`) || !strings.Contains(r.raw, `"added":2`) {
		t.Errorf("add failed = %s", r.raw)
	}
	r = check(viewer.do("GET", ds+"/export", nil), 200, "export after add-failed")
	if !strings.Contains(r.raw, fmt.Sprintf(`"source":"run %s test 0 (case 0)"`, f.runA1)) || !strings.Contains(r.raw, `"segment":{"segment":"billing"}`) {
		t.Errorf("failed items = %s", r.raw)
	}
	check(editor.do("POST", ds+"/failed", map[string]any{"run": f.runB}), 404, "B's run")
	check(editor.do("POST", ds+"/failed", map[string]any{}), 400, "no run")
}

// TestProjectRevocationAPI: an erasure request through POST .../revocations covers every
// dataset of the project, by each one's subject field, and the purge deletes the items;
// a viewer may not, and an empty request says what is missing.
func TestProjectRevocationAPI(t *testing.T) {
	for name, dsn := range map[string]func(*testing.T) string{"sqlite": sqliteDSN, "postgres": func(t *testing.T) string { return storetest.FreshPostgres(t) }} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t))
			editor, admin, viewer := asKeyA(f), asAlice(f), asViewerKey(f)
			const base = "/api/v1/projects/alpha/datasets"
			for _, d := range []struct{ name, field, body string }{
				{"golden", "", `{"q":"a","metadata":{"subject_id":"cust-9"}}` + "\n" + `{"q":"b","metadata":{"subject_id":"cust-8"}}`},
				{"chats", "vars.user", `{"q":"c","user":"cust-9"}`},
			} {
				if r := editor.do("POST", base, map[string]any{"name": d.name}); r.status != 201 {
					t.Fatalf("create %s: %d %s", d.name, r.status, r.raw)
				}
				if d.field != "" {
					if r := admin.do("PATCH", base+"/"+d.name+"/policy", map[string]any{"subject_field": d.field}); r.status != 200 {
						t.Fatalf("policy: %d %s", r.status, r.raw)
					}
				}
				if r := editor.do("POST", base+"/"+d.name+"/import", rawBody{"application/x-ndjson", d.body}); r.status != 200 {
					t.Fatalf("import: %d %s", r.status, r.raw)
				}
			}
			if r := viewer.do("POST", "/api/v1/projects/alpha/revocations", map[string]any{"subjects": []string{"cust-9"}}); r.status != 403 {
				t.Errorf("viewer: %d, want 403", r.status)
			}
			if r := editor.do("POST", "/api/v1/projects/alpha/revocations", map[string]any{}); r.status != 400 || r.str("error.field") != "subjects" {
				t.Errorf("no subjects: %d %s", r.status, r.raw)
			}
			r := editor.do("POST", "/api/v1/projects/alpha/revocations", map[string]any{"subjects": []string{"cust-9"}, "reason": "erasure"})
			if r.status != 200 || len(r.list("datasets")) != 3 || strings.Count(r.raw, `"matching":1`) != 2 || strings.Contains(r.raw, "cust-9") {
				t.Fatalf("revoke: %d %s; want the 3 datasets of alpha, golden and chats covering 1 item each, without the identifier", r.status, r.raw)
			}
			for _, name := range []string{"golden", "chats"} {
				if r := admin.do("POST", base+"/"+name+"/purge", nil); r.status != 200 || !strings.Contains(r.raw, `"purged":1`) {
					t.Errorf("purge %s: %d %s", name, r.status, r.raw)
				}
			}
			if r := viewer.do("GET", base+"/golden/export", nil); strings.Contains(r.raw, "cust-9") || !strings.Contains(r.raw, "cust-8") {
				t.Errorf("golden after the purge: %s", r.raw)
			}
		})
	}
}

// TestDatasetImportOneLineJSON: a one-line JSON array names its records, not "lines 1, 1",
// in the import's answer and in its errors.
func TestDatasetImportOneLineJSON(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	editor := asKeyA(f)
	const base = "/api/v1/projects/alpha/datasets"
	check := func(r *response, status int, what string) *response {
		t.Helper()
		if r.status != status {
			t.Fatalf("%s: %d %s, want %d", what, r.status, truncate(r.raw), status)
		}
		return r
	}
	check(editor.do("POST", base, map[string]any{"name": "oneline"}), 201, "create oneline")
	r := check(editor.do("POST", base+"/oneline/import", rawBody{"application/json", `[{"q":"Hello there"},{"q":"hello, THERE!"}]`}), 200, "import a one-line JSON array")
	if !strings.Contains(r.raw, `"near_duplicate_records":[[1,2]]`) || !strings.Contains(r.raw, `"near_duplicates":["records 1, 2"]`) {
		t.Errorf("one-line JSON import = %s, want records 1, 2", r.raw)
	}
	r = check(editor.do("POST", base+"/oneline/import", rawBody{"application/json", `[{"q":"a"},{"q":"b","consent":"maybe"}]`}), 400, "a bad record of a one-line JSON array")
	if !strings.Contains(r.raw, "body:1: record 2: field consent") {
		t.Errorf("bad record = %s, want body:1: record 2", r.raw)
	}
}

// TestDatasetImportMapHint: an import through the API that needs a mapping says to use the
// query parameter map, not the CLI's --map.
func TestDatasetImportMapHint(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	editor := asKeyA(f)
	const base = "/api/v1/projects/alpha/datasets"
	if r := editor.do("POST", base, map[string]any{"name": "hints"}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	for _, c := range []struct{ query, body, want string }{
		{"", `{"expected":"a","expected_output":"b"}`, "the query parameter map=expected=FIELD"},
		{"", `{"q":"x","metadata":"y"}`, "the query parameter map=metadata.NAME=metadata"},
		{"&map=expected=answr", `{"q":"x","answer":"y"}`, "the query parameter map=expected=answr"},
	} {
		r := editor.do("POST", base+"/hints/import?format=jsonl"+c.query, rawBody{"application/x-ndjson", c.body + "\n"})
		msg := r.str("error.message")
		if r.status != 400 || !strings.Contains(msg, c.want) || strings.Contains(msg, "--map") {
			t.Errorf("import %s%s: %d %q, want 400 saying %q and not --map", c.body, c.query, r.status, msg, c.want)
		}
	}
}
