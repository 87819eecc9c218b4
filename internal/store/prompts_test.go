package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func mustPush(t *testing.T, st Store, project, name string, c PromptContent) PromptVersion {
	t.Helper()
	v, _, err := st.PushPrompt(context.Background(), project, name, c, "ana", "")
	if err != nil {
		t.Fatalf("PushPrompt(%s): %v", name, err)
	}
	return v
}

// TestPromptPushDedupeAndRefs: versions count up, identical content is not a new version,
// and every kind of reference finds the right one.
func TestPromptPushDedupeAndRefs(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		c1 := PromptContent{Template: "Answer {{ question }} for {{user.name}}; again {{question}}.", Model: "gpt-4o-mini",
			Params: map[string]any{"temperature": 0.2, "max_tokens": 300}}
		v1, created, err := st.PushPrompt(ctx, DefaultProjectID, "support/triage", c1, "ana", "first")
		if err != nil || !created || v1.Version != 1 {
			t.Fatalf("first push = v%d, created %v, %v; want v1, created", v1.Version, created, err)
		}
		if want := []string{"question", "user"}; !slices.Equal(v1.Content.Variables, want) {
			t.Errorf("variables = %v, want %v", v1.Content.Variables, want)
		}
		// The hash is the SHA-256 of the stored canonical JSON: recomputable by anyone.
		canon, _ := canonicalJSON(v1.Content)
		if sum := sha256.Sum256([]byte(canon)); hex.EncodeToString(sum[:]) != v1.ContentHash {
			t.Errorf("hash %s is not the SHA-256 of %s", v1.ContentHash, canon)
		}

		// The same content, with params written in another order and variables given
		// wrongly by the caller, is the same version.
		same := c1
		same.Params = map[string]any{"max_tokens": 300, "temperature": 0.2}
		same.Variables = []string{"bogus"}
		again, created, err := st.PushPrompt(ctx, DefaultProjectID, "support/triage", same, "bob", "again")
		if err != nil || created || again.Version != 1 || again.Author != "ana" || again.Message != "first" {
			t.Fatalf("identical push = v%d by %s (%q), created %v, %v; want v1 by ana unchanged", again.Version, again.Author, again.Message, created, err)
		}

		c2 := c1
		c2.Params = map[string]any{"temperature": 0.3, "max_tokens": 300}
		v2, created, err := st.PushPrompt(ctx, DefaultProjectID, "support/triage", c2, "bob", "warmer")
		if err != nil || !created || v2.Version != 2 || v2.ContentHash == v1.ContentHash {
			t.Fatalf("second push = v%d (%s), created %v, %v; want v2 with a new hash", v2.Version, v2.ContentHash, created, err)
		}
		// Pushing v1's content again after v2 is a new version: only the latest dedupes.
		v3, created, err := st.PushPrompt(ctx, DefaultProjectID, "support/triage", c1, "ana", "revert")
		if err != nil || !created || v3.Version != 3 || v3.ContentHash != v1.ContentHash {
			t.Fatalf("revert push = v%d, created %v, %v; want v3 with v1's hash", v3.Version, created, err)
		}

		chat := PromptContent{Messages: []PromptMessage{{Role: "system", Content: "You are {{persona}}."},
			{Role: "user", Content: "{{question}}"}}, Tools: []any{map[string]any{"type": "function", "name": "lookup"}},
			ResponseFormat: map[string]any{"type": "json_object"}}
		vc := mustPush(t, st, DefaultProjectID, "chat.v2", chat)
		if want := []string{"persona", "question"}; !slices.Equal(vc.Content.Variables, want) {
			t.Errorf("chat variables = %v, want %v", vc.Content.Variables, want)
		}

		for _, c := range []struct {
			ref  string
			want int
		}{{"", 3}, {"latest", 3}, {"1", 1}, {"2", 2}} {
			got, err := st.GetPromptVersion(ctx, DefaultProjectID, "support/triage", c.ref)
			if err != nil || got.Version != c.want {
				t.Errorf("GetPromptVersion(@%s) = v%d, %v; want v%d", c.ref, got.Version, err, c.want)
			}
		}
		got, err := st.GetPromptVersion(ctx, DefaultProjectID, "support/triage", "2")
		if err != nil || got.Content.Template != c1.Template || got.Author != "bob" || got.Message != "warmer" ||
			fmt.Sprint(got.Content.Params["temperature"]) != "0.3" || !got.CreatedAt.Equal(v2.CreatedAt) {
			t.Errorf("v2 read back = %+v, %v; want what was pushed", got, err)
		}
		gc, err := st.GetPromptVersion(ctx, DefaultProjectID, "chat.v2", "")
		if err != nil || len(gc.Content.Messages) != 2 || gc.Content.Messages[0].Role != "system" ||
			!strings.Contains(fmt.Sprint(gc.Content.Tools), "lookup") || gc.ContentHash != vc.ContentHash {
			t.Errorf("chat read back = %+v, %v", gc, err)
		}
		for _, ref := range []string{"4", "0", "production"} {
			if _, err := st.GetPromptVersion(ctx, DefaultProjectID, "support/triage", ref); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetPromptVersion(@%s) = %v, want ErrNotFound", ref, err)
			}
		}
		if _, err := st.GetPromptVersion(ctx, DefaultProjectID, "nope", ""); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("missing prompt = %v, want ErrNotFound naming it", err)
		}

		vs, err := st.ListPromptVersions(ctx, DefaultProjectID, "support/triage")
		if err != nil || len(vs) != 3 || vs[0].Version != 3 || vs[2].Version != 1 {
			t.Fatalf("ListPromptVersions = %d versions, %v; want 3, newest first", len(vs), err)
		}
		list, err := st.ListPrompts(ctx, DefaultProjectID)
		if err != nil || len(list) != 2 || list[0].Name != "chat.v2" || list[1].Name != "support/triage" || list[1].LatestVersion != 3 {
			t.Fatalf("ListPrompts = %+v, %v", list, err)
		}
	})
}

