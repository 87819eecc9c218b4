package assert

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/plumbhq/plumb/internal/config"
)

// Limits of a user's expression. expr has no I/O, but a large or looping expression could
// still eat a CPU: the node count bounds its size, the VM's memory budget its loops, and the
// timeout what is left.
const (
	exprMaxNodes     = 2000
	exprMemoryBudget = 1_000_000 // expr's unit: roughly the elements its loops and ranges allocate
	exprTimeout      = 2 * time.Second
	defaultExprScore = 0.5
)

// exprEnv is what an expression sees. Its field set is the documented expr environment.
type exprEnv struct {
	Output    string         `expr:"output"`
	Vars      map[string]any `expr:"vars"`
	LatencyMS float64        `expr:"latency_ms"`
	Cost      float64        `expr:"cost"`
	Tokens    exprTokens     `expr:"tokens"`
	Prompt    string         `expr:"prompt"`
}

// exprTokens is the sample's token usage, as tokens.prompt, tokens.completion and so on.
type exprTokens struct {
	Prompt     int `expr:"prompt"`
	Completion int `expr:"completion"`
	Total      int `expr:"total"`
	Cached     int `expr:"cached"`
}

// compileExpr: a sandboxed expression (github.com/expr-lang/expr) over output, vars,
// latency_ms, cost, tokens and prompt, compiled and type-checked once here. A boolean result
// passes or fails; a number is the score (clamped to 0..1) and passes at the threshold
// (default 0.5). now() is disabled so that a replayed run gives the same verdicts.
func compileExpr(a *config.Assertion) (checkFunc, error) {
	code, err := valueString(a, "an expression, e.g. len(output) < 500")
	if err != nil {
		return nil, err
	}
	t, err := threshold(a, defaultExprScore, true)
	if err != nil {
		return nil, err
	}
	prog, err := expr.Compile(code,
		expr.Env(exprEnv{}),
		expr.MaxNodes(exprMaxNodes),
		expr.DisableBuiltin("now"),
	)
	if err != nil {
		msg := err.Error()
		var fe *file.Error
		if errors.As(err, &fe) {
			msg = fe.Message
			if fe.Line > 0 {
				msg = fmt.Sprintf("%s (line %d, column %d)", fe.Message, fe.Line, fe.Column+1)
			}
		}
		return nil, errAt(a, fmt.Sprintf("invalid expr %q: %s", code, msg),
			"an expression sees output, vars, latency_ms, cost, tokens (prompt, completion, total, cached) and prompt; "+
				"it returns true/false or a score from 0 to 1 (syntax: expr-lang.org)")
	}
	return func(ctx context.Context, in *Input) outcome {
		o := outcome{want: fmt.Sprintf("%s to hold", quote(code)), wantNot: fmt.Sprintf("%s not to hold", quote(code))}
		env := exprEnv{
			Output: in.Output, Vars: in.Vars, LatencyMS: in.LatencyMS, Cost: in.Cost, Prompt: in.Prompt,
			Tokens: exprTokens{Prompt: in.Tokens.Prompt, Completion: in.Tokens.Completion, Total: in.Tokens.Total, Cached: in.Tokens.Cached},
		}
		if env.Vars == nil {
			env.Vars = map[string]any{}
		}
		res, err := runExpr(ctx, prog, env)
		if err != nil {
			msg := err.Error()
			var fe *file.Error
			if errors.As(err, &fe) {
				msg = fe.Message // without the source snippet, which the reason already quotes
			}
			o.err = fmt.Sprintf("expr %s failed: %s", quote(code), oneLine(msg))
			return o
		}
		switch v := res.(type) {
		case bool:
			o.pass, o.score = v, boolScore(v)
			o.got = fmt.Sprintf("%v for %s", v, quote(in.Output))
			return o
		}
		f, ok := number(res)
		if _, isStr := res.(string); ok && !isStr {
			o.want = fmt.Sprintf("%s >= %s", quote(code), fmtScore(t))
			o.wantNot = fmt.Sprintf("%s < %s", quote(code), fmtScore(t))
			o.score = clamp01(f)
			o.pass = reaches(o.score, t)
			o.got = fmt.Sprintf("%s for %s", fmt3(f), quote(in.Output))
			return o
		}
		o.err = fmt.Sprintf("expr %s returned %s; it must return true/false or a number", quote(code), kindOf(res))
		return o
	}, nil
}

// runExpr runs a program in its own VM, with the memory budget, giving up at the timeout or
// when ctx ends. expr's VM cannot be interrupted: a run that overstays is abandoned, and the
// memory budget bounds how long it can go on.
func runExpr(ctx context.Context, prog *vm.Program, env exprEnv) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, exprTimeout)
	defer cancel()
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		m := vm.VM{MemoryBudget: exprMemoryBudget}
		v, err := m.Run(prog, env)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("took longer than %s", exprTimeout)
		}
		return nil, ctx.Err()
	}
}
