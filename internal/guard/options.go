package guard

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// options reads a Spec's options and remembers which were read, so that a misspelt option
// is an error rather than silently ignored.
type options struct {
	detector string
	m        map[string]any
	used     []string
}

func (o *options) get(key string) (any, bool) {
	o.used = append(o.used, key)
	v, ok := o.m[key]
	return v, ok && v != nil
}

func (o *options) errorf(key, format string, args ...any) error {
	return &OptionError{Detector: o.detector, Option: key, Msg: fmt.Sprintf(format, args...)}
}

// OptionError is a mistake in one of a detector's options: a value it cannot use (Msg), or
// an option it does not take (Msg empty; Known lists the options it takes).
type OptionError struct {
	Detector string
	Option   string
	Msg      string
	Known    []string // sorted; set for an option the detector does not take
}

func (e *OptionError) Error() string {
	switch {
	case e.Msg != "":
		return fmt.Sprintf("guard: detector %q option %q: %s", e.Detector, e.Option, e.Msg)
	case len(e.Known) == 0:
		return fmt.Sprintf("guard: detector %q takes no options; remove %s", e.Detector, e.Option)
	}
	return fmt.Sprintf("guard: detector %q has no option %s: its options are %s", e.Detector, e.Option, strings.Join(e.Known, ", "))
}

// OptionErrors are the mistakes in a detector's options that New found: the first value
// it could not use, or every option it does not take.
type OptionErrors []*OptionError

func (es OptionErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// unknown reports the options no builder read, each on its own.
func (o *options) unknown() error {
	var bad []string
	for k := range o.m {
		if !slices.Contains(o.used, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	known := slices.Clone(o.used)
	slices.Sort(known)
	known = slices.Compact(known)
	es := make(OptionErrors, len(bad))
	for i, k := range bad {
		es[i] = &OptionError{Detector: o.detector, Option: k, Known: known}
	}
	return es
}

func (o *options) str(key, def string) (string, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", o.errorf(key, "want a string, not %s", describe(v))
	}
	return s, nil
}

func (o *options) strs(key string) ([]string, error) {
	v, ok := o.get(key)
	if !ok {
		return nil, nil
	}
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []string:
		return v, nil
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, isStr := e.(string)
			if !isStr {
				return nil, o.errorf(key, "item %d: want a string, not %s", i+1, describe(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, o.errorf(key, "want a list of strings, not %s", describe(v))
}

func (o *options) float(key string, def, lo, hi float64) (float64, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case float32:
		f = float64(v)
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint64:
		f = float64(v)
	default:
		return 0, o.errorf(key, "want a number, not %s", describe(v))
	}
	if math.IsNaN(f) || f < lo || f > hi {
		return 0, o.errorf(key, "%v is out of range: want %v to %v", f, lo, hi)
	}
	return f, nil
}

func (o *options) int(key string, def, lo, hi int) (int, error) {
	f, err := o.float(key, float64(def), float64(lo), float64(hi))
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) {
		return 0, o.errorf(key, "want a whole number, got %v", f)
	}
	return int(f), nil
}

func (o *options) boolean(key string, def bool) (bool, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, o.errorf(key, "want true or false, not %s", describe(v))
	}
	return b, nil
}

// describe names a value a user wrote, for an error: the text "many", the number 3, a list.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the text %q", v)
	case bool:
		return fmt.Sprintf("%v", v)
	case int, int64, uint64, float32, float64:
		return fmt.Sprintf("the number %v", v)
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}
