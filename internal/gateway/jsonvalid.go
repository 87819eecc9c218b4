package gateway

import (
	"encoding/json"
	"errors"
)

// validJSON reports whether b is one valid JSON value, exactly as encoding/json's Valid does
// (strings are not checked for UTF-8, nesting is bounded at 10,000), at a fraction of its
// cost: Valid runs a state machine through a function call per byte, and every event of a
// stream is checked (a fuzz test holds the two to the same answers).
func validJSON(b []byte) bool {
	var stackBuf [32]byte
	stack := stackBuf[:0] // the open containers: '{' or '['
	i := skipSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if len(stack) >= maxJSONDepth {
				return false
			}
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == closing(c) {
				i++
				break
			}
			stack = append(stack, c)
			if c == '{' {
				var ok bool
				if i, ok = scanKey(b, i); !ok {
					return false
				}
			}
			continue
		case c == '"':
			var ok bool
			if i, ok = scanString(b, i); !ok {
				return false
			}
		case c == '-' || '0' <= c && c <= '9':
			var ok bool
			if i, ok = scanNumber(b, i); !ok {
				return false
			}
		case c == 't':
			if !hasLiteral(b, i, "true") {
				return false
			}
			i += 4
		case c == 'f':
			if !hasLiteral(b, i, "false") {
				return false
			}
			i += 5
		case c == 'n':
			if !hasLiteral(b, i, "null") {
				return false
			}
			i += 4
		default:
			return false
		}
		// A value ended before i: close containers, or move to the next element.
		for {
			i = skipSpace(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top := stack[len(stack)-1]
			if b[i] == closing(top) {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return false
			}
			i = skipSpace(b, i+1)
			if top == '{' {
				var ok bool
				if i, ok = scanKey(b, i); !ok {
					return false
				}
			}
			break
		}
	}
}

// maxJSONDepth is encoding/json's bound on nesting.
const maxJSONDepth = 10000

func closing(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanKey reads an object's key and its colon from i, and returns where its value starts.
func scanKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := scanString(b, i)
	if !ok {
		return i, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipSpace(b, i+1), true
}

// scanString reads the string that starts at b[i] ('"') and returns the index after it.
func scanString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		for i < len(b) && plainStringByte[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return i, false
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// plainStringByte tells the bytes a string holds as they are: not '"', '\\' or a control
// character.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanNumber reads the number that starts at b[i] and returns the index after it.
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// valueEnd is the index after the value that starts at b[i], in valid JSON.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = scanString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\r' && b[i] != '\n' {
		i++
	}
	return i
}

// errNotJSON is objectFields' answer to data that is not valid JSON.
var errNotJSON = errors.New("not valid JSON")

// objectFields is json.Unmarshal of data into a map of the fields' raw values, as every
// request body is read, at a fraction of its cost and without copying the values: they are
// slices of data, capped at their end so that appending to one cannot write over the next.
// Where encoding/json does more than split the object — a key with an escape or a byte
// outside printable ASCII, which it unquotes; data that is not an object — it is
// json.Unmarshal. A key given twice keeps its last value, as there.
func objectFields(data []byte) (map[string]json.RawMessage, error) {
	if !validJSON(data) {
		return nil, errNotJSON
	}
	fields := make(map[string]json.RawMessage, 8)
	if !eachField(data, func(key, value []byte) bool {
		if !plainKey(string(key)) {
			return false
		}
		fields[string(key)] = value[:len(value):len(value)]
		return true
	}) {
		var m map[string]json.RawMessage
		err := json.Unmarshal(data, &m)
		return m, err
	}
	return fields, nil
}

// eachField calls fn with the key (as written, between its quotes) and the value of each
// field of the object data, valid JSON, in order, until fn returns false. It reports whether
// data is an object and fn never returned false.
func eachField(data []byte, fn func(key, value []byte) bool) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	if i = skipSpace(data, i+1); data[i] == '}' {
		return true
	}
	for {
		end, _ := scanString(data, i)
		key := data[i+1 : end-1]
		i = skipSpace(data, skipSpace(data, end)+1) // past the colon
		vend := valueEnd(data, i)
		if !fn(key, data[i:vend]) {
			return false
		}
		if i = skipSpace(data, vend); data[i] == '}' {
			return true
		}
		i = skipSpace(data, i+1) // past the comma
	}
}
