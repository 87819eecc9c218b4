package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/client"
	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/provider"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
)

// defaultConfigs are looked for, in order, when -c is not given.
var defaultConfigs = []string{"plumb.yaml", "plumb.yml", "promptfooconfig.yaml", "promptfooconfig.yml"}

type evalFlags struct {
	config        string
	outputs       []string
	concurrency   int
	repeat        int
	noCache       bool
	filters       []string
	filterFailing string
	resume        string
	record        bool
	live          bool
	cassette      string
	baseline      string
	alpha         float64
	noProgress    bool
	server        string
	project       string
}

func newEvalCmd(e *env) *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Run an eval suite and decide its gates",
		Long: `Run every prompt × provider × test × repeat of a suite, score each answer with the
suite's assertions, and print a summary with 95% intervals and the verdict of every gate.

The suite is read from -c FILE, else from plumb.yaml or promptfooconfig.yaml in the current
directory (promptfoo configs run unchanged for everything both tools support).

The run is stored (see --db) with its provenance; list runs with 'plumb runs', print one with
'plumb show', compare two with 'plumb compare'. With --server URL the stored run is also
uploaded to a plumb server's project, with the API key in $PLUMB_API_KEY.

When the suite names a cassette, provider calls are replayed from it (no network, no API
key), unless one of the variables in its live_when_env is set; --record calls the real
providers and writes their answers to the cassette; --live ignores the cassette.

Exit codes: 0 every gate passed (without gates: every assertion passed); 1 the run completed
but a gate or assertion failed, was interrupted, or regressed against the baseline; 2 bad
input, or the run could not be written to a report file or uploaded to --server.`,
		Example: `  plumb eval
  plumb eval -c examples/support/plumb.yaml -o report.html -o results.json
  plumb eval --repeat 5 -j 16 --filter segment=enterprise
  plumb eval --filter-failing latest
  plumb eval --resume 20261125-193012-4f3a`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEval(cmd, e, &f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "suite config file (default plumb.yaml or promptfooconfig.yaml)")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "write the report to FILE; the format follows the extension: "+strings.Join(report.Formats(), " ")+" (repeatable)")
	fl.IntVarP(&f.concurrency, "concurrency", "j", 0, "provider calls in flight at once (default: the suite's concurrency, else 4)")
	fl.IntVar(&f.repeat, "repeat", 0, "samples per test (default: the suite's repeat, else 1)")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not read or write the response cache (.plumb/cache)")
	fl.StringArrayVar(&f.filters, "filter", nil, "run only tests whose description matches REGEX, or whose metadata has KEY=VALUE (repeatable: all must match)")
	fl.StringVar(&f.filterFailing, "filter-failing", "", "run only the tests that failed or errored in RUN (an id, a unique prefix, 'latest' or 'latest~N')")
	fl.StringVar(&f.resume, "resume", "", "continue the incomplete RUN: keep its samples and run the rest")
	fl.BoolVar(&f.record, "record", false, "call the real providers and record their answers in the suite's cassette")
	fl.BoolVar(&f.live, "live", false, "ignore the suite's cassette and call the real providers")
	fl.StringVar(&f.cassette, "cassette", "", "replay (or with --record, record) provider answers in FILE instead of the suite's cassette")
	fl.StringVar(&f.baseline, "baseline", "", "compare with RUN after the run and fail on a significant regression (default: the suite's baseline)")
	fl.Float64Var(&f.alpha, "alpha", 0.05, "significance level for the baseline comparison")
	fl.BoolVar(&f.noProgress, "no-progress", false, "do not show progress")
	fl.StringVar(&f.server, "server", "", "also upload the run to the plumb server at URL (API key in $PLUMB_API_KEY)")
	fl.StringVar(&f.project, "project", "", "the server project to upload to (default: the API key's project)")
	return cmd
}