// TestPromptInvalid: names, labels and content the store refuses, each with its fix.
func TestPromptInvalid(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, freshDSN(t, DriverSQLite))
	good := PromptContent{Template: "Hi {{name}}"}
	for _, c := range []struct {
		name    string
		content PromptContent
		want    string
	}{
		{"", good, "use letters, digits"},
		{"a b", good, "use letters, digits"},
		{"triage@prod", good, "use letters, digits"},
		{"/lead", good, "use letters, digits"},
		{"a//b", good, "use letters, digits"},
		{"ok", PromptContent{}, "give a template or messages"},
		{"ok", PromptContent{Template: "x", Messages: []PromptMessage{{Role: "user", Content: "y"}}}, "keep one of them"},
		{"ok", PromptContent{Messages: []PromptMessage{{Role: "bot", Content: "y"}}}, "use system, user or assistant"},
		{"ok", PromptContent{Template: "Hi {{ name | upper }}"}, "only plain variables"},
		{"ok", PromptContent{Template: "a\n{% if x %}b{% endif %}"}, "line 2 of the template"},
		{"ok", PromptContent{Template: "Hi {{name"}, "close it with }}"},
		{"ok", PromptContent{Messages: []PromptMessage{{Role: "user", Content: "{{}}"}}}, "message 1"},
	} {
		_, _, err := st.PushPrompt(ctx, DefaultProjectID, c.name, c.content, "ana", "")
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PushPrompt(%q, %+v) = %v, want ErrInvalid saying %q", c.name, c.content, err, c.want)
		}
	}
	if _, _, err := st.PushPrompt(ctx, "p_missing", "ok", good, "ana", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("push into a missing project = %v, want ErrNotFound", err)
	}
	mustPush(t, st, DefaultProjectID, "ok", good)
	for _, label := range []string{"", "3", "latest", "1st", "a/b", "a b"} {
		if _, err := st.MovePromptLabel(ctx, DefaultProjectID, "ok", label, 1, "ana"); !errors.Is(err, ErrInvalid) {
			t.Errorf("label %q = %v, want ErrInvalid", label, err)
		}
	}
	if list, _ := st.ListPrompts(ctx, DefaultProjectID); len(list) != 1 {
		t.Errorf("refused pushes left prompts behind: %+v", list)
	}
}

