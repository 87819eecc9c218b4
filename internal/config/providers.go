package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/provider"
)

// providerRole is what a provider is configured for; it decides how `openai:MODEL` reads and
// which types fit.
type providerRole int

const (
	roleTarget    providerRole = iota // answers the prompts
	roleJudge                         // grades model-graded assertions
	roleEmbedding                     // embeds text for `similar`
)

// supportedIDs lists the provider ids Plumb reads, for error messages.
const supportedIDs = "openai:chat:MODEL, openai:MODEL, openai:embedding:MODEL, anthropic:messages:MODEL, " +
	"anthropic:MODEL, exec:COMMAND, http(s)://URL, echo; an OpenAI-compatible server (Ollama, vLLM, " +
	"Azure OpenAI, Groq, Together, LM Studio...) is openai:chat:MODEL with config.apiBaseUrl set to its URL"

// providers reads `providers` (or `targets`): a provider or a list of them, where
// file://PATH.yaml (.yml, .json) stands for the providers that file holds. Labels must be
// distinct: results are keyed by them.
func (l *loader) providers(v *node) []ProviderSpec {
	var items []*node
	switch v.kind {
	case stringKind:
		items = l.providerFiles([]*node{v})
	case listKind:
		items = l.providerFiles(v.items)
		if len(v.items) == 0 {
			l.fail(v.pos, "add e.g. `- openai:chat:gpt-4o-mini`", "providers is empty")
		}
	default:
		l.fail(v.pos, "write `providers:` followed by `- ` items such as `- openai:chat:gpt-4o-mini`", "providers must be a string or a list, not %s", v.kind)
		return nil
	}
	var out []ProviderSpec
	seen := map[string]Pos{}
	for _, it := range items {
		p, ok := l.provider(it, roleTarget)
		if !ok {
			continue
		}
		if first, dup := seen[p.Config.Label]; dup {
			l.fail(p.Pos, "give each provider a distinct `label`", "two providers have the label %q (the first at %s)", p.Config.Label, first)
			continue
		}
		seen[p.Config.Label] = p.Pos
		out = append(out, p)
	}
	return out
}

// isProviderFile reports whether a provider item is promptfoo's file://PATH to a YAML or JSON
// file of provider settings (scripts are refused where the id is read).
func isProviderFile(n *node) (string, bool) {
	if n.kind != stringKind {
		return "", false
	}
	rel, ok := fileRef(n.text)
	if !ok {
		return "", false
	}
	ext := strings.ToLower(filepath.Ext(rel))
	return rel, ext == ".yaml" || ext == ".yml" || ext == ".json"
}

// providerFiles replaces each file://PATH.yaml (.yml, .json; globs allowed) among items with the
// providers the file holds: a list of providers, or one. Their positions are in that file.
// Files are read one level deep: a reference inside a providers file is an error there.
func (l *loader) providerFiles(items []*node) []*node {
	var out []*node
	for _, it := range items {
		rel, ok := isProviderFile(it)
		if !ok {
			out = append(out, it)
			continue
		}
		paths, ok := l.expandRef(rel, it.pos, "providers file")
		if !ok {
			continue
		}
		for _, p := range paths {
			file, data, ok := l.readRef(p, it.pos, "providers file")
			if !ok {
				continue
			}
			root, _ := l.parse(data, file, 0)
			switch {
			case root == nil:
			case root.kind == nullKind || root.kind == listKind && len(root.items) == 0:
				l.fail(it.pos, "list the providers in the file, e.g. `- openai:chat:gpt-4o-mini`", "providers file %q has no providers", p)
			case root.kind == listKind:
				out = append(out, root.items...)
			default:
				out = append(out, root)
			}
		}
	}
	return out
}

// providerKeys are the keys of a provider written as a map: promptfoo's {id, label, config}
// and Plumb's flat settings.
var providerKeys = []string{
	"id", "label", "config", "type", "model", "base_url", "api_key_env", "params", "stream",
	"timeout_ms", "max_retries", "rpm", "price",
}

// configKeys are the keys of a provider's `config` map (promptfoo's names).
var configKeys = []string{
	"apiBaseUrl", "apiHost", "apiKeyEnvar", "temperature", "max_tokens", "top_p", "seed", "stop",
	"headers", "timeout", "url", "method", "body", "transformResponse", "passthrough", "cost",
	"frequency_penalty", "presence_penalty", "response_format", "max_completion_tokens",
	"reasoning_effort", "top_k", "omitDefaults", "tools", "tool_choice", "parallel_tool_calls",
}

// extraParams are request-body parameters passed through as they are (Params.Extra).
var extraParams = map[string]bool{
	"frequency_penalty": true, "presence_penalty": true, "response_format": true,
	"max_completion_tokens": true, "reasoning_effort": true, "top_k": true,
}

