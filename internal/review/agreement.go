package review

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/agreement"
)

// Label is one annotator's value of one field for one item.
type Label struct{ Item, Annotator, Field, Value string }

// Stat is one agreement statistic with its reading.
type Stat struct {
	Value   float64 `json:"value"`
	Reading string  `json:"reading"`          // Landis & Koch band for κ; Krippendorff's reading (reliable ≥0.800, tentative ≥0.667, unreliable) for α
	Metric  string  `json:"metric,omitempty"` // α: nominal, ordinal, interval
	N       int     `json:"n"`                // items it was computed over
}

// FieldAgreement is how far the annotators agree on one field of a rubric.
type FieldAgreement struct {
	Field            string  `json:"field"`
	Kind             Kind    `json:"kind"`
	Items            int     `json:"items"` // items with ≥2 labels for this field
	Annotators       int     `json:"annotators"`
	Labels           int     `json:"labels"`
	PercentAgreement float64 `json:"percent_agreement"` // pairwise observed agreement over items with ≥2 labels
	Cohen            *Stat   `json:"cohen_kappa,omitempty"`
	Fleiss           *Stat   `json:"fleiss_kappa,omitempty"`
	Alpha            *Stat   `json:"krippendorff_alpha,omitempty"`
	Note             string  `json:"note,omitempty"` // why a statistic is absent
}

// vote is one annotator's normalized value for an item.
type vote struct {
	annotator, value string
}

// fieldLabels is the labels of one field grouped by item, values normalized.
type fieldLabels struct {
	items      []string          // in order of first label
	votes      map[string][]vote // item -> votes, in label order
	annotators []string          // in order of first label
	labels     int
}

// collect checks and groups the labels of field f; labels of other fields are ignored, and
// an empty value is no label (an annotator skipped an optional question).
func collect(f Field, labels []Label) (fieldLabels, error) {
	fl := fieldLabels{votes: map[string][]vote{}}
	for _, l := range labels {
		if l.Field != f.Name || strings.TrimSpace(l.Value) == "" {
			continue
		}
		if l.Item == "" || l.Annotator == "" {
			return fl, fmt.Errorf("field %q: a label has no item or no annotator: every label needs both", f.Name)
		}
		v, err := f.Normalize(l.Value)
		if err != nil {
			return fl, fmt.Errorf("item %q, annotator %q: %w", l.Item, l.Annotator, err)
		}
		vs, seen := fl.votes[l.Item]
		if !seen {
			fl.items = append(fl.items, l.Item)
		}
		for _, p := range vs {
			if p.annotator == l.Annotator {
				return fl, fmt.Errorf("item %q: annotator %q labelled field %q twice (%q and %q): keep one label per annotator, item and field", l.Item, l.Annotator, f.Name, p.value, v)
			}
		}
		fl.votes[l.Item] = append(vs, vote{l.Annotator, v})
		if !slices.Contains(fl.annotators, l.Annotator) {
			fl.annotators = append(fl.annotators, l.Annotator)
		}
		fl.labels++
	}
	return fl, nil
}

// Agreement measures how far the annotators agree on field f, from the labels of that field
// (labels of other fields are ignored; an empty value counts as no label). Values are
// normalized first, so "Yes" and "yes" agree. The statistics chosen:
//
//   - PercentAgreement: the share of agreeing annotator pairs on each item with ≥2 labels,
//     averaged over those items (numbers agree when equal).
//   - Cohen's κ: when exactly two annotators labelled the field, over the items both
//     labelled. Not for numeric fields.
//   - Fleiss' κ: when every item with ≥2 labels has the same number of labels. Not for
//     numeric fields; ordinal options count as unordered categories.
//   - Krippendorff's α: always when defined; nominal for categorical and boolean fields,
//     ordinal (in the options' order) for ordinal fields, interval for numeric fields.
//
// A statistic that is not defined (too few items, or every label the same value) is nil and
// Note says why. Errors: a comment field, an invalid field, a value the field does not allow
// or an annotator labelling an item twice; each names the item and annotator.
func Agreement(f Field, labels []Label) (FieldAgreement, error) {
	fa := FieldAgreement{Field: f.Name, Kind: f.Kind}
	if f.Kind == Comment {
		return fa, fmt.Errorf("field %q is a comment: free text is not compared, so it has no agreement", f.Name)
	}
	if err := f.check(); err != nil {
		return fa, err
	}
	fl, err := collect(f, labels)
	if err != nil {
		return fa, err
	}
	fa.Annotators = len(fl.annotators)
	fa.Labels = fl.labels
	var n notes

	// The items with ≥2 labels, the only ones that say anything about agreement.
	var paired [][]vote
	for _, it := range fl.items {
		if vs := fl.votes[it]; len(vs) >= 2 {
			paired = append(paired, vs)
		}
	}
	fa.Items = len(paired)
	if fa.Items == 0 {
		fa.Note = fmt.Sprintf("no item has labels from two annotators (%d labels from %d annotators): agreement needs items labelled more than once", fa.Labels, fa.Annotators)
		return fa, nil
	}
	var sum float64
	for _, vs := range paired {
		agree, pairs := 0, 0
		for i := range vs {
			for j := i + 1; j < len(vs); j++ {
				pairs++
				if vs[i].value == vs[j].value {
					agree++
				}
			}
		}
		sum += float64(agree) / float64(pairs)
	}
	fa.PercentAgreement = sum / float64(len(paired))

	if f.Kind == Numeric {
		n.list = append(n.list, "κ is not computed for numeric fields (it would count 3 and 4 as unrelated as 1 and 5): read Krippendorff's α (interval)")
	} else {
		fa.Cohen = cohen(fl, &n)
		fa.Fleiss = fleiss(paired, &n)
	}
	fa.Alpha = alpha(f, paired, &n)
	fa.Note = n.String()
	return fa, nil
}

