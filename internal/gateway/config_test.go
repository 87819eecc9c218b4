package gateway

import (
	"strings"
	"testing"
)

func TestIssueConfigLoads(t *testing.T) {
	c, err := LoadFile("testdata/issue.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:4000" || len(c.Providers) != 2 || len(c.Routes) != 1 || len(c.Keys) != 1 {
		t.Fatalf("config = %+v", c)
	}
	r := c.Routes[0]
	if r.Name != "support-bot" || r.TimeoutMS != 10000 || len(r.Targets) != 2 || r.Targets[1].Provider != "backup" || r.Targets[1].Model != "fake-1" {
		t.Fatalf("route = %+v", r)
	}
	k := c.Keys[0]
	if k.Name != "team-a" || k.RPM != 60 || k.TPM != 100000 || k.BudgetUSDPerDay != 5 || k.secret != teamAKey {
		t.Fatalf("key = %+v", k)
	}
	if c.Providers[0].apiKey != primaryKey || c.Providers[1].BaseURL != "http://127.0.0.1:9002/v1" {
		t.Fatalf("providers = %+v", c.Providers)
	}
	if _, err := New(c, Options{Limiter: newMemLimiter()}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	base := `listen: 127.0.0.1:4000
providers:
  - name: primary
    type: openai
    base_url: http://127.0.0.1:9001/v1
    api_key_env: PRIMARY_API_KEY
routes:
  - name: support-bot
    targets:
      - provider: primary
        model: fake-1
keys:
  - name: team-a
    key_env: TEAM_A_KEY
`
	tests := []struct {
		name, old, new string
		env            func(string) string
		want           []string // each error as "line:col: message", and a hint substring
	}{
		{name: "unknown key with a suggestion", old: "        model: fake-1", new: "        model: fake-1\n        wieght: 2",
			want: []string{`gateway.yaml:12:9: unknown key "wieght"`, `did you mean "weight"?`}},
		{name: "unknown top-level key", old: "listen:", new: "rotues: []\nlisten:",
			want: []string{`gateway.yaml:1:1: unknown key "rotues"`, `did you mean "routes"?`}},
		{name: "unknown provider", old: "provider: primary", new: "provider: primry",
			want: []string{`gateway.yaml:10:9: unknown provider "primry"`, `did you mean "primary"?`}},
		{name: "unknown type", old: "type: openai", new: "type: opnai",
			want: []string{`gateway.yaml:4:5: unknown provider type "opnai"`, `did you mean "openai"?`}},
		{name: "wrong value type", old: "key_env: TEAM_A_KEY", new: "key_env: TEAM_A_KEY\n    rpm: sixty",
			want: []string{`gateway.yaml:15:10: this value must be a whole number, not the text "sixty"`}},
		// Every value of the wrong type is reported in one run, with the checks made after
		// decoding (the route's unknown provider), and a fraction is not cut to a whole number.
		{name: "every wrong type at once", old: "key_env: TEAM_A_KEY", new: "key_env: TEAM_A_KEY\n    rpm: sixty\n    tpm: 1.5\n    budget_usd_per_day: [5]\n    routes: support-bot\n    project: {a: 1}",
			want: []string{`gateway.yaml:15:10: this value must be a whole number, not the text "sixty"`,
				`gateway.yaml:16:10: this value must be a whole number, not a fraction (1.5)`,
				`gateway.yaml:17:25: this value must be a number, not a list`,
				`gateway.yaml:18:13: this value must be a list, not the text "support-bot"`,
				`gateway.yaml:19:14: this value must be text, not a map of keys`}},
		{name: "a duration where milliseconds go", old: "        model: fake-1\nkeys:", new: "        model: fake-1\n    timeout_ms: 10s\nkeys:",
			want: []string{`this value must be a whole number, not the text "10s"`, `write milliseconds as a whole number, e.g. timeout_ms: 10000`}},
		{name: "missing secret", old: "", new: "", env: func(string) string { return "" },
			want: []string{`gateway.yaml:6:5: PRIMARY_API_KEY is not set`, `export PRIMARY_API_KEY=...`, `gateway.yaml:14:5: TEAM_A_KEY is not set`}},
		{name: "key written instead of a variable name", old: "api_key_env: PRIMARY_API_KEY", new: "api_key_env: sk-abc123",
			want: []string{`gateway.yaml:6:5: api_key_env must name an environment variable`}},
		{name: "bad base url", old: "http://127.0.0.1:9001/v1", new: "127.0.0.1:9001",
			want: []string{`gateway.yaml:5:5: base_url "127.0.0.1:9001" is not an http(s) URL`}},
		{name: "no targets", old: "    targets:\n      - provider: primary\n        model: fake-1\n", new: "",
			want: []string{`gateway.yaml:8:5: route "support-bot" has no targets`}},
		{name: "bad regex", old: "keys:", new: "guards:\n  - name: g\n    action: block\n    regex: \"(\"\nkeys:",
			want: []string{`gateway.yaml:15:5: invalid regex`}},
		{name: "syntax error", old: "  - name: team-a", new: "  - name: team-a\n   bad: [",
			want: []string{`gateway.yaml:`}},
		{name: "secret header", old: "    api_key_env: PRIMARY_API_KEY", new: "    api_key_env: PRIMARY_API_KEY\n    headers:\n      Authorization: Bearer sk-x",
			want: []string{`gateway.yaml:8:7: header Authorization carries a secret`}},
		{name: "an unknown key does not hide the other mistakes", old: "provider: primary\n        model: fake-1", new: "provider: primry\n        model: fake-1\n        wieght: 2",
			want: []string{`gateway.yaml:10:9: unknown provider "primry"`, `gateway.yaml:12:9: unknown key "wieght"`}},
		{name: "canary percent", old: "keys:", new: "    canary: {provider: primary, model: fake-2, percent: 150}\nkeys:",
			want: []string{`canary percent must be above 0 and at most 100`}},
		// Each negative limit is reported at its value, named, in file order.
		{name: "negative limits", old: "key_env: TEAM_A_KEY", new: "key_env: TEAM_A_KEY\n    budget_usd_per_day: -5\n    rpm: -1",
			want: []string{"gateway.yaml:15:5: budget_usd_per_day is -5; a limit must not be negative\n", "gateway.yaml:16:5: rpm is -1"}},
		{name: "negative project key limit", old: "keys:", new: "project_keys: {tpm: -3}\nkeys:",
			want: []string{"gateway.yaml:12:16: tpm is -3; a limit must not be negative"}},
		{name: "negative cache ttl", old: "keys:", new: "    cache: {ttl_s: -1}\nkeys:",
			want: []string{"gateway.yaml:12:13: ttl_s is -1; the seconds an answer is kept must be positive"}},
		{name: "negative latency target", old: "keys:", new: "    sla_p95_ms: -5\nkeys:",
			want: []string{"gateway.yaml:12:5: sla_p95_ms is -5; a latency target must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = testEnv
			}
			src := strings.Replace(base, tt.old, tt.new, 1)
			_, err := Parse([]byte(src), "gateway.yaml", env)
			if err == nil {
				t.Fatalf("no error for\n%s", src)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	src := strings.Replace(twoTargets, "rpm: 60", "rpm: -1", 1)
	_, err := Parse([]byte(src), "gateway.yaml", testEnv)
	if err == nil {
		t.Fatal("no error for a negative limit")
	}
	for _, s := range []string{primaryKey, backupKey, teamAKey} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error shows a secret: %v", err)
		}
	}
}

func TestConfigErrorsInFileOrderWithoutEchoes(t *testing.T) {
	src := `redis_url: http://x
providers:
  - name: primary
    type: opnai
    base_url: http://127.0.0.1:9001/v1
routes:
  - name: support-bot
    targets:
      - provider: primary
        model: fake-1
    timeout_ms: -5
keys:
  - name: team-a
    key_env: TEAM_A_KEY
`
	_, err := Parse([]byte(src), "gateway.yaml", testEnv)
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	redis, typ, timeout := strings.Index(got, "gateway.yaml:1:1: redis_url"), strings.Index(got, "gateway.yaml:4:5: unknown provider type"), strings.Index(got, "gateway.yaml:11:5: timeout_ms must be positive")
	if redis < 0 || typ < 0 || timeout < 0 || !(redis < typ && typ < timeout) {
		t.Errorf("errors not all there in file order:\n%s", got)
	}
	if strings.Contains(got, "attempt_timeout_ms") {
		t.Errorf("a negative timeout_ms also blamed the unset attempt_timeout_ms:\n%s", got)
	}
}
