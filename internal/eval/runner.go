// Package eval runs a suite: it expands prompts × providers × tests × repeats into samples,
// calls the providers with bounded concurrency and per-provider rate limits, scores every
// answer, and summarises the run into metrics with confidence intervals and gate verdicts.
package eval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/plumbhq/plumb/internal/assert"
	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/provider"
	"github.com/plumbhq/plumb/internal/report"
)

// Options tune one run.
type Options struct {
	Concurrency int // overrides the suite's; 0 keeps it
	Repeat      int // overrides the suite's; 0 keeps it
	Cache       *Cache
	// Cassette, when set, replays (or records) every provider call.
	Cassette *provider.Cassette
	Getenv   func(string) string
	// Keep selects the tests to run; nil runs them all.
	Keep func(t *config.Test) bool
	// Resume continues an incomplete run: its samples are kept and only the rest run.
	Resume *report.Report
	// Progress is told about every finished sample; nil for none.
	Progress   Progress
	Version    string
	Args       []string
	Now        func() time.Time
	Provenance func(*report.Provenance) // fills in git, user and host; nil leaves them empty
}

// Progress follows a run.
type Progress interface {
	Start(total int)
	Done(r *report.Result, passed, done int, cost float64)
	Finish()
}

// Engine is a prepared run: providers built, assertions compiled.
type Engine struct {
	suite     *config.Suite
	opt       Options
	providers []provider.Provider
	limiters  []*rate.Limiter
	breakers  []*breaker
	programs  []string           // per provider: a hash of the files an exec provider runs, for the cache
	checkers  [][]assert.Checker // per test, per assertion
}

