package gateway

import (
	"fmt"
	"sort"
	"strings"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/store"
)

// projectRef is one place of the config that names a project: a key's project: or a key
// of project_policies.
type projectRef struct {
	path string
	ref  string
	key  int // the index in keys; -1 for project_policies
}

// projectRefs are the project references written in the config, in the file's order.
func (c *Config) projectRefs() []projectRef {
	var refs []projectRef
	for i, k := range c.Keys {
		path := fmt.Sprintf("keys[%d].project", i)
		if _, written := c.pos.m[path]; written {
			refs = append(refs, projectRef{path, k.Project, i})
		}
	}
	for ref := range c.ProjectPolicies {
		refs = append(refs, projectRef{"project_policies." + ref, ref, -1})
	}
	sort.SliceStable(refs, func(i, j int) bool {
		a, b := c.pos.at(refs[i].path), c.pos.at(refs[j].path)
		return a.Line < b.Line || a.Line == b.Line && (a.Col < b.Col || a.Col == b.Col && refs[i].ref < refs[j].ref)
	})
	return refs
}

// ProjectRefs says where the config names projects (keys[].project, project_policies):
// the paths, for a warning when there is no store to check them against.
func (c *Config) ProjectRefs() []string {
	var out []string
	for _, r := range c.projectRefs() {
		out = append(out, c.pos.at(r.path).String()+": "+r.path)
	}
	return out
}

// ResolveProjects rewrites every project reference of the config, a slug or an id, to the
// project's id, so that a key's calls and a project's policy match the project the store
// records them under. A reference to no project, or two references to one project in
// project_policies, is an error at its place in the file; the hint lists the projects.
// Call it after Load and before New.
func (c *Config) ResolveProjects(projects []store.Project) error {
	ids := map[string]string{}
	var known []string
	for _, p := range projects {
		ids[p.ID], ids[p.Slug] = p.ID, p.ID
		known = append(known, fmt.Sprintf("%s (%s)", p.Slug, p.ID))
	}
	hint := "give a project's slug or id; the store has " + strings.Join(known, ", ")
	if len(known) > 20 {
		hint = "give a project's slug or id; the store has " + strings.Join(known[:20], ", ") + fmt.Sprintf(" and %d more", len(known)-20)
	}
	var errs config.Errors
	policies := map[string]string{}
	policyRef := map[string]string{}
	for _, r := range c.projectRefs() {
		id, ok := ids[r.ref]
		if !ok {
			errs = append(errs, &config.Error{Pos: c.pos.at(r.path), Msg: fmt.Sprintf("%s: no project %q in the store", r.path, r.ref), Hint: hint})
			continue
		}
		if r.key >= 0 {
			c.Keys[r.key].Project = id
			continue
		}
		if prev, twice := policyRef[id]; twice {
			errs = append(errs, &config.Error{Pos: c.pos.at(r.path),
				Msg:  fmt.Sprintf("%s: project %q is %q, which project_policies already names as %q", r.path, r.ref, id, prev),
				Hint: "name each project once in project_policies"})
			continue
		}
		policyRef[id], policies[id] = r.ref, c.ProjectPolicies[r.ref]
	}
	if len(errs) > 0 {
		return config.Sorted(errs)
	}
	if c.ProjectPolicies != nil {
		c.ProjectPolicies = policies
	}
	return nil
}
