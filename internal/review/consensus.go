package review

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Disagreement is an item whose annotators gave a field different values: one to adjudicate.
type Disagreement struct {
	Item      string            `json:"item"`
	Field     string            `json:"field"`
	Values    map[string]string `json:"values"` // annotator -> value
	Consensus string            `json:"consensus,omitempty"`
	Agreed    bool              `json:"agreed"` // a consensus exists (may still be a disagreement when not unanimous)
}

// Disagreements lists the items with ≥2 labels of field f whose values are not all the same
// once normalized (numbers must be equal: the tolerance is 0), sorted by item, with the
// consensus where there is one. Labels of other fields and empty values are ignored; a
// value the field does not allow is listed as given (it disagrees with every valid one); if
// an annotator labelled an item twice the later label counts (Agreement rejects that).
// Comment fields have no disagreements.
func Disagreements(f Field, labels []Label) []Disagreement {
	if f.Kind == Comment {
		return nil
	}
	byItem := map[string]map[string]string{}
	for _, l := range labels {
		v := strings.TrimSpace(l.Value)
		if l.Field != f.Name || v == "" {
			continue
		}
		if n, err := f.Normalize(v); err == nil {
			v = n
		}
		if byItem[l.Item] == nil {
			byItem[l.Item] = map[string]string{}
		}
		byItem[l.Item][l.Annotator] = v
	}
	var out []Disagreement
	for item, values := range byItem {
		if len(values) < 2 || unanimous(values) {
			continue
		}
		vs := make([]string, 0, len(values))
		for _, v := range values {
			vs = append(vs, v)
		}
		c, ok := Consensus(f, vs)
		out = append(out, Disagreement{Item: item, Field: f.Name, Values: values, Consensus: c, Agreed: ok})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Item < out[j].Item })
	return out
}

// unanimous reports whether every value is the same.
func unanimous(values map[string]string) bool {
	first, set := "", false
	for _, v := range values {
		if set && v != first {
			return false
		}
		first, set = v, true
	}
	return true
}

// Consensus is the value a set of annotators' values for field f settles on, and whether
// there is one. Values are normalized first and empty ones skipped.
//
//   - categorical and boolean: the value more than half the annotators gave (a strict
//     majority: 2 of 3, 3 of 4, not 2 of 4);
//   - ordinal and numeric: the median, when it is one of the values (an odd count, or the
//     two middle values equal); between two different middle values there is none, since
//     "agree" and "disagree" do not average to "neutral";
//   - comment fields, no values, or a value the field does not allow: none.
func Consensus(f Field, values []string) (string, bool) {
	var vs []string
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		n, err := f.Normalize(v)
		if err != nil {
			return "", false
		}
		vs = append(vs, n)
	}
	if len(vs) == 0 {
		return "", false
	}
	switch f.Kind {
	case Categorical, Boolean:
		counts := map[string]int{}
		for _, v := range vs {
			counts[v]++
			if 2*counts[v] > len(vs) {
				return v, true
			}
		}
		return "", false
	case Ordinal, Numeric:
		key := func(v string) float64 { return float64(slices.Index(f.Options, v)) }
		if f.Kind == Numeric {
			key = func(v string) float64 {
				x, _ := strconv.ParseFloat(v, 64) // normalized: always a number
				return x
			}
		}
		slices.SortFunc(vs, func(a, b string) int {
			ka, kb := key(a), key(b)
			switch {
			case ka < kb:
				return -1
			case ka > kb:
				return 1
			}
			return 0
		})
		lo, hi := vs[(len(vs)-1)/2], vs[len(vs)/2]
		if lo != hi {
			return "", false
		}
		return lo, true
	}
	return "", false
}