// Prepare builds the providers and compiles every assertion. Every user error is reported
// at once as config.Errors.
func Prepare(s *config.Suite, opt Options) (*Engine, error) {
	if opt.Getenv == nil {
		return nil, errors.New("eval: Options.Getenv is required")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	applyPrices(s)
	e := &Engine{suite: s, opt: opt}
	var errs config.Errors
	// One HTTP client for every provider of the run, so that connections are reused across
	// them; and one provider per distinct configuration, since a grader named per test
	// (defaultTest.options.provider) would otherwise be built once per test.
	popt := provider.Options{Getenv: opt.Getenv, HTTPClient: provider.NewHTTPClient()}
	built := map[string]provider.Provider{}
	build := func(spec *config.ProviderSpec) (provider.Provider, error) {
		key, kerr := json.Marshal(spec.Config)
		if kerr == nil {
			if p, ok := built[string(key)]; ok {
				return p, nil
			}
		}
		p, err := provider.New(spec.Config, popt)
		if err != nil {
			return nil, &config.Error{Pos: spec.Pos, Msg: err.Error()}
		}
		if opt.Cassette != nil {
			p = opt.Cassette.Wrap(p, spec.Config)
		}
		if kerr == nil {
			built[string(key)] = p
		}
		return p, nil
	}
	for i := range s.Providers {
		spec := &s.Providers[i]
		p, err := build(spec)
		if err != nil {
			errs = append(errs, asConfigError(err, spec.Pos))
			continue
		}
		e.providers = append(e.providers, p)
		var lim *rate.Limiter
		if spec.Config.RPM > 0 {
			lim = rate.NewLimiter(rate.Limit(float64(spec.Config.RPM)/60), 1)
		}
		e.limiters = append(e.limiters, lim)
		e.breakers = append(e.breakers, &breaker{})
		e.programs = append(e.programs, programHash(&spec.Config))
	}
	buildEmbedder := func(spec *config.ProviderSpec) (provider.Embedder, error) {
		emb, err := provider.NewEmbedder(spec.Config, popt)
		if err != nil {
			return nil, &config.Error{Pos: spec.Pos, Msg: err.Error()}
		}
		if opt.Cassette != nil {
			emb = opt.Cassette.WrapEmbedder(emb, spec.Config)
		}
		return emb, nil
	}
	env := &assert.Env{JudgePrompts: s.JudgePrompts, Build: build,
		BuildEmbedder: buildEmbedder}
	if s.Judge != nil {
		j, err := build(s.Judge)
		if err != nil {
			errs = append(errs, asConfigError(err, s.Judge.Pos))
		}
		env.Judge = j
	}
	if s.Embedder != nil {
		emb, err := buildEmbedder(s.Embedder)
		if err != nil {
			errs = append(errs, asConfigError(err, s.Embedder.Pos))
		}
		env.Embedder = emb
	}
	e.checkers = make([][]assert.Checker, len(s.Tests))
	for i := range s.Tests {
		t := &s.Tests[i]
		for j := range t.Assert {
			c, err := assert.Compile(&t.Assert[j], env)
			if err != nil {
				errs = append(errs, asConfigError(err, t.Assert[j].Pos))
				continue
			}
			e.checkers[i] = append(e.checkers[i], c)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return e, nil
}

// applyPrices gives every provider without a price of its own the suite's price for its
// model (`prices:`), which overrides the default table.
func applyPrices(s *config.Suite) {
	if len(s.Prices) == 0 {
		return
	}
	set := func(spec *config.ProviderSpec) {
		if spec == nil || spec.Config.Price != nil {
			return
		}
		if p, ok := s.Prices[spec.Config.Model]; ok {
			spec.Config.Price = &p
		}
	}
	for i := range s.Providers {
		set(&s.Providers[i])
	}
	set(s.Judge)
	set(s.Embedder)
	for i := range s.Tests {
		for j := range s.Tests[i].Assert {
			set(s.Tests[i].Assert[j].Provider)
		}
	}
}

func asConfigError(err error, pos config.Pos) *config.Error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return ce
	}
	return &config.Error{Pos: pos, Msg: err.Error()}
}

// job is one sample to produce.
type job struct {
	slot     int // position in the results
	testPos  int // position in the suite's tests
	test     *config.Test
	prompt   *config.Prompt
	provider int
	repeat   int
}

// sampleID identifies a sample across a run and its resumption.
func sampleID(promptHash, providerLabel string, test, repeat int) string {
	return fmt.Sprintf("%s\x1f%s\x1f%d\x1f%d", promptHash, providerLabel, test, repeat)
}

// Run produces every sample and the summary. When ctx is cancelled it stops starting new
// samples, drops the ones in flight, and returns the partial run with status incomplete
// (and no error), so that it can be stored and resumed.
func (e *Engine) Run(ctx context.Context) (*report.Report, error) {
	s := e.suite
	rep := &report.Report{Run: e.newRun()}
	done := map[string]report.Result{}
	if prev := e.opt.Resume; prev != nil {
		if prev.Run.ConfigHash != s.Hash {
			return nil, fmt.Errorf("run %s was made with a different config (hash %s, now %s): resume needs the same suite files", prev.Run.ID, short(prev.Run.ConfigHash), short(s.Hash))
		}
		rep.Run.ID, rep.Run.StartedAt = prev.Run.ID, prev.Run.StartedAt
		rep.Run.Provenance.ResumedFrom = prev.Run.ID
		for _, r := range prev.Results {
			done[sampleID(r.PromptHash, r.Provider, r.Test.Index, r.Repeat)] = r
		}
	}

	var (
		jobs     []job
		results  []report.Result
		finished []bool
	)
	for ti := range s.Tests {
		t := &s.Tests[ti]
		if e.opt.Keep != nil && !e.opt.Keep(t) {
			continue
		}
		repeat := e.repeat(t)
		for pi := range s.Prompts {
			p := &s.Prompts[pi]
			for vi, prov := range e.providers {
				for r := 0; r < repeat; r++ {
					slot := len(results)
					if prevResult, ok := done[sampleID(p.Hash, prov.Label(), t.Index, r)]; ok {
						results = append(results, prevResult)
						finished = append(finished, true)
						continue
					}
					results = append(results, report.Result{})
					finished = append(finished, false)
					jobs = append(jobs, job{slot: slot, testPos: ti, test: t, prompt: p, provider: vi, repeat: r})
				}
			}
		}
	}

	e.runJobs(ctx, jobs, results, finished)

	kept := results[:0]
	for i, r := range results {
		if finished[i] {
			kept = append(kept, r)
		}
	}
	rep.Results = kept
	rep.Run.Status = report.StatusComplete
	if len(kept) < len(finished) {
		rep.Run.Status = report.StatusIncomplete
	}
	rep.Run.FinishedAt = e.opt.Now().UTC()
	rep.Summary = Summarize(rep.Results, s.Gates)
	return rep, nil
}

func (e *Engine) repeat(t *config.Test) int {
	switch {
	case e.opt.Repeat > 0:
		return e.opt.Repeat
	case t.Repeat > 0:
		return t.Repeat
	case e.suite.Repeat > 0:
		return e.suite.Repeat
	}
	return 1
}

func (e *Engine) runJobs(ctx context.Context, jobs []job, results []report.Result, finished []bool) {
	workers := e.opt.Concurrency
	if workers <= 0 {
		workers = e.suite.Concurrency
	}
	if workers <= 0 {
		workers = 4
	}
	workers = min(workers, max(len(jobs), 1))
	var (
		next      atomic.Int64
		mu        sync.Mutex
		passed    int
		doneCount int
		cost      float64
		wg        sync.WaitGroup
	)
	if e.opt.Progress != nil {
		e.opt.Progress.Start(len(jobs))
		for i := range results {
			if finished[i] {
				doneCount++
				cost += results[i].Cost
				if results[i].Passed {
					passed++
				}
			}
		}
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				j := jobs[i]
				r, ok := e.sample(ctx, j)
				if !ok {
					continue
				}
				mu.Lock()
				results[j.slot] = r
				finished[j.slot] = true
				doneCount++
				cost += r.Cost
				if r.Passed {
					passed++
				}
				if e.opt.Progress != nil {
					e.opt.Progress.Done(&results[j.slot], passed, doneCount, cost)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if e.opt.Progress != nil {
		e.opt.Progress.Finish()
	}
}

// sample produces one result. It returns false when the run was cancelled before the
// sample finished, so that the sample is left for a resume rather than stored as an error.
func (e *Engine) sample(ctx context.Context, j job) (report.Result, bool) {
	spec := &e.suite.Providers[j.provider]
	prov := e.providers[j.provider]
	req := buildRequest(j.prompt, j.test.Vars, j.repeat)
	res := report.Result{
		Test: report.TestRef{Index: j.test.Index, Description: j.test.Description, Vars: j.test.Vars,
			Segment: j.test.Segment, Metadata: j.test.Metadata},
		Prompt: j.prompt.Label, PromptHash: j.prompt.Hash, Provider: prov.Label(), Repeat: j.repeat,
		Rendered: req.Prompt,
	}
	resp, cached, err := e.call(ctx, j.provider, &spec.Config, prov, req)
	if err != nil {
		if ctx.Err() != nil {
			return res, false
		}
		res.Error = err.Error()
		res.Assertions = []report.Assertion{}
		return res, true
	}
	res.Output = resp.Output
	res.ToolCalls = ToolCalls(resp.ToolCalls)
	res.LatencyMS = durationToMS(resp.Latency)
	res.Tokens = report.Tokens{Prompt: resp.Usage.PromptTokens, Completion: resp.Usage.CompletionTokens,
		Total: resp.Usage.TotalTokens, Cached: resp.Usage.CachedTokens}
	if res.Tokens.Total == 0 {
		res.Tokens.Total = res.Tokens.Prompt + res.Tokens.Completion
	}
	res.Cost = resp.Cost
	res.Cached = cached
	res.Refusal = assert.IsRefusal(resp.Output)

	in := &assert.Input{Output: resp.Output, Vars: j.test.Vars, Prompt: req.Prompt,
		LatencyMS: res.LatencyMS, Cost: res.Cost, Tokens: res.Tokens}
	checkers := e.checkers[j.testPos]
	res.Assertions = make([]report.Assertion, 0, len(checkers))
	for _, c := range checkers {
		res.Assertions = append(res.Assertions, c.Check(ctx, in))
	}
	if ctx.Err() != nil {
		return res, false
	}
	res.Passed, res.Score = assert.Score(res.Assertions, j.test.Threshold)
	return res, true
}

// ToolCalls are a provider's tool calls as a report records them.
func ToolCalls(calls []provider.ToolCall) []report.ToolCall {
	if len(calls) == 0 {
		return nil
	}
	out := make([]report.ToolCall, len(calls))
	for i, c := range calls {
		out[i] = report.ToolCall{ID: c.ID, Name: c.Name, Arguments: c.Arguments}
	}
	return out
}

// call asks the provider, through the rate limiter and the response cache.
func (e *Engine) call(ctx context.Context, i int, cfg *provider.Config, p provider.Provider, req *provider.Request) (*provider.Response, bool, error) {
	var key string
	if e.opt.Cache != nil {
		key = cacheKey(cfg, provider.BaseURL(*cfg, e.opt.Getenv), e.programs[i], req)
		if r, ok := e.opt.Cache.Get(key); ok {
			// The answer is what it was; its cost is what the current price says (or, for a
			// program that reports its own cost, what it reported).
			if p := provider.PriceOf(cfg); p != nil {
				r.Cost = provider.Cost(*p, r.Usage)
			}
			return r, true, nil
		}
	}
	if err := e.breakers[i].allow(p.Label()); err != nil {
		return nil, false, err
	}
	if lim := e.limiters[i]; lim != nil {
		if err := lim.Wait(ctx); err != nil {
			return nil, false, err
		}
	}
	r, err := p.Call(ctx, req)
	e.breakers[i].record(err)
	if err != nil {
		return nil, false, err
	}
	if e.opt.Cache != nil && !r.Replayed {
		_ = e.opt.Cache.Put(key, r) // a cache that cannot be written only costs a later call
	}
	return r, false, nil
}

// breakerTrips is how many calls in a row may fail to reach a provider that has not answered
// once in this run (refused connection, unknown host, timeout — each after the provider's
// own retries) before the rest of the run stops calling it. A dead endpoint then costs a run
// seconds, not a retry budget per sample; a provider that answered before is only flaky, and
// keeps being called.
const breakerTrips = 3

// breaker stops calling a provider that cannot be reached.
type breaker struct {
	mu       sync.Mutex
	streak   int
	answered bool // the provider answered once in this run: it is reachable, if flaky
	lastErr  string
}

func (b *breaker) allow(label string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.answered || b.streak < breakerTrips {
		return nil
	}
	return fmt.Errorf("not called: provider %s could not be reached %d or more times in a row (%s)", label, breakerTrips, b.lastErr)
}

func (b *breaker) record(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var pe *provider.Error
	if err == nil || !errors.As(err, &pe) || (pe.Kind != provider.KindConnection && pe.Kind != provider.KindTimeout) {
		b.streak = 0 // an answer, or an error that shows the provider is there
		b.answered = true
		return
	}
	b.streak++
	b.lastErr = err.Error()
}

// buildRequest renders a prompt for one test.
func buildRequest(p *config.Prompt, vars map[string]any, repeat int) *provider.Request {
	req := &provider.Request{Vars: vars, Repeat: repeat}
	if len(p.Messages) > 0 {
		req.Messages = make([]provider.Message, len(p.Messages))
		for i, m := range p.Messages {
			req.Messages[i] = provider.Message{Role: m.Role, Content: render(m.Content, vars)}
		}
		b, _ := json.Marshal(req.Messages)
		req.Prompt = string(b)
		return req
	}
	req.Prompt = render(p.Text, vars)
	req.Messages = []provider.Message{{Role: "user", Content: req.Prompt}}
	return req
}

func (e *Engine) newRun() report.Run {
	s := e.suite
	now := e.opt.Now().UTC()
	run := report.Run{
		ID: NewRunID(now), Suite: SuiteName(s), Status: report.StatusIncomplete,
		StartedAt: now, ConfigHash: s.Hash, Description: s.Description,
	}
	pv := &run.Provenance
	pv.PlumbVersion, pv.ConfigPath, pv.Args = e.opt.Version, s.Path, e.opt.Args
	pv.Repeat = e.opt.Repeat
	if pv.Repeat == 0 {
		pv.Repeat = max(s.Repeat, 1)
	}
	for _, p := range s.Prompts {
		pv.Prompts = append(pv.Prompts, report.PromptRef{Label: p.Label, Hash: p.Hash, Text: p.Text, Registry: p.Registry})
	}
	for _, src := range s.Sources {
		if src.Kind == "dataset" {
			pv.Datasets = append(pv.Datasets, report.DatasetRef{Ref: src.Ref, Pinned: src.Pinned,
				Name: src.Name, Version: src.Version, Items: src.Items})
		}
	}
	for _, p := range s.Providers {
		ref := report.ProviderRef{Label: p.Config.Label, Type: p.Config.Type,
			Model: p.Config.Model, Params: paramsMap(p.Config.Params)}
		if e.opt.Cassette == nil { // a replayed run called no endpoint
			if u := provider.BaseURL(p.Config, e.opt.Getenv); u != "" {
				ref.BaseURL = provider.PublicURL(u)
			} else if p.Config.URL != "" {
				ref.BaseURL = provider.PublicURL(p.Config.URL)
			}
		}
		pv.Providers = append(pv.Providers, ref)
	}
	pv.Mode = "live"
	if c := e.opt.Cassette; c != nil {
		pv.Mode, pv.Cassette = "replay", c.Path()
		if c.Recording() {
			pv.Mode = "record"
		}
	}
	if e.opt.Provenance != nil {
		e.opt.Provenance(pv)
	}
	return run
}

// SuiteName names a run's suite: its description, else its config file as given.
func SuiteName(s *config.Suite) string {
	if s.Description != "" {
		return s.Description
	}
	return filepath.ToSlash(filepath.Clean(s.Path))
}

// paramsMap lists the generation parameters that were set, for the provenance record.
func paramsMap(p provider.Params) map[string]any {
	b, _ := json.Marshal(p)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if len(m) == 0 {
		return nil
	}
	return m
}

// NewRunID returns a sortable, readable run id such as 20261125-193012-4f3a.
func NewRunID(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func durationToMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func msToDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
