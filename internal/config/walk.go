package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Hints for values of the wrong shape.
const (
	hintString = "write a single value (quote it if it contains a colon)"
	hintNumber = "write a number such as 0.9, without quotes"
	hintInt    = "write a whole number such as 3"
	hintMap    = "write `key: value` lines indented below it"
	hintList   = "write one item per line, each starting with `- `"
)

// Hints for whole numbers below their field's minimum: what the bound means there.
const (
	hintRepeat      = "use 1 or more: the number of samples of each test"
	hintConcurrency = "use 1 or more: 1 makes one provider call at a time"
	hintTimeout     = "give the timeout in milliseconds, 1 or more, e.g. 30000"
	hintRetries     = "use 0 for no retries, or the number of retries after the first attempt"
	hintRPM         = "use 0 (or leave it out) for no limit, or the requests allowed per minute"
	hintMaxTokens   = "use 1 or more, or leave it out for the provider's default"
)

// The helpers below read one value of an expected shape, report a wrong shape at the value's
// position, and return ok=false so that the caller skips it and goes on with the rest.

// str reads a scalar as text. Numbers and booleans are accepted as written (a label of 2024
// is a fine label); maps, lists and empty values are errors.
func (l *loader) str(n *node, what string) (string, bool) {
	switch n.kind {
	case stringKind, intKind, floatKind, boolKind:
		return n.text, true
	}
	l.fail(n.pos, hintString, "%s must be a string, not %s", what, n.kind)
	return "", false
}

// num reads a number.
func (l *loader) num(n *node, what string) (float64, bool) {
	switch n.kind {
	case intKind:
		return float64(n.value.(int)), true
	case floatKind:
		f := n.value.(float64)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			l.fail(n.pos, hintNumber, "%s must be a finite number", what)
			return 0, false
		}
		return f, true
	}
	l.fail(n.pos, hintNumber, "%s must be a number, not %s", what, n.kind)
	return 0, false
}

// integer reads a whole number.
func (l *loader) integer(n *node, what string) (int, bool) {
	switch n.kind {
	case intKind:
		return n.value.(int), true
	case floatKind:
		if f := n.value.(float64); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int(f), true
		}
		l.fail(n.pos, hintInt, "%s must be a whole number", what)
		return 0, false
	case stringKind:
		if _, err := strconv.Atoi(strings.TrimSpace(n.text)); err == nil {
			l.fail(n.pos, fmt.Sprintf("write %s without quotes", strings.TrimSpace(n.text)), "%s must be a whole number, not a string", what)
			return 0, false
		}
	}
	l.fail(n.pos, hintInt, "%s must be a whole number, not %s", what, n.kind)
	return 0, false
}

// posInt reads a whole number >= lo; hint says what the bound means for this field.
func (l *loader) posInt(n *node, what string, lo int, hint string) (int, bool) {
	v, ok := l.integer(n, what)
	if !ok {
		return 0, false
	}
	if v < lo {
		l.fail(n.pos, hint, "%s must be at least %d", what, lo)
		return 0, false
	}
	return v, true
}

// boolean reads true or false.
func (l *loader) boolean(n *node, what string) (bool, bool) {
	if n.kind == boolKind {
		return n.value.(bool), true
	}
	l.fail(n.pos, "write true or false, without quotes", "%s must be true or false, not %s", what, n.kind)
	return false, false
}

// eachKey calls fn for every entry of a map node; ok=false when n is not a map.
func (l *loader) eachKey(n *node, what string, fn func(k, v *node)) bool {
	if n.kind != mapKind {
		l.fail(n.pos, hintMap, "%s must be a map, not %s", what, n.kind)
		return false
	}
	for i, k := range n.keys {
		fn(k, n.vals[i])
	}
	return true
}

// list reads a list node's items.
func (l *loader) list(n *node, what string) ([]*node, bool) {
	if n.kind != listKind {
		l.fail(n.pos, hintList, "%s must be a list, not %s", what, n.kind)
		return nil, false
	}
	return n.items, true
}

// strOrList reads a value that is one item or a list of items.
func (l *loader) strOrList(n *node, what string) []*node {
	switch n.kind {
	case listKind:
		return n.items
	case nullKind, mapKind:
		l.fail(n.pos, hintList, "%s must be a string or a list, not %s", what, n.kind)
		return nil
	}
	return []*node{n}
}
