package agreement

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Metric is the level of measurement of Krippendorff's α: it defines the squared difference
// δ²(c, k) between two values, and so how much a disagreement counts.
type Metric int

const (
	// Nominal counts every disagreement the same: δ² = 0 if c = k, else 1. For unordered
	// categories (labels, pass/fail).
	Nominal Metric = iota
	// Ordinal uses only the order of the values: δ(c, k) is the distance between their
	// mid-ranks among all pairable values, δ = Σ_{g from c to k} n_g − (n_c + n_k)/2 with n_g
	// the number of pairable values equal to g. For rating scales whose steps are not equal
	// (1–5 Likert grades).
	Ordinal
	// Interval uses the differences: δ² = (c − k)². For scores on an equal-step scale.
	Interval
	// Ratio uses relative differences: δ² = ((c − k)/(c + k))², for non-negative values with
	// a true zero (counts, durations). Its expected disagreement costs O(V²) in the number V
	// of distinct values, so it suits scales of up to a few thousand distinct values.
	Ratio
)

// String returns the metric's name as Krippendorff writes it.
func (m Metric) String() string {
	switch m {
	case Nominal:
		return "nominal"
	case Ordinal:
		return "ordinal"
	case Interval:
		return "interval"
	case Ratio:
		return "ratio"
	}
	return fmt.Sprintf("Metric(%d)", int(m))
}

