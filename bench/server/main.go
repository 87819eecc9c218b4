// Command server is the server benchmark of issue 3: it starts `plumb serve`'s handler (the
// web UI with the API under it, in-process) on a loopback port over each store — SQLite in a
// temporary directory, PostgreSQL in a fresh schema that it drops at the end — and measures,
// through HTTP on loopback:
//
//   - the upload of a 10,000-result run (the JSON report as `plumb eval -o` writes it),
//     the median of several uploads;
//   - with two 100,000-result runs stored, the p50 / p95 latency of the run page (header and
//     summary), the filtered results API (failed, provider, segment; the first page and a
//     page deep in via the cursor) and the compare API between the two runs;
//   - the same way, the pages of the web UI (internal/web) as a browser gets them after
//     logging in through the form: the run page of a 100,000-result run in its views, a page
//     of it reached through its "Next page" links, a case, the compare page of the two runs
//     and of two models of one run, the overview and the runs list.
//
// The server is what `plumb serve` runs: web.New over server.New over store.Open, the API
// mounted under the UI's handler.
//
// With -profile DIR it writes a CPU profile of each measurement (the process is the server
// and the client; the client only reads the bytes) and times one by one the steps of the
// compare API and the store reads of the UI's run page and of its compare of two models. -pages api or -pages ui measures one kind of page; -only measures
// only the pages whose name contains it (with -uploads 0, only those pages: -pages api
// -only compare -uploads 0 re-measures the compare API).
//
//	go build -o bench/out/plumb-serverbench ./bench/server
//	bench/out/plumb-serverbench -stores sqlite,postgres [-profile bench/out/server]
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/plumbhq/plumb/client"
	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/web"
)

// options are the command's flags.
type options struct {
	stores     []string
	pg         string
	uploadN    int
	uploads    int
	bigN       int
	requests   int
	budget     time.Duration
	profileDir string
	only       string
	api, ui    bool // which kinds of page to measure
}

func main() {
	var o options
	stores := flag.String("stores", "sqlite,postgres", "stores to measure, comma-separated: sqlite, postgres")
	flag.StringVar(&o.pg, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "the PostgreSQL server (a fresh schema is created in it and dropped)")
	flag.IntVar(&o.uploadN, "upload-results", 10000, "results in the uploaded run")
	flag.IntVar(&o.uploads, "uploads", 5, "uploads timed")
	flag.IntVar(&o.bigN, "big-results", 100000, "results in each of the two stored runs")
	flag.IntVar(&o.requests, "requests", 300, "requests per page measured")
	flag.DurationVar(&o.budget, "budget", 20*time.Second, "at most this long per page measured (fewer requests if slower)")
	flag.StringVar(&o.profileDir, "profile", "", "write a CPU profile per measurement into `DIR`, and time the compare handler's steps")
	flag.StringVar(&o.only, "only", "", "measure only the pages whose name contains this text")
	kinds := flag.String("pages", "api,ui", "kinds of page to measure, comma-separated: api (the JSON API), ui (the web UI)")
	flag.Parse()
	o.stores = strings.Split(*stores, ",")
	for _, k := range strings.Split(*kinds, ",") {
		switch strings.TrimSpace(k) {
		case "api":
			o.api = true
		case "ui":
			o.ui = true
		default:
			fmt.Fprintf(os.Stderr, "serverbench: -pages: unknown kind %q: use api, ui or api,ui\n", k)
			os.Exit(2)
		}
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "serverbench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	fmt.Printf("# server benchmark: %s, %s/%s, %d CPUs, GOMAXPROCS %d, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Printf("# upload: %d results × %d uploads; pages: two runs of %d results, %d requests per page (at most %s each)\n",
		o.uploadN, o.uploads, o.bigN, o.requests, o.budget)
	fmt.Print("# generating the runs ... ")
	start := time.Now()
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	up := makeReport("upload", o.uploadN, 0, t0)
	var upJSON bytes.Buffer
	if err := report.WriteJSON(&upJSON, up); err != nil {
		return err
	}
	bigA := makeReport("big-a", o.bigN, 0, t0.Add(time.Hour))
	bigB := makeReport("big-b", o.bigN, 1, t0.Add(2*time.Hour))
	fmt.Printf("%s; upload body %.1f MB, %d results\n", time.Since(start).Round(time.Millisecond),
		float64(upJSON.Len())/1e6, len(up.Results))

	var all []storeResult
	for _, name := range o.stores {
		res, err := benchStore(o, strings.TrimSpace(name), upJSON.Bytes(), up.Run.ID, bigA, bigB)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		all = append(all, res)
	}
	printTables(all, o)
	return nil
}

