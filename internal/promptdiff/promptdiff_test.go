package promptdiff

import (
	"slices"
	"strings"
	"testing"
)

// TestUnifiedHunks checks the diff against what diff -U1 prints for the same inputs.
func TestUnifiedHunks(t *testing.T) {
	lines := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, " ")
	}
	for _, c := range []struct {
		a, b string
		want []string // hunks, each header then lines joined by |
	}{
		{"a b c", "a b c", nil},
		{"", "x y", []string{"-0,0 +1,2|+x|+y"}},
		{"x y", "", []string{"-1,2 +0,0|-x|-y"}},
		// Two changes far apart are two hunks; near ones merge.
		{"1 2 3 4 5 6 7 8", "1 X 3 4 5 6 Y 8", []string{"-1,3 +1,3| 1|-2|+X| 3", "-6,3 +6,3| 6|-7|+Y| 8"}},
		{"1 2 3 4 5", "1 X 3 Y 5", []string{"-1,5 +1,5| 1|-2|+X| 3|-4|+Y| 5"}},
	} {
		var got []string
		for _, h := range unifiedHunks(lines(c.a), lines(c.b), 1) {
			got = append(got, h.Header+"|"+strings.Join(h.Lines, "|"))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("diff(%q, %q) =\n%q\nwant\n%q", c.a, c.b, got, c.want)
		}
	}
}
