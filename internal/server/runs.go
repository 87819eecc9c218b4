package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
)

// uploadRun stores a JSON report in the project.
func (s *Server) uploadRun(w http.ResponseWriter, r *http.Request, c *call) error {
	var rep report.Report
	if err := decodeJSON(w, r, s.maxUpload, &rep); err != nil {
		return err
	}
	id := rep.Run.ID
	switch {
	case strings.TrimSpace(id) == "":
		return fieldErr("run.id", "run.id is required: upload the report as `plumb eval -o run.json` writes it")
	case len(id) > 200 || !utf8.ValidString(id) || strings.ContainsRune(id, 0):
		return fieldErr("run.id", "run.id must be text of at most 200 bytes")
	case rep.Run.Status != report.StatusComplete && rep.Run.Status != report.StatusIncomplete:
		return fieldErr("run.status", "run.status %q: use %q or %q", rep.Run.Status, report.StatusComplete, report.StatusIncomplete)
	}
	// The store refuses a run id of another project (ErrConflict) and records the upload,
	// as run.create or run.replace, in the same transaction.
	if err := s.changes(c).SaveRunIn(r.Context(), c.project.ID, &rep); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return s.runConflict(id)
		}
		return err
	}
	info := runInfo(&rep)
	writeJSON(w, http.StatusCreated, map[string]any{"run": info})
	return nil
}

// runConflict is the answer to a run id taken by another project; it says no more than
// that, since the other project is not the caller's to know.
func (s *Server) runConflict(id string) error {
	return errorf(http.StatusConflict, codeConflict, "run id %q is already taken: give the run a new id", id)
}

// runInfo is a run's list line, computed as the store computes it.
func runInfo(rep *report.Report) store.RunInfo {
	ri := store.RunInfo{Run: rep.Run, Cases: rep.Summary.Cases, Passed: rep.Summary.Passed,
		Failed: rep.Summary.Failed, Errors: rep.Summary.Errors, PassRate: rep.Summary.PassRate,
		GatesTotal: len(rep.Summary.Gates)}
	for _, g := range rep.Summary.Gates {
		if g.Passed {
			ri.GatesPassed++
		}
	}
	return ri
}

// listRuns lists the project's runs a page at a time.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && status != report.StatusComplete && status != report.StatusIncomplete {
		return errorf(http.StatusBadRequest, codeBadRequest, "status %q: use %s or %s", status, report.StatusComplete, report.StatusIncomplete)
	}
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	after, err := decodeRunCursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	// One run more than the page says whether another page follows.
	runs, err := s.store.ListRuns(r.Context(), store.ListOptions{Project: c.project.ID, Suite: q.Get("suite"),
		Status: status, Limit: limit + 1, After: after})
	if err != nil {
		return err
	}
	next := ""
	if len(runs) > limit {
		runs = runs[:limit]
		next = encodeRunCursor(runs[limit-1].Key)
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs, "next_cursor": next})
	return nil
}

// runCursor is the run list's cursor before base64: the last run's key, with its time in
// RFC 3339 at full precision so that it names the stored value exactly.
type runCursor struct {
	StartedAt string `json:"t"`
	ID        string `json:"id"`
}

