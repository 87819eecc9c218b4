package cli

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/store"
)

// syncBuffer is a log destination safe for the purge goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestScheduledPurge: the server's purge job deletes revoked items at start, logs the
// counts, and stops with the server.
func TestScheduledPurge(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "p.db"), store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := st.CreateDataset(ctx, store.DefaultProjectID, "golden", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AddItems(ctx, ds.ID, []dataset.Item{{Vars: map[string]any{"q": "a"}}, {Vars: map[string]any{"q": "b"}}}, "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeConsent(ctx, ds.ID, store.Revocation{ItemIDs: []int64{2}}); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	jobCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { purgeDatasets(jobCtx, st, slog.New(slog.NewTextHandler(&logs, nil)), time.Hour); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "dataset purge done") {
		if time.Now().After(deadline) {
			t.Fatalf("no purge logged: %s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the purge job did not stop with its context")
	}
	for _, want := range []string{"dataset purged", "dataset=golden", "items=1", "revoked=1", "datasets=1"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q: %s", want, logs.String())
		}
	}
	got, err := st.GetDataset(ctx, store.DefaultProjectID, "golden")
	if err != nil || got.ItemCount != 1 {
		t.Errorf("after the scheduled purge: %+v, %v; want 1 item", got, err)
	}
	es, _, _ := st.ListAudit(ctx, "", "", 10)
	if len(es) == 0 || es[0].Action != "dataset.purge" || es[0].ActorType != store.ActorSystem {
		t.Errorf("latest audit entry = %+v, want dataset.purge by the system", es)
	}
}
