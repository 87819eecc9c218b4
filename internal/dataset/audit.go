package dataset

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/pii"
)

// The audit ("a bias audit before a single model sees it") reads a version's items and
// reports what should be fixed before the dataset is used: segments too small to say
// anything about, labels that are unevenly spread across segments, items without consent,
// duplicates, and personal data. It never echoes personal data: findings are masked.

// AuditOptions says how Audit reads the items.
type AuditOptions struct {
	// MinShare flags a segment value holding less than this share of the items; 0 means
	// DefaultMinShare.
	MinShare float64
	// LabelField is what the label distribution counts: "" or "expected" for the expected
	// output, or metadata.NAME, vars.NAME or segment.NAME.
	LabelField string
	// MaxListed bounds each list of items in the report (the counts stay whole); 0 means
	// DefaultMaxListed.
	MaxListed int
}

// Defaults of AuditOptions.
const (
	DefaultMinShare  = 0.05
	DefaultMaxListed = 100
	// maxLabels is how many labels a segment value lists; the rest are counted as "other".
	maxLabels = 10
	// excerptContext is how many bytes of text an excerpt shows on each side of a finding.
	excerptContext = 24
	// labelWidth clips a label (an expected output may be long) in the report.
	labelWidth = 80
)

// CheckLabelField reports whether f can name the label field.
func CheckLabelField(f string) error {
	if f == "" || f == "expected" {
		return nil
	}
	kind, name, ok := strings.Cut(f, ".")
	if !ok || name == "" || (kind != "metadata" && kind != "vars" && kind != "segment") {
		return fmt.Errorf("label field %q: use expected, metadata.NAME, vars.NAME or segment.NAME", f)
	}
	return nil
}

// AuditReport is what Audit found.
type AuditReport struct {
	Dataset    string  `json:"dataset,omitempty"`
	Version    int     `json:"version,omitempty"`
	Items      int     `json:"items"`
	MinShare   float64 `json:"min_share"`
	LabelField string  `json:"label_field"`
	// Labels is the label distribution over all items.
	Labels   []LabelCount   `json:"labels"`
	Segments []SegmentField `json:"segments"`
	// WithoutConsent are the items whose consent is false.
	WithoutConsent ItemList `json:"without_consent"`
	// ExactDuplicates and NearDuplicates are groups of item ids with the same content, or
	// the same normalized text (see NearHash).
	ExactDuplicates [][]int64 `json:"exact_duplicates"`
	NearDuplicates  [][]int64 `json:"near_duplicates"`
	// PII lists fields holding personal data, masked; PIIItems counts the items with any,
	// PIITypes the fields per type.
	PII      []PIIField       `json:"pii"`
	PIIItems int              `json:"pii_items"`
	PIITypes map[pii.Type]int `json:"pii_types"`
	// Flags are the report's findings in a sentence each, most important first.
	Flags []string `json:"flags"`
	// Truncated says that some list stopped at MaxListed.
	Truncated bool `json:"truncated,omitempty"`
}

// LabelCount is how many items have one label.
type LabelCount struct {
	Label string `json:"label"`
	Count int    `json:"count"`
}

// SegmentField is the distribution of one segment field.
type SegmentField struct {
	Field  string         `json:"field"`
	Values []SegmentValue `json:"values"`
}

// SegmentValue is one value of a segment field.
type SegmentValue struct {
	Value string  `json:"value"` // "" for the items without the field
	Items int     `json:"items"`
	Share float64 `json:"share"`
	// Under is true when Share < MinShare: too few items to say anything about.
	Under  bool         `json:"under"`
	Labels []LabelCount `json:"labels"`
}

// ItemList is a count of items and their ids (at most MaxListed of them).
type ItemList struct {
	Count int     `json:"count"`
	IDs   []int64 `json:"ids"`
}

// PIIField is personal data found in one field of one item.
type PIIField struct {
	ItemID int64      `json:"item_id"`
	Field  string     `json:"field"` // vars.NAME, expected, metadata.NAME, segment.NAME or source
	Types  []pii.Type `json:"types"`
	// Excerpt is the text around the first finding with every finding in it masked.
	Excerpt string `json:"excerpt"`
}

// noValue is how a report shows the items without a segment field or label.
const noValue = "(none)"