// paramKeys are the keys of Plumb's `params` map.
var paramKeys = []string{
	"temperature", "max_tokens", "top_p", "seed", "stop", "extra", "frequency_penalty",
	"presence_penalty", "response_format", "max_completion_tokens", "reasoning_effort", "top_k",
}

// providerBuilder accumulates one provider's settings and remembers where each was set, so
// that a setting given twice (config.temperature and params.temperature) is an error rather
// than a silent override.
type providerBuilder struct {
	l    *loader
	role providerRole
	spec ProviderSpec
	cfg  *provider.Config
	set  map[string]Pos
	ok   bool
	// omitDefaults is promptfoo's config.omitDefaults: no default temperature or max_tokens.
	omitDefaults bool
}

// provider reads one provider:
//
//   - a string id: openai:chat:MODEL, openai:MODEL (chat; an embedding model under
//     `embedding:`), openai:embedding:MODEL (or embeddings), anthropic:messages:MODEL,
//     anthropic:MODEL, exec:COMMAND ARGS (split like a shell, quotes respected, run without a
//     shell), http://... or https://..., echo;
//   - a map {id, label, config: {...}}, or promptfoo's {ID: {label, config}};
//   - Plumb's map {id | type + model, label, base_url, api_key_env, params: {temperature,
//     max_tokens, top_p, seed, stop, extra}, stream, timeout_ms, max_retries, rpm,
//     price: {input, output, cached}}.
//
// config keys (promptfoo's names): apiBaseUrl, apiHost (a host: https://HOST/v1), apiKeyEnvar,
// temperature, max_tokens, top_p, seed, stop, headers, timeout (ms), url, method, body,
// transformResponse (a JSON path such as json.choices[0].message.content or
// choices.0.message.content; JavaScript is refused), passthrough (extra request-body fields), cost (USD per token), and the body
// parameters frequency_penalty, presence_penalty, response_format, max_completion_tokens,
// reasoning_effort, top_k; file:// values in body parameters are read (see bodyValue);
// omitDefaults turns off promptfoo's default temperature and max_tokens (see
// promptfooDefaults). An API key written in the file is refused: keys come from the
// environment only (apiKey: '{{env.NAME}}' is read as apiKeyEnvar: NAME).
func (l *loader) provider(n *node, role providerRole) (ProviderSpec, bool) {
	b := &providerBuilder{l: l, role: role, set: map[string]Pos{}, ok: true}
	b.spec.Pos = n.pos
	b.cfg = &b.spec.Config
	switch n.kind {
	case stringKind:
		b.id(n)
	case mapKind:
		body := n
		if len(n.keys) == 1 && !slices.Contains(providerKeys, n.keys[0].text) &&
			(n.vals[0].kind == mapKind || n.vals[0].kind == nullKind) {
			// promptfoo's {"openai:chat:gpt-4o": {config: ...}}
			b.id(n.keys[0])
			body = n.vals[0]
			if body.kind == nullKind {
				break
			}
			if body.get("id") != nil {
				b.fail(body.get("id").pos, "keep the id as the map's key", "the provider's id is given twice")
			}
		} else if id := n.get("id"); id != nil {
			b.id(id)
		}
		b.fields(body)
	default:
		l.fail(n.pos, "write a provider id such as openai:chat:gpt-4o-mini, or a map with `id:`", "a provider must be a string or a map, not %s", n.kind)
		return ProviderSpec{}, false
	}
	b.finish(n)
	return b.spec, b.ok
}

func (b *providerBuilder) fail(pos Pos, hint, format string, args ...any) {
	b.l.fail(pos, hint, format, args...)
	b.ok = false
}

// once records that setting name is set at pos; a second time is an error.
func (b *providerBuilder) once(name string, pos Pos) bool {
	if first, dup := b.set[name]; dup {
		b.fail(pos, "keep one of them", "the provider's %s is set twice (the first at %s)", name, first)
		return false
	}
	b.set[name] = pos
	return true
}

// openAISubtypes are promptfoo's openai:KIND:MODEL kinds that Plumb does not call.
var openAISubtypes = map[string]bool{
	"completion": true, "responses": true, "assistant": true, "realtime": true, "image": true,
	"moderation": true, "transcription": true, "tts": true, "agents": true, "chatkit": true,
	"video": true, "codex": true, "codex-sdk": true, "live": true,
}

