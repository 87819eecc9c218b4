package eval

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/provider"
	"github.com/plumbhq/plumb/internal/report"
)

// suite builds a suite of n tests asking the fake server to repeat a word, each checked
// with `contains`.
func suite(url string, n int) *config.Suite {
	s := &config.Suite{
		Hash:    "h",
		Prompts: []config.Prompt{{Label: "p", Text: "Repeat {{w}}", Vars: []string{"w"}, Hash: "ph"}},
		Providers: []config.ProviderSpec{{ID: "openai:chat:fake-1", Config: provider.Config{
			Label: "fake", Type: "openai", Model: "fake-1", BaseURL: url, MaxRetries: 3,
			Price: &provider.Price{Input: 1, Output: 2}}}},
		Concurrency: 8,
	}
	for i := range n {
		w := "w" + itoa(i)
		s.Tests = append(s.Tests, config.Test{Index: i, Description: "t" + itoa(i), Vars: map[string]any{"w": w},
			Assert: []config.Assertion{{Type: "contains", Base: "contains", Value: w, Weight: 1}}})
	}
	return s
}

func getenv(string) string { return "" }

func start(t *testing.T, opt fakellm.Options) *fakellm.Server {
	t.Helper()
	srv, err := fakellm.Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestRunProducesEverySampleInOrder(t *testing.T) {
	srv := start(t, fakellm.Options{Latency: 20 * time.Millisecond})
	s := suite(srv.URL, 30)
	eng, err := Prepare(s, Options{Getenv: getenv, Repeat: 2, Concurrency: 30})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	rep, err := eng.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 60 || rep.Run.Status != report.StatusComplete {
		t.Fatalf("%d results, status %s; want 60, complete", len(rep.Results), rep.Run.Status)
	}
	for i, r := range rep.Results {
		if r.Test.Index != i/2 || r.Repeat != i%2 {
			t.Fatalf("result %d is test %d repeat %d: results must follow the suite's order", i, r.Test.Index, r.Repeat)
		}
		if !r.Passed || r.Output != "echo: Repeat w"+itoa(r.Test.Index) {
			t.Fatalf("result %d: passed=%v output=%q", i, r.Passed, r.Output)
		}
		if r.Cost <= 0 || r.Tokens.Total == 0 || r.LatencyMS < 20 {
			t.Errorf("result %d: cost %v tokens %+v latency %v: usage and latency must be recorded", i, r.Cost, r.Tokens, r.LatencyMS)
		}
	}
	// 60 calls of 20 ms on 30 workers take about 40 ms, not the 1.2 s of a serial run.
	if d := time.Since(began); d > 600*time.Millisecond {
		t.Errorf("run took %v: calls were not concurrent", d)
	}
	if srv.Count() != 60 {
		t.Errorf("the provider got %d calls, want 60", srv.Count())
	}
}

func TestRunRetriesAndRecordsErrors(t *testing.T) {
	srv := start(t, fakellm.Options{})
	srv.Enqueue(fakellm.Fault{Status: 503, Times: 1})
	s := suite(srv.URL, 1)
	s.Providers[0].Config.MaxRetries = 2
	eng, err := Prepare(s, Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := eng.Run(context.Background())
	if r := rep.Results[0]; !r.Passed || r.Error != "" {
		t.Fatalf("a 503 then success should pass after a retry: %+v", r)
	}

	// A request the provider rejects (400) is not retried and becomes an error sample.
	srv.Enqueue(fakellm.Fault{Status: 400, Times: 1})
	before := srv.Count()
	rep, _ = eng.Run(context.Background())
	r := rep.Results[0]
	if r.Error == "" || r.Passed || srv.Count()-before != 1 {
		t.Fatalf("400: error %q passed %v calls %d; want an error sample after one call", r.Error, r.Passed, srv.Count()-before)
	}
	if rep.Summary.Errors != 1 || rep.Summary.PassRate != 0 {
		t.Errorf("summary errors %d pass rate %v", rep.Summary.Errors, rep.Summary.PassRate)
	}
}

func TestRunHonoursTheRateLimit(t *testing.T) {
	srv := start(t, fakellm.Options{})
	s := suite(srv.URL, 4)
	s.Providers[0].Config.RPM = 600 // one call every 100 ms
	eng, err := Prepare(s, Options{Getenv: getenv, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := eng.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 250*time.Millisecond {
		t.Errorf("4 calls at 600 rpm took %v; the limit allows one per 100 ms", d)
	}
}

func TestCacheAnswersTheSecondRun(t *testing.T) {
	srv := start(t, fakellm.Options{})
	s := suite(srv.URL, 5)
	cache := NewCache(t.TempDir())
	for round := range 2 {
		eng, err := Prepare(s, Options{Getenv: getenv, Cache: cache, Repeat: 2})
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := eng.Run(context.Background())
		for _, r := range rep.Results {
			if r.Cached != (round == 1) {
				t.Fatalf("round %d: cached = %v", round, r.Cached)
			}
		}
	}
	if srv.Count() != 10 {
		t.Errorf("provider calls = %d, want 10: the second run should come from the cache, each repeat its own entry", srv.Count())
	}
}

func TestCancelledRunIsIncompleteAndResumes(t *testing.T) {
	srv := start(t, fakellm.Options{Latency: 50 * time.Millisecond})
	s := suite(srv.URL, 20)
	eng, err := Prepare(s, Options{Getenv: getenv, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Millisecond)
	defer cancel()
	partial, err := eng.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if partial.Run.Status != report.StatusIncomplete || len(partial.Results) == 0 || len(partial.Results) >= 20 {
		t.Fatalf("status %s with %d results; want an incomplete run with some results", partial.Run.Status, len(partial.Results))
	}
	for _, r := range partial.Results {
		if r.Error != "" {
			t.Fatalf("a cancelled call must not be stored as an error: %q", r.Error)
		}
	}
	calls := srv.Count()
	eng, _ = Prepare(s, Options{Getenv: getenv, Concurrency: 4, Resume: partial})
	full, err := eng.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if full.Run.ID != partial.Run.ID || full.Run.Status != report.StatusComplete || len(full.Results) != 20 {
		t.Fatalf("resume: id %s status %s results %d", full.Run.ID, full.Run.Status, len(full.Results))
	}
	if extra := srv.Count() - calls; extra != 20-len(partial.Results) {
		t.Errorf("resume made %d calls, want %d (only the missing samples)", extra, 20-len(partial.Results))
	}

	s.Hash = "changed"
	eng, _ = Prepare(s, Options{Getenv: getenv, Resume: partial})
	if _, err := eng.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "different config") {
		t.Errorf("resuming with another config: err = %v", err)
	}
}

func TestPrepareReportsEveryAssertionError(t *testing.T) {
	s := suite("http://127.0.0.1:1/v1", 2)
	s.Tests[0].Assert = append(s.Tests[0].Assert, config.Assertion{Type: "regex", Base: "regex", Value: "([", Pos: config.Pos{File: "s.yaml", Line: 3, Col: 5}})
	s.Tests[1].Assert = append(s.Tests[1].Assert, config.Assertion{Type: "llm-rubric", Base: "llm-rubric", Value: "polite", Pos: config.Pos{File: "s.yaml", Line: 9, Col: 5}})
	_, err := Prepare(s, Options{Getenv: getenv})
	errs, ok := err.(config.Errors)
	if !ok || len(errs) != 2 {
		t.Fatalf("err = %v; want two config errors", err)
	}
	if !strings.HasPrefix(errs[0].Error(), "s.yaml:3:5:") || !strings.HasPrefix(errs[1].Error(), "s.yaml:9:5:") {
		t.Errorf("errors = %q", errs.Error())
	}
}

func TestUnreachableProviderFailsFast(t *testing.T) {
	s := suite("http://127.0.0.1:1/v1", 200) // nothing listens on port 1
	eng, err := Prepare(s, Options{Getenv: getenv, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	rep, _ := eng.Run(context.Background())
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("200 samples against a dead endpoint took %v; the run should give up on it quickly", d)
	}
	if rep.Summary.Errors != 200 {
		t.Fatalf("errors = %d, want 200", rep.Summary.Errors)
	}
	last := rep.Results[199].Error
	if !strings.Contains(last, "could not be reached") || !strings.Contains(last, "127.0.0.1:1") {
		t.Errorf("later samples should say why they were not called: %q", last)
	}
}

// hangAfterFirst makes the fake server hang on the five calls after the first answer.
type hangAfterFirst struct{ srv *fakellm.Server }

func (h hangAfterFirst) Start(int) {}
func (h hangAfterFirst) Done(_ *report.Result, _, done int, _ float64) {
	if done == 1 {
		h.srv.Enqueue(fakellm.Fault{Hang: true, Times: 5})
	}
}
func (h hangAfterFirst) Finish() {}

func TestFlakyProviderIsNotCutOff(t *testing.T) {
	srv := start(t, fakellm.Options{})
	s := suite(srv.URL, 10)
	s.Providers[0].Config.Timeout = 100 * time.Millisecond
	s.Providers[0].Config.MaxRetries = -1
	eng, err := Prepare(s, Options{Getenv: getenv, Concurrency: 1, Progress: hangAfterFirst{srv}})
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := eng.Run(context.Background())
	// A provider that answered once is reachable: five timeouts in a row do not stop the run
	// from calling it, and the four calls after them are answered.
	if rep.Summary.Passed != 5 || rep.Summary.Errors != 5 {
		t.Errorf("passed %d, errors %d; want 5 and 5", rep.Summary.Passed, rep.Summary.Errors)
	}
	for _, r := range rep.Results {
		if strings.Contains(r.Error, "not called") {
			t.Fatalf("a provider that answered was cut off: %s", r.Error)
		}
	}
}
