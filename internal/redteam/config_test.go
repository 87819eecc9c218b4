package redteam

import (
	"errors"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/config"
)

// Every mistake of a config is reported in one run, in file order, each at file:line:col
// with its fix.
func TestConfigReportsEveryMistakeInFileOrder(t *testing.T) {
	src := `purpos: Answer questions about ACME orders.
target: {type: openai, model: m, base_ur: http://x}
attempts: lots
categories:
  - id: LLM01
    treshold: 0.1
concurrency: 0
`
	_, err := Parse([]byte(src), "redteam.yaml")
	if err == nil {
		t.Fatal("a config with five mistakes was accepted")
	}
	want := []string{
		`redteam.yaml:1:1: unknown key "purpos"`, `did you mean "purpose"?`,
		`redteam.yaml:2:34: unknown key "base_ur"`, `did you mean "base_url"?`,
		`redteam.yaml:3:11: this value must be a whole number, not the text "lots"`,
		`redteam.yaml:6:5: unknown key "treshold"`, `did you mean "threshold"?`,
		`redteam.yaml:7:1: concurrency is 0`, "use 1 to 64",
	}
	msg := err.Error()
	last := -1
	for _, w := range want {
		i := strings.Index(msg, w)
		if i < 0 {
			t.Errorf("missing %q in:\n%s", w, msg)
			continue
		}
		if i < last {
			t.Errorf("%q is out of file order in:\n%s", w, msg)
		}
		last = i
	}
}

func TestConfigCounts(t *testing.T) {
	const head = "target: {type: echo}\nsystem_prompt: s\ncategories: [{id: LLM07}]\n"
	for _, tc := range []struct{ src, want string }{
		{"attempts: 0\n", "redteam.yaml:4:1: attempts is 0\n\thint: use 1 to 100 attempts per attack (or leave attempts out for 1)"},
		{"attempts: 101\n", "attempts is 101"},
		{"attempts: -2\n", "attempts is -2"},
		{"attempts: 2.5\n", "this value must be a whole number, not a fraction (2.5)"},
		{"concurrency: 65\n", "concurrency is 65"},
		{"attacker: {type: echo, turns: 0}\n", "attacker.turns is 0"},
		{"judge: {type: echo, turns: 2}\n", "judge takes no turns"},
	} {
		_, err := Parse([]byte(head+tc.src), "redteam.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.src, err, tc.want)
		}
	}
	for _, ok := range []struct {
		src                   string
		attempts, conc, turns int
	}{
		{"", DefaultAttempts, DefaultConcurrency, 0},
		{"attempts: 100\nconcurrency: 1\n", 100, 1, 0},
		{"attacker: {type: echo}\n", DefaultAttempts, DefaultConcurrency, DefaultTurns},
		{"attacker: {type: echo, turns: 10}\n", DefaultAttempts, DefaultConcurrency, 10},
	} {
		c, err := Parse([]byte(head+ok.src), "redteam.yaml")
		if err != nil {
			t.Errorf("%q: %v", ok.src, err)
			continue
		}
		turns := 0
		if c.Attacker != nil {
			turns = c.Attacker.Turns
		}
		if c.Attempts != ok.attempts || c.Concurrency != ok.conc || turns != ok.turns {
			t.Errorf("%q: attempts %d, concurrency %d, turns %d; want %d, %d, %d", ok.src, c.Attempts, c.Concurrency, turns, ok.attempts, ok.conc, ok.turns)
		}
	}
}

// An exec target's command is a list; the text a user would type in a shell is refused
// with the list to write instead.
func TestExecCommand(t *testing.T) {
	const head = "system_prompt: s\ncategories: [{id: LLM07}]\n"
	_, err := Parse([]byte(head+"target: {type: exec, command: python3 bot.py --fast}\n"), "redteam.yaml")
	if err == nil || !strings.Contains(err.Error(), `redteam.yaml:3:31: target.command must be a list (the program, then each argument), not the text "python3 bot.py --fast"`) ||
		!strings.Contains(err.Error(), `write command: ["python3", "bot.py", "--fast"]`) || strings.Contains(err.Error(), "has no command") {
		t.Errorf("command as text: %v", err)
	}
	for _, src := range []string{"target: {type: exec, command: [python3, bot.py]}\n", "target:\n  type: exec\n  command:\n    - ./bot\n"} {
		c, err := Parse([]byte(head+src), "redteam.yaml")
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if len(c.Target.Command) == 0 {
			t.Errorf("%q: no command", src)
		}
	}
	_, err = Parse([]byte(head+"target: {type: exec, command: []}\n"), "redteam.yaml")
	if err == nil || !strings.Contains(err.Error(), "target has no command") {
		t.Errorf("empty command: %v", err)
	}
}