// KrippendorffAlpha returns Krippendorff's α for numeric ratings: units[u] lists the values
// unit u received, one per coder who rated it, in any order; a coder who skipped the unit is
// simply absent, and NaN values are ignored as missing too (see UnitsFromCoders for a
// coders × units matrix). Any number of coders may rate each unit; units with fewer than two
// values cannot be paired and are left out.
//
// α = 1 − Dₒ/Dₑ, computed as 1 − (n − 1)·Σ_u [Σ_{i≠j in u} δ²(vᵢ, vⱼ)/(m_u − 1)] / Σ_{i≠j} δ²(vᵢ, vⱼ),
// where m_u is the number of values in unit u, n the number of pairable values and the last
// sum runs over all ordered pairs of pairable values: the observed disagreement within units
// against the disagreement expected between any two values (Krippendorff 2011, "Computing
// Krippendorff's Alpha-Reliability"). It equals the coincidence-matrix form without building
// that V × V matrix, so 10⁴ units cost milliseconds whatever the number V of distinct values
// (Ratio excepted). 1 is perfect reliability, 0 chance level, below 0 systematic disagreement.
//
// Errors: an unknown metric, an infinite value, a negative value under Ratio; ErrNoData when
// no unit has two values; ErrNoVariation when every pairable value is the same.
func KrippendorffAlpha(units [][]float64, metric Metric) (float64, error) {
	if metric < Nominal || metric > Ratio {
		return math.NaN(), fmt.Errorf("agreement: unknown Krippendorff metric %v; use Nominal, Ordinal, Interval or Ratio", metric)
	}
	p, err := pairable(units, metric)
	if err != nil {
		return math.NaN(), err
	}
	if len(p.values) == 0 {
		return math.NaN(), ErrNoData
	}
	lo, hi := p.values[0], p.values[0]
	for _, v := range p.values {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo == hi {
		return math.NaN(), ErrNoVariation
	}
	switch metric {
	case Nominal:
		ids := make([]int, len(p.values))
		in := newIntern[float64]()
		for i, v := range p.values {
			ids[i] = in.id(v)
		}
		return nominalAlpha(ids, p.ends, in.len())
	case Ordinal:
		return intervalAlpha(midRanks(p.values), p.ends), nil
	case Interval:
		return intervalAlpha(p.values, p.ends), nil
	}
	return ratioAlpha(p.values, p.ends), nil
}

// KrippendorffAlphaLabels returns Krippendorff's α with the Nominal metric for categorical
// labels of any comparable type: units[u] lists the labels unit u received, missing coders
// absent. See KrippendorffAlpha for the definition and errors.
func KrippendorffAlphaLabels[L comparable](units [][]L) (float64, error) {
	in := newIntern[L]()
	var ids []int
	var ends []int
	for _, u := range units {
		if len(u) < 2 {
			continue
		}
		for _, l := range u {
			ids = append(ids, in.id(l))
		}
		ends = append(ends, len(ids))
	}
	switch {
	case len(ids) == 0:
		return math.NaN(), ErrNoData
	case in.len() == 1:
		return math.NaN(), ErrNoVariation
	}
	return nominalAlpha(ids, ends, in.len())
}

// UnitsFromCoders turns reliability data laid out as Krippendorff does, coders[c][u] the value
// coder c gave unit u with NaN where the coder gave none, into the per-unit lists
// KrippendorffAlpha takes. Every coder needs one entry per unit.
func UnitsFromCoders(coders [][]float64) ([][]float64, error) {
	return unitsFromCoders(coders, func(v float64) bool { return math.IsNaN(v) })
}

// LabelUnitsFromCoders is UnitsFromCoders for labels: coders[c][u] is the label coder c gave
// unit u, and entries equal to missing (often "") mark units the coder did not label.
func LabelUnitsFromCoders[L comparable](coders [][]L, missing L) ([][]L, error) {
	return unitsFromCoders(coders, func(l L) bool { return l == missing })
}

func unitsFromCoders[L any](coders [][]L, isMissing func(L) bool) ([][]L, error) {
	if len(coders) == 0 {
		return nil, nil
	}
	nu := len(coders[0])
	for c, row := range coders {
		if len(row) != nu {
			return nil, fmt.Errorf("agreement: coder %d has %d entries, coder 0 has %d; give every coder one entry per unit, marking the ones they skipped as missing", c, len(row), nu)
		}
	}
	units := make([][]L, nu)
	for u := range units {
		for _, row := range coders {
			if !isMissing(row[u]) {
				units[u] = append(units[u], row[u])
			}
		}
	}
	return units, nil
}

// pairableValues holds the values of the units with at least two of them, flattened: unit i
// is values[ends[i-1]:ends[i]] (with ends[-1] = 0).
type pairableValues struct {
	values []float64
	ends   []int
}

// pairable drops missing values and unpairable units and checks the values suit the metric.
func pairable(units [][]float64, metric Metric) (pairableValues, error) {
	var p pairableValues
	for u, vs := range units {
		start := len(p.values)
		for _, v := range vs {
			switch {
			case math.IsNaN(v):
				continue
			case math.IsInf(v, 0):
				return p, fmt.Errorf("agreement: unit %d has value %v; values must be finite (NaN marks a missing one)", u, v)
			case metric == Ratio && v < 0:
				return p, fmt.Errorf("agreement: unit %d has value %v; the ratio metric needs non-negative values (use Interval for signed scores)", u, v)
			}
			p.values = append(p.values, v)
		}
		if len(p.values)-start < 2 {
			p.values = p.values[:start]
			continue
		}
		p.ends = append(p.ends, len(p.values))
	}
	return p, nil
}

// nominalAlpha computes α for category ids in [0, k) laid out as in pairableValues. For a
// group of m values with nᶜ in category c, the ordered pairs that disagree number m² − Σ nᶜ².
func nominalAlpha(ids, ends []int, k int) (float64, error) {
	counts := make([]int, k)
	var do float64
	start := 0
	for _, end := range ends {
		u := ids[start:end]
		m := len(u)
		same := 0
		for _, c := range u {
			same += 2*counts[c] + 1 // (x+1)² − x²: Σ nᶜ² grows as each value is counted
			counts[c]++
		}
		for _, c := range u {
			counts[c] = 0
		}
		do += float64(m*m-same) / float64(m-1)
		start = end
	}
	for _, c := range ids {
		counts[c]++
	}
	n := len(ids)
	de := float64(n) * float64(n)
	for _, c := range counts {
		de -= float64(c) * float64(c)
	}
	if de == 0 {
		return math.NaN(), ErrNoVariation
	}
	return 1 - float64(n-1)*do/de, nil
}

// sumSquaredDiffs returns Σ_{i≠j} (xᵢ − xⱼ)² over ordered pairs, which is 2m·Σ(xᵢ − x̄)².
func sumSquaredDiffs(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	mean := s / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return 2 * float64(len(xs)) * ss
}

// intervalAlpha computes α under the interval metric; the caller has checked the values vary.
func intervalAlpha(values []float64, ends []int) float64 {
	var do float64
	start := 0
	for _, end := range ends {
		do += sumSquaredDiffs(values[start:end]) / float64(end-start-1)
		start = end
	}
	return 1 - float64(len(values)-1)*do/sumSquaredDiffs(values)
}

// midRanks replaces each value by its mid-rank among all values: the number of values below
// it plus half the number equal to it. The ordinal δ(c, k) = Σ_{g=c..k} n_g − (n_c + n_k)/2
// is exactly the difference of the two mid-ranks, so ordinal α is interval α on mid-ranks.
func midRanks(values []float64) []float64 {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	ranks := make([]float64, len(values))
	for i, v := range values {
		lo := sort.SearchFloat64s(sorted, v)
		hi := lo + sort.Search(len(sorted)-lo, func(j int) bool { return sorted[lo+j] > v })
		ranks[i] = float64(lo) + float64(hi-lo)/2
	}
	return ranks
}

// ratioDelta2 is the ratio metric's ((c − k)/(c + k))², 0 when both are 0.
func ratioDelta2(c, k float64) float64 {
	if c == k {
		return 0
	}
	d := (c - k) / (c + k)
	return d * d
}

// ratioAlpha computes α under the ratio metric: pairs within units directly, the expected
// disagreement over distinct values weighted by their counts.
func ratioAlpha(values []float64, ends []int) float64 {
	var do float64
	start := 0
	for _, end := range ends {
		u := values[start:end]
		var d float64
		for i := range u {
			for j := i + 1; j < len(u); j++ {
				d += 2 * ratioDelta2(u[i], u[j])
			}
		}
		do += d / float64(len(u)-1)
		start = end
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	var distinct []float64
	var counts []float64
	for _, v := range sorted {
		if len(distinct) > 0 && distinct[len(distinct)-1] == v {
			counts[len(counts)-1]++
			continue
		}
		distinct = append(distinct, v)
		counts = append(counts, 1)
	}
	var de float64
	for i := range distinct {
		for j := i + 1; j < len(distinct); j++ {
			de += 2 * counts[i] * counts[j] * ratioDelta2(distinct[i], distinct[j])
		}
	}
	return 1 - float64(len(values)-1)*do/de
}