// id reads a provider id into type, model, command or URL.
func (b *providerBuilder) id(n *node) {
	id, ok := b.l.str(n, "the provider id")
	if !ok {
		b.ok = false
		return
	}
	b.once("id", n.pos)
	b.spec.ID = id
	c := b.cfg
	scheme, rest, _ := strings.Cut(id, ":")
	_, providerFile := isProviderFile(n)
	switch {
	case id == "echo":
		c.Type = "echo"
	case id == "openai" || id == "anthropic":
		c.Type = id // the model comes from `model:`
	case id == "http" || id == "https":
		c.Type = "http" // the URL comes from config.url
	case strings.HasPrefix(id, "http://") || strings.HasPrefix(id, "https://"):
		c.Type, c.URL = "http", id
		b.once("url", n.pos)
	case scheme == "openai":
		kind, model, hasKind := strings.Cut(rest, ":")
		if !hasKind && (kind == "chat" || kind == "embedding" || kind == "embeddings") {
			hasKind = true // "openai:chat" names no model: finish reports it
		}
		switch {
		case hasKind && kind == "chat":
			c.Type, c.Model = "openai", model
		case hasKind && (kind == "embedding" || kind == "embeddings"):
			c.Type, c.Model = "openai-embedding", model
		case hasKind && openAISubtypes[kind]:
			b.fail(n.pos, "use openai:chat:MODEL (the chat completions API)", "openai:%s providers are not supported by Plumb", kind)
			return
		case b.role == roleEmbedding:
			c.Type, c.Model = "openai-embedding", rest
		default:
			c.Type, c.Model = "openai", rest // model names may hold colons (llama3:8b)
		}
		if c.Model != "" {
			b.once("model", n.pos)
		}
	case scheme == "anthropic":
		kind, model, hasKind := strings.Cut(rest, ":")
		if !hasKind && kind == "messages" {
			hasKind = true // "anthropic:messages" names no model: finish reports it
		}
		switch {
		case hasKind && kind == "messages":
			c.Type, c.Model = "anthropic", model
		case hasKind && kind == "completion":
			b.fail(n.pos, "use anthropic:messages:MODEL", "anthropic:completion providers are not supported by Plumb")
			return
		default:
			c.Type, c.Model = "anthropic", rest
		}
		if c.Model != "" {
			b.once("model", n.pos)
		}
	case scheme == "exec":
		args, err := splitCommand(rest)
		switch {
		case err != "":
			b.fail(n.pos, "close the quote", "cannot split the exec command: %s", err)
		case len(args) == 0:
			b.fail(n.pos, "write the program to run, e.g. exec:python app.py", "the exec command is empty")
		default:
			// The program runs in the suite's folder, as its other paths resolve there.
			c.Type, c.Command, c.Dir = "exec", args, b.l.dir
		}
	case scheme == "file" && providerFile:
		b.fail(n.pos, "write the provider's settings here, or list the file under the top-level `providers:`",
			"a providers file (%s) is read only as an item of the top-level providers", id)
	case scheme == "file":
		b.fail(n.pos, "run your code as a program instead: exec:COMMAND (the request arrives as JSON on stdin)", "provider scripts (%s) are not supported by Plumb", id)
	case scheme == "python" || scheme == "golang" || scheme == "ruby":
		b.fail(n.pos, "run it as a program instead: exec:COMMAND (the request arrives as JSON on stdin)", "%s: providers are not supported by Plumb", scheme)
	default:
		b.fail(n.pos, "supported: "+supportedIDs, "unknown provider %q", id)
	}
}

// fields reads a provider map's keys other than the id.
func (b *providerBuilder) fields(n *node) {
	if n.kind != mapKind {
		b.fail(n.pos, hintMap, "the provider's settings must be a map, not %s", n.kind)
		return
	}
	l := b.l
	for i, k := range n.keys {
		v := n.vals[i]
		switch k.text {
		case "id":
			// read first, by provider()
		case "label":
			if s, ok := l.str(v, "label"); ok && b.once("label", v.pos) {
				b.cfg.Label = s
			}
		case "config":
			b.config(v)
		case "type":
			b.typ(v)
		case "model":
			if s, ok := b.envStr(v, "model"); ok && b.once("model", v.pos) {
				b.cfg.Model = s
			}
		case "base_url":
			if s, ok := b.envStr(v, "base_url"); ok && b.once("base URL", v.pos) {
				b.cfg.BaseURL = s
			}
		case "api_key_env":
			b.keyEnv(v, "api_key_env")
		case "params":
			b.params(v)
		case "stream":
			if f, ok := l.boolean(v, "stream"); ok {
				b.cfg.Stream = f
			}
		case "timeout_ms":
			if ms, ok := l.posInt(v, "timeout_ms", 1, hintTimeout); ok && b.once("timeout", v.pos) {
				b.cfg.Timeout = time.Duration(ms) * time.Millisecond
			}
		case "max_retries":
			if r, ok := l.posInt(v, "max_retries", 0, hintRetries); ok {
				b.cfg.MaxRetries = r
				if r == 0 {
					b.cfg.MaxRetries = -1 // provider.Config: 0 is the default, negative is none
				}
			}
		case "rpm":
			if r, ok := l.posInt(v, "rpm", 0, hintRPM); ok {
				b.cfg.RPM = r
			}
		case "price":
			if p, ok := l.price(v, "price", true); ok && b.once("price", v.pos) {
				b.cfg.Price = p
			}
		case "prompts":
			b.fail(k.pos, "run the prompts you want with --filter, or split the suite", "provider-specific `prompts` are not supported by Plumb")
		case "transform":
			b.fail(k.pos, "use config.transformResponse with a JSON path such as json.output", "provider `transform` (JavaScript) is not supported by Plumb")
		case "delay":
			b.fail(k.pos, "limit the request rate with `rpm:` instead", "provider `delay` is not supported by Plumb")
		case "env":
			b.fail(k.pos, "set these variables in your shell or CI secrets instead", "provider `env` is not supported: secrets never go in config files")
		default:
			if isSecretName(k.text) {
				b.secret(k, v)
				continue
			}
			b.l.unknownKey(k, "provider key", providerKeys)
			b.ok = false
		}
	}
}

