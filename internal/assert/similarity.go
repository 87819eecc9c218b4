package assert

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/metric"
	"github.com/plumbhq/plumb/internal/provider"
)

// Default thresholds, as in promptfoo.
const (
	defaultLevenshtein = 5    // maximum edit distance
	defaultBLEU        = 0.5  // minimum BLEU-4
	defaultRouge       = 0.75 // minimum ROUGE F1
	defaultSimilar     = 0.75 // minimum cosine similarity
)

// compileLevenshtein: the edit distance between output and value is at most the threshold.
// The score is 1 or 0, as in promptfoo: the threshold already says how close is close enough.
func compileLevenshtein(a *config.Assertion) (checkFunc, error) {
	v, err := valueString(a, "the reference text")
	if err != nil {
		return nil, err
	}
	tv := newText(v)
	t, err := threshold(a, defaultLevenshtein, false)
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, in *Input) outcome {
		want := tv.with(in.Vars)
		d := metric.Levenshtein(in.Output, want)
		pass := within(float64(d), t)
		return outcome{pass: pass, score: boolScore(pass),
			want:    fmt.Sprintf("edit distance to %s <= %s", quote(want), fmtScore(t)),
			wantNot: fmt.Sprintf("edit distance to %s > %s", quote(want), fmtScore(t)),
			got:     fmt.Sprintf("%d for %s", d, quote(in.Output))}
	}, nil
}

// compileBLEU: sentence BLEU-4 of the output against the value (one reference or a list)
// reaches the threshold; the score is the BLEU value.
func compileBLEU(a *config.Assertion) (checkFunc, error) {
	var refs []string
	if l, ok := a.Value.([]any); ok {
		for _, e := range l {
			s, ok := scalarString(e)
			if !ok {
				return nil, errAt(a, "bleu references must be strings; the list holds a "+kindOf(e), "")
			}
			refs = append(refs, s)
		}
		if len(refs) == 0 {
			return nil, errAt(a, "bleu needs at least one reference text", "")
		}
	} else {
		s, err := valueString(a, "the reference text, or a list of them")
		if err != nil {
			return nil, err
		}
		refs = []string{s}
	}
	t, err := threshold(a, defaultBLEU, true)
	if err != nil {
		return nil, err
	}
	trefs := texts(refs)
	return scoreCheck("BLEU", t, func(in *Input) float64 { return metric.BLEU(in.Output, withAll(trefs, in.Vars)) }), nil
}

// compileRouge: ROUGE-N (config n, default 1) or ROUGE-L of the output against the value
// reaches the threshold. The score is the F1 unless config.measure picks precision or recall:
// F1 neither rewards an answer for padding (recall) nor for saying little (precision).
func compileRouge(base string, a *config.Assertion) (checkFunc, error) {
	v, err := valueString(a, "the reference text")
	if err != nil {
		return nil, err
	}
	ref := newText(v)
	t, err := threshold(a, defaultRouge, true)
	if err != nil {
		return nil, err
	}
	measure, err := cfgString(a, "measure")
	if err != nil {
		return nil, err
	}
	pick := func(s metric.Score) float64 { return s.F1 }
	switch measure {
	case "", "f1", "f":
	case "recall":
		pick = func(s metric.Score) float64 { return s.Recall }
	case "precision":
		pick = func(s metric.Score) float64 { return s.Precision }
	default:
		return nil, errAt(a, fmt.Sprintf("config.measure %q is not a ROUGE measure", measure), "use f1 (the default), recall or precision")
	}
	if base == "rouge-l" {
		return scoreCheck("ROUGE-L", t, func(in *Input) float64 { return pick(metric.RougeL(in.Output, ref.with(in.Vars))) }), nil
	}
	n := 1
	if v, ok := cfg(a, "n"); ok {
		f, isNum := number(v)
		if !isNum || f < 1 || f > 9 || f != float64(int(f)) {
			return nil, errAt(a, fmt.Sprintf("rouge-n config.n must be a whole number from 1 to 9, got %v", v), "")
		}
		n = int(f)
	}
	return scoreCheck(fmt.Sprintf("ROUGE-%d", n), t, func(in *Input) float64 { return pick(metric.RougeN(in.Output, ref.with(in.Vars), n)) }), nil
}

// scoreCheck is a check whose score is a 0..1 metric that passes at the threshold.
func scoreCheck(name string, t float64, score func(*Input) float64) checkFunc {
	return func(_ context.Context, in *Input) outcome {
		s := score(in)
		return outcome{pass: reaches(s, t), score: s,
			want:    fmt.Sprintf("%s >= %s", name, fmtScore(t)),
			wantNot: fmt.Sprintf("%s < %s", name, fmtScore(t)),
			got:     fmt.Sprintf("%s for %s", fmt3(s), quote(in.Output))}
	}
}

