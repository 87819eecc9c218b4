package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Formats of dataset files.
const (
	FormatJSONL = "jsonl" // one JSON object per line
	FormatCSV   = "csv"   // a header row, then one row per item
	FormatJSON  = "json"  // an array of objects
)

// DetectFormat is the format a file's extension names, or an error saying to give one.
func DetectFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	case ".csv":
		return FormatCSV, nil
	case ".json":
		return FormatJSON, nil
	}
	return "", fmt.Errorf("%s: cannot tell the format from the extension: name the file .jsonl, .csv or .json, or give --format jsonl|csv|json", path)
}

// CheckFormat reports whether f is a format.
func CheckFormat(f string) error {
	if f != FormatJSONL && f != FormatCSV && f != FormatJSON {
		return fmt.Errorf("format %q: use jsonl, csv or json", f)
	}
	return nil
}

// LineError is a problem with one record of a file. In a JSON array, whose records may
// share a line, Record numbers the element (from 1) and Col the column of a syntax error.
type LineError struct {
	File   string
	Line   int
	Col    int    // 0 when not known
	Record int    // 0 outside a JSON array
	Msg    string // what is wrong and how to fix it
}

func (e *LineError) Error() string {
	switch {
	case e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.Record > 0:
		return fmt.Sprintf("%s:%d: record %d: %s", e.File, e.Line, e.Record, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Errors are the problems Read found, in file order; at most maxErrors are kept.
type Errors []*LineError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// maxErrors bounds how many problems Read reports before it stops: a wrong file should not
// print a million lines.
const maxErrors = 20

// maxLine bounds one JSONL line (one item).
const maxLine = 64 << 20

// Read parses a file of items in format with the mapping m; name is the file's name in
// error messages. A problem with the file or its records is an Errors, each naming the
// line; a mapping rule that no record matches is an error too (a misspelled field).
func Read(r io.Reader, name, format string, m Mapping) ([]Item, error) {
	var items []Item
	var errs Errors
	seen := map[string]bool{}
	add := func(rec record) bool {
		it, err := m.apply(rec, seen)
		if err == nil {
			err = checkItem(it)
		}
		if err != nil {
			errs = append(errs, &LineError{File: name, Line: rec.line, Record: rec.record, Msg: err.Error()})
			return len(errs) < maxErrors
		}
		items = append(items, it)
		return true
	}
	failAt := func(at LineError, format string, args ...any) bool {
		at.File, at.Msg = name, fmt.Sprintf(format, args...)
		errs = append(errs, &at)
		return len(errs) < maxErrors
	}
	fail := func(line int, format string, args ...any) bool {
		return failAt(LineError{Line: line}, format, args...)
	}
	switch format {
	case FormatJSONL:
		readJSONL(r, add, fail)
	case FormatCSV:
		readCSV(r, add, fail)
	case FormatJSON:
		readJSON(r, add, failAt)
	default:
		return nil, CheckFormat(format)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var missing []string
	for _, rule := range m.Rules {
		if !seen[rule.Field] {
			missing = append(missing, rule.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: no record has the field named by %s: check the spelling against the file's fields", name, m.with(strings.Join(missing, ",")))
	}
	return items, nil
}

// checkItem refuses what no store can keep.
func checkItem(it Item) error {
	for what, s := range map[string]string{"expected": it.Expected, "source": it.Source, "consent_basis": it.ConsentBasis} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return fmt.Errorf("%s is not valid UTF-8 text (or holds a NUL byte): fix the encoding", what)
		}
	}
	return nil
}

func readJSONL(r io.Reader, add func(record) bool, fail func(int, string, ...any) bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		rec, err := decodeObject(b)
		if err != nil {
			// Lines are independent: go on, so that one run lists every bad line.
			if !fail(line, "%v: write one JSON object per line", err) {
				return
			}
			continue
		}
		rec.line = line
		if !add(rec) {
			return
		}
	}
	if err := sc.Err(); err != nil {
		msg := err.Error()
		if errors.Is(err, bufio.ErrTooLong) {
			msg = fmt.Sprintf("a line is longer than %d MB: split the item", maxLine>>20)
		}
		fail(0, "%s", msg)
	}
}

// decodeObject reads one JSON object, numbers kept as written.
func decodeObject(b []byte) (record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return record{}, fmt.Errorf("invalid JSON (%v)", err)
	}
	if dec.More() {
		return record{}, errors.New("more than one JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return record{}, fmt.Errorf("%s, not an object", strings.TrimPrefix(kind(v), "a "))
	}
	return record{keys: sortedKeys(obj), values: obj}, nil
}

func readCSV(r io.Reader, add func(record) bool, fail func(int, string, ...any) bool) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err == io.EOF {
		return
	}
	if err != nil {
		fail(csvLine(err, 1), "%v: fix the header row", csvMsg(err))
		return
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // a spreadsheet's byte order mark
	}
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
		if header[i] == "" {
			fail(1, "column %d has no name in the header row: name it", i+1)
			return
		}
		if j := slices.Index(header[:i], header[i]); j >= 0 {
			fail(1, "columns %d and %d are both named %q: rename one", j+1, i+1, header[i])
			return
		}
	}
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			fail(csvLine(err, 0), "%v: every row needs the header's %d columns, with quotes around values holding commas, quotes or line breaks", csvMsg(err), len(header))
			return
		}
		line, _ := cr.FieldPos(0)
		rec := record{keys: header, values: make(map[string]any, len(header)), line: line}
		for i, h := range header {
			// An empty cell is a missing value: CSV cannot tell them apart, and a
			// ragged dataset exports with empty cells where an item lacks a field.
			if row[i] != "" {
				rec.values[h] = row[i]
			}
		}
		if !add(rec) {
			return
		}
	}
}

