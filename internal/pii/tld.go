package pii

import (
	_ "embed"
	"strings"
	"sync"
)

// tldList is the set of top-level domains an e-mail address may end with. An address whose
// last label is not a real TLD ("name@host.local", "a@b.c") is not reported: such strings are
// mostly code, config keys or placeholders, not someone's address.
//
// To refresh it, regenerate tlds.txt from IANA's list, keeping the header comment:
//
//	curl -s https://data.iana.org/TLD/tlds-alpha-by-domain.txt | grep -v '^#' | tr A-Z a-z
//
// or, offline, from the ICANN section of the Public Suffix List (lines with no dot).
//
//go:embed tlds.txt
var tldList string

// tldSet holds the entries of tldList. It is built on first use and never mutated after.
type tldSet map[string]struct{}

var knownTLDs = sync.OnceValue(newTLDSet)

func newTLDSet() tldSet {
	set := make(tldSet, 1400)
	for line := range strings.Lines(tldList) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[line] = struct{}{}
	}
	return set
}

func (s tldSet) has(tld string) bool {
	var buf [32]byte
	if len(tld) <= len(buf) {
		b := buf[:len(tld)]
		for i := 0; i < len(tld); i++ {
			c := tld[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		if _, ok := s[string(b)]; ok {
			return true
		}
	}
	_, ok := s[strings.ToLower(tld)]
	return ok
}
