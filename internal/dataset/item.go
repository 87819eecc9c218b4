// Package dataset reads and writes dataset items: JSONL, CSV (with a header row) and JSON
// (an array of objects), with a column mapping that says which field of a record is the
// expected output, which are input vars, metadata, segment fields, provenance and consent.
// It also finds exact duplicates (by content hash) and near-duplicates (by normalized text).
//
// The package is pure: it parses and writes, and never touches the store, which imports it
// for Item and ContentHash so that one function decides what "the same item" is.
package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Item is one dataset item. Vars and Expected are its content (what ContentHash covers);
// the rest describes it.
type Item struct {
	// ID is the item's number in its dataset, set by the store (0 before it is stored).
	ID       int64          `json:"id,omitempty"`
	Vars     map[string]any `json:"vars"`
	Expected string         `json:"expected,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// Segment holds the fields an eval or an audit slices by, such as locale or tier.
	Segment map[string]string `json:"segment,omitempty"`
	// Source is where the item came from (provenance): a file, a ticket, a run.
	Source string `json:"source,omitempty"`
	// Consent says that the person the item comes from agreed to its use, on ConsentBasis.
	Consent      bool   `json:"consent"`
	ConsentBasis string `json:"consent_basis,omitempty"`
	// ContentHash is ContentHash(Vars, Expected), set by the store.
	ContentHash string    `json:"content_hash,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	// Line is where the item starts in the file it was read from (0 if not read from one).
	Line int `json:"-"`
	// Record is the item's element number in a JSON array, from 1 (0 in JSONL and CSV,
	// where Line alone says where it is): a one-line array has all its items on line 1.
	Record int `json:"-"`
}

// Where names the item's place in its file for a message: "record 2" in a JSON array,
// "line 3" in JSONL or CSV, "" when it was not read from a file.
func (it Item) Where() string {
	switch {
	case it.Record > 0:
		return fmt.Sprintf("record %d", it.Record)
	case it.Line > 0:
		return fmt.Sprintf("line %d", it.Line)
	}
	return ""
}

// Places names some of items (by their numbers in items, from 1) for a message: "records
// 1, 2" when they were read from a JSON array, "lines 2, 3" from JSONL or CSV, "items 1, 2"
// when they were not read from a file.
func Places(items []Item, numbers []int) string {
	unit, out := "items", make([]string, len(numbers))
	for i, n := range numbers {
		out[i] = fmt.Sprint(n)
		if n < 1 || n > len(items) {
			continue
		}
		switch it := items[n-1]; {
		case it.Record > 0:
			unit, out[i] = "records", fmt.Sprint(it.Record)
		case it.Line > 0:
			unit, out[i] = "lines", fmt.Sprint(it.Line)
		}
	}
	return unit + " " + strings.Join(out, ", ")
}

// ContentHash is the hex SHA-256 of the canonical JSON of {"expected": expected, "vars":
// vars}: keys sorted at every depth, numbers as written, no insignificant space, no HTML
// escaping. Two items with the same hash are exact duplicates.
func ContentHash(vars map[string]any, expected string) (string, error) {
	if vars == nil {
		vars = map[string]any{}
	}
	canon, err := CanonicalJSON(vars)
	if err != nil {
		return "", err
	}
	return ContentHashOf(canon, expected), nil
}

// ContentHashOf is ContentHash for vars already in canonical JSON (what the store keeps),
// without encoding them again.
func ContentHashOf(varsJSON, expected string) string {
	e, _ := CanonicalJSON(expected) // a string always encodes
	h := sha256.New()
	h.Write([]byte(`{"expected":`))
	h.Write([]byte(e))
	h.Write([]byte(`,"vars":`))
	h.Write([]byte(varsJSON))
	h.Write([]byte(`}`))
	return hex.EncodeToString(h.Sum(nil))
}

// CanonicalJSON is v as JSON with object keys sorted at every depth, numbers as written, no
// insignificant space and no HTML escaping: one text per value, hence one hash.
func CanonicalJSON(v any) (string, error) {
	switch v.(type) {
	case map[string]any, map[string]string, []any, string, json.Number, bool, nil:
		// Maps encode with sorted keys, json.Number as written: already canonical.
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(out.String(), "\n"), nil
	}
	// Anything else (structs, typed maps) goes through a generic tree first.
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return "", err
	}
	return CanonicalJSON(tree)
}

// NormalizedText is the text near-duplicate detection compares: the item's var values (by
// var name) and expected output, lower-cased, punctuation and symbols removed, runs of
// space collapsed. "Where is my refund?" and "where is my  refund" are the same.
func NormalizedText(vars map[string]any, expected string) string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+" "+normalize(valueText(vars[k])))
	}
	parts = append(parts, "expected "+normalize(expected))
	return strings.Join(parts, "\x1f")
}

// normalize lower-cases s, drops punctuation and symbols, and collapses space.
func normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			// dropped: "refund?" and "refund" are the same word
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// NearHash is the hex SHA-256 of NormalizedText: items with the same near hash are
// near-duplicates.
func NearHash(vars map[string]any, expected string) string {
	sum := sha256.Sum256([]byte(NormalizedText(vars, expected)))
	return hex.EncodeToString(sum[:])
}

// valueText is a value as text: strings as they are, anything else as its JSON.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Dedupe is what Deduplicate found in a list of items.
type Dedupe struct {
	// Unique are the items without their exact duplicates, in their order (first kept).
	Unique []Item
	// Duplicates are the dropped items: exact copies (same ContentHash) of an earlier one.
	Duplicates []Duplicate
	// NearGroups are the groups of two or more unique items whose normalized text is the
	// same but whose content differs. They are kept: a person decides.
	NearGroups [][]Item
}

// Duplicate is an item dropped as an exact copy of an earlier one.
type Duplicate struct {
	Item Item
	Of   Item // the item kept
}

// Deduplicate drops exact duplicates (keeping the first) and groups near-duplicates.
func Deduplicate(items []Item) (Dedupe, error) {
	var d Dedupe
	first := map[string]int{} // content hash -> index in d.Unique
	near := map[string][]int{}
	var nearOrder []string
	for _, it := range items {
		h, err := ContentHash(it.Vars, it.Expected)
		if err != nil {
			return Dedupe{}, fmt.Errorf("%s: %w", it.Where(), err)
		}
		if i, ok := first[h]; ok {
			d.Duplicates = append(d.Duplicates, Duplicate{Item: it, Of: d.Unique[i]})
			continue
		}
		first[h] = len(d.Unique)
		nh := NearHash(it.Vars, it.Expected)
		if _, ok := near[nh]; !ok {
			nearOrder = append(nearOrder, nh)
		}
		near[nh] = append(near[nh], len(d.Unique))
		d.Unique = append(d.Unique, it)
	}
	for _, nh := range nearOrder {
		if idx := near[nh]; len(idx) > 1 {
			g := make([]Item, len(idx))
			for j, i := range idx {
				g[j] = d.Unique[i]
			}
			d.NearGroups = append(d.NearGroups, g)
		}
	}
	return d, nil
}