// TestPromptLabels: a label moves, its history keeps every move with where it came from,
// and versions carry the labels pointing at them.
func TestPromptLabels(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		for i := 1; i <= 3; i++ {
			mustPush(t, st, DefaultProjectID, "triage", PromptContent{Template: fmt.Sprintf("v%d {{q}}", i)})
		}
		m1, err := st.MovePromptLabel(ctx, DefaultProjectID, "triage", "canary", 1, "ana")
		if err != nil || m1.ID == 0 || m1.FromVersion != nil || m1.ToVersion != 1 {
			t.Fatalf("new label = %+v, %v; want a recorded move from nothing to 1", m1, err)
		}
		if _, err := st.MovePromptLabel(ctx, DefaultProjectID, "triage", "staging", 3, "bob"); err != nil {
			t.Fatal(err)
		}
		m2, err := st.MovePromptLabel(ctx, DefaultProjectID, "triage", "canary", 2, "bob")
		if err != nil || m2.ID <= m1.ID || m2.FromVersion == nil || *m2.FromVersion != 1 || m2.ToVersion != 2 || m2.Actor != "bob" {
			t.Fatalf("move = %+v, %v; want 1 -> 2 by bob", m2, err)
		}
		// Moving a label where it is changes nothing and records nothing.
		same, err := st.MovePromptLabel(ctx, DefaultProjectID, "triage", "canary", 2, "carol")
		if err != nil || same.ID != 0 || same.FromVersion == nil || *same.FromVersion != 2 {
			t.Errorf("no-op move = %+v, %v; want ID 0 from 2", same, err)
		}
		if _, err := st.MovePromptLabel(ctx, DefaultProjectID, "triage", "canary", 9, "ana"); !errors.Is(err, ErrNotFound) {
			t.Errorf("move to a missing version = %v, want ErrNotFound", err)
		}
		if _, err := st.MovePromptLabel(ctx, DefaultProjectID, "nope", "canary", 1, "ana"); !errors.Is(err, ErrNotFound) {
			t.Errorf("move on a missing prompt = %v, want ErrNotFound", err)
		}

		v, err := st.GetPromptVersion(ctx, DefaultProjectID, "triage", "canary")
		if err != nil || v.Version != 2 || v.Content.Template != "v2 {{q}}" || !slices.Equal(v.Labels, []string{"canary"}) {
			t.Errorf("@canary = v%d %q labels %v, %v; want v2 labelled canary", v.Version, v.Content.Template, v.Labels, err)
		}
		vs, _ := st.ListPromptVersions(ctx, DefaultProjectID, "triage")
		if len(vs) != 3 || !slices.Equal(vs[0].Labels, []string{"staging"}) || vs[2].Labels != nil {
			t.Errorf("version labels = %v %v %v", vs[0].Labels, vs[1].Labels, vs[2].Labels)
		}
		list, _ := st.ListPrompts(ctx, DefaultProjectID)
		if len(list) != 1 || list[0].Labels["canary"] != 2 || list[0].Labels["staging"] != 3 {
			t.Errorf("ListPrompts labels = %+v", list)
		}

		hist, err := st.PromptLabelHistory(ctx, DefaultProjectID, "triage", "canary")
		if err != nil || len(hist) != 2 || hist[0].ID != m2.ID || hist[1].ID != m1.ID || hist[1].FromVersion != nil {
			t.Fatalf("canary history = %+v, %v; want the 2 moves, newest first", hist, err)
		}
		all, err := st.PromptLabelHistory(ctx, DefaultProjectID, "triage", "")
		if err != nil || len(all) != 3 {
			t.Errorf("whole history = %d moves, %v; want 3", len(all), err)
		}
		// Rolling back is moving the label to the last move's from_version.
		back, err := st.MovePromptLabel(ctx, DefaultProjectID, "triage", "canary", *hist[0].FromVersion, "ana")
		if err != nil || back.ToVersion != 1 || *back.FromVersion != 2 {
			t.Errorf("rollback = %+v, %v", back, err)
		}
		// History rows cannot be rewritten.
		if err := rawExec(t, st, `UPDATE prompt_label_moves SET actor = 'mallory'`); err == nil {
			t.Errorf("prompt_label_moves accepted an UPDATE")
		}
		if err := rawExec(t, st, `UPDATE prompt_versions SET message = 'rewritten'`); err == nil {
			t.Errorf("prompt_versions accepted an UPDATE")
		}
	})
}

