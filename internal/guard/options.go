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
	return fmt.Errorf("guard: detector %q option %q: %s", o.detector, key, fmt.Sprintf(format, args...))
}

// unknown reports the options no builder read.
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
	if len(known) == 0 {
		return fmt.Errorf("guard: detector %q takes no options; remove %s", o.detector, strings.Join(bad, ", "))
	}
	return fmt.Errorf("guard: detector %q has no option %s: its options are %s", o.detector, strings.Join(bad, ", "), strings.Join(known, ", "))
}

func (o *options) str(key, def string) (string, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", o.errorf(key, "want a string, got %T", v)
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
				return nil, o.errorf(key, "item %d: want a string, got %T", i+1, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, o.errorf(key, "want a list of strings, got %T", v)
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
		return 0, o.errorf(key, "want a number, got %T", v)
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
		return false, o.errorf(key, "want true or false, got %T", v)
	}
	return b, nil
}
