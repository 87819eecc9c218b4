package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/plumbhq/plumb/internal/redteam"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// The red-team pages (docs/redteam.md): a red-team run (a run whose header has
// run.redteam), its Markdown report, and the comparison of two red-team runs. Attacks,
// answers and transcripts are model output: the templates print them escaped.

// redteamAttacks bounds the successful attacks the run page shows in full; the Markdown
// download has them all.
const redteamAttacks = 200

// rtAttack is one successful attack as the page shows it.
type rtAttack struct {
	Result report.Result
	Why    string
	Turns  []redteam.Turn
}

// redteamRun reads run id of the caller's project and checks that it is a red-team run.
func (u *UI) redteamRun(r *http.Request, c *server.Caller, id string) (*report.Report, error) {
	if err := u.srv.RunInProject(r, c, id); err != nil {
		return nil, err
	}
	rep, err := u.store.GetRun(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if rep.Run.RedTeam == nil {
		return nil, notFound("run %s is an eval run, not a red-team run: see it at /p/%s/runs/%s", id, c.Project.Slug, url.PathEscape(id))
	}
	return rep, nil
}

// rtVerdictClass is the CSS class of a red-team verdict.
func rtVerdictClass(v string) string {
	switch v {
	case redteam.VerdictPass:
		return "pass"
	case redteam.VerdictFail:
		return "fail"
	}
	return "error"
}

// redteamPage is a red-team run: the verdict, the category × strategy attack success rates
// with their 95% Wilson intervals and thresholds, the categories' definitions, and the
// successful attacks with their transcripts.
func (u *UI) redteamPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	id := r.PathValue("run")
	rep, err := u.redteamRun(r, c, id)
	if err != nil {
		return err
	}
	t := redteam.BuildTable(rep)
	var attacks []rtAttack
	succ := redteam.Successful(rep)
	for i := range succ {
		if i == redteamAttacks {
			break
		}
		attacks = append(attacks, rtAttack{Result: succ[i], Why: firstFailure(&succ[i]), Turns: redteam.Transcript(&succ[i])})
	}
	ran, planned := redteam.Ran(rep, t)
	others, err := u.redteamRuns(r, c, id)
	if err != nil {
		return err
	}
	v := redteam.Verdict(rep)
	u.render(w, r, http.StatusOK, "redteam", &view{Caller: c, Title: "Red team " + id, Nav: "runs", Data: map[string]any{
		"Run": rep.Run, "RT": rep.Run.RedTeam, "Table": t, "Verdict": v, "VerdictClass": rtVerdictClass(v),
		"VerdictText": redteam.VerdictText(rep, t), "Attacks": attacks, "More": len(succ) - len(attacks),
		"Successful": len(succ), "Ran": ran, "Planned": planned, "Others": others,
	}})
	return nil
}

// firstFailure is why an attempt counts as a successful attack: its first failed check.
func firstFailure(r *report.Result) string {
	for _, a := range r.Assertions {
		if !a.Passed {
			return a.Type + ": " + a.Reason
		}
	}
	return ""
}

// redteamRuns are the project's recent red-team runs other than id, to compare with.
func (u *UI) redteamRuns(r *http.Request, c *server.Caller, id string) ([]store.RunInfo, error) {
	recent, err := u.store.ListRuns(r.Context(), store.ListOptions{Project: c.Project.ID, Limit: 200})
	if err != nil {
		return nil, err
	}
	var out []store.RunInfo
	for _, ri := range recent {
		if ri.RedTeam != nil && ri.ID != id {
			out = append(out, ri)
		}
	}
	return out, nil
}

// redteamMarkdown is the run's launch-review report as a Markdown download: the same text
// as `plumb redteam report RUN --format md`. It is sent as an attachment in plain text,
// never rendered: the transcripts in it are model output.
func (u *UI) redteamMarkdown(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	id := r.PathValue("run")
	rep, err := u.redteamRun(r, c, id)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := redteam.WriteMarkdown(&b, rep, 0); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "redteam-"+safeFileName(id)+".md"))
	_, err = w.Write(b.Bytes())
	return err
}

// safeFileName keeps letters, digits, dot, dash and underscore of s.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// rtCompareRow is one line of the comparison table, formatted.
type rtCompareRow struct {
	redteam.CompareRow
	Significant bool
}

// redteamComparePage compares two red-team runs of the project (?a=BEFORE&b=AFTER): per
// category × strategy both attack success rates, the holes closed and opened on the
// attempts paired by attack and attempt number, and McNemar's exact p. Without a and b it
// offers the red-team runs to pick from.
func (u *UI) redteamComparePage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q := r.URL.Query()
	a, b := q.Get("a"), q.Get("b")
	runs, err := u.redteamRuns(r, c, "")
	if err != nil {
		return err
	}
	data := map[string]any{"A": a, "B": b, "Runs": runs}
	if a == "" || b == "" {
		u.render(w, r, http.StatusOK, "redteam_compare", &view{Caller: c, Title: "Compare red-team runs", Nav: "runs", Data: data})
		return nil
	}
	ra, err := u.redteamRun(r, c, a)
	if err != nil {
		return err
	}
	rb, err := u.redteamRun(r, c, b)
	if err != nil {
		return err
	}
	cmp := redteam.Compare(ra, rb)
	var rows []rtCompareRow
	for _, ro := range cmp.Rows {
		rows = append(rows, rtCompareRow{ro, ro.P < 0.05})
	}
	attacksOf := func(rs []report.Result) []rtAttack {
		var out []rtAttack
		for i := range rs {
			if i == redteamAttacks {
				break
			}
			out = append(out, rtAttack{Result: rs[i], Why: firstFailure(&rs[i]), Turns: redteam.Transcript(&rs[i])})
		}
		return out
	}
	data["RunA"], data["RunB"], data["Cmp"], data["Rows"] = ra.Run, rb.Run, cmp, rows
	data["Opened"], data["Closed"] = attacksOf(cmp.Opened), attacksOf(cmp.Closed)
	data["IncompleteA"] = redteam.Verdict(ra) == redteam.VerdictIncomplete
	data["IncompleteB"] = redteam.Verdict(rb) == redteam.VerdictIncomplete
	u.render(w, r, http.StatusOK, "redteam_compare", &view{Caller: c, Title: "Compare red-team runs", Nav: "runs", Data: data})
	return nil
}

// rtCell is an attack success rate with its counts and 95% interval: "38% (6/16)
// [18%, 61%]", or "–" where no attempt was scored.
func rtCell(c redteam.Cell) string {
	if c.Untested {
		return fmt.Sprintf("– not tested (%d of %d attempts failed)", c.Errors, c.Attempts+c.Errors)
	}
	if c.Attempts == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%% (%d/%d) [%.0f%%, %.0f%%]", 100*c.Rate, c.Successes, c.Attempts, 100*c.CI[0], 100*c.CI[1])
}
