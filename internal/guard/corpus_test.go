package guard

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// corpusLine is one labelled text of testdata/corpus.tsv.
type corpusLine struct {
	line   int
	labels []string
	text   string
}

func loadCorpus(t testing.TB) []corpusLine {
	t.Helper()
	f, err := os.Open("testdata/corpus.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		labels, text, ok := strings.Cut(l, "\t")
		if !ok {
			t.Fatalf("corpus.tsv:%d: no tab between labels and text", n)
		}
		if strings.HasPrefix(text, `"`) {
			if text, err = strconv.Unquote(text); err != nil {
				t.Fatalf("corpus.tsv:%d: %v", n, err)
			}
		}
		c := corpusLine{line: n, text: text}
		if labels != "-" {
			c.labels = strings.Split(labels, ",")
		}
		out = append(out, c)
	}
	return out
}

// corpusDetectors are the detectors the corpus is labelled for, with their default options;
// leakage runs too, with testdata/leakage_prompt.txt as its protected prompt.
var corpusDetectors = []string{"pii", "secrets", "injection"}

// score is a type's confusion counts over the corpus, per line: a line labelled with the type
// and found to hold it is a true positive.
type score struct{ tp, fp, fn int }

func (s score) precision() float64 {
	if s.tp+s.fp == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fp)
}

func (s score) recall() float64 {
	if s.tp+s.fn == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fn)
}

// corpusScores runs the corpus detectors on every line and returns the scores by type, plus
// the lines each type got wrong.
func corpusScores(t *testing.T) (map[string]*score, map[string][]string, map[string]string) {
	var ds []Detector
	for _, name := range corpusDetectors {
		d, err := New(Spec{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	prompt, err := os.ReadFile("testdata/leakage_prompt.txt")
	if err != nil {
		t.Fatal(err)
	}
	leak, err := New(Spec{Name: "leakage", Options: map[string]any{"protected_prompt": string(prompt)}})
	if err != nil {
		t.Fatal(err)
	}
	ds = append(ds, leak)
	owner := map[string]string{} // type -> detector
	scores := map[string]*score{}
	wrong := map[string][]string{}
	get := func(typ string) *score {
		if scores[typ] == nil {
			scores[typ] = &score{}
		}
		return scores[typ]
	}
	for _, c := range loadCorpus(t) {
		found := map[string]bool{}
		for _, d := range ds {
			fs, err := d.Detect(context.Background(), c.text)
			if err != nil {
				t.Fatalf("corpus.tsv:%d: %s: %v", c.line, d.Name(), err)
			}
			for _, f := range fs {
				if f.Start < 0 || f.End > len(c.text) || f.Start > f.End {
					t.Errorf("corpus.tsv:%d: %s finding %+v outside the text", c.line, d.Name(), f)
				}
				found[f.Type] = true
				owner[f.Type] = d.Name()
			}
		}
		for typ := range found {
			if slices.Contains(c.labels, typ) {
				get(typ).tp++
			} else {
				get(typ).fp++
				wrong[typ] = append(wrong[typ], fmt.Sprintf("FP corpus.tsv:%d %q", c.line, c.text))
			}
		}
		for _, typ := range c.labels {
			if !found[typ] {
				get(typ).fn++
				wrong[typ] = append(wrong[typ], fmt.Sprintf("FN corpus.tsv:%d %q", c.line, c.text))
			}
		}
	}
	return scores, wrong, owner
}

// corpusTargets are the floors each type must keep on the corpus: the checksum-backed PII
// types carry the targets the detectors were built to (precision 0.95, recall 0.90); the
// other types are held at what they reach today, so a regression fails the test.
var corpusTargets = map[string][2]float64{
	"credit_card":        {0.95, 0.90},
	"iban":               {0.95, 0.90},
	"us_ssn":             {0.95, 0.90},
	"email":              {0.95, 0.90},
	"ipv4":               {0.95, 0.90},
	"ipv6":               {0.95, 0.90},
	"phone":              {0.90, 0.85},
	"prompt_injection":   {0.90, 0.85},
	"prompt_extraction":  {0.90, 0.85},
	"jailbreak":          {0.90, 0.85},
	"hidden_text":        {0.95, 0.90},
	"openai_api_key":     {0.95, 0.90},
	"high_entropy_token": {0.90, 0.85},
	"private_key":        {0.95, 0.90},
	"prompt_leak":        {0.95, 0.90},
}

// TestCorpusPrecisionRecall reports precision and recall per type on testdata/corpus.tsv
// (go test -run Corpus -v ./internal/guard prints the table docs/guard.md quotes) and fails
// when a type falls below its target.
func TestCorpusPrecisionRecall(t *testing.T) {
	scores, wrong, owner := corpusScores(t)
	types := make([]string, 0, len(scores))
	for typ := range scores {
		types = append(types, typ)
	}
	slices.SortFunc(types, func(a, b string) int {
		if c := strings.Compare(owner[a], owner[b]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	b.WriteString("\n| detector | type | lines | TP | FP | FN | precision | recall |\n|---|---|---|---|---|---|---|---|\n")
	for _, typ := range types {
		s := scores[typ]
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %.3f | %.3f |\n", owner[typ], typ, s.tp+s.fn, s.tp, s.fp, s.fn, s.precision(), s.recall())
	}
	t.Log(b.String())
	for _, typ := range types {
		for _, w := range wrong[typ] {
			t.Logf("%s: %s", typ, w)
		}
	}
	for typ, target := range corpusTargets {
		s := scores[typ]
		if s == nil {
			t.Errorf("%s: no line of the corpus holds it; the corpus must cover every targeted type", typ)
			continue
		}
		if s.precision() < target[0] || s.recall() < target[1] {
			t.Errorf("%s: precision %.3f recall %.3f, below the target %.2f / %.2f", typ, s.precision(), s.recall(), target[0], target[1])
		}
	}
}