// csvLine is the line of a CSV parse error.
func csvLine(err error, def int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Line
	}
	return def
}

// csvMsg is a CSV parse error without the position, which LineError gives.
func csvMsg(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func readJSON(r io.Reader, add func(record) bool, fail func(LineError, string, ...any) bool) {
	data, err := io.ReadAll(r)
	if err != nil {
		fail(LineError{}, "%v", err)
		return
	}
	// at is where offset off is: its line and column, and the record n (0: none).
	at := func(off int64, n int, col bool) LineError {
		e := LineError{Line: 1 + bytes.Count(data[:off], []byte("\n")), Record: n}
		if col {
			e.Col = int(off) - bytes.LastIndexByte(data[:off], '\n')
		}
		return e
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		fail(at(dec.InputOffset(), 0, false), "a JSON dataset is an array of objects, [{...}, {...}]: for one object per line, name the file .jsonl")
		return
	}
	for n := 1; dec.More(); n++ {
		start := dec.InputOffset()
		for start < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[start]) >= 0 {
			start++
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			// The stream decoder's offsets are not the file's: decode the element alone,
			// whose SyntaxError counts the bad byte from the element's start.
			off := int64(len(data))
			var se *json.SyntaxError
			if errors.As(json.NewDecoder(bytes.NewReader(data[start:])).Decode(new(any)), &se) && se.Offset > 0 {
				off = min(start+se.Offset-1, int64(len(data)))
			}
			fail(at(off, 0, true), "record %d: invalid JSON (%v): fix the file", n, err)
			return
		}
		obj, ok := v.(map[string]any)
		if !ok {
			fail(at(start, n, false), "the array holds %s: each element must be an object", kind(v))
			return
		}
		pos := at(start, n, false)
		if !add(record{keys: sortedKeys(obj), values: obj, line: pos.Line, record: n}) {
			return
		}
	}
	if _, err := dec.Token(); err != nil {
		fail(at(dec.InputOffset(), 0, true), "invalid JSON (%v): close the array with ]", err)
	}
}

