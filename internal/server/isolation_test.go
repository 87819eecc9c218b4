package server

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// side names one project's resources for building requests.
type side struct {
	slug, run, key, member, memberEmail, prompt string
	dataset, queue, review                      string
	approval                                    string
}

func (f *fixture) sides() (a, b side) {
	return side{f.a.Slug, f.runA1, f.keyAID, f.vera.ID, f.vera.Email, f.promptA, f.datasetA, f.queueA, f.reviewA, f.approvalA},
		side{f.b.Slug, f.runB, f.keyBID, f.bob.ID, f.bob.Email, f.promptB, f.datasetB, f.queueB, f.reviewB, f.approvalB}
}

// pathValues says what fills each path parameter of a project route. A route with a
// parameter missing here fails the test: whoever adds it must say how to reach another
// project's resource through it.
var pathValues = map[string]func(s side) string{
	"project": func(s side) string { return s.slug },
	"run_id":  func(s side) string { return s.run },
	"key_id":  func(s side) string { return s.key },
	"user_id": func(s side) string { return s.member },
	"name":    func(s side) string { return s.prompt },
	"dataset": func(s side) string { return s.dataset },
	// Annotation queues: the queue and its first item.
	"queue_id":    func(s side) string { return s.queue },
	"item_id":     func(s side) string { return "1" },
	"review_id":   func(s side) string { return s.review },
	"trace_id":    func(s side) string { return fixtureTraceID(s.slug) }, // traces_test.go
	"approval_id": func(s side) string { return s.approval },
}

// createsByName are the routes whose path names what they create: pushing a version of
// B's prompt name into A would make a new prompt of A, not reach B's, so it is not tried
// (it would also give A a prompt of that name for the routes after it); B's own project
// and B staying unchanged are checked as for every route.
var createsByName = map[string]bool{"POST /api/v1/projects/{project}/prompt-versions/{name...}": true}

// queryRefs are the query parameters that name a resource, filled like path parameters.
var queryRefs = map[string]func(s side) string{
	"a": func(s side) string { return s.run },
	"b": func(s side) string { return s.run },
	// Versions of a prompt: the name in the path is what must not cross projects.
	"from":           func(side) string { return "1" },
	"to":             func(side) string { return "production" },
	"call_id":        func(side) string { return "call_1" },
	"arguments_hash": func(side) string { return fixtureApprovalHash },
}

var param = regexp.MustCompile(`\{([a-z_]+)(?:\.\.\.)?\}`)

