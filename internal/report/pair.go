package report

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"strconv"
)

// PairSample is what comparing two runs needs of one result: the keys that find the same
// sample in the other run, and its verdict. The store keeps one per result (written when
// the run is saved), so that two 100,000-result runs are compared without reading their
// results; the eval engine pairs reports in memory with the same keys, so that the CLI
// and the server agree.
type PairSample struct {
	// Key names the sample by its test's description and vars and its repeat: what pairs
	// two runs that each have a single prompt × provider (a model or prompt change).
	Key uint64
	// LabelKey is Key with the prompt and provider labels: what pairs runs of several.
	LabelKey uint64
	Test     int // the test's index in the suite: changes are listed in test order
	Passed   bool
	Score    float64
}

// PairSample returns the result's PairSample.
func (r *Result) PairSample() PairSample {
	k := TestIdentity(r.Test.Description, r.Test.Vars) + "\x1f" + strconv.Itoa(r.Repeat)
	return PairSample{
		Key:      pairHash(k),
		LabelKey: pairHash(k + "\x1f" + r.Prompt + "\x1f" + r.Provider),
		Test:     r.Test.Index,
		Passed:   r.Passed,
		Score:    r.Score,
	}
}

// PairSamples returns one PairSample per result, in order.
func PairSamples(results []Result) []PairSample {
	out := make([]PairSample, len(results))
	for i := range results {
		out[i] = results[i].PairSample()
	}
	return out
}

// pairHash is the first 64 bits of the key's SHA-256. A key holds a test's whole vars,
// which may be long documents, so the store keeps this instead; two different keys of the
// runs compared share a hash with a probability of about n²/2⁶⁵ (10⁻⁹ for two runs of
// 100,000 samples), and SHA-256 keeps a crafted report from forcing it.
func pairHash(key string) uint64 {
	sum := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint64(sum[:8])
}

// TestIdentity names a test by what it asks (its description and vars) rather than by its
// position, so that it is found again in an edited suite.
func TestIdentity(description string, vars map[string]any) string {
	b, _ := json.Marshal(vars) // map keys marshal sorted: a canonical form
	return description + "\x1f" + string(b)
}
