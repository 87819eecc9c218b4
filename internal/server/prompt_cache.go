package server

import (
	"context"
	"sync"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

// ttlCache keeps values for a short time, for the hot path of applications fetching their
// prompt: the project named in the path and the prompt version asked for, so that a fleet
// polling its production prompt costs the store one query (its API key) per request. A
// change made through this server forgets what it changes at once; a change made
// elsewhere (another instance, the CLI on the same database) is seen once the entry
// expires, after at most the TTL. Only what was found is kept, so that a caller cannot fill
// it with misses; past maxCacheEntries it starts again empty.
type ttlCache[K comparable, V any] struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v     V
	until time.Time
}

const maxCacheEntries = 10000

// newTTLCache is a cache keeping values for ttl; nil (keeping nothing) when ttl <= 0.
func newTTLCache[K comparable, V any](ttl time.Duration, now func() time.Time) *ttlCache[K, V] {
	if ttl <= 0 {
		return nil
	}
	return &ttlCache[K, V]{ttl: ttl, now: now, m: map[K]ttlEntry[V]{}}
}

// get returns the value kept for k, if it has not expired.
func (c *ttlCache[K, V]) get(k K) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !c.now().Before(e.until) {
		return zero, false
	}
	return e.v, true
}

// put keeps v for k for the TTL.
func (c *ttlCache[K, V]) put(k K, v V) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCacheEntries {
		clear(c.m)
	}
	c.m[k] = ttlEntry[V]{v: v, until: c.now().Add(c.ttl)}
}

// forget drops the entries whose key matches.
func (c *ttlCache[K, V]) forget(match func(K) bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if match(k) {
			delete(c.m, k)
		}
	}
}

// fetchKey is a fetched prompt version's key.
type fetchKey struct{ project, name, ref string }

// forgetPrompts drops a project's fetched prompt versions: its registry has just changed
// through this server.
func (s *Server) forgetPrompts(projectID string) {
	s.prompts.forget(func(k fetchKey) bool { return k.project == projectID })
}

// project returns the project with this id or slug, kept for the TTL (projects are
// neither renamed nor deleted), or ErrNotFound.
func (s *Server) project(ctx context.Context, ref string) (store.Project, error) {
	if p, ok := s.projects.get(ref); ok {
		return p, nil
	}
	p, err := s.store.GetProject(ctx, ref)
	if err == nil {
		s.projects.put(ref, p)
	}
	return p, err
}
