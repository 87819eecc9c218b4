package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/review"
)

// newReviewCmd is human review offline: agreement between annotators' labels in a file.
func newReviewCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Measure how far human annotators agree, and list the items to adjudicate",
		Long: `Human review: annotators answer the questions of a rubric about each item. This command
works offline on a file of their labels. See docs/review.md for the rubric format and the
statistics.`,
	}
	cmd.AddCommand(newReviewAgreementCmd(e))
	return cmd
}

// reviewReport is what review agreement prints as JSON.
type reviewReport struct {
	File          string                  `json:"file"`
	Labels        int                     `json:"labels"`
	Items         int                     `json:"items"`
	Annotators    int                     `json:"annotators"`
	Fields        []review.FieldAgreement `json:"fields"`
	Disagreements *[]review.Disagreement  `json:"disagreements,omitempty"`
}

func newReviewAgreementCmd(e *env) *cobra.Command {
	var rubricFile, fieldName, kind, options, format string
	var disagreements bool
	cmd := &cobra.Command{
		Use:   "agreement FILE (--rubric RUBRIC.yaml | --field NAME --kind KIND [--options A,B,...]) [--format text|json|md] [--disagreements]",
		Short: "Inter-annotator agreement per rubric field: percent agreement, Cohen's κ, Fleiss' κ, Krippendorff's α",
		Long: `Read labels from FILE and print, for every rubric field but comments, how far the annotators
agree: pairwise percent agreement, Cohen's κ (exactly two annotators), Fleiss' κ (the same
number of labels on every item) and Krippendorff's α (nominal, ordinal or interval by the
field's kind, missing labels allowed), each with its reading, and a note where one is absent.

FILE is CSV with a header row naming the columns item, annotator, field and value, or JSONL
with those keys (a .csv or .jsonl name says which). With --field, the field column may be
left out: every row is a label of that field. Values are checked against the rubric and
normalized ("Yes" is yes); an empty value is a question left unanswered.

--disagreements also lists the items whose annotators gave different values, with the
consensus where there is one (a strict majority; the median for ordinal and numeric fields).`,
		Example: `  plumb review agreement labels.csv --rubric rubric.yaml
  plumb review agreement tone.csv --field tone --kind ordinal --options rude,neutral,warm --disagreements
  plumb review agreement labels.jsonl --rubric rubric.yaml --format md`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			if format != "text" && format != "json" && format != "md" {
				return usageErr("--format %q: use text, json or md", format)
			}
			rubric, err := reviewRubric(rubricFile, fieldName, kind, options)
			if err != nil {
				return err
			}
			inFormat, err := review.LabelFormat(file)
			if err != nil {
				return usageErr("%v", err)
			}
			f, err := os.Open(file)
			if err != nil {
				return usageErr("read the labels: %v", err)
			}
			defer f.Close()
			labels, err := review.ReadLabels(f, file, inFormat, rubric, fieldName)
			if err != nil {
				var es review.LineErrors
				if errors.As(err, &es) && len(es) > 1 {
					return usageErr("%v\n%s in %s; nothing was computed", err, count(len(es), "problem"), file)
				}
				return usageErr("%v", err)
			}
			fields, err := review.RubricAgreement(rubric, labels)
			if err != nil {
				return usageErr("%s: %v", file, err) // ReadLabels checked the labels: not expected
			}
			rep := reviewReport{File: file, Labels: len(labels), Fields: fields}
			items, annotators := map[string]bool{}, map[string]bool{}
			for _, l := range labels {
				if f, _ := rubric.Field(l.Field); f.Kind != review.Comment {
					items[l.Item], annotators[l.Annotator] = true, true
				}
			}
			rep.Items, rep.Annotators = len(items), len(annotators)
			if disagreements {
				ds := []review.Disagreement{}
				for _, f := range rubric.Fields {
					ds = append(ds, review.Disagreements(f, labels)...)
				}
				sort.SliceStable(ds, func(i, j int) bool { return ds[i].Item < ds[j].Item })
				rep.Disagreements = &ds
			}
			switch format {
			case "json":
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			case "md":
				writeReviewMarkdown(e.stdout, rep)
				return nil
			}
			return writeReviewText(e.stdout, rep)
		},
	}
	cmd.Flags().StringVar(&rubricFile, "rubric", "", "the rubric (YAML or JSON) the labels answer")
	cmd.Flags().StringVar(&fieldName, "field", "", "without --rubric: the one field the labels answer")
	cmd.Flags().StringVar(&kind, "kind", "", "with --field: categorical, ordinal, numeric or boolean")
	cmd.Flags().StringVar(&options, "options", "", "with --field: the options of a categorical or ordinal field, comma-separated (ordinal: lowest first)")
	cmd.Flags().StringVar(&format, "format", "text", "output: text, json or md")
	cmd.Flags().BoolVar(&disagreements, "disagreements", false, "also list the items to adjudicate")
	return cmd
}

