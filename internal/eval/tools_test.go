package eval

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/provider"
)

// TestToolCallsInResults: a provider given tools records the model's calls on each result,
// in the report JSON, and a cached answer keeps them.
func TestToolCallsInResults(t *testing.T) {
	srv := start(t, fakellm.Options{Rules: []fakellm.Rule{{Match: "Repeat", Reply: "calling",
		ToolCalls: []fakellm.ToolCall{{Name: "lookup_order", Arguments: `{"id":"A-17"}`}}}}})
	s := suite(srv.URL, 1)
	s.Providers[0].Config.Tools = []provider.Tool{{Name: "lookup_order"}}
	cache := NewCache(t.TempDir())
	for round := range 2 {
		eng, err := Prepare(s, Options{Getenv: getenv, Cache: cache})
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := eng.Run(context.Background())
		r := rep.Results[0]
		if r.Cached != (round == 1) || len(r.ToolCalls) != 1 || r.ToolCalls[0].Name != "lookup_order" || r.ToolCalls[0].Arguments != `{"id":"A-17"}` {
			t.Fatalf("round %d: %+v", round, r)
		}
		data, _ := json.Marshal(r)
		if !strings.Contains(string(data), `"tool_calls":[{"id":"call_fake_`) || !strings.Contains(string(data), `"name":"lookup_order","arguments":"{\"id\":\"A-17\"}"`) {
			t.Errorf("report JSON: %s", data)
		}
	}
	if !strings.Contains(string(srv.Requests()[0].Body), `"tools":[{"function":{"name":"lookup_order"`) {
		t.Errorf("request: %s", srv.Requests()[0].Body)
	}
	// Tools are part of the cache key: without them the answer is asked again.
	s.Providers[0].Config.Tools = nil
	eng, err := Prepare(s, Options{Getenv: getenv, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := eng.Run(context.Background()); rep.Results[0].Cached {
		t.Error("an answer given with tools was served from the cache to a provider without them")
	}
}
