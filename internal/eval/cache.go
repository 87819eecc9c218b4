package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/plumbhq/plumb/internal/provider"
)

// Cache is the on-disk response cache: one small JSON file per answer, keyed by everything
// that can change the answer (provider type, model, endpoint, headers, parameters, output
// path, the prompt as sent, the test's vars for programs that read them, and the repeat
// index). It never holds a secret: API keys are not part of the entry or of the key.
type Cache struct {
	dir string
}

// NewCache returns a cache rooted at dir (created on first write).
func NewCache(dir string) *Cache { return &Cache{dir: dir} }

type cacheEntry struct {
	Output    string              `json:"output"`
	ToolCalls []provider.ToolCall `json:"tool_calls,omitempty"`
	Usage     provider.Usage      `json:"usage"`
	Cost      float64             `json:"cost"`
	LatencyMS float64             `json:"latency_ms"`
}

// cacheKey hashes everything that can change a provider's answer to req.
func cacheKey(cfg *provider.Config, baseURL, program string, req *provider.Request) string {
	// Header values are templates such as "Bearer {{env.KEY}}" (literal secrets are refused
	// when the suite loads), so hashing them never hashes a key.
	k := struct {
		Type, Model, BaseURL, URL, Method, OutputPath, Dir, Program string
		Command                                                     []string
		Headers                                                     map[string]string
		Body                                                        any
		Params                                                      provider.Params
		Tools                                                       []provider.Tool `json:",omitempty"` // none: the keys of older caches hold
		Stream                                                      bool
		Messages                                                    []provider.Message
		Prompt                                                      string
		Vars                                                        map[string]any
		Repeat                                                      int
	}{cfg.Type, cfg.Model, baseURL, cfg.URL, cfg.Method, cfg.OutputPath, cfg.Dir, program, cfg.Command, cfg.Headers,
		cfg.Body, cfg.Params, cfg.Tools, cfg.Stream, req.Messages, req.Prompt, req.Vars, req.Repeat}
	b, _ := json.Marshal(k) // every field is JSON-safe: it came from YAML or JSON
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (c *Cache) path(key string) string {
	return filepath.Join(c.dir, key[:2], key[2:]+".json")
}

// maxProgramFile bounds the files programHash reads: a script, not a model's weights.
const maxProgramFile = 16 << 20

// programHash hashes the files an exec provider's command names (its script, say), so that
// editing the application under test invalidates its cached answers, as promptfoo does.
// Arguments that are not readable regular files are left out.
func programHash(cfg *provider.Config) string {
	if cfg.Type != "exec" {
		return ""
	}
	h := sha256.New()
	for _, arg := range cfg.Command {
		path := arg
		if !filepath.IsAbs(path) && cfg.Dir != "" {
			path = filepath.Join(cfg.Dir, path)
		}
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxProgramFile {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		h.Write([]byte(arg))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Get returns the cached answer for key, if any. A corrupt entry counts as a miss.
func (c *Cache) Get(key string) (*provider.Response, bool) {
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil {
		return nil, false
	}
	return &provider.Response{Output: e.Output, ToolCalls: e.ToolCalls, Usage: e.Usage, Cost: e.Cost,
		Latency: msToDuration(e.LatencyMS)}, true
}

// Put stores an answer. Failing to write the cache never fails a run.
func (c *Cache) Put(key string, r *provider.Response) error {
	b, err := json.Marshal(cacheEntry{Output: r.Output, ToolCalls: r.ToolCalls, Usage: r.Usage, Cost: r.Cost, LatencyMS: durationToMS(r.Latency)})
	if err != nil {
		return err
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return errors.Join(werr, cerr)
	}
	return os.Rename(f.Name(), p)
}

// Clear removes every cached answer.
func (c *Cache) Clear() error {
	err := os.RemoveAll(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