// Audit reads items (one version's) and reports on them.
func Audit(items []Item, opt AuditOptions) (*AuditReport, error) {
	if err := CheckLabelField(opt.LabelField); err != nil {
		return nil, err
	}
	if opt.MinShare < 0 || opt.MinShare >= 1 {
		return nil, fmt.Errorf("min share %v: use a fraction from 0 to 1, such as 0.05 for 5%%", opt.MinShare)
	}
	if opt.MinShare == 0 {
		opt.MinShare = DefaultMinShare
	}
	if opt.MaxListed <= 0 {
		opt.MaxListed = DefaultMaxListed
	}
	if opt.LabelField == "" {
		opt.LabelField = "expected"
	}
	r := &AuditReport{Items: len(items), MinShare: opt.MinShare, LabelField: opt.LabelField,
		Labels: []LabelCount{}, Segments: []SegmentField{}, WithoutConsent: ItemList{IDs: []int64{}},
		ExactDuplicates: [][]int64{}, NearDuplicates: [][]int64{}, PII: []PIIField{}, PIITypes: map[pii.Type]int{}}

	labels := make([]string, len(items))
	all := map[string]int{}
	fields := map[string]bool{}
	for i, it := range items {
		labels[i] = labelOf(it, opt.LabelField)
		all[labels[i]]++
		for f := range it.Segment {
			fields[f] = true
		}
	}
	r.Labels = topLabels(all)

	for _, f := range slices.Sorted(mapKeys(fields)) {
		counts := map[string]int{}
		byLabel := map[string]map[string]int{}
		for i, it := range items {
			v := it.Segment[f]
			counts[v]++
			if byLabel[v] == nil {
				byLabel[v] = map[string]int{}
			}
			byLabel[v][labels[i]]++
		}
		sf := SegmentField{Field: f}
		for v, n := range counts {
			share := float64(n) / float64(len(items))
			sf.Values = append(sf.Values, SegmentValue{Value: maskPII(v), Items: n, Share: share, Under: share < opt.MinShare,
				Labels: topLabels(byLabel[v])})
		}
		slices.SortFunc(sf.Values, func(a, b SegmentValue) int {
			return cmp.Or(cmp.Compare(b.Items, a.Items), cmp.Compare(a.Value, b.Value))
		})
		r.Segments = append(r.Segments, sf)
	}

	exact := map[string][]int64{}
	near := map[string][]int64{}
	var exactOrder, nearOrder []string
	for _, it := range items {
		if !it.Consent {
			r.WithoutConsent.Count++
			r.WithoutConsent.IDs = r.appendCapped(r.WithoutConsent.IDs, it.ID, opt.MaxListed)
		}
		h, err := ContentHash(it.Vars, it.Expected)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", it.ID, err)
		}
		if _, ok := exact[h]; !ok {
			exactOrder = append(exactOrder, h)
		}
		exact[h] = append(exact[h], it.ID)
		nh := NearHash(it.Vars, it.Expected)
		if _, ok := near[nh]; !ok {
			nearOrder = append(nearOrder, nh)
		}
		near[nh] = append(near[nh], it.ID)

		found := false
		for _, fv := range itemTexts(it) {
			fs := pii.Scan(fv.text)
			if len(fs) == 0 {
				continue
			}
			found = true
			var types []pii.Type
			for _, f := range fs {
				if !slices.Contains(types, f.Type) {
					types = append(types, f.Type)
					r.PIITypes[f.Type]++
				}
			}
			if len(r.PII) < opt.MaxListed {
				r.PII = append(r.PII, PIIField{ItemID: it.ID, Field: fv.field, Types: types, Excerpt: maskedExcerpt(fv.text, fs)})
			} else {
				r.Truncated = true
			}
		}
		if found {
			r.PIIItems++
		}
	}
	for _, h := range exactOrder {
		if len(exact[h]) > 1 {
			r.ExactDuplicates = append(r.ExactDuplicates, exact[h])
		}
	}
	// A near group counts once even when it is also an exact group: the near list shows the
	// groups whose content differs only in case, punctuation or space.
	for _, h := range nearOrder {
		ids := near[h]
		if len(ids) > 1 && !exactGroup(exact, ids) {
			r.NearDuplicates = append(r.NearDuplicates, ids)
		}
	}
	if len(r.ExactDuplicates) > opt.MaxListed {
		r.ExactDuplicates, r.Truncated = r.ExactDuplicates[:opt.MaxListed], true
	}
	if len(r.NearDuplicates) > opt.MaxListed {
		r.NearDuplicates, r.Truncated = r.NearDuplicates[:opt.MaxListed], true
	}
	r.flag()
	return r, nil
}

func (r *AuditReport) appendCapped(ids []int64, id int64, max int) []int64 {
	if len(ids) >= max {
		r.Truncated = true
		return ids
	}
	return append(ids, id)
}

