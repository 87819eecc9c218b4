package review

import (
	"fmt"

	"github.com/plumbhq/plumb/internal/agreement"
)

// JudgeAgreement is how well a model-graded assertion (an LLM judge) agrees with the human
// consensus on the same results.
type JudgeAgreement struct {
	Assertion          string  `json:"assertion"`
	N                  int     `json:"n"` // results with both a judge verdict and a human consensus
	Agree              int     `json:"agree"`
	Rate               float64 `json:"rate"`
	Kappa              *Stat   `json:"cohen_kappa,omitempty"` // nil when undefined (e.g. both constant), with Note saying so
	BothPass           int     `json:"both_pass"`
	BothFail           int     `json:"both_fail"`
	JudgePassHumanFail int     `json:"judge_pass_human_fail"`
	JudgeFailHumanPass int     `json:"judge_fail_human_pass"`
	Note               string  `json:"note,omitempty"`
}

// CompareJudge compares an assertion's verdicts (judge: result id -> passed) with the human
// consensus on the same results (human: result id -> passed). Only ids in both count. Rate
// is the share of results where they agree; Kappa is Cohen's κ between judge and humans,
// which discounts the agreement two raters reach by chance when most results pass.
func CompareJudge(assertion string, judge, human map[string]bool) JudgeAgreement {
	ja := JudgeAgreement{Assertion: assertion}
	for id, j := range judge {
		h, ok := human[id]
		if !ok {
			continue
		}
		ja.N++
		switch {
		case j && h:
			ja.BothPass++
		case !j && !h:
			ja.BothFail++
		case j:
			ja.JudgePassHumanFail++
		default:
			ja.JudgeFailHumanPass++
		}
	}
	if ja.N == 0 {
		ja.Note = fmt.Sprintf("no result has both a verdict of %s and a human consensus (%d judged, %d with a consensus)", assertion, len(judge), len(human))
		return ja
	}
	ja.Agree = ja.BothPass + ja.BothFail
	ja.Rate = float64(ja.Agree) / float64(ja.N)
	// Rows are the judge's verdict, columns the humans': pass, fail.
	k, err := agreement.CohenKappaMatrix([][]int{
		{ja.BothPass, ja.JudgePassHumanFail},
		{ja.JudgeFailHumanPass, ja.BothFail},
	})
	if err != nil {
		ja.Note = fmt.Sprintf("Cohen's κ is undefined: the judge and the humans gave every one of the %d results the same verdict, so chance agreement is 1", ja.N)
		return ja
	}
	ja.Kappa = &Stat{Value: k, Reading: string(agreement.LandisKoch(k)), N: ja.N}
	return ja
}

// HumanVerdicts is the human consensus on a boolean field, by item: the "human" argument of
// CompareJudge when items are result ids. Items without a consensus are left out.
func HumanVerdicts(f Field, labels []Label) (map[string]bool, error) {
	if f.Kind != Boolean {
		return nil, fmt.Errorf("field %q is %s: verdicts come from a boolean field", f.Name, f.Kind)
	}
	fl, err := collect(f, labels)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, it := range fl.items {
		vs := make([]string, len(fl.votes[it]))
		for i, v := range fl.votes[it] {
			vs[i] = v.value
		}
		if c, ok := Consensus(f, vs); ok {
			out[it] = c == "true"
		}
	}
	return out, nil
}