// typ reads Plumb's `type:` (an alternative to an id).
func (b *providerBuilder) typ(v *node) {
	t, ok := b.l.str(v, "type")
	if !ok {
		b.ok = false
		return
	}
	if b.cfg.Type != "" {
		b.fail(v.pos, "keep the id, or write `type` and `model` without an id", "the provider has both an id and a type")
		return
	}
	switch t {
	case "openai", "openai-embedding", "anthropic", "echo", "http":
		b.cfg.Type = t
	case "exec":
		b.fail(v.pos, "write `id: exec:COMMAND ARGS`", "an exec provider is written as an id")
	default:
		hint := "types: openai, openai-embedding, anthropic, echo, http (exec is written as id: exec:COMMAND)"
		if s := Suggest(t, []string{"openai", "openai-embedding", "anthropic", "echo", "http"}); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		b.fail(v.pos, hint, "unknown provider type %q", t)
	}
}

// config reads a provider's `config` map (promptfoo's names).
func (b *providerBuilder) config(n *node) {
	l := b.l
	l.eachKey(n, "config", func(k, v *node) {
		switch k.text {
		case "apiBaseUrl":
			if s, ok := b.envStr(v, "apiBaseUrl"); ok && b.once("base URL", v.pos) {
				b.cfg.BaseURL = s
			}
		case "apiHost":
			if s, ok := b.envStr(v, "apiHost"); ok && b.once("base URL", v.pos) {
				// promptfoo's apiHost is a host name: https://HOST/v1.
				if !strings.Contains(s, "://") {
					s = "https://" + s
				}
				if b.cfg.Type == "openai" || b.cfg.Type == "openai-embedding" {
					s = strings.TrimSuffix(s, "/") + "/v1"
				}
				b.cfg.BaseURL = s
			}
		case "apiKeyEnvar":
			b.keyEnv(v, "apiKeyEnvar")
		case "temperature", "max_tokens", "top_p", "seed", "stop":
			b.param(k.text, v)
		case "headers":
			b.headers(v)
		case "timeout":
			if ms, ok := l.posInt(v, "timeout", 1, hintTimeout); ok && b.once("timeout", v.pos) {
				b.cfg.Timeout = time.Duration(ms) * time.Millisecond
			}
		case "url":
			if s, ok := b.envStr(v, "url"); ok && b.once("url", v.pos) {
				b.cfg.URL = s
			}
		case "method":
			if s, ok := l.str(v, "method"); ok {
				m := strings.ToUpper(s)
				switch m {
				case "GET", "POST", "PUT", "PATCH", "DELETE":
					b.cfg.Method = m
				default:
					b.fail(v.pos, "use GET, POST, PUT, PATCH or DELETE", "unknown HTTP method %q", s)
				}
			}
		case "body":
			b.checkSecrets(v, "body")
			b.cfg.Body = toAny(v)
		case "transformResponse":
			b.transformResponse(v)
		case "passthrough":
			if v.kind != mapKind {
				b.fail(v.pos, hintMap, "passthrough must be a map, not %s", v.kind)
				return
			}
			b.checkSecrets(v, "passthrough")
			for i, pk := range v.keys {
				b.extra(pk.text, v.vals[i])
			}
		case "cost":
			if c, ok := l.num(v, "cost"); ok && b.once("price", v.pos) {
				if c < 0 {
					b.fail(v.pos, "cost is USD per token", "cost must not be negative")
					return
				}
				b.cfg.Price = &provider.Price{Input: c * 1e6, Output: c * 1e6}
			}
		case "omitDefaults":
			if f, ok := l.boolean(v, "omitDefaults"); ok {
				b.omitDefaults = f
			} else {
				b.ok = false
			}
		case "tools":
			b.tools(v)
		case "tool_choice", "parallel_tool_calls":
			b.extra(k.text, v)
		case "functions", "function_call":
			b.fail(k.pos, "write the functions as tools: [{type: function, function: {name, description, parameters}}]", "%s (OpenAI's legacy function calling) is not supported by Plumb", k.text)
		default:
			if extraParams[k.text] {
				b.extra(k.text, v)
				return
			}
			if isSecretName(k.text) {
				b.secret(k, v)
				return
			}
			l.unknownKey(k, "provider config key", configKeys)
			b.ok = false
		}
	})
}