// exported is an item as JSONL and JSON exports write it: the nested form the default
// mapping reads back.
type exported struct {
	Vars         map[string]any    `json:"vars"`
	Expected     string            `json:"expected,omitempty"`
	Metadata     map[string]any    `json:"metadata,omitempty"`
	Segment      map[string]string `json:"segment,omitempty"`
	Source       string            `json:"source,omitempty"`
	Consent      bool              `json:"consent,omitempty"`
	ConsentBasis string            `json:"consent_basis,omitempty"`
}

func exportOf(it Item) exported {
	v := it.Vars
	if v == nil {
		v = map[string]any{}
	}
	return exported{Vars: v, Expected: it.Expected, Metadata: it.Metadata, Segment: it.Segment,
		Source: it.Source, Consent: it.Consent, ConsentBasis: it.ConsentBasis}
}

// Write writes items to w in format. JSONL and JSON write each item as {"vars": {...},
// "expected": ..., "metadata": {...}, "segment": {...}, "source": ..., "consent": ...,
// "consent_basis": ...}; CSV writes a header of the columns the items use (vars by name,
// metadata.NAME, segment.NAME, ...) with values that are not text as JSON. Each format
// reads back with the default mapping to the same items (for CSV: with every value text).
func Write(w io.Writer, format string, items []Item) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	switch format {
	case FormatCSV:
		if err := writeCSV(bw, items); err != nil {
			return err
		}
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if format == FormatJSON {
			bw.WriteString("[")
		}
		for i, it := range items {
			buf.Reset()
			if err := enc.Encode(exportOf(it)); err != nil {
				return fmt.Errorf("item %d: %w", it.ID, err)
			}
			if format == FormatJSON {
				if i > 0 {
					bw.WriteString(",")
				}
				bw.WriteString("\n  ")
				buf.Truncate(buf.Len() - 1) // the array puts its own line breaks
			}
			bw.Write(buf.Bytes())
		}
		if format == FormatJSON {
			if len(items) > 0 {
				bw.WriteString("\n")
			}
			bw.WriteString("]\n")
		}
	}
	return bw.Flush()
}

func writeCSV(w io.Writer, items []Item) error {
	varCols, metaCols, segCols := map[string]bool{}, map[string]bool{}, map[string]bool{}
	hasSource, hasConsent, hasBasis := false, false, false
	for _, it := range items {
		for k := range it.Vars {
			varCols[k] = true
		}
		for k := range it.Metadata {
			metaCols[k] = true
		}
		for k := range it.Segment {
			segCols[k] = true
		}
		hasSource = hasSource || it.Source != ""
		hasConsent = hasConsent || it.Consent
		hasBasis = hasBasis || it.ConsentBasis != ""
	}
	type col struct {
		head string
		val  func(Item) string
	}
	var cols []col
	for _, k := range sortedSet(varCols) {
		head := k
		if reservedField(k) {
			head = "vars." + k
		}
		cols = append(cols, col{head, func(it Item) string { return cellText(it.Vars, k) }})
	}
	cols = append(cols, col{"expected", func(it Item) string { return it.Expected }})
	for _, k := range sortedSet(metaCols) {
		cols = append(cols, col{"metadata." + k, func(it Item) string { return cellText(it.Metadata, k) }})
	}
	for _, k := range sortedSet(segCols) {
		cols = append(cols, col{"segment." + k, func(it Item) string { return it.Segment[k] }})
	}
	if hasSource {
		cols = append(cols, col{"source", func(it Item) string { return it.Source }})
	}
	if hasConsent || hasBasis {
		cols = append(cols, col{"consent", func(it Item) string { return fmt.Sprint(it.Consent) }})
	}
	if hasBasis {
		cols = append(cols, col{"consent_basis", func(it Item) string { return it.ConsentBasis }})
	}
	cw := csv.NewWriter(w)
	row := make([]string, len(cols))
	for i, c := range cols {
		row[i] = c.head
	}
	if err := cw.Write(row); err != nil {
		return err
	}
	for _, it := range items {
		for i, c := range cols {
			row[i] = c.val(it)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cellText is a value as a CSV cell: text as it is, anything else as JSON, a missing value
// empty.
func cellText(m map[string]any, k string) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	return valueText(v)
}

func sortedSet(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