// exactGroup reports whether ids all have one content hash (they are an exact group).
func exactGroup(exact map[string][]int64, ids []int64) bool {
	for _, g := range exact {
		if len(g) == len(ids) && slices.Equal(g, ids) {
			return true
		}
	}
	return false
}

// flag writes the report's findings as sentences.
func (r *AuditReport) flag() {
	r.Flags = []string{}
	if r.Items == 0 {
		r.Flags = append(r.Flags, "the version has no items")
		return
	}
	if r.PIIItems > 0 {
		var kinds []string
		for _, t := range pii.AllTypes() {
			if n := r.PIITypes[t]; n > 0 {
				kinds = append(kinds, fmt.Sprintf("%s in %s", t, count(n, "field")))
			}
		}
		r.Flags = append(r.Flags, fmt.Sprintf("%s personal data (%s)", verbCount(r.PIIItems, "item", "contains", "contain"), strings.Join(kinds, ", ")))
	}
	if n := r.WithoutConsent.Count; n > 0 {
		r.Flags = append(r.Flags, fmt.Sprintf("%d of %s %s no consent", n, count(r.Items, "item"), plural(n, "has", "have")))
	}
	for _, sf := range r.Segments {
		for _, v := range sf.Values {
			if v.Under {
				r.Flags = append(r.Flags, fmt.Sprintf("segment %s=%s holds %s (%.1f%%), under %.1f%%", sf.Field,
					showValue(v.Value), count(v.Items, "item"), 100*v.Share, 100*r.MinShare))
			}
		}
	}
	if n := len(r.ExactDuplicates); n > 0 {
		r.Flags = append(r.Flags, fmt.Sprintf("%s of exact duplicates", count(n, "group")))
	}
	if n := len(r.NearDuplicates); n > 0 {
		r.Flags = append(r.Flags, fmt.Sprintf("%s of near-duplicates", count(n, "group")))
	}
}

func showValue(v string) string {
	if v == "" {
		return noValue
	}
	return v
}

// labelOf is an item's label: its expected output or the chosen field, clipped.
func labelOf(it Item, field string) string {
	var s string
	if field == "expected" {
		s = it.Expected
	} else {
		kind, name, _ := strings.Cut(field, ".")
		switch kind {
		case "metadata":
			if v, ok := it.Metadata[name]; ok {
				s = valueText(v)
			}
		case "vars":
			if v, ok := it.Vars[name]; ok {
				s = valueText(v)
			}
		case "segment":
			s = it.Segment[name]
		}
	}
	if s == "" {
		return noValue
	}
	return clipText(maskPII(s), labelWidth)
}

// maskPII masks the personal data in s: labels and segment values are shown whole, so
// they must not echo it.
func maskPII(s string) string {
	if fs := pii.Scan(s); len(fs) > 0 {
		return pii.Anonymize(s, fs, pii.Mask)
	}
	return s
}

// topLabels is a distribution, largest first, with the labels after maxLabels as one
// "(other)" entry.
func topLabels(m map[string]int) []LabelCount {
	out := make([]LabelCount, 0, len(m))
	for l, n := range m {
		out = append(out, LabelCount{l, n})
	}
	slices.SortFunc(out, func(a, b LabelCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Label, b.Label))
	})
	if len(out) > maxLabels {
		rest := 0
		for _, l := range out[maxLabels:] {
			rest += l.Count
		}
		out = append(out[:maxLabels], LabelCount{fmt.Sprintf("(%d other labels)", len(out)-maxLabels), rest})
	}
	return out
}

type fieldText struct{ field, text string }

