package redteam

import (
	"context"
	"testing"

	"github.com/plumbhq/plumb/internal/guard"
)

// TestGuardFlagsWrappers: the guard's injection detector, as a gateway policy runs it,
// flags every attack the red team wraps in an injection, a jailbreak persona or an
// encoding (the wrapper is the attack, whatever the goal). Left to other steps: the plain
// goal (direct), leetspeak and homoglyphs of a goal that is no injection (the llm_classifier
// judges what is asked), and the fiction-writing jailbreak (template 1), which reads as an
// ordinary request for a story.
func TestGuardFlagsWrappers(t *testing.T) {
	d, err := guard.New(guard.Spec{Name: "injection"})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := Builtin("S2")
	if !ok {
		t.Fatal("no S2")
	}
	strategies := []string{StrategyInjection, StrategyJailbreak, StrategyBase64, StrategyHex, StrategyROT13, StrategyTags}
	fill := func(g string) []string { return []string{g} }
	n := 0
	for _, a := range Generate(c, strategies, fill) {
		if a.Strategy == StrategyJailbreak && a.Template == 1 {
			continue
		}
		n++
		fs, err := d.Detect(context.Background(), a.Text)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 0 {
			t.Errorf("%s template %d not flagged: %q", a.Strategy, a.Template, a.Text)
		}
	}
	if n < 6 {
		t.Fatalf("checked %d attacks", n)
	}
}