// TestPromptProjectsIsolated: two projects may have prompts of the same name, and neither
// sees the other's versions or labels.
func TestPromptProjectsIsolated(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		other := mustProject(t, st, "other")
		a := mustPush(t, st, DefaultProjectID, "triage", PromptContent{Template: "default {{q}}"})
		b := mustPush(t, st, other.ID, "triage", PromptContent{Template: "other {{q}}"})
		if a.Version != 1 || b.Version != 1 {
			t.Fatalf("versions = %d, %d; want 1 in each project", a.Version, b.Version)
		}
		mustPush(t, st, other.ID, "only-other", PromptContent{Template: "x"})
		if _, err := st.MovePromptLabel(ctx, other.ID, "triage", "canary", 1, "ana"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GetPromptVersion(ctx, DefaultProjectID, "triage", "canary"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the default project sees the other's label: %v", err)
		}
		if _, err := st.GetPromptVersion(ctx, DefaultProjectID, "only-other", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("the default project sees the other's prompt: %v", err)
		}
		v, err := st.GetPromptVersion(ctx, DefaultProjectID, "triage", "")
		if err != nil || v.Content.Template != "default {{q}}" || v.Labels != nil {
			t.Errorf("default triage = %+v, %v", v, err)
		}
		list, _ := st.ListPrompts(ctx, DefaultProjectID)
		if len(list) != 1 || len(list[0].Labels) != 0 {
			t.Errorf("default list = %+v", list)
		}
		if h, err := st.PromptLabelHistory(ctx, DefaultProjectID, "triage", ""); err != nil || len(h) != 0 {
			t.Errorf("default history = %+v, %v", h, err)
		}
	})
}