// reviewRubric is the rubric of --rubric, or the one field of --field, --kind and --options.
func reviewRubric(rubricFile, fieldName, kind, options string) (review.Rubric, error) {
	switch {
	case rubricFile != "" && (kind != "" || options != ""):
		return review.Rubric{}, usageErr("give --rubric, or --field with --kind and --options, not both: the rubric defines the fields")
	case rubricFile != "":
		data, err := os.ReadFile(rubricFile)
		if err != nil {
			return review.Rubric{}, usageErr("read the rubric: %v", err)
		}
		r, err := review.ParseRubric(data)
		if err != nil {
			var es review.Errors
			if errors.As(err, &es) {
				lines := make([]string, len(es))
				for i, pe := range es {
					lines[i] = rubricFile + ":" + pe.Error()
				}
				return r, usageErr("%s", strings.Join(lines, "\n"))
			}
			return r, usageErr("%s:%v", rubricFile, err)
		}
		if fieldName != "" {
			f, ok := r.Field(fieldName)
			if !ok {
				return r, usageErr("--field %s: %s has no such field", fieldName, rubricFile)
			}
			r = review.Rubric{Fields: []review.Field{f}}
		}
		if !slices.ContainsFunc(r.Fields, func(f review.Field) bool { return f.Kind != review.Comment }) {
			return r, usageErr("%s: every field is a comment: there is nothing to compare", rubricFile)
		}
		return r, nil
	case fieldName == "":
		return review.Rubric{}, usageErr("give the fields: --rubric RUBRIC.yaml, or --field NAME --kind KIND (and --options A,B,... for categorical and ordinal fields)")
	case kind == "":
		return review.Rubric{}, usageErr("--field %s: give its --kind: categorical, ordinal, numeric or boolean", fieldName)
	case review.Kind(kind) == review.Comment:
		return review.Rubric{}, usageErr("--kind comment: free text is not compared; give categorical, ordinal, numeric or boolean")
	}
	f := review.Field{Name: fieldName, Kind: review.Kind(kind)}
	if options != "" {
		for _, o := range strings.Split(options, ",") {
			f.Options = append(f.Options, strings.TrimSpace(o))
		}
	}
	r := review.Rubric{Fields: []review.Field{f}}
	if err := r.Check(); err != nil {
		return r, usageErr("--field, --kind, --options: %v", err)
	}
	return r, nil
}

// statText is a statistic as "0.3478 fair", or "-" when absent.
func statText(s *review.Stat) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.4f %s", s.Value, s.Reading)
}

// alphaText is statText for α, with its metric.
func alphaText(s *review.Stat) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", statText(s), s.Metric)
}

// percentText is the percent agreement, "-" when no item has two labels.
func percentText(fa review.FieldAgreement) string {
	if fa.Items == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*fa.PercentAgreement)
}

// termText makes an annotator's text safe for a terminal: quoted, with escapes for control
// characters, when it holds anything but letters, digits and simple punctuation.
func termText(s string) string {
	if s == "" || strings.IndexFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_.:/+@#", r)
	}) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// sortedValues lists a disagreement's values as annotator=value, by annotator.