// compileSimilar: the cosine similarity of the embeddings of output and value (or the best
// of a list of values) reaches the threshold. The embeddings of the expected values are
// computed once per checker and text, and reused for every sample.
func compileSimilar(a *config.Assertion, env *Env) (checkFunc, error) {
	var want []string
	if l, ok := a.Value.([]any); ok {
		for _, e := range l {
			s, ok := scalarString(e)
			if !ok {
				return nil, errAt(a, "similar values must be strings; the list holds a "+kindOf(e), "")
			}
			want = append(want, s)
		}
	} else if s, err := valueString(a, "the text the output should mean"); err != nil {
		return nil, err
	} else {
		want = []string{s}
	}
	if len(want) == 0 {
		return nil, errAt(a, "similar needs at least one expected text", "")
	}
	t, err := threshold(a, defaultSimilar, true)
	if err != nil {
		return nil, err
	}
	emb, err := embedder(a, env)
	if err != nil {
		return nil, err
	}
	cache := &vectorCache{}
	twant := texts(want)
	return func(ctx context.Context, in *Input) outcome {
		want := withAll(twant, in.Vars)
		what := quote(want[0])
		if len(want) > 1 {
			what = "any of " + quoteList(want)
		}
		o := outcome{want: fmt.Sprintf("similarity to %s >= %s", what, fmtScore(t)),
			wantNot: fmt.Sprintf("similarity to %s < %s", what, fmtScore(t))}
		out, _, err := emb.Embed(ctx, in.Output)
		if err != nil {
			o.err = "could not embed the output: " + oneLine(err.Error())
			return o
		}
		best := -1.0
		for _, w := range want {
			v, err := cache.get(ctx, emb, w)
			if err != nil {
				o.err = "could not embed the expected text: " + oneLine(err.Error())
				return o
			}
			if len(v) != len(out) || len(v) == 0 {
				o.err = fmt.Sprintf("embeddings differ in length (%d and %d): the embedding provider is inconsistent", len(out), len(v))
				return o
			}
			best = max(best, metric.Cosine(out, v))
		}
		o.pass, o.score = reaches(best, t), best
		o.got = fmt.Sprintf("%s for %s", fmt3(best), quote(in.Output))
		return o
	}, nil
}

// vectorCache holds the embeddings of an assertion's expected texts. A failed embedding is
// not cached, so that a transient error does not fail every later sample.
type vectorCache struct {
	mu   sync.Mutex
	vecs map[string][]float64
}

func (c *vectorCache) get(ctx context.Context, emb provider.Embedder, text string) ([]float64, error) {
	c.mu.Lock()
	v, ok := c.vecs[text]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	// Two samples may embed the same text at once on a cold cache; that costs one extra call
	// but never holds the lock across a network call.
	v, _, err := emb.Embed(ctx, text)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.vecs == nil {
		c.vecs = map[string][]float64{}
	}
	c.vecs[text] = v
	c.mu.Unlock()
	return v, nil
}

// embedder is the assertion's own embedding provider, or the suite's.
func embedder(a *config.Assertion, env *Env) (provider.Embedder, error) {
	if a.Provider != nil && env.BuildEmbedder != nil {
		e, err := env.BuildEmbedder(a.Provider)
		if err != nil {
			if ce := (*config.Error)(nil); errors.As(err, &ce) {
				return nil, ce
			}
			return nil, errAt(a, fmt.Sprintf("cannot use provider %q: %s", a.Provider.ID, oneLine(err.Error())), "")
		}
		if e == nil {
			return nil, errAt(a, fmt.Sprintf("cannot use provider %q", a.Provider.ID), "")
		}
		return e, nil
	}
	if a.Provider != nil {
		p, err := buildProvider(a, env)
		if err != nil {
			return nil, err
		}
		e, ok := p.(provider.Embedder)
		if !ok {
			return nil, errAt(a, fmt.Sprintf("provider %q cannot make embeddings", a.Provider.ID),
				"similar needs an embedding provider, e.g. provider: openai:embedding:text-embedding-3-small")
		}
		return e, nil
	}
	if env.Embedder == nil {
		return nil, errAt(a, "no embedding provider configured",
			"similar compares embeddings: set the suite's embedding provider or `provider:` on this assertion "+
				"(e.g. openai:embedding:text-embedding-3-small); Plumb never picks one for you")
	}
	return env.Embedder, nil
}

// buildProvider makes the provider an assertion names in its own provider key.
func buildProvider(a *config.Assertion, env *Env) (provider.Provider, error) {
	id := a.Provider.ID
	if env.Build == nil {
		return nil, errAt(a, fmt.Sprintf("cannot use provider %q here: no provider builder is available", id), "")
	}
	p, err := env.Build(a.Provider)
	if err != nil {
		if ce := (*config.Error)(nil); errors.As(err, &ce) {
			return nil, ce
		}
		return nil, errAt(a, fmt.Sprintf("cannot use provider %q: %s", id, oneLine(err.Error())), "")
	}
	if p == nil {
		return nil, errAt(a, fmt.Sprintf("cannot use provider %q", id), "")
	}
	return p, nil
}