// request builds rt's path and body with the project of in and the resources of res.
func (f *fixture) request(t *testing.T, rt route, in, res side) (string, any) {
	t.Helper()
	path := param.ReplaceAllStringFunc(rt.Path, func(m string) string {
		name := strings.TrimSuffix(m[1:len(m)-1], "...")
		fill, ok := pathValues[name]
		if !ok {
			t.Fatalf("%s %s: path parameter {%s} is unknown to the isolation test: add it to pathValues", rt.Method, rt.Path, name)
		}
		if name == "project" {
			return fill(in)
		}
		if strings.HasSuffix(m, "...}") {
			return fill(res) // a rest wildcard: its slashes are part of it
		}
		return url.PathEscape(fill(res))
	})
	q := url.Values{}
	for _, name := range rt.Query {
		if fill, ok := queryRefs[name]; ok {
			q.Set(name, fill(res))
		}
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var body any
	switch rt.Body {
	case "":
	case "ProjectCreate":
		body = map[string]any{"slug": "intruder", "name": "Intruder"}
	case "MemberCreate":
		// Users are not a project's resource: anyone's email may be added. The project's own
		// member is used so that the call changes nothing (409 in A, 404 elsewhere).
		body = map[string]any{"email": in.memberEmail, "role": "viewer"}
	case "MemberUpdate":
		body = map[string]any{"role": "admin"}
	case "KeyCreate":
		body = map[string]any{"name": "intruder", "role": "admin"}
	case "Report":
		body = uploadBody(res.run, 3)(f)
	case "UserCreate":
		body = map[string]any{"email": "intruder@example.com", "password": "intruder password"}
	case "UserUpdate":
		body = map[string]any{"disabled": true}
	case "PasswordChange":
		body = map[string]any{"current_password": password, "new_password": "intruder password"}
	case "DatasetCreate":
		body = map[string]any{"name": "intruder"}
	case "DatasetFile":
		body = []map[string]any{{"q": "intruder"}}
	case "DatasetPolicy":
		body = map[string]any{"retention_days": 1}
	case "Revocation":
		body = map[string]any{"item_ids": []int{1}}
	case "AddFailed":
		body = map[string]any{"run": res.run}
	case "QueueCreate", "QueueUpdate", "Guidelines", "Annotator", "Annotation", "Adjudication", "WriteBack":
		body = queueBody(rt.Body, in, res)
	case "PromptPush":
		body = map[string]any{"template": "intruder {{ x }}", "message": "intruder"}
	case "PromptLabelMove":
		body = map[string]any{"label": "staging", "version": 1}
	case "PromptRollback":
		body = map[string]any{"label": "production", "reason": "intruder"}
	case "PromptReviewCreate":
		body = map[string]any{"prompt": res.prompt, "label": "canary", "version": 1, "description": "intruder"}
	case "PromptReviewComment":
		body = map[string]any{"body": "intruder"}
	case "PromptReviewDecision":
		body = map[string]any{"comment": "intruder"}
	case "PromptSettings":
		body = map[string]any{"protected_labels": []string{}}
	case "SubjectRevocation":
		body = map[string]any{"subjects": []string{"intruder"}}
	case "ApprovalCheck", "ApprovalDecision", "ApprovalOutcome":
		body = approvalBody(rt.Body)
	default:
		t.Fatalf("%s %s: body %s is unknown to the isolation test: add a sample", rt.Method, rt.Path, rt.Body)
	}
	return path, body
}

// TestIsolation walks the route table: for every project route, a user and an API key of
// project A (both admins of A, so that no role stands in the way) get 404 for project B
// and for B's resources named through A's path; a viewer of A gets 403 for what needs
// more; nobody unauthenticated gets anything. Afterwards B is exactly as it was.
func TestIsolation(t *testing.T) {
	for _, db := range []struct {
		name string
		dsn  func(*testing.T) string
	}{{"sqlite", sqliteDSN}, {"postgres", func(t *testing.T) string { return storetest.FreshPostgres(t) }}} {
		t.Run(db.name, func(t *testing.T) { testIsolation(t, newFixture(t, db.dsn(t))) })
	}
}

func testIsolation(t *testing.T, f *fixture) {
	// An admin key of A, so that only the project boundary can refuse it.
	adminKeyA := asAlice(f).do("POST", "/api/v1/projects/alpha/keys", map[string]any{"name": "admin", "role": "admin"}).str("secret")
	if adminKeyA == "" {
		t.Fatal("could not create an admin key of A")
	}
	callers := []struct {
		name string
		c    *client
	}{{"user of A", asAlice(f)}, {"key of A", f.withKey(adminKeyA)}}
	sa, sb := f.sides()
	bRaw := func() string {
		r := asKeyB(f).do("GET", "/api/v1/projects/beta/runs", nil)
		m := asKeyB(f).do("GET", "/api/v1/projects/beta/members", nil)
		k := asKeyB(f).do("GET", "/api/v1/projects/beta/keys", nil)
		res := asKeyB(f).do("GET", "/api/v1/projects/beta/runs/"+f.runB+"/results?limit=1000", nil)
		ds := asKeyB(f).do("GET", "/api/v1/projects/beta/datasets/"+url.PathEscape(f.datasetB), nil)
		items := asKeyB(f).do("GET", "/api/v1/projects/beta/datasets/"+url.PathEscape(f.datasetB)+"/items", nil)
		if r.status != 200 || m.status != 200 || k.status != 200 || res.status != 200 || ds.status != 200 || items.status != 200 {
			t.Fatalf("B's own key cannot read B: %d %d %d %d %d %d", r.status, m.status, k.status, res.status, ds.status, items.status)
		}
		out := r.raw + m.raw + k.raw + res.raw + ds.raw + items.raw
		// B's prompt registry: versions, labels and their history, review requests and
		// their threads, protected labels.
		for _, p := range []string{"/prompts", "/prompt-versions/" + f.promptB, "/prompt-labels/" + f.promptB,
			"/prompt-reviews?status=", "/prompt-reviews/" + f.reviewB, "/prompt-settings"} {
			pr := asKeyB(f).do("GET", "/api/v1/projects/beta"+p, nil)
			if pr.status != 200 {
				t.Fatalf("B's own key cannot read B's %s: %d %s", p, pr.status, pr.raw)
			}
			out += pr.raw
		}
		return out
	}
	bBefore := bRaw()
	// Identifiers of B that must never show up in an answer to A.
	bSecrets := []string{f.runB, f.keyBID, f.bob.ID, f.bob.Email, f.b.ID, f.datasetB, "one of beta"}

	n := 0
	for _, rt := range f.srv.routes() {
		if rt.Access == public {
			continue
		}
		path, body := f.request(t, rt, sa, sa)
		if r := f.anon().do(rt.Method, path, body); r.status != 401 || r.errCode() != "unauthorized" {
			t.Errorf("%s %s without credentials: %d %s, want 401", rt.Method, rt.Path, r.status, truncate(r.raw))
		}
		if rt.Access != project {
			continue
		}
		if !strings.Contains(rt.Path, "{project}") {
			t.Fatalf("%s %s: a project route without {project}", rt.Method, rt.Path)
		}
		n++
		for _, cl := range callers {
			// B's project, B's resources.
			path, body := f.request(t, rt, sb, sb)
			if r := cl.c.do(rt.Method, path, body); r.status != 404 || r.errCode() != "not_found" {
				t.Errorf("%s %s %s: %d %s, want 404", cl.name, rt.Method, path, r.status, truncate(r.raw))
			}
			// A's project, B's resources: only routes that name a resource.
			if createsByName[rt.Method+" "+rt.Path] {
				continue
			}
			path, body = f.request(t, rt, sa, sb)
			names := strings.Count(rt.Path, "{") > 1
			for _, q := range rt.Query {
				names = names || queryRefs[q] != nil
			}
			r := cl.c.do(rt.Method, path, body)
			switch {
			case names && (r.status != 404 || r.errCode() != "not_found"):
				t.Errorf("%s %s %s (B's resource through A): %d %s, want 404", cl.name, rt.Method, path, r.status, truncate(r.raw))
			case rt.Body == "Report" && r.status != 409:
				t.Errorf("%s uploading B's run id into A: %d %s, want 409", cl.name, r.status, truncate(r.raw))
			}
			sent := path + fmt.Sprint(body)
			for _, s := range bSecrets {
				if strings.Contains(r.raw, s) && !strings.Contains(sent, url.PathEscape(s)) && !strings.Contains(sent, s) {
					t.Errorf("%s %s %s: the answer names B's %q: %s", cl.name, rt.Method, path, s, truncate(r.raw))
				}
			}
		}
		// Roles within A: a viewer (user and key) is refused what needs more.
		if rt.Role != store.RoleViewer {
			path, body := f.request(t, rt, sa, sa)
			for _, c := range []*client{asVera(f), asViewerKey(f)} {
				if r := c.do(rt.Method, path, body); r.status != 403 || r.errCode() != "forbidden" {
					t.Errorf("viewer %s %s: %d %s, want 403", rt.Method, path, r.status, truncate(r.raw))
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d project routes checked: is the route table wired?", n)
	}
	if after := bRaw(); after != bBefore {
		t.Errorf("project B changed:\nbefore %s\nafter  %s", truncate(bBefore), truncate(after))
	}
	if r := asKeyB(f).do("GET", "/api/v1/me", nil); r.status != 200 {
		t.Errorf("B's key no longer works: %d", r.status)
	}
}