// storeResult is what one store measured.
type storeResult struct {
	store       string
	uploads     []time.Duration
	saveBig     time.Duration // SaveRunIn of one big run, directly
	pages       []pageResult
	compSteps   []string
	runSteps    []string // the UI run page's store reads, with -profile
	withinSteps []string // the UI's compare of two models of one run, step by step, with -profile
}

// pageResult is one page's latencies.
type pageResult struct {
	name  string
	lat   []time.Duration // sorted
	bytes int
}

func (p pageResult) q(f float64) time.Duration {
	if len(p.lat) == 0 {
		return 0
	}
	i := int(float64(len(p.lat))*f+0.5) - 1
	return p.lat[max(0, min(i, len(p.lat)-1))]
}

// env is one running server over one store.
type env struct {
	st      store.Store
	base    string
	key     string
	project string
	projID  string
	c       *client.Client
	hc      *http.Client
	browser *http.Client // the UI's visitor: a cookie jar, redirects not followed
}

// The benchmark's user, who logs in to the UI through the form.
const (
	userEmail    = "bench@example.com"
	userPassword = "correct horse battery staple"
)

// openStore opens a fresh store of driver name and returns it with its cleanup.
func openStore(ctx context.Context, name, pg string) (store.Store, func(), error) {
	switch name {
	case "sqlite":
		dir, err := os.MkdirTemp("", "plumb-serverbench-")
		if err != nil {
			return nil, nil, err
		}
		st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "plumb.db"), store.OpenOptions{Migrate: true})
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return st, func() { st.Close(); os.RemoveAll(dir) }, nil
	case "postgres":
		admin, err := pgx.Connect(ctx, pg)
		if err != nil {
			return nil, nil, fmt.Errorf("PostgreSQL is not reachable: %w", err)
		}
		var b [6]byte
		rand.Read(b[:])
		schema := "plumb_serverbench_" + hex.EncodeToString(b[:])
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			admin.Close(ctx)
			return nil, nil, err
		}
		drop := func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				fmt.Fprintf(os.Stderr, "serverbench: drop schema %s: %v\n", schema, err)
			}
			admin.Close(ctx)
		}
		u, err := url.Parse(pg)
		if err != nil {
			drop()
			return nil, nil, err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		st, err := store.Open(ctx, u.String(), store.OpenOptions{Migrate: true})
		if err != nil {
			drop()
			return nil, nil, err
		}
		return st, func() { st.Close(); drop() }, nil
	}
	return nil, nil, fmt.Errorf("unknown store %q: use sqlite or postgres", name)
}

