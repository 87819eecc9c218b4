// Package agreement measures how far annotators agree beyond what chance would give: Cohen's κ
// for two annotators, Fleiss' κ for a fixed number of raters per item, and Krippendorff's α
// for any number of coders, missing values and a choice of metric. Annotation queues use it to
// tell whether human labels are reliable enough to serve as a golden set, and evals use it to
// compare an LLM judge with the human consensus.
//
// Every statistic returns NaN with an error when it is not defined, so a caller can never
// mistake "no evidence" for a number: ErrNoData when there are too few pairable ratings,
// ErrNoVariation when every rating falls in one category (chance agreement is then 1 and the
// statistic is 0/0), and a plain error naming the problem for malformed input.
package agreement

import (
	"errors"
	"math"
)

// ErrNoData reports that the input holds too few pairable ratings for the statistic: no items,
// or (for Krippendorff's α) fewer than two values in every unit.
var ErrNoData = errors.New("agreement: too few pairable ratings")

// ErrNoVariation reports that every pairable rating is the same value, so the agreement
// expected by chance is 1 (the expected disagreement 0) and the statistic is 0/0. It is not
// reported as 1: a queue where everyone labelled everything "ok" shows that the annotators
// agree on these items but says nothing about whether they could tell categories apart, and
// Krippendorff (2011) likewise leaves α undefined for data without variation. Add items that
// exercise the other categories, or report raw percent agreement instead.
var ErrNoVariation = errors.New("agreement: all ratings in one category; chance agreement is 1 and the statistic is undefined")

// chanceCorrected returns (po − pe)/(1 − pe), the form shared by Cohen's and Fleiss' κ, or
// NaN and ErrNoVariation when pe is 1 (to rounding) and the ratio is 0/0.
func chanceCorrected(po, pe float64) (float64, error) {
	if 1-pe <= 1e-12 {
		return math.NaN(), ErrNoVariation
	}
	return (po - pe) / (1 - pe), nil
}

// intern maps each distinct label to a dense index in order of first appearance.
type intern[L comparable] struct {
	index map[L]int
}

func newIntern[L comparable]() *intern[L] { return &intern[L]{index: make(map[L]int)} }

// id returns the index of label l, assigning the next one to a label not seen before.
func (in *intern[L]) id(l L) int {
	if i, ok := in.index[l]; ok {
		return i
	}
	i := len(in.index)
	in.index[l] = i
	return i
}

// len is the number of distinct labels seen.
func (in *intern[L]) len() int { return len(in.index) }