// TestPromptAudit: a push that creates a version and a label move each write one entry,
// with the version and hash but not the content; a deduplicated push or a no-op move
// writes none; a failing entry leaves no version or move behind.
func TestPromptAudit(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		au := st.WithAudit(Actor{Type: ActorUser, ID: "u_ana"})
		secret := strings.Repeat("a long template body ", 50) + "{{q}}"
		v1, _, err := au.PushPrompt(ctx, DefaultProjectID, "triage", PromptContent{Template: secret}, "ana", "first")
		if err != nil {
			t.Fatal(err)
		}
		if _, created, err := au.PushPrompt(ctx, DefaultProjectID, "triage", PromptContent{Template: secret}, "ana", ""); err != nil || created {
			t.Fatalf("dedup push: created %v, %v", created, err)
		}
		v2, _, err := au.PushPrompt(ctx, DefaultProjectID, "triage", PromptContent{Template: "short {{q}}"}, "bob", "shorter")
		if err != nil {
			t.Fatal(err)
		}
		for _, ver := range []int{1, 2, 2} {
			if _, err := au.MovePromptLabel(ctx, DefaultProjectID, "triage", "canary", ver, "ana"); err != nil {
				t.Fatal(err)
			}
		}
		log := allAudit(t, st)
		if len(log) != 4 {
			t.Fatalf("audit log has %d entries, want 4 (2 pushes, 2 moves)", len(log))
		}
		type fields map[string]any
		decode := func(raw json.RawMessage) fields {
			if len(raw) == 0 {
				return nil
			}
			var f fields
			json.Unmarshal(raw, &f)
			return f
		}
		for i, c := range []struct {
			action        string
			before, after fields
		}{
			{"prompt.label", fields{"version": 1.0, "label": "canary"}, fields{"version": 2.0, "moved_by": "ana"}},
			{"prompt.label", nil, fields{"version": 1.0, "label": "canary"}},
			{"prompt.push", fields{"version": 1.0, "content_hash": v1.ContentHash}, fields{"version": 2.0, "content_hash": v2.ContentHash, "author": "bob", "message": "shorter"}},
			{"prompt.push", nil, fields{"version": 1.0, "content_hash": v1.ContentHash, "name": "triage"}},
		} {
			e := log[i]
			if e.Action != c.action || e.ProjectID != DefaultProjectID || e.TargetType != "prompt" || e.ActorID != "u_ana" {
				t.Errorf("entry %d = %s %s/%s in %s by %s, want %s", i, e.Action, e.TargetType, e.TargetID, e.ProjectID, e.ActorID, c.action)
			}
			b, a := decode(e.Before), decode(e.After)
			if (b == nil) != (c.before == nil) {
				t.Errorf("entry %d before = %s, want %v", i, e.Before, c.before)
			}
			for k, want := range c.before {
				if b[k] != want {
					t.Errorf("entry %d before.%s = %v, want %v", i, k, b[k], want)
				}
			}
			for k, want := range c.after {
				if a[k] != want {
					t.Errorf("entry %d after.%s = %v, want %v", i, k, a[k], want)
				}
			}
			if strings.Contains(string(e.Before)+string(e.After), "long template body") {
				t.Errorf("entry %d holds the prompt's content", i)
			}
		}

		bad := st.WithAudit(Actor{Type: "robot"})
		if _, _, err := bad.PushPrompt(ctx, DefaultProjectID, "triage", PromptContent{Template: "v3"}, "ana", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("push with a failing entry = %v, want ErrInvalid", err)
		}
		if _, _, err := bad.PushPrompt(ctx, DefaultProjectID, "fresh", PromptContent{Template: "new"}, "ana", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("push of a new prompt with a failing entry = %v, want ErrInvalid", err)
		}
		if _, err := bad.MovePromptLabel(ctx, DefaultProjectID, "triage", "canary", 1, "ana"); !errors.Is(err, ErrInvalid) {
			t.Errorf("move with a failing entry = %v, want ErrInvalid", err)
		}
		v, _ := st.GetPromptVersion(ctx, DefaultProjectID, "triage", "")
		p, _ := st.GetPromptVersion(ctx, DefaultProjectID, "triage", "canary")
		list, _ := st.ListPrompts(ctx, DefaultProjectID)
		if v.Version != 2 || p.Version != 2 || len(list) != 1 || len(allAudit(t, st)) != 4 {
			t.Errorf("failed audited changes left state behind: latest v%d, canary v%d, %d prompts", v.Version, p.Version, len(list))
		}
		// The plain store (the CLI's own, unless it asks for audit) appends nothing.
		mustPush(t, st, DefaultProjectID, "triage", PromptContent{Template: "v4"})
		if n := len(allAudit(t, st)); n != 4 {
			t.Errorf("unaudited push wrote an entry: %d entries", n)
		}
	})
}

// TestPromptConcurrentPushes: pushes of one prompt from many connections get distinct,
// gapless versions (PostgreSQL locks the prompt row; SQLite has one writer).
func TestPromptConcurrentPushes(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		const n = 8
		var wg sync.WaitGroup
		versions := make([]int, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				v, _, err := st.PushPrompt(ctx, DefaultProjectID, "race", PromptContent{Template: fmt.Sprintf("text %d", i)}, "ana", "")
				versions[i], errs[i] = v.Version, err
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent push: %v", err)
			}
		}
		slices.Sort(versions)
		for i, v := range versions {
			if v != i+1 {
				t.Fatalf("versions = %v, want 1..%d", versions, n)
			}
		}
	})
}

// TestParsePromptRef and the template variables.
func TestTemplateVars(t *testing.T) {
	for _, c := range []struct {
		tmpl string
		want []string
	}{
		{"no vars", nil},
		{"{{a}} {{ b }} {{a}} {{c.d.e}}", []string{"a", "b", "c"}},
		{"JSON { \"k\": 1 } and {single}", nil},
		{"{{_x1}}", []string{"_x1"}},
	} {
		got, err := TemplateVars(c.tmpl)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("TemplateVars(%q) = %v, %v; want %v", c.tmpl, got, err, c.want)
		}
	}
	for _, s := range []struct{ in, name, ref string }{{"a", "a", ""}, {"a@production", "a", "production"}, {"x/y@3", "x/y", "3"}} {
		if n, r := ParsePromptRef(s.in); n != s.name || r != s.ref {
			t.Errorf("ParsePromptRef(%q) = %q, %q", s.in, n, r)
		}
	}
}
