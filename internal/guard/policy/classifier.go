package policy

import (
	"context"
	"fmt"
	"time"

	"github.com/plumbhq/plumb/internal/guard"
)

// ClassifierConfig is the model an llm_classifier step names in its options.
type ClassifierConfig struct {
	// Provider is, in the gateway, one of gateway.yaml's providers by name; in plumb guard
	// check, an eval-style provider id (openai, anthropic, openai:chat:MODEL,
	// anthropic:messages:MODEL).
	Provider string
	Model    string
	// BaseURL and APIKeyEnv configure the provider in plumb guard check; the gateway
	// refuses them (its providers carry their own).
	BaseURL, APIKeyEnv string
}

// DefaultClassifierTimeout bounds one llm_classifier call when the step sets no timeout_ms.
const DefaultClassifierTimeout = 10 * time.Second

// classifierStep is what the policy layer keeps of an llm_classifier step's options.
type classifierStep struct {
	timeout time.Duration
	onError string // allow or block
}

// classifierKeys are the llm_classifier options the policy layer reads itself; the others
// (role, categories) go to the detector.
var classifierKeys = []string{"provider", "model", "base_url", "api_key_env", "timeout_ms", "on_error"}

// classifierSpec builds an llm_classifier step's detector spec, its model filled in.
func classifierSpec(path string, s Step, opt Options) (guard.Spec, *classifierStep, *Problem) {
	at := path + ".options"
	str := func(k string) (string, *Problem) {
		v, ok := s.Options[k]
		if !ok || v == nil {
			return "", nil
		}
		t, ok := v.(string)
		if !ok {
			return "", &Problem{at + "." + k, fmt.Sprintf("option %q must be a string, not %T", k, v), "quote the value"}
		}
		return t, nil
	}
	var cfg ClassifierConfig
	for i, dst := range []*string{&cfg.Provider, &cfg.Model, &cfg.BaseURL, &cfg.APIKeyEnv} {
		v, p := str(classifierKeys[i])
		if p != nil {
			return guard.Spec{}, nil, p
		}
		*dst = v
	}
	cs := &classifierStep{timeout: DefaultClassifierTimeout, onError: ActionBlock}
	onError, p := str("on_error")
	if p != nil {
		return guard.Spec{}, nil, p
	}
	switch onError {
	case "":
	case ActionAllow, ActionBlock:
		cs.onError = onError
	default:
		return guard.Spec{}, nil, &Problem{at + ".on_error", fmt.Sprintf("unknown on_error %q", onError), "use block (the default: a failed check blocks the text) or allow (it lets the text through)"}
	}
	if v, ok := s.Options["timeout_ms"]; ok {
		n, ok := wholeNumber(v)
		if !ok || n < 1 || n > 600000 {
			return guard.Spec{}, nil, &Problem{at + ".timeout_ms", fmt.Sprintf("timeout_ms must be a whole number of milliseconds from 1 to 600000, not %v", v), "write e.g. timeout_ms: 10000"}
		}
		cs.timeout = time.Duration(n) * time.Millisecond
	}
	var classify guard.Classify
	switch {
	case opt.Classifier != nil:
		if cfg.Provider == "" {
			return guard.Spec{}, nil, &Problem{at, "llm_classifier needs options.provider: the model to ask", "write options: {provider: NAME, model: MODEL} (see docs/guard.md)"}
		}
		c, err := opt.Classifier(cfg)
		if err != nil {
			return guard.Spec{}, nil, &Problem{at + ".provider", err.Error(), "see docs/guard.md, llm_classifier"}
		}
		classify = c
	case opt.Classify != nil:
		classify = opt.Classify
	default:
		return guard.Spec{}, nil, &Problem{path + ".detector", "llm_classifier needs a model to ask, and none is configured here", "use this step in the gateway or plumb guard check, or another detector"}
	}
	spec := guard.Spec{Name: s.Detector, Options: map[string]any{}}
	for k, v := range s.Options {
		spec.Options[k] = v
	}
	for _, k := range classifierKeys {
		delete(spec.Options, k)
	}
	spec.Options["provider"] = classify
	return spec, cs, nil
}

func wholeNumber(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case uint64:
		if n > 1<<40 {
			return 0, false
		}
		return int64(n), true
	case float64:
		if n != float64(int64(n)) {
			return 0, false
		}
		return int64(n), true
	}
	return 0, false
}

// detect runs the step's detector, an llm_classifier one within its timeout.
func (s *step) detect(ctx context.Context, text string) ([]guard.Finding, error) {
	if s.classifier == nil {
		return s.det.Detect(ctx, text)
	}
	cctx, cancel := context.WithTimeout(ctx, s.classifier.timeout)
	defer cancel()
	fs, err := s.det.Detect(cctx, text)
	if err != nil && cctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		err = fmt.Errorf("guard: llm_classifier: no answer within %s (timeout_ms)", s.classifier.timeout)
	}
	return fs, err
}
