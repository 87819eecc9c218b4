package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestDatasetPages: the datasets list, a dataset's page and its audit show hostile item
// text escaped and personal data masked; the policy form changes the policy (admins);
// another project's dataset is 404 through A's pages.
func TestDatasetPages(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		alice, vera := f.as(f.alice), f.as(f.vera)
		escaped := "&lt;script&gt;alert(1)&lt;/script&gt;"
		for _, path := range []string{"/p/alpha/datasets", "/p/alpha/datasets/golden", "/p/alpha/datasets/golden/audit",
			"/p/alpha/datasets/golden?version=1", "/p/alpha/datasets/golden/audit?min_share=0.6&label=segment.locale"} {
			res := alice.get(path)
			if res.status != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", path, res.status, res.body)
			}
			checkSafe(t, path, res)
			if !strings.Contains(res.body, escaped) {
				t.Errorf("GET %s does not show the hostile text escaped", path)
			}
			if strings.Contains(res.body, "beta-only") {
				t.Errorf("GET %s shows B's dataset", path)
			}
		}
		page := alice.get("/p/alpha/datasets/golden").body
		for _, want := range []string{`id="items"`, `id="policy"`, "locale=en", `<span class="badge fail">no</span>`} {
			if !strings.Contains(page, want) {
				t.Errorf("dataset page lacks %q", want)
			}
		}
		if strings.Contains(vera.get("/p/alpha/datasets/golden").body, `id="policy"`) {
			t.Error("a viewer sees the policy form")
		}
		// (The header names the logged-in alice@example.com: look in the page's main part.)
		audit := alice.get("/p/alpha/datasets/golden/audit").body
		main := audit[strings.Index(audit, "<main>"):]
		if strings.Contains(main, "alice@example.com") || !strings.Contains(main, "mail *****@example.com") {
			t.Errorf("the audit page does not mask the e-mail address: %s", main)
		}
		if !strings.Contains(audit, "1 items without consent: #2") {
			t.Errorf("the audit page lacks the consent line")
		}
		// The policy form.
		// (The browser follows the redirect: the page shows the new policy.)
		res := alice.post("/p/alpha/datasets/golden/policy", url.Values{"retention_days": {"45"}, "subject_field": {"metadata.user"}})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != "/p/alpha/datasets/golden" {
			t.Errorf("after the policy form: %d %s", res.status, res.header.Get("Location"))
		}
		if body := alice.get("/p/alpha/datasets/golden").body; !strings.Contains(body, "Retention: 45 days") || !strings.Contains(body, "revoked items kept") {
			t.Error("the dataset page does not show the new policy")
		}
		ds, err := f.st.GetDataset(context.Background(), f.a.ID, "golden")
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.st.DatasetPolicy(context.Background(), ds.ID)
		if err != nil || p.RetentionDays != 45 || p.DropRevoked || p.SubjectField != "metadata.user" {
			t.Errorf("policy after the form = %+v, %v", p, err)
		}
		if res := alice.post("/p/alpha/datasets/golden/policy", url.Values{"retention_days": {"x"}}); res.status != http.StatusBadRequest {
			t.Errorf("bad days: %d", res.status)
		}
		if res := alice.post("/p/alpha/datasets/golden/policy", url.Values{"retention_days": {"1"}, "subject_field": {"expected"}}); res.status != http.StatusBadRequest || !strings.Contains(res.body, "subject_field") {
			t.Errorf("bad subject field: %d", res.status)
		}
		if res := vera.post("/p/alpha/datasets/golden/policy", url.Values{"retention_days": {"1"}}); res.status != http.StatusForbidden {
			t.Errorf("viewer policy form: %d, want 403", res.status)
		}
		// B's dataset through A's pages.
		for _, path := range []string{"/p/alpha/datasets/" + url.PathEscape("beta-only/golden"), "/p/alpha/datasets/" + url.PathEscape("beta-only/golden") + "/audit"} {
			if res := alice.get(path); res.status != http.StatusNotFound || strings.Contains(res.body, "beta-only item") {
				t.Errorf("GET %s: %d, want 404", path, res.status)
			}
		}
		if res := alice.post("/p/alpha/datasets/"+url.PathEscape("beta-only/golden")+"/policy", url.Values{"retention_days": {"1"}}); res.status != http.StatusNotFound {
			t.Errorf("policy of B's dataset through A: %d, want 404", res.status)
		}
		if res := alice.get("/p/alpha/datasets/golden?version=x"); res.status != http.StatusBadRequest {
			t.Errorf("bad version: %d", res.status)
		}
	})
}