func sortedValues(d review.Disagreement, quote func(string) string) string {
	who := make([]string, 0, len(d.Values))
	for a := range d.Values {
		who = append(who, a)
	}
	sort.Strings(who)
	parts := make([]string, len(who))
	for i, a := range who {
		parts[i] = quote(a) + "=" + quote(d.Values[a])
	}
	return strings.Join(parts, ", ")
}

// consensusText is a disagreement's consensus for display.
func consensusText(d review.Disagreement, quote func(string) string) string {
	if !d.Agreed {
		return "none"
	}
	return quote(d.Consensus)
}

func writeReviewText(w io.Writer, rep reviewReport) error {
	fmt.Fprintf(w, "%s: %s, %s, %s\n\n", rep.File, count(rep.Labels, "label"), count(rep.Items, "item"), count(rep.Annotators, "annotator"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tKIND\tITEMS\tANNOTATORS\tAGREEMENT\tCOHEN κ\tFLEISS κ\tKRIPPENDORFF α")
	for _, fa := range rep.Fields {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", fa.Field, fa.Kind, fa.Items, fa.Annotators,
			percentText(fa), statText(fa.Cohen), statText(fa.Fleiss), alphaText(fa.Alpha))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, fa := range rep.Fields {
		if fa.Note != "" {
			fmt.Fprintf(w, "\n%s: %s", fa.Field, fa.Note)
		}
	}
	fmt.Fprintln(w)
	if rep.Disagreements == nil {
		return nil
	}
	ds := *rep.Disagreements
	if len(ds) == 0 {
		fmt.Fprintln(w, "\nno disagreements: every item labelled more than once got the same value")
		return nil
	}
	fmt.Fprintf(w, "\n%s to adjudicate:\n", count(len(ds), "disagreement"))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ITEM\tFIELD\tVALUES\tCONSENSUS")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", termText(d.Item), d.Field, sortedValues(d, termText), consensusText(d, termText))
	}
	return tw.Flush()
}

// mdCell makes untrusted text safe in a Markdown table cell: characters Markdown or HTML
// would interpret are backslash-escaped, line breaks and control characters dropped.
func mdCell(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '\n' || c == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(c) || unicode.Is(unicode.Bidi_Control, c):
		case strings.ContainsRune("\\`*_[]<>|&~!", c):
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func writeReviewMarkdown(w io.Writer, rep reviewReport) {
	fmt.Fprintf(w, "## Agreement: %s\n\n%s, %s, %s.\n\n", mdCell(rep.File), count(rep.Labels, "label"), count(rep.Items, "item"), count(rep.Annotators, "annotator"))
	fmt.Fprintln(w, "| field | kind | items | annotators | agreement | Cohen's κ | Fleiss' κ | Krippendorff's α |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|---|---|")
	for _, fa := range rep.Fields {
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %s | %s | %s |\n", mdCell(fa.Field), fa.Kind, fa.Items, fa.Annotators,
			percentText(fa), statText(fa.Cohen), statText(fa.Fleiss), alphaText(fa.Alpha))
	}
	notes := false
	for _, fa := range rep.Fields {
		if fa.Note == "" {
			continue
		}
		if !notes {
			fmt.Fprintln(w)
			notes = true
		}
		fmt.Fprintf(w, "- **%s**: %s\n", mdCell(fa.Field), mdCell(fa.Note))
	}
	if rep.Disagreements == nil {
		return
	}
	ds := *rep.Disagreements
	fmt.Fprintf(w, "\n### Disagreements to adjudicate: %d\n", len(ds))
	if len(ds) == 0 {
		return
	}
	fmt.Fprintln(w, "\n| item | field | values | consensus |\n|---|---|---|---|")
	for _, d := range ds {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", mdCell(d.Item), mdCell(d.Field), sortedValues(d, mdCell), consensusText(d, mdCell))
	}
}
