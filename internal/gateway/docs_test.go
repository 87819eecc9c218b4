package gateway

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/plumbhq/plumb/internal/guard"
	"github.com/plumbhq/plumb/internal/guard/policy"
)

// docBlock is a ```yaml block of a docs page.
type docBlock struct {
	where string // file:line
	text  string
}

func docBlocks(t *testing.T, pages ...string) []docBlock {
	t.Helper()
	var out []docBlock
	for _, page := range pages {
		path := filepath.Join("..", "..", "docs", page)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i := 0; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "```yaml" {
				continue
			}
			start := i + 1
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			}
			out = append(out, docBlock{where: page + ":" + strconv.Itoa(start+1), text: strings.Join(lines[start:i], "\n")})
		}
	}
	return out
}

// docBase is what a gateway fragment of the docs is completed with: providers of every
// name the examples use, and a key.
const docBase = `
listen: 127.0.0.1:4000
providers:
  - {name: primary, type: openai, base_url: "http://127.0.0.1:9001/v1", api_key_env: PRIMARY_API_KEY}
  - {name: backup, type: openai, base_url: "http://127.0.0.1:9002/v1", api_key_env: BACKUP_API_KEY}
  - {name: openai, type: openai, base_url: "https://api.openai.com/v1", api_key_env: PRIMARY_API_KEY}
  - {name: guard, type: openai, base_url: "http://127.0.0.1:11434/v1"}
routes:
  - name: support-bot
    targets: [{provider: primary, model: fake-1}]
keys:
  - {name: team-a, key_env: TEAM_A_KEY}
`

var elided = regexp.MustCompile(`(?m)^(\s*targets:) \[\.\.\.\]`)

// TestDocsExamples: every YAML example of the gateway, guard and approvals pages that is a
// gateway config (or a part of one) or a guard policy loads without an error, as a reader
// copies it.
func TestDocsExamples(t *testing.T) {
	classify := func(context.Context, string) (string, error) { return "safe", nil }
	checked := 0
	for _, b := range docBlocks(t, "gateway.md", "guard.md", "approvals.md") {
		text := elided.ReplaceAllString(b.text, "$1 [{provider: primary, model: fake-1}]")
		var top map[string]any
		if err := yaml.Unmarshal([]byte(text), &top); err != nil {
			t.Errorf("%s: not YAML: %v", b.where, err)
			continue
		}
		_, in := top["input"]
		_, out := top["output"]
		switch {
		case in || out:
			opt := policy.Options{Classifier: func(policy.ClassifierConfig) (guard.Classify, error) { return classify, nil }}
			if _, err := policy.Parse([]byte(text), b.where, opt); err != nil {
				t.Errorf("%s: the policy does not load:\n%v", b.where, err)
			}
		case top["listen"] != nil || top["routes"] != nil || top["guards"] != nil || top["policies"] != nil:
			var base map[string]any
			if err := yaml.Unmarshal([]byte(docBase), &base); err != nil {
				t.Fatal(err)
			}
			for k, v := range top {
				base[k] = v
			}
			cfg, err := yaml.Marshal(base)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(cfg, b.where, testEnv); err != nil {
				t.Errorf("%s: the gateway config does not load:\n%v\n%s", b.where, err, cfg)
			}
		default:
			continue // an option's value, an eval assertion: not a file of their own
		}
		checked++
	}
	if checked < 6 {
		t.Errorf("checked %d examples; the pages have more: did the block format change?", checked)
	}
}