// TestMaxRetriesZero: max_retries: 0 means no retry, not the provider's default.
func TestMaxRetriesZero(t *testing.T) {
	zero, two := 0, 2
	for _, tc := range []struct {
		in   *int
		want int
	}{{nil, 0}, {&zero, -1}, {&two, 2}} {
		p := ProviderConfig{Type: "openai", Model: "m", MaxRetries: tc.in}
		if got := p.providerConfig(".").MaxRetries; got != tc.want {
			t.Errorf("max_retries %v: provider.Config.MaxRetries %d, want %d (0 default, -1 none)", tc.in, got, tc.want)
		}
	}
}

// Reports name the target by what it is (exec:COMMAND, openai:MODEL, the endpoint), not by
// its role: "Target: target" told the reader nothing.
func TestTargetLabel(t *testing.T) {
	const head = "system_prompt: s\ncategories: [{id: LLM07}]\n"
	for _, tc := range []struct{ target, want string }{
		{"target: {type: exec, command: [python3, bot.py]}\n", "exec:python3 bot.py"},
		{"target: {type: openai, model: support-bot, base_url: \"http://127.0.0.1:1/v1\"}\n", "openai:support-bot"},
		{"target: {type: http, url: \"http://127.0.0.1:1/chat\", body: {q: \"{{prompt}}\"}, output_path: a}\n", "http://127.0.0.1:1/chat"},
		{"target: {type: exec, label: my bot, command: [./bot]}\n", "my bot"},
	} {
		c, err := Parse([]byte(head+tc.target), "redteam.yaml")
		if err != nil {
			t.Fatal(err)
		}
		r, err := New(c, Options{Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.info().Target; got != tc.want {
			t.Errorf("%s: target %q, want %q", tc.target, got, tc.want)
		}
	}
}

// An unset api_key_env is reported with the config's other mistakes, in file order, not
// only once they are fixed; a key written in api_key_env is one mistake, not two.
func TestAPIKeyEnvReportedWithOtherMistakes(t *testing.T) {
	const src = "system_prompt: s\ncategories: [{id: LLM07}, {id: S1}]\n" +
		"target: {type: openai, model: m, base_url: \"http://127.0.0.1:1/v1\", api_key_env: T_KEY}\n" +
		"attempts: 0\n" +
		"judge:\n  type: openai\n  model: j\n  api_key_env: sk-live-1234\n"
	_, err := ParseEnv([]byte(src), "redteam.yaml", func(string) string { return "" })
	var ce config.Errors
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want config errors", err)
	}
	var got []string
	for _, e := range ce {
		got = append(got, e.Pos.String()+" "+e.Msg)
	}
	want := []string{
		"redteam.yaml:3:69 target.api_key_env: T_KEY is not set",
		"redteam.yaml:4:1 attempts is 0",
		"redteam.yaml:8:3 judge.api_key_env must name an environment variable",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := ParseEnv([]byte(src), "redteam.yaml", nil); err == nil || strings.Contains(err.Error(), "T_KEY") {
		t.Errorf("without getenv the variables are left to New: %v", err)
	}
}

// An api_key_env that names an unset variable is refused before anything is sent, at the
// key, for each provider; a set one, or a provider the caller replaces, is not.
func TestAPIKeyEnvMustBeSet(t *testing.T) {
	const src = "system_prompt: s\ncategories: [{id: LLM07}, {id: S1}]\n" +
		"target: {type: openai, model: m, base_url: \"http://127.0.0.1:1/v1\", api_key_env: T_KEY}\n" +
		"judge:\n  type: openai\n  model: j\n  api_key_env: J_KEY\n"
	c, err := Parse([]byte(src), "redteam.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	_, err = New(c, Options{Getenv: getenv})
	want := "redteam.yaml:3:69: target.api_key_env: T_KEY is not set\n\thint: export T_KEY=... before running plumb redteam, or remove api_key_env if the server takes no key\n" +
		"redteam.yaml:7:3: judge.api_key_env: J_KEY is not set"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	env["T_KEY"] = "sk-t"
	if _, err = New(c, Options{Getenv: getenv}); err == nil || strings.Contains(err.Error(), "T_KEY") || !strings.Contains(err.Error(), "J_KEY is not set") {
		t.Errorf("with T_KEY set: %v", err)
	}
	if _, err = New(c, Options{Getenv: getenv, Judge: &interrupter{}}); err != nil {
		t.Errorf("a judge the caller gives needs no key: %v", err)
	}
	if _, err = Parse([]byte(strings.Replace(src, "api_key_env: J_KEY", "api_key_env: sk-live-1234", 1)), "redteam.yaml"); err == nil ||
		!strings.Contains(err.Error(), "redteam.yaml:7:3: judge.api_key_env must name an environment variable") {
		t.Errorf("a key written in api_key_env: %v", err)
	}
}