// cohen is Cohen's κ between the field's two annotators, over the items both labelled.
func cohen(fl fieldLabels, n *notes) *Stat {
	if len(fl.annotators) != 2 {
		n.list = append(n.list, fmt.Sprintf("Cohen's κ needs exactly two annotators; this field has %d", len(fl.annotators)))
		return nil
	}
	a, b := fl.annotators[0], fl.annotators[1]
	var va, vb []string
	for _, it := range fl.items {
		x, y := "", ""
		for _, v := range fl.votes[it] {
			switch v.annotator {
			case a:
				x = v.value
			case b:
				y = v.value
			}
		}
		if x != "" && y != "" {
			va, vb = append(va, x), append(vb, y)
		}
	}
	k, err := agreement.CohenKappa(va, vb)
	if err != nil {
		n.undefined("Cohen's κ", err)
		return nil
	}
	return &Stat{Value: k, Reading: string(agreement.LandisKoch(k)), N: len(va)}
}

// fleiss is Fleiss' κ over the items with ≥2 labels when they all have the same number.
func fleiss(paired [][]vote, n *notes) *Stat {
	lo, hi := len(paired[0]), len(paired[0])
	items := make([][]string, len(paired))
	for i, vs := range paired {
		lo, hi = min(lo, len(vs)), max(hi, len(vs))
		for _, v := range vs {
			items[i] = append(items[i], v.value)
		}
	}
	if lo != hi {
		n.list = append(n.list, fmt.Sprintf("Fleiss' κ needs the same number of labels on every item; items have between %d and %d (read Krippendorff's α)", lo, hi))
		return nil
	}
	k, err := agreement.FleissKappaLabels(items)
	if err != nil {
		n.undefined("Fleiss' κ", err)
		return nil
	}
	return &Stat{Value: k, Reading: string(agreement.LandisKoch(k)), N: len(items)}
}

// alpha is Krippendorff's α with the metric the field's kind calls for.
func alpha(f Field, paired [][]vote, n *notes) *Stat {
	metric := agreement.Nominal
	// Categories are numbered by option; an ordinal field's options are in order, so the
	// numbers carry the order the ordinal metric needs.
	toNumber := func(v string) float64 { return float64(slices.Index(f.Options, v)) }
	switch f.Kind {
	case Boolean:
		toNumber = func(v string) float64 {
			if v == "true" {
				return 1
			}
			return 0
		}
	case Ordinal:
		metric = agreement.Ordinal
	case Numeric:
		metric = agreement.Interval
		toNumber = func(v string) float64 {
			x, _ := strconv.ParseFloat(v, 64) // normalized: always a number
			return x
		}
	}
	units := make([][]float64, len(paired))
	for i, vs := range paired {
		for _, v := range vs {
			units[i] = append(units[i], toNumber(v.value))
		}
	}
	a, err := agreement.KrippendorffAlpha(units, metric)
	if err == nil && (math.IsNaN(a) || math.IsInf(a, 0)) {
		// Squared differences of numbers near the float64 limit overflow.
		err = errors.New("the values are too large to square; rescale them")
	}
	if err != nil {
		n.undefined("Krippendorff's α", err)
		return nil
	}
	return &Stat{Value: a, Reading: string(agreement.ReadAlpha(a)), Metric: metric.String(), N: len(units)}
}

// notes says why statistics are absent.
type notes struct {
	list     []string
	constant []string // statistics undefined because every label is the same value
}

// undefined records why statistic is undefined.
func (n *notes) undefined(statistic string, err error) {
	switch {
	case errors.Is(err, agreement.ErrNoVariation):
		n.constant = append(n.constant, statistic)
	case errors.Is(err, agreement.ErrNoData):
		n.list = append(n.list, statistic+" is undefined: no item has labels from both annotators")
	default:
		n.list = append(n.list, statistic+" could not be computed: "+err.Error())
	}
}

// String is the notes as sentences; statistics undefined for want of variation share one.
func (n *notes) String() string {
	list := n.list
	if c := n.constant; len(c) > 0 {
		names, verb := c[0], "is"
		if len(c) > 1 {
			names, verb = strings.Join(c[:len(c)-1], ", ")+" and "+c[len(c)-1], "are"
		}
		list = append(list, fmt.Sprintf("%s %s undefined: every label compared is the same value, so chance agreement is 1 (add items where annotators use other values)", names, verb))
	}
	return strings.Join(list, ". ")
}

// RubricAgreement is Agreement for every non-comment field of the rubric, in rubric order.
// A label whose field the rubric does not have is an error (a misspelt field name).
func RubricAgreement(r Rubric, labels []Label) ([]FieldAgreement, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	for _, l := range labels {
		if _, ok := r.Field(l.Field); !ok {
			return nil, fmt.Errorf("item %q, annotator %q: the rubric has no field %q: use one of %s", l.Item, l.Annotator, l.Field, strings.Join(r.names(), ", "))
		}
	}
	var out []FieldAgreement
	for _, f := range r.Fields {
		if f.Kind == Comment {
			continue
		}
		fa, err := Agreement(f, labels)
		if err != nil {
			return nil, err
		}
		out = append(out, fa)
	}
	return out, nil
}

// names lists the rubric's field names.
func (r Rubric) names() []string {
	s := make([]string, len(r.Fields))
	for i, f := range r.Fields {
		s[i] = f.Name
	}
	return s
}
