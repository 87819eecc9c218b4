package gateway

import (
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/store"
)

// TestResolveProjects: project references written by slug reach the project's id (its
// calls get the project's policy); unknown ones are errors at their place in the file,
// listing the store's projects.
func TestResolveProjects(t *testing.T) {
	projects := []store.Project{{ID: store.DefaultProjectID, Slug: store.DefaultProjectSlug}, {ID: "p_other", Slug: "other"}}
	withRefs := func(policies, project string) string {
		cfg := strings.Replace(twoTargets, "keys:", strings.Replace(guardPolicies, "keys:", "project_policies:\n"+policies+"keys:", 1), 1)
		cfg = strings.NewReplacer("PRIMARY_URL", "http://primary/v1", "BACKUP_URL", "http://backup/v1").Replace(cfg)
		return strings.Replace(cfg, "    budget_usd_per_day: 5\n", "    budget_usd_per_day: 5\n  - name: team-b\n    key_env: TEAM_B_KEY\n    project: "+project+"\n", 1)
	}
	c, err := Parse([]byte(withRefs("  other: strict\n", "other")), "gw.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if refs := c.ProjectRefs(); len(refs) != 2 || !strings.Contains(refs[0], "project_policies.other") || !strings.Contains(refs[1], "keys[1].project") {
		t.Errorf("ProjectRefs = %q", refs)
	}
	if err := c.ResolveProjects(projects); err != nil {
		t.Fatal(err)
	}
	if name, _ := c.policyFor(&c.Routes[0], "p_other"); name != "strict" || c.Keys[1].Project != "p_other" || c.Keys[0].Project != store.DefaultProjectID {
		t.Errorf("after resolving: policy %q, keys %+v", name, c.Keys)
	}

	for _, tc := range []struct{ policies, project, want string }{
		{"  sales: strict\n", "other", `project_policies.sales: no project "sales" in the store`},
		{"  other: strict\n", "p_nope", `keys[1].project: no project "p_nope" in the store`},
		{"  other: strict\n  p_other: strict\n", "other", `project_policies.p_other: project "p_other" is "p_other", which project_policies already names as "other"`},
	} {
		c, err := Parse([]byte(withRefs(tc.policies, tc.project)), "gw.yaml", testEnv)
		if err != nil {
			t.Fatal(err)
		}
		err = c.ResolveProjects(projects)
		if err == nil || !strings.Contains(err.Error(), "gw.yaml:") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s/%s: err = %v; want %q", tc.policies, tc.project, err, tc.want)
		} else if !strings.Contains(tc.want, "already") && !strings.Contains(err.Error(), "the store has default (p_default), other (p_other)") {
			t.Errorf("no list of projects in %v", err)
		}
	}
}
