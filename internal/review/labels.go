package review

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Formats of label files.
const (
	FormatCSV   = "csv"   // a header row naming item, annotator, field and value, then one label a row
	FormatJSONL = "jsonl" // one object a line with keys item, annotator, field and value
)

// LabelFormat is the format a label file's extension names.
func LabelFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("%s: cannot tell the format from the extension: name the file .csv or .jsonl", path)
}

// LineError is a problem with one line of a label file.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// LineErrors are the problems ReadLabels found, in file order, at most maxLineErrors.
type LineErrors []*LineError

func (es LineErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// maxLineErrors bounds the problems reported for one file: a wrong file should not print a
// million lines.
const maxLineErrors = 20

// ReadLabels reads the labels of a CSV or JSONL file (file names it in errors) and checks
// them against the rubric: every label's field must be in it, its value allowed (values
// come back normalized) and no annotator may label an item's field twice. A row with an
// empty value is skipped (a question left unanswered); columns or keys other than item,
// annotator, field and value are ignored. When field is not "", rows without a field (a
// file with columns item, annotator, value) are labels of that field, and rows of other
// fields are skipped. Problems are LineErrors, one per bad line, each with the fix.
func ReadLabels(r io.Reader, file, format string, rubric Rubric, field string) ([]Label, error) {
	if err := rubric.Check(); err != nil {
		return nil, err
	}
	if field != "" {
		if _, ok := rubric.Field(field); !ok {
			return nil, fmt.Errorf("the rubric has no field %q: use one of %s", field, strings.Join(rubric.names(), ", "))
		}
	}
	rd := labelReader{file: file, rubric: rubric, field: field, seen: map[[3]string]int{}}
	switch format {
	case FormatCSV:
		rd.readCSV(r)
	case FormatJSONL:
		rd.readJSONL(r)
	default:
		return nil, fmt.Errorf("format %q: use csv or jsonl", format)
	}
	if len(rd.errs) > 0 {
		return nil, rd.errs
	}
	return rd.labels, nil
}

// labelReader accumulates the labels and problems of one file.
type labelReader struct {
	file   string
	rubric Rubric
	field  string
	labels []Label
	errs   LineErrors
	seen   map[[3]string]int // item, annotator, field -> line
}

// fail records a problem at line and reports whether to go on.
func (rd *labelReader) fail(line int, format string, a ...any) bool {
	rd.errs = append(rd.errs, &LineError{File: rd.file, Line: line, Msg: fmt.Sprintf(format, a...)})
	return len(rd.errs) < maxLineErrors
}

// add checks one row and keeps its label; hasField says whether the row named a field.
func (rd *labelReader) add(line int, l Label, hasField bool) bool {
	if !hasField {
		l.Field = rd.field
	} else if rd.field != "" && l.Field != rd.field {
		return true
	}
	l.Item, l.Annotator, l.Field = strings.TrimSpace(l.Item), strings.TrimSpace(l.Annotator), strings.TrimSpace(l.Field)
	if strings.TrimSpace(l.Value) == "" {
		return true
	}
	switch {
	case l.Item == "":
		return rd.fail(line, "the item is empty: give the id of the item labelled")
	case l.Annotator == "":
		return rd.fail(line, "the annotator is empty: give who labelled the item")
	case l.Field == "":
		return rd.fail(line, "the field is empty: give the rubric field labelled (one of %s)", strings.Join(rd.rubric.names(), ", "))
	}
	f, ok := rd.rubric.Field(l.Field)
	if !ok {
		return rd.fail(line, "the rubric has no field %q: use one of %s", l.Field, strings.Join(rd.rubric.names(), ", "))
	}
	v, err := f.Normalize(l.Value)
	if err != nil {
		return rd.fail(line, "%v", err)
	}
	l.Value = v
	key := [3]string{l.Item, l.Annotator, l.Field}
	if first, dup := rd.seen[key]; dup {
		return rd.fail(line, "annotator %q labelled field %q of item %q already on line %d: keep one label per annotator, item and field", l.Annotator, l.Field, l.Item, first)
	}
	rd.seen[key] = line
	rd.labels = append(rd.labels, l)
	return true
}

func (rd *labelReader) readCSV(r io.Reader) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err == io.EOF {
		return
	}
	if err != nil {
		rd.fail(csvLine(err, 1), "%v: fix the header row", csvMsg(err))
		return
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; dup && h != "" {
			rd.fail(1, "two columns are named %q: rename one", h)
			return
		}
		col[h] = i
	}
	var missing []string
	for _, c := range []string{"item", "annotator", "value"} {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	_, hasField := col["field"]
	if !hasField && rd.field == "" {
		missing = append(missing, "field")
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("the header row has no column %s: name the columns item,annotator,field,value", strings.Join(missing, ", "))
		if !hasField {
			msg += " (or item,annotator,value and give the field)"
		}
		rd.fail(1, "%s", msg)
		return
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			if !rd.fail(csvLine(err, 0), "%v", csvMsg(err)) {
				return
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		l := Label{Item: rec[col["item"]], Annotator: rec[col["annotator"]], Value: rec[col["value"]]}
		if hasField {
			l.Field = rec[col["field"]]
		}
		if !rd.add(line, l, hasField) {
			return
		}
	}
}

// csvLine is the line of a CSV error, or def when it has none.
func csvLine(err error, def int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.Line > 0 {
		return pe.Line
	}
	return def
}

// csvMsg is a CSV error without its "record on line N:" prefix, which LineError repeats.
func csvMsg(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return "wrong number of columns: give one value per header column (quote values with commas)"
		}
		return pe.Err.Error()
	}
	return err.Error()
}

// maxLabelLine bounds one JSONL line.
const maxLabelLine = 16 << 20

func (rd *labelReader) readJSONL(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLabelLine)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || dec.More() || obj == nil {
			if !rd.fail(line, "not a JSON object: write one object a line, like {\"item\":\"q1\",\"annotator\":\"ana\",\"field\":\"tone\",\"value\":\"polite\"}") {
				return
			}
			continue
		}
		var l Label
		var bad []string
		text := func(key string) string {
			switch v := obj[key].(type) {
			case nil:
				return ""
			case string:
				return v
			case json.Number:
				return v.String()
			case bool:
				if v {
					return "true"
				}
				return "false"
			}
			bad = append(bad, key)
			return ""
		}
		l.Item, l.Annotator, l.Value = text("item"), text("annotator"), text("value")
		_, hasField := obj["field"]
		l.Field = text("field")
		if len(bad) > 0 {
			if !rd.fail(line, "%s must be text, a number or true/false, not an object or a list", strings.Join(bad, " and ")) {
				return
			}
			continue
		}
		if !hasField && rd.field == "" {
			if !rd.fail(line, "no \"field\": give the rubric field this label answers (or give the field for the whole file)") {
				return
			}
			continue
		}
		if !rd.add(line, l, hasField) {
			return
		}
	}
	if err := sc.Err(); err != nil {
		msg := err.Error()
		if errors.Is(err, bufio.ErrTooLong) {
			msg = fmt.Sprintf("a line is longer than %d MB", maxLabelLine>>20)
		}
		rd.fail(0, "%s", msg)
	}
}
