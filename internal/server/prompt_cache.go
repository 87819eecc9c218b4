package server

import (
	"sync"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

// fetchCache keeps, for a short time, the prompt versions applications fetch (by project,
// name and ref), so that a fleet polling its production prompt does not query the store on
// every request. A change made through this server (a push, a label move, a rollback, an
// approval) forgets the project's entries at once; a change made elsewhere (another
// instance, the CLI on the same database) is seen once the entry expires, after at most
// the TTL.
type fetchCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[fetchKey]fetchEntry
}

type fetchKey struct{ project, name, ref string }

type fetchEntry struct {
	v     store.PromptVersion
	until time.Time
}

// maxFetchEntries bounds the cache: past it, it starts again empty (a fleet fetches a few
// prompts; only successful fetches are kept, so a caller cannot fill it with misses).
const maxFetchEntries = 10000

func newFetchCache(ttl time.Duration, now func() time.Time) *fetchCache {
	if ttl <= 0 {
		return nil
	}
	return &fetchCache{ttl: ttl, now: now, m: map[fetchKey]fetchEntry{}}
}

// get returns the version kept for k, if it has not expired.
func (fc *fetchCache) get(k fetchKey) (store.PromptVersion, bool) {
	if fc == nil {
		return store.PromptVersion{}, false
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	e, ok := fc.m[k]
	if !ok || !fc.now().Before(e.until) {
		return store.PromptVersion{}, false
	}
	return e.v, true
}

// put keeps v for k for the TTL.
func (fc *fetchCache) put(k fetchKey, v store.PromptVersion) {
	if fc == nil {
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.m) >= maxFetchEntries {
		clear(fc.m)
	}
	fc.m[k] = fetchEntry{v: v, until: fc.now().Add(fc.ttl)}
}

// forget drops a project's entries: its registry has just changed through this server.
func (fc *fetchCache) forget(projectID string) {
	if fc == nil {
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for k := range fc.m {
		if k.project == projectID {
			delete(fc.m, k)
		}
	}
}