// itemTexts is every text of an item that the PII scan reads, by field, in a stable order.
func itemTexts(it Item) []fieldText {
	var out []fieldText
	for _, k := range slices.Sorted(mapKeys(it.Vars)) {
		out = append(out, fieldText{"vars." + k, valueText(it.Vars[k])})
	}
	out = append(out, fieldText{"expected", it.Expected})
	for _, k := range slices.Sorted(mapKeys(it.Metadata)) {
		out = append(out, fieldText{"metadata." + k, valueText(it.Metadata[k])})
	}
	for _, k := range slices.Sorted(mapKeys(it.Segment)) {
		out = append(out, fieldText{"segment." + k, it.Segment[k]})
	}
	out = append(out, fieldText{"source", it.Source})
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// maskedExcerpt is the text around the first finding, with every finding masked
// (pii.Mask: a card keeps its last four digits, an e-mail address its domain).
func maskedExcerpt(text string, fs []pii.Finding) string {
	masked := pii.Anonymize(text, fs, pii.Mask)
	// Findings are in order of Start: the first one starts where it did.
	start, end := fs[0].Start, fs[0].Start+len(pii.Mask(fs[0]))
	lo, hi := max(0, start-excerptContext), min(len(masked), end+excerptContext)
	for lo > 0 && !utf8.RuneStart(masked[lo]) {
		lo--
	}
	for hi < len(masked) && !utf8.RuneStart(masked[hi]) {
		hi++
	}
	out := strings.Join(strings.Fields(masked[lo:hi]), " ")
	if lo > 0 {
		out = "…" + out
	}
	if hi < len(masked) {
		out += "…"
	}
	return out
}

// clipText shortens s to n runes, on one line.
func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// Markdown is the report as a Markdown document.
func (r *AuditReport) Markdown() string {
	var b strings.Builder
	title := "Dataset audit"
	if r.Dataset != "" {
		title += " of " + mdText(r.Dataset)
		if r.Version > 0 {
			title += " version " + strconv.Itoa(r.Version)
		}
	}
	fmt.Fprintf(&b, "# %s\n\n%s. Segments under %.1f%% of the items are flagged. Labels: %s.\n\n", title, count(r.Items, "item"), 100*r.MinShare, mdText(r.LabelField))
	b.WriteString("## Flags\n\n")
	if len(r.Flags) == 0 {
		b.WriteString("Nothing to flag.\n")
	}
	for _, f := range r.Flags {
		fmt.Fprintf(&b, "- %s\n", mdText(f))
	}
	b.WriteString("\n## Labels\n\n| label | items |\n|---|---|\n")
	for _, l := range r.Labels {
		fmt.Fprintf(&b, "| %s | %d |\n", mdCell(l.Label), l.Count)
	}
	for _, sf := range r.Segments {
		fmt.Fprintf(&b, "\n## Segment %s\n\n| value | items | share | labels |\n|---|---|---|---|\n", mdText(sf.Field))
		for _, v := range sf.Values {
			share := fmt.Sprintf("%.1f%%", 100*v.Share)
			if v.Under {
				share += " (under)"
			}
			var ls []string
			for _, l := range v.Labels {
				ls = append(ls, fmt.Sprintf("%s: %d", l.Label, l.Count))
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", mdCell(showValue(v.Value)), v.Items, share, mdCell(strings.Join(ls, "; ")))
		}
	}
	fmt.Fprintf(&b, "\n## Consent\n\n%s without consent", count(r.WithoutConsent.Count, "item"))
	if len(r.WithoutConsent.IDs) > 0 {
		fmt.Fprintf(&b, ": %s", idList(r.WithoutConsent.IDs))
	}
	b.WriteString(".\n\n## Duplicates\n\n")
	fmt.Fprintf(&b, "%s of exact duplicates, %s of near-duplicates.\n", count(len(r.ExactDuplicates), "group"), count(len(r.NearDuplicates), "group"))
	for _, g := range r.ExactDuplicates {
		fmt.Fprintf(&b, "- exact: items %s\n", idList(g))
	}
	for _, g := range r.NearDuplicates {
		fmt.Fprintf(&b, "- near: items %s\n", idList(g))
	}
	fmt.Fprintf(&b, "\n## Personal data\n\n%s personal data.\n", verbCount(r.PIIItems, "item", "contains", "contain"))
	if len(r.PII) > 0 {
		b.WriteString("\n| item | field | types | excerpt (masked) |\n|---|---|---|---|\n")
		for _, p := range r.PII {
			var ts []string
			for _, t := range p.Types {
				ts = append(ts, string(t))
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", p.ItemID, mdCell(p.Field), strings.Join(ts, ", "), mdCell(p.Excerpt))
		}
	}
	if r.Truncated {
		fmt.Fprintf(&b, "\nSome lists were cut short; the counts are whole.\n")
	}
	return b.String()
}

func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "#" + strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// mdText escapes text for Markdown prose: item text is untrusted, and a renderer must not
// read it as markup (HTML included).
var mdEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "#", `\#`, "|", `\|`, "\n", " ", "\r", " ")

func mdText(s string) string { return mdEscaper.Replace(s) }

// mdCell is mdText for a table cell.
func mdCell(s string) string { return mdText(s) }

// plural is one for n = 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// count is n with its noun, singular for one: "1 item", "3 items" (internal/report and
// internal/cli keep their own copies: a package for one function would be a util package).
func count(n int, noun string) string {
	return fmt.Sprintf("%d %s", n, plural(n, noun, noun+"s"))
}

// verbCount is count followed by the verb that agrees with it: "1 item contains".
func verbCount(n int, noun, one, many string) string {
	return count(n, noun) + " " + plural(n, one, many)
}
