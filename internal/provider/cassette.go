package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// CassetteMode says whether a cassette serves recorded answers or records new ones.
type CassetteMode int

// Cassette modes.
const (
	CassetteReplay CassetteMode = iota // serve recorded answers; an unrecorded request fails
	CassetteRecord                     // call the provider and store its answers
)

// cassetteVersion is the file format version this package writes and reads.
const cassetteVersion = 1

// Cassette is a file of recorded provider answers, keyed by everything that can change an
// answer, so that a suite replays deterministically with no network and no API key. It is
// safe for concurrent use.
type Cassette struct {
	path string
	mode CassetteMode

	mu      sync.Mutex
	comment string
	entries map[string]cassetteEntry
}

// cassetteEntry is one recorded answer. Everything but the key is for people reading the
// file in a diff, and for replaying usage, cost and latency as they were.
type cassetteEntry struct {
	Key      string    `json:"key"`
	Provider string    `json:"provider"`
	Model    string    `json:"model,omitempty"`
	Repeat   int       `json:"repeat"`
	Messages []Message `json:"messages,omitempty"`
	Output   string    `json:"output,omitempty"`
	// ToolCalls are the calls the model made to the tools it was given.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// An embedding call records its input text and vector instead of messages and output.
	Input     string    `json:"input,omitempty"`
	Embedding []float64 `json:"embedding,omitempty"`
	Usage     Usage     `json:"usage"`
	Cost      float64   `json:"cost"`
	LatencyMS float64   `json:"latency_ms"`
}

type cassetteFile struct {
	Version int `json:"version"`
	// Comment is free text kept across recordings, e.g. to say that answers were written by
	// hand for a demo.
	Comment string          `json:"comment,omitempty"`
	Entries []cassetteEntry `json:"entries"`
}

// OpenCassette opens a cassette file. In replay mode the file must exist; in record mode it
// is created, or its recordings are kept and new ones merged in.
func OpenCassette(path string, mode CassetteMode) (*Cassette, error) {
	c := &Cassette{path: path, mode: mode, entries: map[string]cassetteEntry{}}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && mode == CassetteRecord:
		return c, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("cassette %s does not exist: run `plumb eval --record` to record it", path)
	case err != nil:
		return nil, fmt.Errorf("cannot read cassette %s: %v", path, innermost(err))
	}
	var f cassetteFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("cassette %s is not valid: %s (re-record it with `plumb eval --record`)", path, jsonErrorAt(data, err))
	}
	if f.Version > cassetteVersion {
		return nil, fmt.Errorf("cassette %s has format version %d; this plumb reads version %d (upgrade plumb)", path, f.Version, cassetteVersion)
	}
	c.comment = f.Comment
	for _, e := range f.Entries {
		c.entries[e.Key] = e
	}
	return c, nil
}

// jsonErrorAt names the line of a JSON syntax error.
func jsonErrorAt(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("line %d: %v", line, err)
	}
	return err.Error()
}

// Path is the cassette's file.
func (c *Cassette) Path() string { return c.path }

// Recording reports whether the cassette records (rather than replays) answers.
func (c *Cassette) Recording() bool { return c.mode == CassetteRecord }

// Len is the number of recorded answers.
func (c *Cassette) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Wrap puts the cassette in front of p. In replay mode p is never called (it may be nil); in
// record mode every call goes to p and its answer is stored.
func (c *Cassette) Wrap(p Provider, cfg Config) Provider {
	label := labelOf(&cfg)
	if cfg.Label == "" && p != nil {
		label = p.Label()
	}
	return &cassetteProvider{c: c, inner: p, cfg: cfg, label: label}
}

// Save writes a recording cassette atomically, entries sorted by key, so that re-recording
// the same answers gives the same bytes and diffs stay small. In replay mode it does nothing.
func (c *Cassette) Save() error {
	if c.mode != CassetteRecord {
		return nil
	}
	c.mu.Lock()
	f := cassetteFile{Version: cassetteVersion, Comment: c.comment, Entries: make([]cassetteEntry, 0, len(c.entries))}
	for _, e := range c.entries {
		f.Entries = append(f.Entries, e)
	}
	c.mu.Unlock()
	sort.Slice(f.Entries, func(i, j int) bool { return f.Entries[i].Key < f.Entries[j].Key })

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // model output stays readable in the file
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("cannot encode cassette %s: %v", c.path, err)
	}
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot write cassette %s: %v", c.path, innermost(err))
	}
	tmp, err := os.CreateTemp(dir, ".cassette-*.tmp")
	if err != nil {
		return fmt.Errorf("cannot write cassette %s: %v", c.path, innermost(err))
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write cassette %s: %v", c.path, innermost(err))
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write cassette %s: %v", c.path, innermost(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write cassette %s: %v", c.path, innermost(err))
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("cannot write cassette %s: %v", c.path, innermost(err))
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("cannot write cassette %s: %v", c.path, innermost(err))
	}
	return nil
}

