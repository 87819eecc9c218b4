package server

import (
	"strings"
	"testing"
)

// TestErrorMessagesAreSentences: a store's invalid-input error reaches the API without the
// sentinel's "invalid: " prefix, as a message that says what is wrong and how to fix it.
func TestErrorMessagesAreSentences(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	alice := asAlice(f)
	const base = "/api/v1/projects/alpha"
	for _, c := range []struct {
		what, method, path string
		body               any
		want               string
	}{
		{"a template with a filter", "POST", base + "/prompt-versions/" + f.promptA, map[string]any{"template": "Hi {{ x | upper }}"}, "line 1 of the template"},
		{"protecting latest", "PUT", base + "/prompt-settings", map[string]any{"protected_labels": []string{"latest"}}, "latest"},
		{"a review list by a bad status", "GET", base + "/prompt-reviews?status=maybe", nil, `review status "maybe": use open`},
		{"a label with a space", "POST", base + "/prompt-labels/" + f.promptA, map[string]any{"label": "my label", "version": 1}, "label"},
	} {
		r := alice.do(c.method, c.path, c.body)
		msg := r.str("error.message")
		if r.status != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %s, want 400 saying %q", c.what, r.status, r.raw, c.want)
		}
		if strings.HasPrefix(msg, "invalid") || strings.Contains(msg, ": invalid: ") {
			t.Errorf("%s: message %q carries the sentinel's text", c.what, msg)
		}
	}
}