func runEval(cmd *cobra.Command, e *env, f *evalFlags) error {
	if f.record && f.live {
		return usageErr("--record and --live exclude each other: --record already calls the real providers")
	}
	if f.resume != "" && f.filterFailing != "" {
		return usageErr("--resume and --filter-failing exclude each other")
	}
	if f.concurrency < 0 || f.repeat < 0 {
		return usageErr("-j and --repeat must be positive")
	}
	keep, err := parseFilters(f.filters)
	if err != nil {
		return err
	}
	// The server's key and project are checked before the run, so that a run is not
	// wasted on an upload that cannot happen.
	var remote *client.Client
	if f.project != "" && f.server == "" {
		return usageErr("--project needs --server: it names the server project to upload to")
	}
	if f.server != "" {
		if remote, err = remoteClient(e, f.server); err != nil {
			return err
		}
		if f.project, err = remoteProject(cmd.Context(), remote, f.project); err != nil {
			return err
		}
	}
	noOtherFilter := len(f.filters) == 0
	var failingFrom string // the run --filter-failing reruns
	path, err := findConfig(f.config)
	if err != nil {
		return err
	}
	stores := &lazyStore{open: func() (store.Store, error) { return openStore(cmd, e) }}
	defer stores.close()
	var registry config.Registry = storeRegistry{ctx: cmd.Context(), stores: stores}
	if remote != nil {
		registry = remoteRegistry{ctx: cmd.Context(), c: remote, project: f.project}
	}
	suite, err := config.Load(path, config.LoadOptions{Getenv: e.getenv, Registry: registry})
	if err != nil {
		var ces config.Errors
		if errors.As(err, &ces) {
			return eval.CheckAssertions(suite, ces)
		}
		return err
	}

	// promptfoo's outputPath: report files the suite asks for, written like -o. Every report
	// file is checked before the run, so that a typo in a path does not waste a run.
	f.outputs = append(f.outputs, suite.OutputPaths...)
	for _, out := range f.outputs {
		if err := checkOutputPath(out); err != nil {
			return err
		}
		if err := checkWritable(out); err != nil {
			return usageErr("-o %s: cannot write there: %v", out, unwrapPathError(err))
		}
	}

	// Stop cleanly on Ctrl-C or SIGTERM: samples in flight are dropped, the rest is stored
	// as an incomplete run that --resume continues.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opt := eval.Options{
		Concurrency: f.concurrency, Repeat: f.repeat, Getenv: e.getenv, Keep: keep,
		Version: Version(), Args: append([]string{"plumb"}, redactArgs(e.args)...),
	}
	// Asking git takes a few milliseconds; do it while the store opens and the suite compiles.
	var found report.Provenance
	provDone := make(chan struct{})
	go func() {
		defer close(provDone)
		fillProvenance(&found, suite.Dir, localUser(e))
	}()
	opt.Provenance = func(p *report.Provenance) {
		<-provDone
		p.User, p.Host, p.GitCommit, p.GitDirty = found.User, found.Host, found.GitCommit, found.GitDirty
	}
	if opt.Cassette, err = openCassette(e, f, suite, path); err != nil {
		return err
	}
	if opt.Cassette == nil && !f.noCache {
		opt.Cache = eval.NewCache(cacheDir(e))
	}

	st, err := stores.get()
	if err != nil {
		return err
	}

	if f.resume != "" {
		prev, err := loadRun(cmd, st, f.resume, eval.SuiteName(suite))
		if err != nil {
			return err
		}
		if prev.Run.Status == report.StatusComplete {
			return usageErr("run %s is complete; nothing to resume", prev.Run.ID)
		}
		opt.Resume = prev
	}
	if f.filterFailing != "" {
		prev, err := loadRun(cmd, st, f.filterFailing, eval.SuiteName(suite))
		if err != nil {
			return err
		}
		failing := failingTests(prev)
		failingFrom = prev.Run.ID
		base := opt.Keep
		opt.Keep = func(t *config.Test) bool {
			return failing[eval.TestIdentity(t.Description, t.Vars)] && (base == nil || base(t))
		}
	}
	// The baseline is resolved before the run, so that "latest" means the latest before it.
	var base *report.Report
	baseline := f.baseline
	if baseline == "" {
		baseline = suite.Baseline
	}
	if baseline != "" {
		if base, err = loadRun(cmd, st, baseline, eval.SuiteName(suite)); err != nil {
			return err
		}
	}
	if !f.noProgress {
		opt.Progress = newProgress(e.stderr, e.isTerminal)
	}

	eng, err := eval.Prepare(suite, opt)
	if err != nil {
		return err
	}
	rep, err := eng.Run(ctx)
	if err != nil {
		return usageErr("%v", err)
	}
	if len(rep.Results) == 0 && rep.Run.Status == report.StatusComplete {
		if f.filterFailing != "" && noOtherFilter {
			fmt.Fprintf(e.stdout, "Nothing to rerun: no test failed in run %s.\n", failingFrom)
			return nil
		}
		return usageErr("no test matched the filters: nothing was run")
	}

	// Store first: the run is evidence, and must survive a failure to write a file.
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := st.SaveRun(saveCtx, rep); err != nil {
		return fmt.Errorf("store run %s: %w", rep.Run.ID, err)
	}
	if opt.Cassette != nil && f.record {
		if err := opt.Cassette.Save(); err != nil {
			return fmt.Errorf("write the cassette: %w", err)
		}
	}
	var writeErrs []error
	var wrote []string
	for _, out := range f.outputs {
		if err := report.Write(out, rep); err != nil {
			writeErrs = append(writeErrs, fmt.Errorf("write %s: %w", out, unwrapPathError(err)))
			continue
		}
		wrote = append(wrote, out)
	}
	report.WriteSummary(e.stdout, rep, e.isTerminal && e.getenv("NO_COLOR") == "")
	for _, out := range wrote {
		fmt.Fprintf(e.stdout, "Wrote %s\n", out)
	}
	writeErrorDigest(e.stderr, rep)
	if remote != nil {
		// The local copy is already safe; an upload failure is reported after the summary
		// and makes the exit code 2, whatever the verdict, so that CI notices it.
		upCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		info, err := remote.UploadRun(upCtx, f.project, rep)
		cancel()
		if err != nil {
			writeErrs = append(writeErrs, fmt.Errorf("upload to %s (project %s) failed: %w", remote.BaseURL(), f.project, err))
		} else {
			fmt.Fprintf(e.stdout, "Uploaded run %s to project %s: %s\n", info.ID, f.project, remote.RunURL(f.project, info.ID))
		}
	}
	if len(writeErrs) > 0 {
		return &exitError{code: ExitUsage, err: fmt.Errorf("the run is stored as %s, but %w", rep.Run.ID, errors.Join(writeErrs...))}
	}

	if rep.Run.Status == report.StatusIncomplete {
		fmt.Fprintf(e.stderr, "plumb: interrupted after %d samples; continue with: plumb eval --resume %s\n", len(rep.Results), rep.Run.ID)
		return errFailed
	}

	ok := eval.Passed(&rep.Summary)
	if len(rep.Summary.Gates) > 0 {
		ok = eval.GatesPassed(&rep.Summary)
	}
	if base != nil {
		c := eval.Compare(base, rep, f.alpha)
		fmt.Fprintln(e.stdout)
		writeComparison(e.stdout, c, 10)
		if c.Matched == 0 {
			return usageErr("the baseline %s has no sample in common with this run: is it a run of this suite? (%s)", base.Run.ID, base.Run.Suite)
		}
		if c.Regressed {
			ok = false
		}
	}
	if !ok {
		return errFailed
	}
	return nil
}

