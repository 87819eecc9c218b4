package assert

import (
	"context"
	"fmt"
	"strconv"

	"github.com/plumbhq/plumb/internal/config"
)

// compileBudget: latency (the call took at most threshold milliseconds) and cost (it cost at
// most threshold USD). The measures are the sample's as recorded, so a sample served from the
// cache or a cassette is judged on the latency and cost of the call that produced it.
func compileBudget(base string, a *config.Assertion) (checkFunc, error) {
	unit, example := "milliseconds", "threshold: 2000"
	if base == "cost" {
		unit, example = "USD", "threshold: 0.002"
	}
	if a.Threshold == nil {
		return nil, errAt(a, fmt.Sprintf("%s needs a threshold: the most it may take, in %s", typeName(a), unit), "e.g. "+example)
	}
	t, err := threshold(a, 0, false)
	if err != nil {
		return nil, err
	}
	if base == "latency" {
		return func(_ context.Context, in *Input) outcome {
			pass := within(in.LatencyMS, t)
			return outcome{pass: pass, score: boolScore(pass),
				want: fmt.Sprintf("latency <= %s ms", fmtScore(t)), wantNot: fmt.Sprintf("latency > %s ms", fmtScore(t)),
				got: strconv.FormatFloat(in.LatencyMS, 'f', -1, 64) + " ms"}
		}, nil
	}
	return func(_ context.Context, in *Input) outcome {
		pass := within(in.Cost, t)
		return outcome{pass: pass, score: boolScore(pass),
			want: fmt.Sprintf("cost <= $%s", fmtScore(t)), wantNot: fmt.Sprintf("cost > $%s", fmtScore(t)),
			got: "$" + strconv.FormatFloat(in.Cost, 'f', -1, 64)}
	}, nil
}
