package agreement

import (
	"fmt"
	"math"
)

// CohenKappa returns Cohen's κ for two annotators who labelled the same items: a[i] and b[i]
// are their labels for item i. κ = (pₒ − pₑ)/(1 − pₑ), where pₒ is the share of items on which
// they agree and pₑ = Σ_c pₐ(c)·p_b(c) the agreement expected if each labelled at random
// with their own label frequencies. 1 is perfect agreement, 0 chance level, below 0 worse
// than chance. Labels are compared with ==, so any comparable type works (strings, ints, a
// named enum); no value stands for "missing": drop unpaired items first.
//
// Errors: different lengths; ErrNoData for no items; ErrNoVariation when both annotators
// gave every item one and the same label.
func CohenKappa[L comparable](a, b []L) (float64, error) {
	if len(a) != len(b) {
		return math.NaN(), fmt.Errorf("agreement: Cohen's kappa needs one label from each annotator per item; got %d and %d labels", len(a), len(b))
	}
	if len(a) == 0 {
		return math.NaN(), ErrNoData
	}
	in := newIntern[L]()
	ia := make([]int, len(a))
	ib := make([]int, len(b))
	for i := range a {
		ia[i] = in.id(a[i])
		ib[i] = in.id(b[i])
	}
	k := in.len()
	rows := make([]int, k)
	cols := make([]int, k)
	agree := 0
	for i := range ia {
		rows[ia[i]]++
		cols[ib[i]]++
		if ia[i] == ib[i] {
			agree++
		}
	}
	return cohenFromMargins(agree, rows, cols, len(a))
}

// CohenKappaMatrix returns Cohen's κ from a k × k confusion matrix: confusion[i][j] is the
// number of items the first annotator put in category i and the second in category j, with
// both using the same category order. See CohenKappa for the definition.
//
// Errors: a matrix that is not square or has a negative count; ErrNoData when all counts are
// zero; ErrNoVariation when every count is in one diagonal cell.
func CohenKappaMatrix(confusion [][]int) (float64, error) {
	k := len(confusion)
	rows := make([]int, k)
	cols := make([]int, k)
	agree, n := 0, 0
	for i, row := range confusion {
		if len(row) != k {
			return math.NaN(), fmt.Errorf("agreement: confusion matrix must be square: row %d has %d columns, want %d", i, len(row), k)
		}
		for j, c := range row {
			if c < 0 {
				return math.NaN(), fmt.Errorf("agreement: confusion matrix cell [%d][%d] is %d; counts cannot be negative", i, j, c)
			}
			rows[i] += c
			cols[j] += c
			n += c
			if i == j {
				agree += c
			}
		}
	}
	if n == 0 {
		return math.NaN(), ErrNoData
	}
	return cohenFromMargins(agree, rows, cols, n)
}

// cohenFromMargins computes κ from the number of agreeing items, the two annotators' category
// totals and the number of items n > 0.
func cohenFromMargins(agree int, rows, cols []int, n int) (float64, error) {
	nf := float64(n)
	var pe float64
	for c := range rows {
		pe += float64(rows[c]) / nf * (float64(cols[c]) / nf)
	}
	return chanceCorrected(float64(agree)/nf, pe)
}

// FleissKappa returns Fleiss' κ for N items each rated by the same number n ≥ 2 of raters
// (not necessarily the same people) into k categories: counts[i][j] is the number of raters
// who put item i in category j, so every row sums to n. With Pᵢ = (Σⱼ nᵢⱼ² − n)/(n(n − 1)) the
// share of agreeing rater pairs on item i, P̄ their mean, pⱼ = Σᵢ nᵢⱼ/(N·n) the share of all
// ratings in category j and P̄ₑ = Σⱼ pⱼ², κ = (P̄ − P̄ₑ)/(1 − P̄ₑ). With two raters it is Scott's
// π, not Cohen's κ (the chance term pools both raters' frequencies).
//
// Errors: rows of different lengths or sums, a negative count, a row sum below 2; ErrNoData
// for no items; ErrNoVariation when every rating is in one category.
func FleissKappa(counts [][]int) (float64, error) {
	if len(counts) == 0 {
		return math.NaN(), ErrNoData
	}
	k := len(counts[0])
	totals := make([]float64, k)
	n := -1
	var sumP float64
	for i, row := range counts {
		if len(row) != k {
			return math.NaN(), fmt.Errorf("agreement: Fleiss' kappa count matrix row %d has %d categories, row 0 has %d; every row needs one count per category", i, len(row), k)
		}
		s, sq := 0, 0
		for j, c := range row {
			if c < 0 {
				return math.NaN(), fmt.Errorf("agreement: Fleiss' kappa count [%d][%d] is %d; counts cannot be negative", i, j, c)
			}
			s += c
			sq += c * c
			totals[j] += float64(c)
		}
		if n < 0 {
			n = s
			if n < 2 {
				return math.NaN(), fmt.Errorf("agreement: Fleiss' kappa needs at least 2 ratings per item; item 0 has %d", n)
			}
		} else if s != n {
			return math.NaN(), fmt.Errorf("agreement: Fleiss' kappa needs the same number of ratings per item; item %d has %d, item 0 has %d (use Krippendorff's alpha for unequal numbers)", i, s, n)
		}
		sumP += float64(sq-n) / float64(n*(n-1))
	}
	N := float64(len(counts))
	all := N * float64(n)
	var pe float64
	for _, t := range totals {
		p := t / all
		pe += p * p
	}
	return chanceCorrected(sumP/N, pe)
}

// FleissKappaLabels returns Fleiss' κ from the labels each item received: items[i] lists the
// labels of item i's raters, in any order, and every item must have the same number of labels,
// at least 2. See FleissKappa for the definition and errors.
func FleissKappaLabels[L comparable](items [][]L) (float64, error) {
	if len(items) == 0 {
		return math.NaN(), ErrNoData
	}
	in := newIntern[L]()
	ids := make([][]int, len(items))
	for i, labels := range items {
		if len(labels) != len(items[0]) {
			return math.NaN(), fmt.Errorf("agreement: Fleiss' kappa needs the same number of ratings per item; item %d has %d, item 0 has %d (use Krippendorff's alpha for unequal numbers)", i, len(labels), len(items[0]))
		}
		ids[i] = make([]int, len(labels))
		for j, l := range labels {
			ids[i][j] = in.id(l)
		}
	}
	k := in.len()
	cells := make([]int, len(items)*k)
	counts := make([][]int, len(items))
	for i, row := range ids {
		counts[i] = cells[i*k : (i+1)*k : (i+1)*k]
		for _, c := range row {
			counts[i][c]++
		}
	}
	return FleissKappa(counts)
}