// openCassette opens the cassette the run replays from or records into, or returns nil for a
// live run: no cassette, --live, or one of the suite's live_when_env variables set.
func openCassette(e *env, f *evalFlags, suite *config.Suite, path string) (*provider.Cassette, error) {
	cassettePath := suite.Cassette
	if f.cassette != "" {
		cassettePath = f.cassette
	}
	if f.record && cassettePath == "" {
		return nil, usageErr("--record needs a cassette: add `cassette: cassette.json` to %s or pass --cassette FILE", path)
	}
	if cassettePath == "" || f.live {
		return nil, nil
	}
	if !f.record && f.cassette == "" {
		// The suite may ask to call the providers whenever credentials are at hand
		// (cassette: {path, live_when_env: [OPENAI_API_KEY]}), and replay otherwise.
		for _, name := range suite.CassetteLiveEnv {
			if e.getenv(name) != "" {
				if !f.noProgress {
					fmt.Fprintf(e.stderr, "plumb: $%s is set: calling the providers instead of replaying %s\n", name, cassettePath)
				}
				return nil, nil
			}
		}
	}
	mode := provider.CassetteReplay
	if f.record {
		mode = provider.CassetteRecord
	}
	cas, err := provider.OpenCassette(cassettePath, mode)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	if mode == provider.CassetteReplay && !f.noProgress && len(suite.CassetteLiveEnv) == 0 && liveConfigured(e) {
		fmt.Fprintf(e.stderr, "plumb: replaying provider answers from %s; pass --live to call the providers\n", cassettePath)
	}
	return cas, nil
}