// tools reads the function tools the model may call: a list in OpenAI's shape, or a
// file://PATH of one.
func (b *providerBuilder) tools(v *node) {
	if !b.once("tools", v.pos) {
		return
	}
	val, ok := b.l.bodyValue(v, nil)
	if !ok {
		b.ok = false
		return
	}
	tools, err := provider.ParseTools(val)
	if err != nil {
		b.fail(v.pos, "write OpenAI function tools: [{type: function, function: {name, description, parameters}}] (see docs/config.md)", "%s", err)
		return
	}
	b.cfg.Tools = tools
}

// params reads Plumb's `params` map.
func (b *providerBuilder) params(n *node) {
	b.l.eachKey(n, "params", func(k, v *node) {
		switch {
		case k.text == "extra":
			if v.kind != mapKind {
				b.fail(v.pos, hintMap, "params.extra must be a map, not %s", v.kind)
				return
			}
			b.checkSecrets(v, "params.extra")
			for i, pk := range v.keys {
				b.extra(pk.text, v.vals[i])
			}
		case extraParams[k.text]:
			b.extra(k.text, v)
		case slices.Contains(paramKeys, k.text):
			b.param(k.text, v)
		case isSecretName(k.text):
			b.secret(k, v)
		default:
			b.l.unknownKey(k, "key in params", paramKeys)
			b.ok = false
		}
	})
}

// param reads one generation parameter.
func (b *providerBuilder) param(name string, v *node) {
	l, p := b.l, &b.cfg.Params
	if !b.once(name, v.pos) {
		return
	}
	switch name {
	case "temperature", "top_p":
		f, ok := l.num(v, name)
		if !ok {
			b.ok = false
			return
		}
		if f < 0 || name == "top_p" && f > 1 {
			b.fail(v.pos, "temperature is 0 or more; top_p is between 0 and 1", "%s is out of range", name)
			return
		}
		if name == "temperature" {
			p.Temperature = &f
		} else {
			p.TopP = &f
		}
	case "max_tokens":
		if n, ok := l.posInt(v, name, 1, hintMaxTokens); ok {
			p.MaxTokens = &n
		} else {
			b.ok = false
		}
	case "seed":
		if n, ok := l.integer(v, name); ok {
			p.Seed = &n
		} else {
			b.ok = false
		}
	case "stop":
		for _, it := range l.strOrList(v, "stop") {
			if s, ok := l.str(it, "stop"); ok {
				p.Stop = append(p.Stop, s)
			}
		}
	}
}

// extra adds one pass-through request-body parameter. A file:// value in it (response_format:
// file://schema.json, or deeper) is replaced by the file's content, as promptfoo does.
func (b *providerBuilder) extra(name string, v *node) {
	if !b.once(name, v.pos) {
		return
	}
	val, ok := b.l.bodyValue(v, nil)
	if !ok {
		b.ok = false
		return
	}
	if b.cfg.Params.Extra == nil {
		b.cfg.Params.Extra = map[string]any{}
	}
	b.cfg.Params.Extra[name] = val
}