// encodeRunCursor makes the run list's opaque cursor from the last run's key.
func encodeRunCursor(k store.RunKey) string {
	b, _ := json.Marshal(runCursor{StartedAt: k.StartedAt.UTC().Format(time.RFC3339Nano), ID: k.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeRunCursor reads a cursor encodeRunCursor made; "" is the first page (nil).
func decodeRunCursor(cursor string) (*store.RunKey, error) {
	if cursor == "" {
		return nil, nil
	}
	bad := errorf(http.StatusBadRequest, codeBadRequest, "cursor %q is not one this list returned: start again without a cursor", cursor)
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, bad
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var rc runCursor
	if err := dec.Decode(&rc); err != nil || dec.More() || rc.ID == "" || !utf8.ValidString(rc.ID) {
		return nil, bad
	}
	t, err := time.Parse(time.RFC3339Nano, rc.StartedAt)
	if err != nil {
		return nil, bad
	}
	return &store.RunKey{StartedAt: t.UTC(), ID: rc.ID}, nil
}

// queryLimit reads ?limit: 1 to store.MaxPageSize, default store.DefaultPageSize.
func queryLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return store.DefaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > store.MaxPageSize {
		return 0, errorf(http.StatusBadRequest, codeBadRequest, "limit %q: use an integer from 1 to %d", v, store.MaxPageSize)
	}
	return n, nil
}

// queryBool reads a true/false query parameter; absent is false.
func queryBool(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errorf(http.StatusBadRequest, codeBadRequest, "%s %q: use true or false", name, v)
	}
	return b, nil
}

// projectRun checks that a run belongs to the caller's project: a run of another project
// is 404, exactly like a missing one.
func (s *Server) projectRun(r *http.Request, c *call, id string) error {
	owner, err := s.store.RunProject(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && owner != c.project.ID {
		return errorf(http.StatusNotFound, codeNotFound, "no run %q in project %s", id, c.project.Slug)
	}
	return err
}

// runSummary is the run page's summary: the report's summary without its per-test rows
// (tests and flaky, ~10 MB on a 100,000-result run; paged by listTests), with their counts.
type runSummary struct {
	report.Summary
	TestsCount int `json:"tests_count"`
	FlakyCount int `json:"flaky_count"`
}

// getRun returns a run's header and summary, without the summary's per-test rows.
func (s *Server) getRun(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("run_id")
	if err := s.projectRun(r, c, id); err != nil {
		return err
	}
	rep, err := s.store.GetRunHeader(r.Context(), id)
	if err != nil {
		return err
	}
	tests, flaky, err := s.store.TestCounts(r.Context(), id)
	if err != nil {
		return err
	}
	sum := runSummary{Summary: rep.Summary, TestsCount: tests, FlakyCount: flaky}
	sum.Tests, sum.Flaky = nil, nil
	writeJSON(w, http.StatusOK, map[string]any{"run": rep.Run, "summary": sum})
	return nil
}

// listTests returns a page of a run's per-test rows (summary.tests, or summary.flaky with
// ?flaky=true) and their total.
func (s *Server) listTests(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("run_id")
	if err := s.projectRun(r, c, id); err != nil {
		return err
	}
	q := r.URL.Query()
	flaky, err := queryBool(q, "flaky")
	if err != nil {
		return err
	}
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	page, next, err := s.store.ListTests(r.Context(), id, flaky, q.Get("cursor"), limit)
	if errors.Is(err, store.ErrInvalid) {
		return errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	tests, flakyN, err := s.store.TestCounts(r.Context(), id)
	if err != nil {
		return err
	}
	total := tests
	if flaky {
		total = flakyN
	}
	if page == nil {
		page = []report.TestStat{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tests": page, "next_cursor": next, "total": total})
	return nil
}

// deleteRun deletes a run of the project.
func (s *Server) deleteRun(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("run_id")
	if err := s.projectRun(r, c, id); err != nil {
		return err
	}
	if err := s.changes(c).DeleteRun(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listResults returns a filtered page of a run's results and the filter's total.
func (s *Server) listResults(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("run_id")
	if err := s.projectRun(r, c, id); err != nil {
		return err
	}
	q := r.URL.Query()
	var f store.ResultFilter
	var err error
	if f.FailedOnly, err = queryBool(q, "failed"); err != nil {
		return err
	}
	if f.ErrorsOnly, err = queryBool(q, "errors"); err != nil {
		return err
	}
	if v := q.Get("test"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, codeBadRequest, "test %q: use a test index, an integer from 0", v)
		}
		f.Test = &n
	}
	f.Provider, f.Prompt, f.Segment = q.Get("provider"), q.Get("prompt"), q.Get("segment")
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	page, next, err := s.store.ListResults(r.Context(), id, f, q.Get("cursor"), limit)
	if errors.Is(err, store.ErrInvalid) {
		return errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	total, err := s.store.CountResults(r.Context(), id, f)
	if err != nil {
		return err
	}
	if page == nil {
		page = []report.Result{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": page, "next_cursor": next, "total": total})
	return nil
}

// Compare's list limits: how many regressions and improvements an answer lists by default
// and at most (the totals count all of them).
const (
	defaultCompareLimit = 100
	maxCompareLimit     = 1000
)

// compare compares two runs of the project with the eval engine's statistics.
func (s *Server) compare(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	alpha := 0.05
	if v := q.Get("alpha"); v != "" {
		a, err := strconv.ParseFloat(v, 64)
		if err != nil || !(a > 0 && a < 1) {
			return errorf(http.StatusBadRequest, codeBadRequest, "alpha %q: use a number between 0 and 1, e.g. 0.05", v)
		}
		alpha = a
	}
	limit := defaultCompareLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxCompareLimit {
			return errorf(http.StatusBadRequest, codeBadRequest, "limit %q: use an integer from 1 to %d (regressions and improvements listed; the totals count all)", v, maxCompareLimit)
		}
		limit = n
	}
	var ids [2]string
	for i, name := range []string{"a", "b"} {
		ids[i] = q.Get(name)
		if ids[i] == "" {
			return errorf(http.StatusBadRequest, codeBadRequest, "%s is required: compare?a=RUN_ID&b=RUN_ID", name)
		}
		if err := s.projectRun(r, c, ids[i]); err != nil {
			return err
		}
	}
	cmp, err := s.Comparison(r.Context(), ids[0], ids[1], alpha, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cmp)
	return nil
}

// ComparisonWithin compares two prompts or models (combos) within one run, a the
// baseline (eval.CompareWithin), like Comparison. It checks no access: the caller makes
// sure the run is the caller's to see.
func (s *Server) ComparisonWithin(ctx context.Context, run string, a, b eval.Combo, alpha float64, limit int) (*eval.Comparison, error) {
	cmp, err := eval.CompareWithin(ctx, comboStore{s.store}, run, a, b, alpha, limit)
	if err != nil {
		return nil, fmt.Errorf("compare %s with %s in run %s: %w", a, b, run, err)
	}
	return cmp, nil
}

// comboStore gives the store what eval.CompareWithin reads.
type comboStore struct{ store.Store }

func (s comboStore) ComboPositions(ctx context.Context, run string, c eval.Combo) ([]int, error) {
	return s.ResultPositions(ctx, run, store.ResultFilter{Prompt: c.Prompt, Provider: c.Provider})
}

// Comparison compares run a (the baseline) with run b at significance level alpha, as
// `plumb compare` does, listing the first limit regressions and improvements by test
// (regressions_total and improvements_total count all). It reads each run's stored pairing
// samples and the listed results only, never a run whole, so that two 100,000-result runs
// compare in tens of milliseconds. It checks no access: the caller makes sure both runs
// are the caller's to see. A missing run is store.ErrNotFound.
func (s *Server) Comparison(ctx context.Context, a, b string, alpha float64, limit int) (*eval.Comparison, error) {
	cmp, err := eval.CompareStored(ctx, s.store, a, b, alpha, limit)
	if err != nil {
		return nil, fmt.Errorf("compare run %s with run %s: %w", a, b, err)
	}
	return cmp, nil
}
