package assert

import "github.com/plumbhq/plumb/internal/report"

// Score combines one sample's assertion results as promptfoo does. The score is the weighted
// mean Σ(score·weight)/Σweight; with no assertions it is 1, and when every weight is 0 it is
// 1 if nothing failed and 0 otherwise. Without a threshold the sample passes when no
// assertion failed; with one, when the score reaches it. An assertion that could not be
// evaluated (Error) fails the sample either way: an unanswered question is never a pass.
func Score(results []report.Assertion, threshold *float64) (passed bool, score float64) {
	if len(results) == 0 {
		return true, 1
	}
	var sum, weights float64
	failed, errored := false, false
	for _, r := range results {
		if r.Error {
			errored = true
		}
		if !r.Passed {
			failed = true
		}
		if r.Weight > 0 {
			sum += r.Score * r.Weight
			weights += r.Weight
		}
	}
	switch {
	case weights > 0:
		score = sum / weights
	case failed:
		score = 0
	default:
		score = 1
	}
	if errored {
		return false, score
	}
	if threshold != nil {
		return reaches(score, *threshold), score
	}
	return !failed, score
}