// bodyValue turns a request-body value into plain Go values, replacing every file://PATH
// string in it by the file's content: parsed for .json, .yaml and .yml (whose own file://
// strings are replaced in turn), text for other files. Paths are relative to the config's
// folder; a file that cannot be read is an error at the string. open holds the files being
// read, so that one referring back to itself is an error instead of an endless loop.
func (l *loader) bodyValue(n *node, open []string) (any, bool) {
	switch n.kind {
	case mapKind:
		m := make(map[string]any, len(n.keys))
		ok := true
		for i, k := range n.keys {
			v, vok := l.bodyValue(n.vals[i], open)
			m[k.text], ok = v, ok && vok
		}
		return m, ok
	case listKind:
		out := make([]any, len(n.items))
		ok := true
		for i, it := range n.items {
			v, vok := l.bodyValue(it, open)
			out[i], ok = v, ok && vok
		}
		return out, ok
	case stringKind:
	default:
		return toAny(n), true
	}
	rel, isRef := fileRef(n.text)
	if !isRef {
		return n.text, true
	}
	ext := strings.ToLower(filepath.Ext(rel))
	switch {
	case ext == ".js" || ext == ".ts" || ext == ".mjs" || ext == ".cjs" || ext == ".py" || strings.Contains(ext, ".py:") || strings.Contains(ext, ".js:"):
		l.fail(n.pos, "write the value into a .json or .yaml file and reference that", "provider settings from scripts (%s) are not supported by Plumb", rel)
		return nil, false
	case strings.ContainsAny(rel, "*?["):
		l.fail(n.pos, "name one file", "a glob (%s) cannot be a provider setting", rel)
		return nil, false
	}
	file, data, ok := l.readRef(rel, n.pos, "provider setting file")
	if !ok {
		return nil, false
	}
	if ext != ".json" && ext != ".yaml" && ext != ".yml" {
		return string(data), true
	}
	if slices.Contains(open, file) {
		l.fail(n.pos, "remove the file:// reference that leads back to it", "provider setting file %q refers back to itself", rel)
		return nil, false
	}
	if ext == ".json" && !l.validJSON(file, data, 0) {
		return nil, false
	}
	root, errs := l.parse(data, file, 0)
	if root == nil || len(errs) > 0 {
		return nil, false
	}
	return l.bodyValue(root, append(open, file))
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// keyEnv reads the name of the environment variable holding the API key.
func (b *providerBuilder) keyEnv(v *node, what string) {
	s, ok := b.l.str(v, what)
	if !ok {
		b.ok = false
		return
	}
	if m := envRefRe.FindStringSubmatch(s); m != nil && m[0] == strings.TrimSpace(s) {
		s = m[1]
	}
	if !envNameRe.MatchString(s) {
		// Never echo the value: it may be the key itself, pasted in the wrong place.
		b.fail(v.pos, "write the variable's name, e.g. OPENAI_API_KEY, and export the key in your shell", "%s must be the name of an environment variable", what)
		return
	}
	if b.once("API key variable", v.pos) {
		b.cfg.APIKeyEnv = s
	}
}

// envRefRe matches {{env.NAME}} (spaces allowed), promptfoo's way to read the environment.
var envRefRe = regexp.MustCompile(`\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// envStr reads a setting that is not a secret, resolving {{env.NAME}} references now.
func (b *providerBuilder) envStr(v *node, what string) (string, bool) {
	s, ok := b.l.str(v, what)
	if !ok {
		b.ok = false
		return "", false
	}
	var missing string
	s = envRefRe.ReplaceAllStringFunc(s, func(m string) string {
		name := envRefRe.FindStringSubmatch(m)[1]
		val := b.l.getenv(name)
		if val == "" && missing == "" {
			missing = name
		}
		return val
	})
	if missing != "" {
		b.fail(v.pos, fmt.Sprintf("export %s=... in your shell, or write the value", missing), "%s uses {{env.%s}}, but %s is not set", what, missing, missing)
		return "", false
	}
	return s, true
}

// headers reads HTTP headers. A header that carries a credential must take it from the
// environment ({{env.NAME}}, expanded by the provider at call time).
func (b *providerBuilder) headers(n *node) {
	b.l.eachKey(n, "headers", func(k, v *node) {
		s, ok := b.l.str(v, "header "+k.text)
		if !ok {
			b.ok = false
			return
		}
		if isSecretHeader(k.text) && !envRefRe.MatchString(s) {
			b.fail(v.pos, fmt.Sprintf("write it as %s: \"Bearer {{env.MY_TOKEN}}\" and export MY_TOKEN in your shell", k.text),
				"header %s holds a credential: API keys are read from the environment only", k.text)
			return
		}
		if b.cfg.Headers == nil {
			b.cfg.Headers = map[string]string{}
		}
		b.cfg.Headers[k.text] = s
	})
}

// secret reports a key that holds a credential in the file.
func (b *providerBuilder) secret(k, v *node) {
	if strings.EqualFold(k.text, "apiKey") || strings.EqualFold(k.text, "api_key") {
		// promptfoo's apiKey: '{{env.NAME}}' only names a variable: read it as apiKeyEnvar.
		if v.kind == stringKind {
			if m := envRefRe.FindStringSubmatch(v.text); m != nil && m[0] == strings.TrimSpace(v.text) {
				if b.once("API key variable", v.pos) {
					b.cfg.APIKeyEnv = m[1]
				}
				return
			}
		}
	}
	b.fail(k.pos, "remove it and set apiKeyEnvar / api_key_env (default "+b.defaultKeyEnv()+")",
		"%s: API keys are read from the environment only", k.text)
}

// defaultKeyEnv names the variable the provider type reads its key from by default.
func (b *providerBuilder) defaultKeyEnv() string {
	if b.cfg.Type == "anthropic" {
		return provider.AnthropicKeyEnv
	}
	return provider.OpenAIKeyEnv
}

// checkSecrets refuses credentials anywhere inside a pass-through map or body.
func (b *providerBuilder) checkSecrets(n *node, what string) {
	for i, k := range n.keys {
		v := n.vals[i]
		if isSecretName(k.text) && v.kind == stringKind && v.text != "" {
			b.fail(k.pos, "send it as a header instead: headers: {Authorization: \"Bearer {{env.MY_TOKEN}}\"}",
				"%s.%s: API keys are read from the environment only", what, k.text)
			continue
		}
		if v.kind == mapKind {
			b.checkSecrets(v, what+"."+k.text)
		}
	}
}

// isSecretName reports whether a setting's name says it holds a credential. Names of
// environment variables (apiKeyEnvar, api_key_env) and token counts (max_tokens) do not.
func isSecretName(name string) bool {
	k := strings.ToLower(strings.NewReplacer("_", "", "-", "", ".", "").Replace(name))
	for _, suffix := range []string{"env", "envar", "envvar", "envname"} {
		if strings.HasSuffix(k, suffix) {
			return false
		}
	}
	if strings.Contains(k, "tokens") || strings.HasPrefix(k, "tokenizer") {
		return false
	}
	for _, w := range []string{"key", "token", "secret", "password", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// isSecretHeader reports whether an HTTP header carries a credential.
func isSecretHeader(name string) bool {
	k := strings.ToLower(name)
	return k == "authorization" || k == "proxy-authorization" || k == "cookie" || isSecretName(k)
}

// outputPathRe matches what transformResponse may be: a plain JSON path, in promptfoo's form
// (json.choices[0].message.content, json["a"].b) or the http provider's (choices.0.message.content,
// $.data[0].text). Anything else (calls, operators, arrow functions) is JavaScript.
var outputPathRe = regexp.MustCompile(`^(\$|[\w$-]+)?(\.[\w$-]+|\[\s*(\d+|"[^"]*"|'[^']*')\s*\])*$`)

// plainStepRe matches a path step that needs no brackets in the stored dotted form.
var plainStepRe = regexp.MustCompile(`^[\w$-]+$`)

// transformResponse reads promptfoo's transformResponse when it is a plain JSON path, split by
// provider.ParseOutputPath (what the http provider runs), and stores it in the provider's
// dotted form ("choices.0.message.content"). promptfoo's leading `json` names the answer
// itself, so it is dropped; `$.json.x` keeps it as a key.
func (b *providerBuilder) transformResponse(v *node) {
	s, ok := b.l.str(v, "transformResponse")
	if !ok {
		b.ok = false
		return
	}
	s = strings.TrimSpace(s)
	if s == "" || !outputPathRe.MatchString(s) {
		b.fail(v.pos, "use a JSON path such as json.choices[0].message.content (or choices.0.message.content)",
			"transformResponse: only a JSON path is supported, not JavaScript")
		return
	}
	steps, err := provider.ParseOutputPath(s)
	if err != nil {
		b.fail(v.pos, "use a JSON path such as json.choices[0].message.content (or choices.0.message.content)", "transformResponse: %v", err)
		return
	}
	if len(steps) > 0 && steps[0] == "json" && !strings.HasPrefix(s, "$") {
		steps = steps[1:]
	}
	path, ok := joinOutputPath(steps)
	if !ok {
		b.fail(v.pos, "rename the key, or return the answer under a simpler key", "transformResponse: a key holding both quote characters or a ] cannot be followed")
		return
	}
	if b.once("output path", v.pos) {
		b.cfg.OutputPath = path
	}
}

// joinOutputPath writes path steps in the form provider.ParseOutputPath reads back: dotted,
// with brackets for keys that hold other characters. ok is false when a key cannot be
// written so that it reads back the same.
func joinOutputPath(steps []string) (string, bool) {
	var b strings.Builder
	for i, st := range steps {
		switch {
		case plainStepRe.MatchString(st) && (i > 0 || !strings.HasPrefix(st, "$")):
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(st)
		case !strings.Contains(st, `"`):
			b.WriteString(`["` + st + `"]`)
		default:
			b.WriteString(`['` + st + `']`)
		}
	}
	out := b.String()
	back, err := provider.ParseOutputPath(out)
	return out, err == nil && slices.Equal(back, steps)
}

// finish checks the provider as a whole and fills its defaults. Checks that depend only on a
// known type run even when a setting failed, so that every mistake shows at once.
func (b *providerBuilder) finish(n *node) {
	c := b.cfg
	switch c.Type {
	case "":
		if b.ok {
			b.fail(n.pos, "add `id:` such as openai:chat:gpt-4o-mini (or `type:` and `model:`)", "the provider has no id")
		}
		return
	case "openai", "openai-embedding", "anthropic":
		if c.Model == "" {
			b.fail(n.pos, "name the model, e.g. openai:chat:gpt-4o-mini, or add `model:`", "the provider has no model")
		}
	case "http":
		if c.URL == "" && b.set["url"] == (Pos{}) {
			b.fail(n.pos, "add config.url, or write the URL as the id", "the http provider has no URL")
		}
	}
	if pos, set := b.set["tools"]; set && c.Type != "openai" && c.Type != "anthropic" {
		b.fail(pos, "remove it, or use an openai or anthropic provider", "tools apply to openai and anthropic chat providers only")
	}
	if c.Type != "http" {
		for _, name := range []string{"url", "output path"} {
			if pos, set := b.set[name]; set {
				b.fail(pos, "remove it", "%s applies to http providers only", name)
			}
		}
		if c.Method != "" || c.Body != nil {
			b.fail(n.pos, "remove them", "method and body apply to http providers only")
		}
	}
	switch {
	case b.role == roleEmbedding && c.Type != "openai-embedding":
		b.fail(n.pos, "use an embedding model, e.g. openai:embedding:text-embedding-3-small", "the embedding provider must be an embedding model; %s is not", b.spec.ID)
	case b.role != roleEmbedding && c.Type == "openai-embedding":
		b.fail(n.pos, "use it as `embedding:` (for `similar`), and a chat model here", "an embedding model cannot answer prompts")
	}
	if !b.ok {
		return
	}
	if b.spec.ID == "" {
		switch c.Type {
		case "openai":
			b.spec.ID = "openai:chat:" + c.Model
		case "openai-embedding":
			b.spec.ID = "openai:embedding:" + c.Model
		case "anthropic":
			b.spec.ID = "anthropic:messages:" + c.Model
		case "http":
			b.spec.ID = c.URL
		default:
			b.spec.ID = c.Type
		}
	}
	if c.Label == "" {
		c.Label = b.spec.ID
	}
	if b.l.promptfoo && c.Type == "openai" && !b.omitDefaults {
		promptfooDefaults(&c.Params, c.Model)
	}
}

// Parameters promptfoo's openai:chat provider sends when the config sets none (its
// getOpenAiBody: temperature = config.temperature ?? 0, max_tokens = config.max_tokens ?? 1024;
// its OPENAI_TEMPERATURE and OPENAI_MAX_TOKENS variables are not read).
const (
	promptfooTemperature = 0.0
	promptfooMaxTokens   = 1024
)

// promptfooDefaults gives an OpenAI chat provider read from a promptfoo config the parameters
// promptfoo would send, so that an unchanged promptfooconfig.yaml samples the same way:
// temperature 0 and max_tokens 1024 unless set, and neither for reasoning models, which take
// neither. A value set through passthrough (or max_completion_tokens) is left alone.
func promptfooDefaults(p *provider.Params, model string) {
	if promptfooReasoningModel(model) {
		return
	}
	if _, set := p.Extra["temperature"]; !set && p.Temperature == nil {
		t := promptfooTemperature
		p.Temperature = &t
	}
	_, set := p.Extra["max_tokens"]
	_, completion := p.Extra["max_completion_tokens"]
	if !set && !completion && p.MaxTokens == nil {
		n := promptfooMaxTokens
		p.MaxTokens = &n
	}
}

var (
	// ftPrefixRe is a fine-tuned model's "ft:" prefix, at the start or after a "/".
	ftPrefixRe = regexp.MustCompile(`(^|/)ft:`)
	// daybreakRe and astraRe are further reasoning models promptfoo 0.123.1 knows by name.
	daybreakRe = regexp.MustCompile(`(^|/)gpt-daybreak-(?:blue|red)-latest$`)
	astraRe    = regexp.MustCompile(`(?:^|[/-])gpt-6-astra(?:-|$)`)
)

// promptfooReasoningModel reports whether promptfoo 0.123.1 treats a chat model as a reasoning
// model (o1, o3, o4, gpt-5 and their variants, also behind a "vendor/" prefix), for which it
// sends neither temperature nor max_tokens.
func promptfooReasoningModel(model string) bool {
	m := ftPrefixRe.ReplaceAllString(model, "$1")
	for _, p := range []string{"o1", "o3", "o4", "gpt-5"} {
		if strings.HasPrefix(m, p) || strings.Contains(m, "/"+p) {
			return true
		}
	}
	return daybreakRe.MatchString(m) || astraRe.MatchString(m)
}

// splitCommand splits a command line like a POSIX shell does words: whitespace separates,
// single quotes are literal, double quotes allow \" and \\, a backslash outside quotes escapes
// the next character. Nothing is expanded: no shell runs.
func splitCommand(s string) ([]string, string) {
	var args []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, "unterminated ' quote"
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, "unterminated \" quote"
			}
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, ""
}
