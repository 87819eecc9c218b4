package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestShadowPairs(t *testing.T) {
	forEachDriver(t, func(t *testing.T, _, dsn string) {
		st := openStore(t, dsn)
		ctx := context.Background()
		p, err := st.CreateProject(ctx, Project{Slug: "gw", Name: "GW"})
		if err != nil {
			t.Fatal(err)
		}
		other, err := st.CreateProject(ctx, Project{Slug: "other", Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		var batch []Trace
		for i := 0; i < 3; i++ {
			live := traceAt(p.ID, "support-bot", "team-a", t0.Add(time.Duration(i)*time.Minute), 200, 40)
			live.ID = fmt.Sprintf("live%d", i)
			live.ResponseBody = fmt.Sprintf("live answer %d", i)
			sh := traceAt(p.ID, "support-bot", "team-a", live.StartedAt.Add(time.Millisecond), 200, 80)
			sh.ID, sh.ShadowOf, sh.ResponseBody = fmt.Sprintf("shadow%d", i), live.ID, fmt.Sprintf("shadow answer %d", i)
			batch = append(batch, live, sh)
		}
		// A live call without a shadow, a shadow of another route, another project's pair,
		// and a shadow whose live record is gone.
		lone := traceAt(p.ID, "support-bot", "team-a", t0.Add(10*time.Minute), 200, 1)
		otherRoute := traceAt(p.ID, "other-bot", "team-a", t0, 200, 1)
		otherRoute.ShadowOf = "live0"
		olive := traceAt(other.ID, "support-bot", "k", t0, 200, 1)
		olive.ID = "olive"
		oshadow := traceAt(other.ID, "support-bot", "k", t0, 200, 1)
		oshadow.ShadowOf = "olive"
		orphan := traceAt(p.ID, "support-bot", "team-a", t0.Add(time.Hour), 200, 1)
		orphan.ShadowOf = "gone"
		batch = append(batch, lone, otherRoute, olive, oshadow, orphan)
		if err := st.SaveTraces(ctx, batch); err != nil {
			t.Fatal(err)
		}
		pairs, err := st.ShadowPairs(ctx, p.ID, "support-bot", t0.Add(30*time.Second), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(pairs) != 2 {
			t.Fatalf("%d pairs, want 2 (live1, live2): %+v", len(pairs), pairs)
		}
		for i, pr := range pairs {
			n := i + 1
			if pr.Live.ID != fmt.Sprintf("live%d", n) || pr.Shadow.ID != fmt.Sprintf("shadow%d", n) ||
				pr.Live.ResponseBody != fmt.Sprintf("live answer %d", n) || pr.Shadow.ResponseBody != fmt.Sprintf("shadow answer %d", n) ||
				pr.Shadow.LatencyMS != 80 || pr.Live.LatencyMS != 40 {
				t.Errorf("pair %d: %+v", i, pr)
			}
		}
		if pairs, _ := st.ShadowPairs(ctx, p.ID, "support-bot", t0, 1); len(pairs) != 1 || pairs[0].Live.ID != "live0" {
			t.Errorf("limit 1: %+v", pairs)
		}
		if pairs, _ := st.ShadowPairs(ctx, other.ID, "support-bot", t0, 0); len(pairs) != 1 || pairs[0].Live.ID != "olive" {
			t.Errorf("other project: %+v", pairs)
		}

		// The routes with shadow records: by name, counted, in the period, of the project.
		routes, err := st.ShadowRoutes(ctx, p.ID, t0)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(routes) != "[{other-bot 1} {support-bot 4}]" {
			t.Errorf("shadow routes since t0: %v, want other-bot 1, support-bot 4 (3 pairs and the orphan)", routes)
		}
		if routes, _ := st.ShadowRoutes(ctx, p.ID, t0.Add(30*time.Minute)); fmt.Sprint(routes) != "[{support-bot 1}]" {
			t.Errorf("shadow routes since t0+30m: %v, want the orphan's route alone", routes)
		}
		if routes, _ := st.ShadowRoutes(ctx, other.ID, t0); fmt.Sprint(routes) != "[{support-bot 1}]" {
			t.Errorf("other project's shadow routes: %v", routes)
		}
	})
}
