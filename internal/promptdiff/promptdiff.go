// Package promptdiff is the diff of two versions of a registry prompt: a unified line diff
// of the text (the template, or the chat messages) and then of the rest (model, params,
// tools, response format, variables) as indented JSON. The CLI prints it, the API returns
// it and the UI shows it, so all three show the same change.
package promptdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/plumbhq/plumb/internal/store"
)

// Diff is what changed from version A to version B of a prompt.
type Diff struct {
	A, B      string `json:"-"`    // NAME@VERSION of each side
	From      int    `json:"from"` // version A (0 for Added: nothing)
	To        int    `json:"to"`   // version B
	FromHash  string `json:"from_hash"`
	ToHash    string `json:"to_hash"`
	Identical bool   `json:"identical"`
	Hunks     []Hunk `json:"hunks"`
	// Unified is the diff as `plumb prompt diff` prints it (Text).
	Unified string `json:"unified"`
}

// Hunk is one part of a unified diff of the text or of the params: its "-a,n +b,m" range
// and its lines, each prefixed with ' ', '-' or '+'.
type Hunk struct {
	Part   string   `json:"part"` // "text" or "params"
	Header string   `json:"header"`
	Lines  []string `json:"lines"`
}

// Versions diffs version a against version b of the prompt name, with context lines of
// context around each change (3 is diff's default).
func Versions(name string, a, b store.PromptVersion, context int) Diff {
	d := Diff{A: fmt.Sprintf("%s@%d", name, a.Version), B: fmt.Sprintf("%s@%d", name, b.Version), From: a.Version, To: b.Version,
		FromHash: a.ContentHash, ToHash: b.ContentHash, Identical: a.ContentHash == b.ContentHash, Hunks: []Hunk{}}
	if !d.Identical {
		d.hunks(TextLines(a.Content), TextLines(b.Content), ParamLines(a.Content), ParamLines(b.Content), context)
	}
	d.Unified = d.Text()
	return d
}

// Added is the diff that releases version b where nothing was (a label's first move): all
// of it added.
func Added(name string, b store.PromptVersion, context int) Diff {
	d := Diff{A: "(nothing)", B: fmt.Sprintf("%s@%d", name, b.Version), To: b.Version, ToHash: b.ContentHash, Hunks: []Hunk{}}
	d.hunks(nil, TextLines(b.Content), nil, ParamLines(b.Content), context)
	d.Unified = d.Text()
	return d
}

func (d *Diff) hunks(aText, bText, aParams, bParams []string, context int) {
	for _, part := range []struct {
		what string
		a, b []string
	}{{"text", aText, bText}, {"params", aParams, bParams}} {
		for _, h := range unifiedHunks(part.a, part.b, context) {
			h.Part = part.what
			d.Hunks = append(d.Hunks, h)
		}
	}
}

// Text is the diff as `plumb prompt diff` prints it: a ---/+++ header, then each hunk as
// "@@ text -1,3 +1,4 @@" (or params) and its lines; or a line saying they are identical.
func (d Diff) Text() string {
	var b strings.Builder
	if d.Identical {
		fmt.Fprintf(&b, "%s and %s are identical (sha256:%s)\n", d.A, d.B, short(d.FromHash))
		return b.String()
	}
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", d.A, d.B)
	for _, h := range d.Hunks {
		fmt.Fprintf(&b, "@@ %s %s @@\n", h.Part, h.Header)
		for _, l := range h.Lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func short(hash string) string { return hash[:min(12, len(hash))] }

// TextLines is what the text diff compares: the template's lines, or each message as a
// [role] line followed by its content's lines.
func TextLines(c store.PromptContent) []string {
	if c.Template != "" {
		return strings.Split(strings.TrimSuffix(c.Template, "\n"), "\n")
	}
	var out []string
	for _, m := range c.Messages {
		out = append(out, "["+m.Role+"]")
		out = append(out, strings.Split(strings.TrimSuffix(m.Content, "\n"), "\n")...)
	}
	return out
}

// Text is TextLines as one text, for a word diff.
func Text(c store.PromptContent) string { return strings.Join(TextLines(c), "\n") }

// ParamLines is what the params diff compares: everything but the text, as indented JSON
// with sorted keys.
func ParamLines(c store.PromptContent) []string {
	c.Template, c.Messages = "", nil
	var tree map[string]any
	b, _ := json.Marshal(c)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	_ = dec.Decode(&tree)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(tree) // a decoded JSON tree always encodes
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

// maxDiffCells bounds the longest-common-subsequence table (lines of A times lines of B).
// Prompts are short; past this a diff shows A removed and B added whole rather than use
// hundreds of megabytes.
const maxDiffCells = 4_000_000

// unifiedHunks is the line diff of a and b as unified-diff hunks with context lines of
// context around each change; none when they are equal. It uses a longest common
// subsequence, which is exact and fast enough for prompts.
func unifiedHunks(a, b []string, context int) []Hunk {
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

	var out []Hunk
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
		h := Hunk{}
		na, nb := 0, 0
		for _, o := range ops[start:end] {
			h.Lines = append(h.Lines, string(o.kind)+o.text)
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		h.Header = fmt.Sprintf("-%s +%s", diffRange(ops[start].ai, na), diffRange(ops[start].bi, nb))
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
