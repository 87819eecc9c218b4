package cli

import "fmt"

// hunk is one part of a unified diff: its "-a,n +b,m" range and its lines, each prefixed
// with ' ', '-' or '+'.
type hunk struct {
	header string
	lines  []string
}

// maxDiffCells bounds the longest-common-subsequence table (lines of A times lines of B).
// Prompts are short; past this a diff shows A removed and B added whole rather than use
// hundreds of megabytes.
const maxDiffCells = 4_000_000

// unifiedHunks is the line diff of a and b as unified-diff hunks with context lines of
// context around each change; none when they are equal. It uses a longest common
// subsequence, which is exact and fast enough for prompts.
func unifiedHunks(a, b []string, context int) []hunk {
	type op struct {
		kind byte // ' ', '-', '+'
		text string
		ai   int // line of a (from 0) at or before this op
		bi   int
	}
	var ops []op
	if len(a)*len(b) > maxDiffCells {
		for i, l := range a {
			ops = append(ops, op{'-', l, i, 0})
		}
		for j, l := range b {
			ops = append(ops, op{'+', l, len(a), j})
		}
	} else {
		// lcs[i][j] is the LCS length of a[i:] and b[j:].
		lcs := make([][]int32, len(a)+1)
		for i := range lcs {
			lcs[i] = make([]int32, len(b)+1)
		}
		for i := len(a) - 1; i >= 0; i-- {
			for j := len(b) - 1; j >= 0; j-- {
				if a[i] == b[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(a) || j < len(b) {
			switch {
			case i < len(a) && j < len(b) && a[i] == b[j]:
				ops = append(ops, op{' ', a[i], i, j})
				i, j = i+1, j+1
			case j < len(b) && (i == len(a) || lcs[i][j+1] > lcs[i+1][j]):
				ops = append(ops, op{'+', b[j], i, j})
				j++
			default:
				ops = append(ops, op{'-', a[i], i, j})
				i++
			}
		}
	}

	var out []hunk
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		// A hunk runs from context lines before the change to context lines after the last
		// change that is at most 2*context equal lines from the next.
		start := max(0, k-context)
		end := k
		for {
			for end < len(ops) && ops[end].kind != ' ' {
				end++
			}
			next := end
			for next < len(ops) && ops[next].kind == ' ' {
				next++
			}
			if next < len(ops) && next-end <= 2*context {
				end = next
				continue
			}
			end = min(len(ops), end+context)
			break
		}
		h := hunk{}
		na, nb := 0, 0
		for _, o := range ops[start:end] {
			h.lines = append(h.lines, string(o.kind)+o.text)
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		h.header = fmt.Sprintf("-%s +%s", diffRange(ops[start].ai, na), diffRange(ops[start].bi, nb))
		out = append(out, h)
		k = end
	}
	return out
}

// diffRange is a hunk side's "start,count" as diff(1) writes it (lines from 1; an empty
// side names the line before it).
func diffRange(from, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", from)
	}
	return fmt.Sprintf("%d,%d", from+1, n)
}