// setup starts the server over st on a loopback port, as `plumb serve` does (the web UI's
// handler, with the API under it), and creates a user with a password, a project and an
// editor API key, as internal/server's and internal/web's tests do.
func setup(ctx context.Context, st store.Store) (*env, func(), error) {
	// Cheap argon2 parameters, as in the tests: the benchmark logs in once per store.
	cheap := auth.Params{Time: 1, Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}
	srv := server.New(server.Config{Store: st, Password: cheap})
	ui, err := web.New(web.Config{Server: srv, Store: st})
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	hs := &http.Server{Handler: ui.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	stop := func() { hs.Shutdown(context.Background()) }

	p, err := st.CreateProject(ctx, store.Project{Slug: "support", Name: "Support"})
	if err != nil {
		stop()
		return nil, nil, err
	}
	h, err := auth.HashPassword(userPassword, cheap)
	if err != nil {
		stop()
		return nil, nil, err
	}
	u, err := st.CreateUser(ctx, store.User{Email: userEmail, PasswordHash: h})
	if err != nil {
		stop()
		return nil, nil, err
	}
	if _, err := st.AddMember(ctx, store.Member{ProjectID: p.ID, UserID: u.ID, Role: store.RoleAdmin}); err != nil {
		stop()
		return nil, nil, err
	}
	secret, shown := auth.NewAPIKey()
	if _, err := st.CreateAPIKey(ctx, store.APIKey{ProjectID: p.ID, Name: "bench", Role: store.RoleEditor,
		Prefix: shown, KeyHash: store.HashToken(secret)}); err != nil {
		stop()
		return nil, nil, err
	}
	hc := &http.Client{Timeout: 5 * time.Minute}
	base := "http://" + ln.Addr().String()
	c, err := client.New(base, client.WithAPIKey(secret), client.WithHTTPClient(hc))
	if err != nil {
		stop()
		return nil, nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		stop()
		return nil, nil, err
	}
	browser := &http.Client{Timeout: 5 * time.Minute, Jar: jar,
		// A page that redirects (to the login page, when the session is lost) is an error
		// to see, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &env{st: st, base: base, key: secret, project: p.Slug, projID: p.ID, c: c, hc: hc, browser: browser}, stop, nil
}

// login logs the browser in through the UI's login form, as a person would: the form's
// fields, the Origin of the page it was on, then the redirect to the page asked for.
func login(e *env) error {
	form := url.Values{"email": {userEmail}, "password": {userPassword}, "next": {"/p/" + e.project}}
	req, err := http.NewRequest(http.MethodPost, e.base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.base)
	resp, err := e.browser.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/p/"+e.project {
		return fmt.Errorf("log in through the form: %s (Location %q): %.300s", resp.Status, resp.Header.Get("Location"), body)
	}
	u, _ := url.Parse(e.base)
	if len(e.browser.Jar.Cookies(u)) == 0 {
		return fmt.Errorf("log in through the form: no session cookie was set")
	}
	return nil
}

func benchStore(o options, name string, upJSON []byte, upID string, bigA, bigB *report.Report) (storeResult, error) {
	ctx := context.Background()
	res := storeResult{store: name}
	st, closeStore, err := openStore(ctx, name, o.pg)
	if err != nil {
		return res, err
	}
	defer closeStore()
	e, stop, err := setup(ctx, st)
	if err != nil {
		return res, err
	}
	defer stop()
	fmt.Printf("\n## %s (server at %s)\n", name, e.base)

	// (1) Uploads: each a new run id, the body otherwise identical.
	stopProf := func() {}
	if o.uploads > 0 {
		stopProf = profile(o, name, "upload")
	}
	for i := range o.uploads {
		body := bytes.Replace(upJSON, []byte(`"id": "`+upID+`"`), []byte(fmt.Sprintf(`"id": "%s-%d"`, upID, i)), 1)
		if bytes.Equal(body, upJSON) {
			body = bytes.Replace(upJSON, []byte(`"id":"`+upID+`"`), []byte(fmt.Sprintf(`"id":"%s-%d"`, upID, i)), 1)
		}
		start := time.Now()
		info, err := e.c.UploadRunJSON(ctx, e.project, body)
		d := time.Since(start)
		if err != nil {
			stopProf()
			return res, fmt.Errorf("upload %d: %w", i, err)
		}
		if info.Cases != o.uploadN/combos*combos {
			stopProf()
			return res, fmt.Errorf("upload %d: the server counted %d cases", i, info.Cases)
		}
		res.uploads = append(res.uploads, d)
		fmt.Printf("upload %d (%s): %s\n", i+1, info.ID, d.Round(time.Millisecond))
	}
	stopProf()

	// (2) The two big runs, stored directly (a 100,000-result report is larger than the
	// API's 64 MiB upload limit).
	for i, r := range []*report.Report{bigA, bigB} {
		start := time.Now()
		if err := st.SaveRunIn(ctx, e.projID, r); err != nil {
			return res, fmt.Errorf("store %s: %w", r.Run.ID, err)
		}
		d := time.Since(start)
		if i == 0 {
			res.saveBig = d
		}
		fmt.Printf("SaveRunIn %s (%d results): %s\n", r.Run.ID, len(r.Results), d.Round(time.Millisecond))
	}

	var pages []page
	if o.api {
		api, err := apiPages(ctx, e, bigA.Run.ID, bigB.Run.ID)
		if err != nil {
			return res, err
		}
		pages = append(pages, api...)
	}
	if o.ui {
		if err := login(e); err != nil {
			return res, err
		}
		ui, err := uiPages(e, bigA, bigB)
		if err != nil {
			return res, err
		}
		pages = append(pages, ui...)
	}
	for _, p := range pages {
		if !strings.Contains(p.name, o.only) {
			continue
		}
		stopProf := profile(o, name, p.prof)
		pr, err := measure(e, p, o.requests, o.budget)
		stopProf()
		if err != nil {
			return res, err
		}
		res.pages = append(res.pages, pr)
		fmt.Printf("%-56s n=%-4d p50 %-9s p95 %-9s max %-9s %s\n", p.name, len(pr.lat), ms(pr.q(0.5)), ms(pr.q(0.95)),
			ms(pr.lat[len(pr.lat)-1]), size(pr.bytes))
		if o.profileDir != "" && pr.q(0.95) >= 100*time.Millisecond {
			// run.sh prints the top of the profiles of the pages that missed.
			if err := appendLine(filepath.Join(o.profileDir, "missed"), name+"-"+p.prof+".prof"); err != nil {
				return res, err
			}
		}
	}
	if o.profileDir != "" {
		res.compSteps, err = compareSteps(ctx, st, bigA.Run.ID, bigB.Run.ID)
		if err != nil {
			return res, err
		}
		if o.ui {
			res.runSteps, err = runPageSteps(ctx, st, bigA.Run.ID)
			if err != nil {
				return res, err
			}
			res.withinSteps, err = withinSteps(ctx, st, bigA.Run.ID, eval.Combo{Prompt: "v1", Provider: "gpt"}, eval.Combo{Prompt: "v1", Provider: "claude"})
			if err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// page is one URL measured.
type page struct {
	name   string
	path   string      // from the server's root, with its query
	ui     bool        // a page of the UI: asked with the browser's session, not the API key
	header http.Header // more request headers (htmx's)
	prof   string      // the CPU profile's name
}

// apiPages are the API's pages on the first big run: the run, its results filtered three
// ways (page 1, and a page about 80% deep through the cursor), and the compare of a and b.
func apiPages(ctx context.Context, e *env, a, b string) ([]page, error) {
	// Deep cursors: walk each filter with the largest pages to about 80% of its results (a
	// filter with fewer than 1,250 results has no deep page).
	runPath := "/api/v1/projects/" + e.project + "/runs/" + a
	filters := []struct {
		name string
		opt  client.ResultsOptions
	}{
		{"failed=true", client.ResultsOptions{Failed: true}},
		{"provider=claude", client.ResultsOptions{Provider: "claude"}},
		{"segment=refunds", client.ResultsOptions{Segment: "refunds"}},
	}
	pages := []page{{name: "run page (header + summary)", path: runPath}}
	for _, f := range filters {
		first, err := e.c.Results(ctx, e.project, a, f.opt)
		if err != nil {
			return nil, fmt.Errorf("results %s: %w", f.name, err)
		}
		opt := f.opt
		opt.Limit = store.MaxPageSize
		seen, cursor := 0, ""
		for pages := max(1, first.Total*8/10/store.MaxPageSize); pages > 0; pages-- {
			opt.Cursor = cursor
			p, err := e.c.Results(ctx, e.project, a, opt)
			if err != nil {
				return nil, fmt.Errorf("results %s: %w", f.name, err)
			}
			seen += len(p.Results)
			cursor = p.NextCursor
			if cursor == "" {
				break
			}
		}
		q := f.name
		pages = append(pages, page{name: fmt.Sprintf("results %s, page 1 (%d match)", f.name, first.Total), path: runPath + "/results?" + q})
		if cursor != "" {
			pages = append(pages, page{name: fmt.Sprintf("results %s, page after %d", f.name, seen), path: runPath + "/results?" + q + "&cursor=" + url.QueryEscape(cursor)})
		}
	}
	pages = append(pages, page{name: "compare big-a vs big-b (limit 100)", path: "/api/v1/projects/" + e.project + "/compare?a=" + a + "&b=" + b})
	for i := range pages {
		pages[i].prof = fmt.Sprintf("page%d", i) // run.sh: page0 is the run page, the last the compare
	}
	return pages, nil
}

// nextLinkRE finds the "Next page" link of a run page's case table (and of the other
// paged lists).
var nextLinkRE = regexp.MustCompile(`<a href="([^"]*)"[^>]*rel="next"`)

// followNext is the URL of the page after path, from its rel="next" link; "" on the last.
func followNext(e *env, path string) (string, error) {
	body, err := fetch(e, page{path: path, ui: true})
	if err != nil {
		return "", err
	}
	m := nextLinkRE.FindSubmatch(body)
	if m == nil {
		return "", nil
	}
	next := html.UnescapeString(string(m[1]))
	if !strings.HasPrefix(next, "/") {
		return "", fmt.Errorf("GET %s: the next link %q is not a path on this server", path, next)
	}
	return next, nil
}

// uiPages are the UI's pages of the big runs, as the browser gets them: the run page in
// its views (one of them also as the htmx swap of the filter form), a later page reached
// through the "Next page" links, the first page of passes in the default view (after the
// last page of failures), a case, the compare page of the two big runs and of two models
// of one, the overview and the runs list.
func uiPages(e *env, a, b *report.Report) ([]page, error) {
	proj := "/p/" + url.PathEscape(e.project)
	run := proj + "/runs/" + url.PathEscape(a.Run.ID)
	failed := 0
	for _, r := range a.Results {
		if !r.Passed {
			failed++
		}
	}
	pages := []page{
		{name: fmt.Sprintf("UI run page, failures first (%d failed)", failed), path: run},
		{name: "UI run page, view=all", path: run + "?view=all"},
		{name: "UI run page, view=failed&provider=claude", path: run + "?view=failed&provider=claude"},
		{name: "UI run page, view=failed&provider=claude, htmx swap", path: run + "?view=failed&provider=claude",
			header: http.Header{"Hx-Request": {"true"}, "Hx-Target": {"cases"}}},
		{name: "UI run page, view=flaky", path: run + "?view=flaky"},
	}
	// A later page: five "Next page" links from the first, failures first.
	const follows = 5
	path := run
	for i := range follows {
		next, err := followNext(e, path)
		if err != nil {
			return nil, err
		}
		if next == "" {
			return nil, fmt.Errorf("GET %s: no next page after %d pages", path, i+1)
		}
		path = next
	}
	pages = append(pages, page{name: fmt.Sprintf("UI run page, failures first, page %d (via Next)", follows+1), path: path})
	// The first page that lists passes: follow the links to the end of the failures.
	n := follows + 1
	for {
		u, err := url.Parse(path)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(u.Query().Get("cursor"), "p:") {
			break
		}
		next, err := followNext(e, path)
		if err != nil {
			return nil, err
		}
		if next == "" {
			return nil, fmt.Errorf("GET %s: the last page, and no page of passes reached", path)
		}
		path, n = next, n+1
	}
	pages = append(pages, page{name: fmt.Sprintf("UI run page, failures first, page %d (1st of passes)", n), path: path})
	test := len(a.Results) / combos / 2
	pages = append(pages,
		page{name: fmt.Sprintf("UI case page (test %d, %d results)", test, combos), path: fmt.Sprintf("%s/cases/%d", run, test)},
		page{name: "UI compare page big-a vs big-b", path: proj + "/compare?a=" + url.QueryEscape(a.Run.ID) + "&b=" + url.QueryEscape(b.Run.ID)},
		// Two models of one run, as the run page's picker sends them ("prompt\x1fprovider").
		page{name: "UI compare within big-a: v1·gpt vs v1·claude", path: proj + "/compare?" + url.Values{
			"run": {a.Run.ID}, "a": {"v1\x1fgpt"}, "b": {"v1\x1fclaude"}}.Encode()},
		page{name: "UI overview", path: proj},
		page{name: "UI runs list", path: proj + "/runs"},
	)
	for i := range pages {
		pages[i].ui = true
		pages[i].prof = fmt.Sprintf("ui%d", i)
	}
	return pages, nil
}

// fetch GETs p once, as the API client (with its key) or as the browser (with its
// session), and returns the body of a 200 answer.
func fetch(e *env, p page) ([]byte, error) {
	var body bytes.Buffer
	_, err := get(e, p, &body)
	return body.Bytes(), err
}

// get GETs p once, copies the body to w, and returns the time from sending the request to
// the last byte of the answer. Anything but 200 is an error: a UI page that redirects has
// lost its session.
func get(e *env, p page, w io.Writer) (time.Duration, error) {
	req, err := http.NewRequest(http.MethodGet, e.base+p.path, nil)
	if err != nil {
		return 0, err
	}
	hc := e.hc
	if p.ui {
		hc = e.browser
	} else {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	for k, v := range p.header {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(w, resp.Body)
	d := time.Since(start)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s (Location %q)", p.path, resp.Status, resp.Header.Get("Location"))
	}
	return d, nil
}

// measure GETs p n times (after up to 3 unmeasured warm-up requests) or until budget is
// spent, each time reading the whole body, and returns the sorted latencies: the time from
// sending the request to the last byte of the answer.
func measure(e *env, p page, n int, budget time.Duration) (pageResult, error) {
	pr := pageResult{name: p.name}
	var cw countWriter
	for range 3 {
		d, err := get(e, p, &cw)
		if err != nil {
			return pr, err
		}
		if d > budget/20 {
			break // one warm-up is enough for a page this slow
		}
	}
	deadline := time.Now().Add(budget)
	for len(pr.lat) < n && (len(pr.lat) < 5 || time.Now().Before(deadline)) {
		cw = 0
		d, err := get(e, p, &cw)
		if err != nil {
			return pr, err
		}
		pr.lat, pr.bytes = append(pr.lat, d), int(cw)
	}
	slices.Sort(pr.lat)
	return pr, nil
}

// countWriter counts the bytes written to it and keeps none.
type countWriter int

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// appendLine appends line to the file at path.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, line)
	return cmp.Or(err, f.Close())
}

// profile starts a CPU profile of one measurement when -profile is set; the returned
// function stops it.
func profile(o options, storeName, what string) func() {
	if o.profileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(o.profileDir, storeName+"-"+what+".prof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "serverbench: profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintln(os.Stderr, "serverbench: profile:", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// compareSteps times, three times each, the reads the compare handler makes
// (store.GetRunHeader and store.PairSamples of both runs), the whole comparison
// (eval.CompareStored with the API's default limit of 100: those reads again, the pairing
// and the tests, and store.ResultsAt of the listed changes) and encoding the answer.
func compareSteps(ctx context.Context, st store.Store, a, b string) ([]string, error) {
	var out []string
	for range 3 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		t0 := time.Now()
		for _, id := range []string{a, b} {
			if _, err := st.GetRunHeader(ctx, id); err != nil {
				return nil, err
			}
		}
		t1 := time.Now()
		sa, err := st.PairSamples(ctx, a)
		if err != nil {
			return nil, err
		}
		t2 := time.Now()
		if _, err := st.PairSamples(ctx, b); err != nil {
			return nil, err
		}
		t3 := time.Now()
		c, err := eval.CompareStored(ctx, st, a, b, 0.05, 100)
		if err != nil {
			return nil, err
		}
		t4 := time.Now()
		body, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		t5 := time.Now()
		runtime.ReadMemStats(&ms)
		out = append(out, fmt.Sprintf("GetRunHeader(a, b) %s, PairSamples(a) %s, PairSamples(b) %s (%d samples), eval.CompareStored %s (%d of %d regressions, %d of %d improvements listed), JSON %s (%s); allocated %s",
			ms2(t1.Sub(t0)), ms2(t2.Sub(t1)), ms2(t3.Sub(t2)), len(sa), ms2(t4.Sub(t3)), len(c.Regressions), c.RegressionsTotal,
			len(c.Improvements), c.ImprovementsTotal, ms2(t5.Sub(t4)), size(len(body)), size(int(ms.TotalAlloc-before))))
	}
	return out, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func ms2(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return ms(d)
}

func size(n int) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// printTables prints the figures as Markdown tables, with the targets.
func printTables(all []storeResult, o options) {
	fmt.Println("\n## Results")
	fmt.Printf("\n| measurement | %s |\n|---|", strings.Join(names(all), " | "))
	for range all {
		fmt.Print("---|")
	}
	fmt.Println()
	if o.uploads > 0 {
		fmt.Printf("| upload of %d results, median of %d (target < 2 s) |", o.uploadN, o.uploads)
		for _, r := range all {
			d := slices.Clone(r.uploads)
			slices.Sort(d)
			fmt.Printf(" %s %s |", ms2(d[len(d)/2]), verdict(d[len(d)/2] < 2*time.Second))
		}
		fmt.Println()
	}
	for i := range all[0].pages {
		fmt.Printf("| %s: p50 / p95 (target p95 < 100 ms) |", all[0].pages[i].name)
		for _, r := range all {
			p := r.pages[i]
			fmt.Printf(" %s / %s %s (n=%d, %s) |", ms2(p.q(0.5)), ms2(p.q(0.95)), verdict(p.q(0.95) < 100*time.Millisecond), len(p.lat), size(p.bytes))
		}
		fmt.Println()
	}
	fmt.Printf("| SaveRunIn of %d results, directly (no target) |", o.bigN)
	for _, r := range all {
		fmt.Printf(" %s |", ms2(r.saveBig))
	}
	fmt.Println()
	for _, r := range all {
		if len(r.runSteps) > 0 {
			fmt.Printf("\nthe UI run page's store reads on %s:\n", r.store)
			for _, s := range r.runSteps {
				fmt.Println("-", s)
			}
		}
		if len(r.withinSteps) > 0 {
			fmt.Printf("\nthe UI's compare within a run, steps on %s:\n", r.store)
			for _, s := range r.withinSteps {
				fmt.Println("-", s)
			}
		}
		if len(r.compSteps) > 0 {
			fmt.Printf("\ncompare handler's steps on %s:\n", r.store)
			for _, s := range r.compSteps {
				fmt.Println("-", s)
			}
		}
	}
}

func names(all []storeResult) []string {
	var n []string
	for _, r := range all {
		n = append(n, r.store)
	}
	return n
}

func verdict(ok bool) string { return cmp.Or(map[bool]string{true: "met"}[ok], "**missed**") }