// CassetteKey is the key a request is recorded under: a sha256 over a canonical JSON of the
// provider type, model, params, tools, messages and repeat index (plus, for exec and http
// providers, their command or body template and the vars they receive). It leaves out the base URL, so a
// cassette recorded against a local server replays for the same model, and never includes a
// key or a header.
func CassetteKey(cfg Config, req *Request) string {
	k := struct {
		Type       string         `json:"type"`
		Model      string         `json:"model,omitempty"`
		Params     Params         `json:"params"`
		Tools      []Tool         `json:"tools,omitempty"` // left out when none, so older keys hold
		Messages   []Message      `json:"messages"`
		Repeat     int            `json:"repeat"`
		Prompt     string         `json:"prompt,omitempty"`
		Vars       map[string]any `json:"vars,omitempty"`
		Command    []string       `json:"command,omitempty"`
		Method     string         `json:"method,omitempty"`
		Body       any            `json:"body,omitempty"`
		OutputPath string         `json:"output_path,omitempty"`
	}{Type: cfg.Type, Model: cfg.Model, Params: cfg.Params, Tools: cfg.Tools, Messages: chatMessages(req), Repeat: req.Repeat}
	if cfg.Type == "exec" || cfg.Type == "http" {
		k.Prompt, k.Vars = req.Prompt, req.Vars
		k.Command, k.Method, k.Body, k.OutputPath = cfg.Command, cfg.Method, cfg.Body, cfg.OutputPath
	}
	data, err := json.Marshal(k)
	if err != nil {
		// Vars that JSON cannot encode still get a stable, if coarser, key.
		data = []byte(fmt.Sprintf("%#v", k))
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// WrapEmbedder puts an embedding provider behind the cassette, as Wrap does a chat provider,
// so that a suite with `similar` assertions replays without the network too.
func (c *Cassette) WrapEmbedder(e Embedder, cfg Config) Embedder {
	return &cassetteEmbedder{c: c, inner: e, cfg: cfg, label: labelOf(&cfg)}
}

// embeddingKey is the key an embedding is recorded under: the provider type, model and text.
func embeddingKey(cfg Config, text string) string {
	data, _ := json.Marshal(struct {
		Kind, Type, Model, Input string
	}{"embedding", cfg.Type, cfg.Model, text}) // strings always encode
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

type cassetteEmbedder struct {
	c     *Cassette
	inner Embedder
	cfg   Config
	label string
}

// Embed replays or records one embedding.
func (w *cassetteEmbedder) Embed(ctx context.Context, text string) ([]float64, Usage, error) {
	if err := ctx.Err(); err != nil {
		return nil, Usage{}, err
	}
	key := embeddingKey(w.cfg, text)
	if w.c.mode == CassetteReplay {
		w.c.mu.Lock()
		e, ok := w.c.entries[key]
		w.c.mu.Unlock()
		if !ok {
			return nil, Usage{}, &NotRecordedError{Path: w.c.path, Provider: w.label, Model: w.cfg.Model,
				Prompt: oneLine(text, 60)}
		}
		return e.Embedding, e.Usage, nil
	}
	vec, usage, err := w.inner.Embed(ctx, text)
	if err != nil {
		return nil, usage, err
	}
	w.c.mu.Lock()
	w.c.entries[key] = cassetteEntry{Key: key, Provider: w.label, Model: w.cfg.Model, Input: text,
		Embedding: vec, Usage: usage}
	w.c.mu.Unlock()
	return vec, usage, nil
}

// NotRecordedError is a replayed request that the cassette has no answer for.
type NotRecordedError struct {
	Path     string
	Provider string
	Model    string
	Prompt   string // the start of the prompt, for recognising the case
	Repeat   int
}

// Error names the case and says how to record it.
func (e *NotRecordedError) Error() string {
	model := ""
	if e.Model != "" {
		model = " (model " + e.Model + ")"
	}
	return fmt.Sprintf("cassette %s has no recording for provider %s%s, prompt %s, repeat %d: run `plumb eval --record` to record it",
		e.Path, e.Provider, model, strconv.Quote(e.Prompt), e.Repeat)
}

// cassetteProvider is a provider behind a cassette.
type cassetteProvider struct {
	c     *Cassette
	inner Provider
	cfg   Config
	label string
}

// Label is the wrapped provider's id in results.
func (w *cassetteProvider) Label() string { return w.label }

// Call replays or records one answer.
func (w *cassetteProvider) Call(ctx context.Context, req *Request) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := CassetteKey(w.cfg, req)
	if w.c.mode == CassetteReplay {
		w.c.mu.Lock()
		e, ok := w.c.entries[key]
		w.c.mu.Unlock()
		if !ok {
			msgs := chatMessages(req)
			return nil, &NotRecordedError{Path: w.c.path, Provider: w.label, Model: w.cfg.Model,
				Prompt: oneLine(msgs[len(msgs)-1].Content, 60), Repeat: req.Repeat}
		}
		return &Response{
			Output: e.Output, ToolCalls: e.ToolCalls, Usage: e.Usage, Cost: e.Cost, Replayed: true,
			Latency: time.Duration(e.LatencyMS * float64(time.Millisecond)),
		}, nil
	}
	if w.inner == nil {
		return nil, fmt.Errorf("cassette %s is recording but provider %s could not be built", w.c.path, w.label)
	}
	resp, err := w.inner.Call(ctx, req)
	if err != nil {
		return nil, err
	}
	e := cassetteEntry{
		Key: key, Provider: w.label, Model: w.cfg.Model, Repeat: req.Repeat,
		Messages: chatMessages(req), Output: resp.Output, ToolCalls: resp.ToolCalls, Usage: resp.Usage, Cost: resp.Cost,
		LatencyMS: math.Round(float64(resp.Latency)/float64(time.Millisecond)*10) / 10,
	}
	w.c.mu.Lock()
	w.c.entries[key] = e
	w.c.mu.Unlock()
	return resp, nil
}
