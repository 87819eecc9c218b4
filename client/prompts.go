package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

// PromptVersion is one immutable version of a registry prompt, with the labels on it.
type PromptVersion = store.PromptVersion

// PromptContent is a prompt version's content: template or messages, model, params, tools.
type PromptContent = store.PromptContent

// PromptInfo is a prompt of a project: its latest version and its labels.
type PromptInfo = store.PromptInfo

// Prompts lists the project's registry prompts.
func (c *Client) Prompts(ctx context.Context, project string) ([]PromptInfo, error) {
	var out struct {
		Prompts []PromptInfo `json:"prompts"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/prompts", nil, nil, &out)
	return out.Prompts, err
}

// Prompt fetches a prompt's version by ref: a label or a version number; "" means the
// production label. Applications should use a PromptCache instead, which keeps working
// when the server cannot be reached.
func (c *Client) Prompt(ctx context.Context, project, name, ref string) (PromptVersion, error) {
	v, _, _, err := c.fetchPrompt(ctx, project, name, ref, "")
	return v, err
}

// fetchPrompt is a conditional fetch: with the ETag of the version held, an unchanged
// prompt answers notModified without a body.
func (c *Client) fetchPrompt(ctx context.Context, project, name, ref, etag string) (v PromptVersion, newETag string, notModified bool, err error) {
	var q url.Values
	if ref != "" {
		q = url.Values{"ref": {ref}}
	}
	// The name's slashes separate its parts and stay in the path; each part is escaped.
	parts := strings.Split(name, "/")
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	req, err := c.request(ctx, http.MethodGet, projectPath(project)+"/prompts/"+strings.Join(parts, "/"), q, nil)
	if err != nil {
		return v, "", false, err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return v, "", false, err
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotModified:
		return v, etag, true, nil
	case res.StatusCode < 200 || res.StatusCode > 299:
		return v, "", false, decodeError(res)
	}
	var out struct {
		Prompt PromptVersion `json:"prompt"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&out); err != nil {
		return v, "", false, fmt.Errorf("prompt %s: decode the server's answer: %w", name, err)
	}
	return out.Prompt, res.Header.Get("ETag"), false, nil
}

// PromptCache serves a registry prompt to an application: the first Get fetches it; later
// calls return the copy held at once and, once it is older than the cache's TTL, refresh it
// in the background (one refresh at a time, a conditional request that costs a 304 when
// nothing changed). When a refresh fails (the registry is down, the network is cut, the
// label is gone), the copy held keeps being served and Err says why: an outage of the
// registry never breaks the application once it has fetched its prompt once. Start with
// Get in the application's start-up, so that a registry that cannot be reached then is
// seen. It is safe for concurrent use.
type PromptCache struct {
	c                  *Client
	project, name, ref string
	ttl                time.Duration
	mu                 sync.Mutex
	v                  PromptVersion
	etag               string
	have, refreshing   bool
	fetched            time.Time
	lastErr            error
	refreshed          chan struct{} // closed and replaced after each background refresh
}

// NewPromptCache makes a cache of the project's prompt name at ref ("" for production),
// refreshed when older than ttl (at least a second; 30 s is a good default).
func (c *Client) NewPromptCache(project, name, ref string, ttl time.Duration) *PromptCache {
	return &PromptCache{c: c, project: project, name: name, ref: ref, ttl: max(ttl, time.Second),
		refreshed: make(chan struct{})}
}

// Get returns the prompt: the copy held, or, before the first success, a fetch.
func (pc *PromptCache) Get(ctx context.Context) (PromptVersion, error) {
	pc.mu.Lock()
	if !pc.have {
		pc.mu.Unlock()
		v, etag, _, err := pc.c.fetchPrompt(ctx, pc.project, pc.name, pc.ref, "")
		pc.mu.Lock()
		defer pc.mu.Unlock()
		if err != nil {
			pc.lastErr = err
			return v, err
		}
		pc.v, pc.etag, pc.have, pc.fetched, pc.lastErr = v, etag, true, time.Now(), nil
		return v, nil
	}
	v := pc.v
	if time.Since(pc.fetched) >= pc.ttl && !pc.refreshing {
		pc.refreshing = true
		go pc.refresh(pc.etag)
	}
	pc.mu.Unlock()
	return v, nil
}

// Err is the error of the last fetch or refresh, nil after a success.
func (pc *PromptCache) Err() error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.lastErr
}

// refresh fetches the prompt again, conditionally on etag, with its own deadline: the
// request that triggered it has been answered already.
func (pc *PromptCache) refresh(etag string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, newETag, notModified, err := pc.c.fetchPrompt(ctx, pc.project, pc.name, pc.ref, etag)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.refreshing = false
	pc.lastErr = err
	if err == nil {
		// A failed refresh leaves fetched alone, so that the next Get tries again.
		pc.fetched = time.Now()
		if !notModified {
			pc.v, pc.etag = v, newETag
		}
	}
	close(pc.refreshed)
	pc.refreshed = make(chan struct{})
}