// findConfig returns the suite file to load.
func findConfig(flag string) (string, error) {
	if flag != "" {
		if _, err := os.Stat(flag); err != nil {
			return "", usageErr("config file %s: %v", flag, unwrapPathError(err))
		}
		return flag, nil
	}
	for _, name := range defaultConfigs {
		if _, err := os.Stat(name); err == nil {
			return name, nil
		}
	}
	return "", usageErr("no suite config here: create plumb.yaml (see examples/) or pass -c FILE")
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkWritable makes path's folder and checks that a file can be created there.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".plumb-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

func checkOutputPath(path string) error {
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range report.Formats() {
		if ext == f {
			return nil
		}
	}
	return usageErr("-o %s: unknown report format %q; use one of %s", path, ext, strings.Join(report.Formats(), " "))
}

// parseFilters turns --filter values into one predicate over tests.
func parseFilters(filters []string) (func(*config.Test) bool, error) {
	if len(filters) == 0 {
		return nil, nil
	}
	type kv struct{ k, v string }
	var res []*regexp.Regexp
	var kvs []kv
	for _, f := range filters {
		if k, v, ok := strings.Cut(f, "="); ok && k != "" && !strings.ContainsAny(k, `\^$.*+?()[]{}| `) {
			kvs = append(kvs, kv{k, v})
			continue
		}
		re, err := regexp.Compile(f)
		if err != nil {
			return nil, usageErr("--filter %q: not a valid regular expression: %v", f, err)
		}
		res = append(res, re)
	}
	return func(t *config.Test) bool {
		for _, re := range res {
			if !re.MatchString(t.Description) {
				return false
			}
		}
		for _, p := range kvs {
			if p.k == "segment" && t.Segment == p.v {
				continue
			}
			if !metadataHas(t.Metadata[p.k], p.v) {
				return false
			}
		}
		return true
	}, nil
}

func failingTests(r *report.Report) map[string]bool {
	m := map[string]bool{}
	for i := range r.Results {
		if !r.Results[i].Passed {
			m[eval.TestIdentity(r.Results[i].Test.Description, r.Results[i].Test.Vars)] = true
		}
	}
	return m
}

func cacheDir(e *env) string {
	if d := e.getenv("PLUMB_CACHE_DIR"); d != "" {
		return d
	}
	return filepath.Join(".plumb", "cache")
}

// fillProvenance records who ran the suite (user, as localUser decides), where, and at
// which commit.
func fillProvenance(p *report.Provenance, dir, user string) {
	p.User = user
	p.Host, _ = os.Hostname()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return // not a repository, or no git: provenance simply has no commit
	}
	p.GitCommit = strings.TrimSpace(string(out))
	out, err = exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	p.GitDirty = err == nil && len(strings.TrimSpace(string(out))) > 0
}

// writeErrorDigest prints each distinct provider error once, in full: the summary shows
// them cut to a line, and an error such as a missing key or an unrecorded cassette request
// needs its whole message (and its fix) to be seen.
func writeErrorDigest(w io.Writer, rep *report.Report) {
	counts := map[string]int{}
	var order []string
	for i := range rep.Results {
		msg := rep.Results[i].Error
		if msg == "" {
			continue
		}
		if counts[msg] == 0 {
			order = append(order, msg)
		}
		counts[msg]++
	}
	const show = 5
	for i, msg := range order {
		if i == show {
			fmt.Fprintf(w, "plumb: … and %d more distinct errors (see plumb show %s --json)\n", len(order)-show, rep.Run.ID)
			break
		}
		fmt.Fprintf(w, "plumb: %d× %s\n", counts[msg], oneLine(msg, 400))
	}
}

// liveConfigured reports whether the environment could reach a real provider, so that a
// user who set a key is told why the run still replays.
func liveConfigured(e *env) bool {
	for _, k := range []string{provider.OpenAIKeyEnv, provider.AnthropicKeyEnv, provider.OpenAIBaseURLEnv, provider.AnthropicBaseURLEnv} {
		if e.getenv(k) != "" {
			return true
		}
	}
	return false
}

// redactArgs hides the password of a --db URL before the command line is stored with the run.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if v, ok := strings.CutPrefix(a, "--db="); ok {
			out[i] = "--db=" + redactDSN(v)
		} else if i > 0 && args[i-1] == "--db" {
			out[i] = redactDSN(a)
		}
	}
	return out
}

// redactDSN keeps what identifies a store (scheme, user, host, database) and drops what may
// hold a secret: the password, and every query parameter (password=, sslkey=, ...).
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(redacted)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// metadataHas reports whether a metadata value is v, or is a list holding v.
func metadataHas(value any, v string) bool {
	switch x := value.(type) {
	case nil:
		return false
	case []any:
		for _, it := range x {
			if fmt.Sprint(it) == v {
				return true
			}
		}
		return false
	}
	return fmt.Sprint(value) == v
}
