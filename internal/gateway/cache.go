package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// maxCacheEntries bounds the response cache; when full, expired entries are dropped, then
// the oldest.
const maxCacheEntries = 10000

// responseCache is the exact-match cache of plain answers, in memory. Its key includes the
// client's project, so that an answer never crosses projects.
type responseCache struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[[32]byte]cacheEntry
}

type cacheEntry struct {
	body    []byte
	usage   usage
	target  *target
	expires time.Time
	stored  time.Time
}

func newResponseCache(now func() time.Time) *responseCache {
	return &responseCache{now: now, m: map[[32]byte]cacheEntry{}}
}

// cacheKey is the hash of the project, the endpoint and the request in canonical JSON
// (keys sorted, numbers as written), so that the same request written differently hits.
func (c *call) cacheKey() ([32]byte, bool) {
	var v any
	raw := c.raw
	if c.anthropic {
		raw = c.nativeRaw // the client's own request (raw may be a stub of it)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return [32]byte{}, false
	}
	canon, err := json.Marshal(v)
	if err != nil {
		return [32]byte{}, false
	}
	h := sha256.New()
	h.Write([]byte(c.key.project))
	h.Write([]byte{0})
	h.Write([]byte(c.endpointName()))
	h.Write([]byte{0})
	h.Write(canon)
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k, true
}

// cacheable: the route opted in. A stream is kept whole (when it completed, and up to
// maxReplayBytes) and replayed as one write.
func (c *call) cacheable() bool {
	return c.route.Cache != nil
}

// serveCached answers from the cache when it holds this exact request.
func (c *call) serveCached(w http.ResponseWriter) bool {
	if !c.cacheable() {
		return false
	}
	k, ok := c.cacheKey()
	if !ok {
		return false
	}
	rc := c.g.cache
	rc.mu.Lock()
	e, hit := rc.m[k]
	if hit && !rc.now().Before(e.expires) {
		delete(rc.m, k)
		hit = false
	}
	rc.mu.Unlock()
	if !hit {
		return false
	}
	c.cached, c.answered, c.respBody = true, e.target, e.body
	c.g.metrics.cacheHits.WithLabelValues(c.route.Name, c.key.name).Inc()
	if c.stream {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("X-Plumb-Cache", "hit")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(e.body)
	c.status = http.StatusOK
	return true
}

// storeCached keeps a plain answer for the route's TTL.
func (c *call) storeCached(body []byte) {
	if !c.cacheable() {
		return
	}
	k, ok := c.cacheKey()
	if !ok {
		return
	}
	rc := c.g.cache
	now := rc.now()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.m) >= maxCacheEntries {
		var oldest [32]byte
		var oldestAt time.Time
		for key, e := range rc.m {
			if !now.Before(e.expires) {
				delete(rc.m, key)
				continue
			}
			if oldestAt.IsZero() || e.stored.Before(oldestAt) {
				oldest, oldestAt = key, e.stored
			}
		}
		if len(rc.m) >= maxCacheEntries {
			delete(rc.m, oldest)
		}
	}
	rc.m[k] = cacheEntry{body: append([]byte(nil), body...), usage: c.usage, target: c.answered,
		expires: now.Add(time.Duration(c.route.Cache.TTLSeconds) * time.Second), stored: now}
}
