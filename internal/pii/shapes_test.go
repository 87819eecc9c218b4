package pii

import (
	"regexp"
	"slices"
	"testing"
)

// The hand parsers replaced these patterns; the fuzz test checks they still agree.
var (
	refSSN  = regexp.MustCompile(`^([0-9]{3})([- .]?)([0-9]{2})([- .]?)([0-9]{4})`)
	refIPv4 = regexp.MustCompile(`^[0-9]{1,3}(?:\.[0-9]{1,3}){3}`)
)

// refDigitRuns is digitRuns without the eight-bytes-at-a-time skip.
func refDigitRuns(text string) []int32 {
	var out []int32
	for i := 0; i < len(text); i++ {
		if text[i] >= '0' && text[i] <= '9' && (i == 0 || text[i-1] < '0' || text[i-1] > '9') {
			out = append(out, int32(i))
		}
	}
	return out
}

// refSSNMatches is ssnMatches as the pattern computes it.
func refSSNMatches(text string, starts []int32) [][]int {
	var out [][]int
	next := 0
	for _, s32 := range starts {
		s := int(s32)
		if s < next {
			continue
		}
		m := refSSN.FindStringSubmatchIndex(text[s:min(len(text), s+11)])
		if m == nil {
			continue
		}
		for k := range m {
			m[k] += s
		}
		out = append(out, m)
		next = m[1]
	}
	return out
}

func FuzzShapes(f *testing.F) {
	for _, s := range []string{"", "536-22-1234", "536221234", "123 45 6789x", "1.2.3.4", "255.255.255.2555",
		"a1b22c333", "12-34-5678 1234.56.7890", "0000000000000000000", "\xff9\x809"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		starts := digitRuns(text, nil)
		if want := refDigitRuns(text); !slices.Equal(starts, want) {
			t.Fatalf("digitRuns(%q) = %v, want %v", text, starts, want)
		}
		got, want := ssnMatches(text, starts), refSSNMatches(text, starts)
		if len(got) != len(want) {
			t.Fatalf("ssnMatches(%q) = %v, want %v", text, got, want)
		}
		for i := range got {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("ssnMatches(%q) = %v, want %v", text, got, want)
			}
		}
		for _, s := range starts {
			e := dottedQuad(text, int(s))
			m := refIPv4.FindStringIndex(text[s:min(len(text), int(s)+15)])
			if m == nil && e != -1 || m != nil && e != int(s)+m[1] {
				t.Fatalf("dottedQuad(%q, %d) = %d, want %v", text, s, e, m)
			}
		}
	})
}
