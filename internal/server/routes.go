package server

import (
	"net/http"

	"github.com/plumbhq/plumb/internal/store"
)

// access is who may call a route, before any role.
type access int

const (
	public        access = iota // anyone, unauthenticated
	authenticated               // any user or API key
	instanceAdmin               // a user with is_admin
	project                     // a member or key of the {project} in the path, with at least Role
)

// handlerFunc is a route's handler: it returns an error instead of writing one, so that
// writeError is the one place errors become responses.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// route is one endpoint: the mux, the access check and the OpenAPI document are all built
// from these.
type route struct {
	Method  string
	Path    string // a ServeMux pattern, which is also an OpenAPI path template
	Access  access
	Role    store.Role // minimum project role, for Access == project
	Handle  handlerFunc
	Summary string
	Status  int      // the success status
	Body    string   // the request body's schema name in the OpenAPI document; "" for none
	Query   []string // the query parameters
}

// routes is the route table.
func (s *Server) routes() []route {
	const v1 = "/api/v1"
	const p = v1 + "/projects/{project}"
	return append([]route{
		{Method: "GET", Path: "/healthz", Access: public, Handle: s.healthz, Status: 200,
			Summary: "Liveness: 200 ok when the server is up"},
		{Method: "GET", Path: v1 + "/openapi.json", Access: public, Handle: s.openAPI, Status: 200,
			Summary: "This OpenAPI document"},

		{Method: "POST", Path: v1 + "/session", Access: public, Handle: s.login, Status: 200, Body: "Login",
			Summary: "Log in with email and password: sets the session cookie and returns the CSRF token"},
		{Method: "DELETE", Path: v1 + "/session", Access: authenticated, Handle: s.logout, Status: 204,
			Summary: "Log out: ends the session of the cookie"},
		{Method: "GET", Path: v1 + "/me", Access: authenticated, Handle: s.me, Status: 200,
			Summary: "The caller: user or API key, CSRF token (cookie sessions) and projects with roles"},
		{Method: "PUT", Path: v1 + "/me/password", Access: authenticated, Handle: s.changePassword, Status: 204, Body: "PasswordChange",
			Summary: "Change the caller's password (users, not API keys): checks the current one, ends the caller's other sessions"},

		{Method: "GET", Path: v1 + "/users", Access: instanceAdmin, Handle: s.listUsers, Status: 200,
			Summary: "Every user, oldest first (never a password hash)"},
		{Method: "POST", Path: v1 + "/users", Access: instanceAdmin, Handle: s.createUser, Status: 201, Body: "UserCreate",
			Summary: "Create a user (password of at least 12 characters)"},
		{Method: "PATCH", Path: v1 + "/users/{user_id}", Access: instanceAdmin, Handle: s.updateUser, Status: 200, Body: "UserUpdate",
			Summary: "Disable, enable, promote or demote a user; disabling ends their sessions; the last enabled instance admin is kept"},

		{Method: "GET", Path: v1 + "/projects", Access: authenticated, Handle: s.listProjects, Status: 200,
			Summary: "Projects the caller may see"},
		{Method: "POST", Path: v1 + "/projects", Access: instanceAdmin, Handle: s.createProject, Status: 201, Body: "ProjectCreate",
			Summary: "Create a project (instance admins)"},

		{Method: "GET", Path: p + "/members", Access: project, Role: store.RoleViewer, Handle: s.listMembers, Status: 200,
			Summary: "A project's members and their roles"},
		{Method: "POST", Path: p + "/members", Access: project, Role: store.RoleAdmin, Handle: s.addMember, Status: 201, Body: "MemberCreate",
			Summary: "Give a user a role in the project"},
		{Method: "PATCH", Path: p + "/members/{user_id}", Access: project, Role: store.RoleAdmin, Handle: s.updateMember, Status: 200, Body: "MemberUpdate",
			Summary: "Change a member's role"},
		{Method: "DELETE", Path: p + "/members/{user_id}", Access: project, Role: store.RoleAdmin, Handle: s.removeMember, Status: 204,
			Summary: "Remove a member from the project"},

		{Method: "GET", Path: p + "/keys", Access: project, Role: store.RoleAdmin, Handle: s.listKeys, Status: 200,
			Summary: "The project's API keys (never their secrets)"},
		{Method: "POST", Path: p + "/keys", Access: project, Role: store.RoleAdmin, Handle: s.createKey, Status: 201, Body: "KeyCreate",
			Summary: "Create an API key: the secret is in this response only"},
		{Method: "DELETE", Path: p + "/keys/{key_id}", Access: project, Role: store.RoleAdmin, Handle: s.revokeKey, Status: 204,
			Summary: "Revoke an API key"},

		{Method: "POST", Path: p + "/runs", Access: project, Role: store.RoleEditor, Handle: s.uploadRun, Status: 201, Body: "Report",
			Summary: "Upload a run: the JSON report as `plumb eval -o run.json` writes it"},
		{Method: "GET", Path: p + "/runs", Access: project, Role: store.RoleViewer, Handle: s.listRuns, Status: 200,
			Query:   []string{"suite", "status", "limit", "cursor"},
			Summary: "The project's runs, newest first, a page at a time"},
		{Method: "GET", Path: p + "/runs/{run_id}", Access: project, Role: store.RoleViewer, Handle: s.getRun, Status: 200,
			Summary: "A run's header and summary with tests_count and flaky_count (results and per-test rows are paged separately)"},
		{Method: "GET", Path: p + "/runs/{run_id}/tests", Access: project, Role: store.RoleViewer, Handle: s.listTests, Status: 200,
			Query:   []string{"flaky", "limit", "cursor"},
			Summary: "A page of a run's per-test rows (summary.tests, or summary.flaky with flaky=true)"},
		{Method: "DELETE", Path: p + "/runs/{run_id}", Access: project, Role: store.RoleEditor, Handle: s.deleteRun, Status: 204,
			Summary: "Delete a run and its results"},
		{Method: "GET", Path: p + "/runs/{run_id}/results", Access: project, Role: store.RoleViewer, Handle: s.listResults, Status: 200,
			Query:   []string{"failed", "errors", "test", "provider", "prompt", "segment", "limit", "cursor"},
			Summary: "A page of a run's results, filtered"},
		{Method: "GET", Path: p + "/compare", Access: project, Role: store.RoleViewer, Handle: s.compare, Status: 200,
			Query:   []string{"a", "b", "alpha", "limit"},
			Summary: "Compare two runs case by case, with McNemar's test and a paired bootstrap"},

		{Method: "GET", Path: p + "/prompts", Access: project, Role: store.RoleViewer, Handle: s.listPrompts, Status: 200,
			Summary: "The project's prompts: latest version and labels"},
		{Method: "GET", Path: p + "/prompts/{name...}", Access: project, Role: store.RoleViewer, Handle: s.getPrompt, Status: 200,
			Query:   []string{"ref"},
			Summary: "A prompt's version by label (default production) or number, with its content hash as ETag (304 on If-None-Match) and cache headers for applications"},

		{Method: "GET", Path: p + "/datasets", Access: project, Role: store.RoleViewer, Handle: s.listDatasets, Status: 200,
			Summary: "The project's datasets with their latest version"},
		{Method: "POST", Path: p + "/datasets", Access: project, Role: store.RoleEditor, Handle: s.createDataset, Status: 201, Body: "DatasetCreate",
			Summary: "Create an empty dataset"},
		{Method: "GET", Path: p + "/datasets/{dataset}", Access: project, Role: store.RoleViewer, Handle: s.getDataset, Status: 200,
			Summary: "A dataset (by name, URL-escaped, or id) with its versions and retention and consent policy"},
		{Method: "GET", Path: p + "/datasets/{dataset}/items", Access: project, Role: store.RoleViewer, Handle: s.listDatasetItems, Status: 200,
			Query:   []string{"version", "limit", "cursor"},
			Summary: "A page of a version's items (default the latest)"},
		{Method: "POST", Path: p + "/datasets/{dataset}/import", Access: project, Role: store.RoleEditor, Handle: s.importDataset, Status: 200, Body: "DatasetFile",
			Query:   []string{"format", "map", "message", "replace"},
			Summary: "Import the body (JSONL, CSV or JSON, by ?format or Content-Type) as the next version; errors name the line"},
		{Method: "GET", Path: p + "/datasets/{dataset}/export", Access: project, Role: store.RoleViewer, Handle: s.exportDataset, Status: 200,
			Query:   []string{"version", "format"},
			Summary: "A version's items as JSONL (default), CSV or JSON"},
		{Method: "GET", Path: p + "/datasets/{dataset}/policy", Access: project, Role: store.RoleViewer, Handle: s.getDatasetPolicy, Status: 200,
			Summary: "The dataset's retention and consent policy"},
		{Method: "PATCH", Path: p + "/datasets/{dataset}/policy", Access: project, Role: store.RoleAdmin, Handle: s.setDatasetPolicy, Status: 200, Body: "DatasetPolicy",
			Summary: "Change the retention and consent policy (the fields given)"},
		{Method: "POST", Path: p + "/datasets/{dataset}/revocations", Access: project, Role: store.RoleEditor, Handle: s.revokeConsent, Status: 200, Body: "Revocation",
			Summary: "Revoke consent for items by id, or by subject identifier (kept as a hash); the next purge deletes them"},
		{Method: "POST", Path: p + "/datasets/{dataset}/purge", Access: project, Role: store.RoleAdmin, Handle: s.purgeDataset, Status: 200,
			Query:   []string{"dry_run"},
			Summary: "Delete the items the policy no longer allows, from every version (dry_run=true only counts)"},
		{Method: "GET", Path: p + "/datasets/{dataset}/audit", Access: project, Role: store.RoleViewer, Handle: s.auditDataset, Status: 200,
			Query:   []string{"version", "min_share", "label", "format"},
			Summary: "The audit report of a version: segments, labels, consent, duplicates, masked personal data (format=md for Markdown)"},
		{Method: "POST", Path: p + "/datasets/{dataset}/failed", Access: project, Role: store.RoleEditor, Handle: s.addFailed, Status: 200, Body: "AddFailed",
			Summary: "Add the failed cases of a run of the project as the next version"},
		// The prompt registry: the name is last in each path (it has slashes).
		{Method: "GET", Path: p + "/prompt-versions/{name...}", Access: project, Role: store.RoleViewer, Handle: s.listPromptVersions, Status: 200,
			Summary: "A prompt's versions, newest first, with their content, author, message, hash and labels"},
		{Method: "POST", Path: p + "/prompt-versions/{name...}", Access: project, Role: store.RoleEditor, Handle: s.pushPromptVersion, Status: 201, Body: "PromptPush",
			Summary: "Push the next version of a prompt (201), or get the latest back unchanged (200) when the content is the same; the author is the caller"},
		{Method: "GET", Path: p + "/prompt-diff/{name...}", Access: project, Role: store.RoleViewer, Handle: s.diffPrompt, Status: 200,
			Query:   []string{"from", "to"},
			Summary: "Diff two versions (numbers or labels) of a prompt: text then params, as unified diff hunks and as `plumb prompt diff` prints it"},
		{Method: "GET", Path: p + "/prompt-labels/{name...}", Access: project, Role: store.RoleViewer, Handle: s.promptLabelHistory, Status: 200,
			Query:   []string{"label"},
			Summary: "The moves of a prompt's labels (of one, with label=), newest first: from, to, kind, actor, reason"},
		{Method: "POST", Path: p + "/prompt-labels/{name...}", Access: project, Role: store.RoleEditor, Handle: s.movePromptLabel, Status: 200, Body: "PromptLabelMove",
			Summary: "Point a label at a version; a protected label is refused (409): request a review"},
		{Method: "POST", Path: p + "/prompt-rollback/{name...}", Access: project, Role: store.RoleEditor, Handle: s.rollbackPromptLabel, Status: 200, Body: "PromptRollback",
			Summary: "Move a label back to the version it pointed at before its latest move, with a reason; no review needed"},
		{Method: "GET", Path: p + "/prompt-reviews", Access: project, Role: store.RoleViewer, Handle: s.listPromptReviews, Status: 200,
			Query:   []string{"status", "prompt", "limit", "before"},
			Summary: "Review requests, newest first, by status (open, approved, rejected, superseded), a page at a time"},
		{Method: "POST", Path: p + "/prompt-reviews", Access: project, Role: store.RoleEditor, Handle: s.createPromptReview, Status: 201, Body: "PromptReviewCreate",
			Summary: "Request that a label (default production) point at a version"},
		{Method: "GET", Path: p + "/prompt-reviews/{review_id}", Access: project, Role: store.RoleViewer, Handle: s.getPromptReview, Status: 200,
			Summary: "A review request with its thread, the diff it releases and whether the caller may approve or reject it (and why not)"},
		{Method: "POST", Path: p + "/prompt-reviews/{review_id}/comments", Access: project, Role: store.RoleEditor, Handle: s.commentPromptReview, Status: 201, Body: "PromptReviewComment",
			Summary: "Comment on a review request"},
		{Method: "POST", Path: p + "/prompt-reviews/{review_id}/approve", Access: project, Role: store.RoleEditor, Handle: s.approvePromptReview, Status: 200, Body: "PromptReviewDecision",
			Summary: "Approve a review request (a person other than the version's author and the requester): the label moves at once; a stale request is 409"},
		{Method: "POST", Path: p + "/prompt-reviews/{review_id}/reject", Access: project, Role: store.RoleEditor, Handle: s.rejectPromptReview, Status: 200, Body: "PromptReviewDecision",
			Summary: "Reject a review request, with a comment saying why"},
		{Method: "GET", Path: p + "/prompt-settings", Access: project, Role: store.RoleViewer, Handle: s.promptSettings, Status: 200,
			Summary: "The project's protected labels"},
		{Method: "PUT", Path: p + "/prompt-settings", Access: project, Role: store.RoleAdmin, Handle: s.setPromptSettings, Status: 200, Body: "PromptSettings",
			Summary: "Replace the project's protected labels ([] protects none)"},
		{Method: "POST", Path: p + "/revocations", Access: project, Role: store.RoleEditor, Handle: s.revokeSubjects, Status: 200, Body: "SubjectRevocation",
			Summary: "Revoke consent for subjects in every dataset of the project (an erasure request), each by its subject field; the next purge deletes the items"},

		{Method: "GET", Path: p + "/audit", Access: project, Role: store.RoleAdmin, Handle: s.listAudit, Status: 200,
			Query:   []string{"limit", "cursor"},
			Summary: "The project's audit log, newest first"},
		{Method: "GET", Path: v1 + "/audit.jsonl", Access: instanceAdmin, Handle: s.exportAudit, Status: 200,
			Query:   []string{"project"},
			Summary: "The whole audit log (or one project's) as JSON lines, oldest first"},

		// The gateway's trace log (traces.go).
		{Method: "GET", Path: p + "/traces", Access: project, Role: store.RoleViewer, Handle: s.listTraces, Status: 200,
			Query:   []string{"route", "key", "status", "shadow", "since", "until", "limit", "cursor"},
			Summary: "The gateway's calls of the project, newest first, without their bodies: filters route, key, status (ok, error), shadow (true: shadow calls instead of live ones), since and until (RFC 3339 or YYYY-MM-DD)"},
		{Method: "GET", Path: p + "/traces/{trace_id}", Access: project, Role: store.RoleViewer, Handle: s.getTrace, Status: 200,
			Summary: "One gateway call with its attempts and its request and response bodies (as recorded: redacted, maybe truncated)"},
		{Method: "GET", Path: p + "/traffic", Access: project, Role: store.RoleViewer, Handle: s.traffic, Status: 200,
			Query:   []string{"days"},
			Summary: "The project's live gateway traffic over the last days (default 7, today included): per route (requests, errors, fallbacks, p50/p95/p99 latency, tokens, cost), per UTC day and per key"},
		// Shadow traffic's comparison report (shadow.go).
		{Method: "GET", Path: p + "/shadow", Access: project, Role: store.RoleViewer, Handle: s.shadowReport, Status: 200,
			Query:   []string{"route", "since"},
			Summary: "The comparison of a route's live and shadow calls since a time (a duration such as 24h, the default, or RFC 3339 or YYYY-MM-DD): agreement, assertions, latency, cost, errors and a verdict"},
	},
		append(append(s.queueRoutes(p), // annotation queues (queues.go)
			s.gatewayQueueRoutes(p)...), // gateway review queues (queues_gateway.go)
			s.approvalRoutes(p)...)..., // tool approvals (approvals.go)
	)
}

// healthz answers liveness probes.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ *call) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok"))
	return nil
}
