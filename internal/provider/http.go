package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// httpProvider calls any HTTP API: a templated body, the output found by a JSON path.
type httpProvider struct {
	cfg    Config
	method string
	path   []string // the output path, split; nil means the whole body
	getenv func(string) string
	t      transport
}

func newHTTP(cfg Config, opts Options) (*httpProvider, error) {
	label := labelOf(&cfg)
	if cfg.URL == "" {
		return nil, fmt.Errorf("provider %s: an http provider needs a url", label)
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("provider %s: url %q is not an http(s) URL", label, publicURL(cfg.URL))
	}
	method := strings.ToUpper(cfg.Method)
	if method == "" {
		method = http.MethodPost
	}
	path, err := ParseOutputPath(cfg.OutputPath)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %v", label, err)
	}
	return &httpProvider{
		cfg: cfg, method: method, path: path, getenv: opts.Getenv,
		t: transport{
			site:   callSite{label: label, baseURL: publicURL(cfg.URL)},
			client: opts.HTTPClient, policy: policyOf(&cfg),
		},
	}, nil
}

// Label is the provider's id in results.
func (p *httpProvider) Label() string { return p.t.site.label }

// Call renders the URL, headers and body for this request, sends it and extracts the output.
func (p *httpProvider) Call(ctx context.Context, req *Request) (*Response, error) {
	h, secrets, err := expandHeaders(p.cfg.Headers, p.getenv)
	if err != nil {
		e := err.(*Error)
		e.Provider = p.Label()
		return nil, e
	}
	tpl := &templater{req: req, getenv: p.getenv}
	u, err := tpl.text(p.cfg.URL, url.QueryEscape)
	if err != nil {
		return nil, p.templateError(err, tpl.secrets, secrets)
	}
	var body []byte
	switch b := p.cfg.Body.(type) {
	case nil:
		if p.method != http.MethodGet && p.method != http.MethodHead {
			body, _ = json.Marshal(map[string]string{"prompt": req.Prompt})
			setDefault(h, "Content-Type", "application/json")
		}
	case string:
		trimmed := strings.TrimSpace(b)
		if strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") {
			s, err := tpl.text(b, jsonEscape)
			if err != nil {
				return nil, p.templateError(err, tpl.secrets, secrets)
			}
			body = []byte(s)
			setDefault(h, "Content-Type", "application/json")
		} else {
			s, err := tpl.text(b, nil)
			if err != nil {
				return nil, p.templateError(err, tpl.secrets, secrets)
			}
			body = []byte(s)
			setDefault(h, "Content-Type", "text/plain; charset=utf-8")
		}
	default:
		v, err := tpl.value(b)
		if err != nil {
			return nil, p.templateError(err, tpl.secrets, secrets)
		}
		if body, err = json.Marshal(v); err != nil {
			return nil, &Error{Kind: KindClient, Provider: p.Label(), Msg: "cannot encode the http body: " + err.Error()}
		}
		setDefault(h, "Content-Type", "application/json")
	}
	secrets = append(secrets, tpl.secrets...)
	call := &httpCall{method: p.method, url: u, header: h, body: body, secrets: secrets}
	var out string
	lat, err := p.t.do(ctx, call, func(resp *http.Response) error {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
		if err != nil {
			return err
		}
		if p.path == nil {
			out = string(data)
			return nil
		}
		out, err = extract(data, p.path)
		if err != nil {
			return p.t.site.malformed("%s (output path %q; the answer starts %q)", err, p.cfg.OutputPath, oneLine(string(data), 120))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Response{Output: out, Latency: lat}, nil
}

func (p *httpProvider) templateError(err error, more ...[]string) *Error {
	var secrets []string
	for _, m := range more {
		secrets = append(secrets, m...)
	}
	return &Error{Kind: KindClient, Provider: p.Label(), Msg: scrub(err.Error(), secrets)}
}

func setDefault(h http.Header, k, v string) {
	if h.Get(k) == "" {
		h.Set(k, v)
	}
}

// placeholder matches {{name}}, {{ name }}, {{a.b}} and {{env.NAME}}.
var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*)\s*\}\}`)

// templater substitutes {{prompt}}, {{var}} and {{env.NAME}} for one request.
type templater struct {
	req     *Request
	getenv  func(string) string
	secrets []string // env values used, to keep out of messages
}

// lookup resolves one placeholder name to its value.
func (t *templater) lookup(name string) (any, error) {
	if name == "prompt" {
		return t.req.Prompt, nil
	}
	if env, ok := strings.CutPrefix(name, "env."); ok {
		v := t.getenv(env)
		if v == "" {
			return nil, fmt.Errorf("the http request uses {{env.%s}} but $%s is not set", env, env)
		}
		t.secrets = append(t.secrets, v)
		return v, nil
	}
	var cur any = t.req.Vars
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the http request uses {{%s}} but the test has no variable %s", name, name)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("the http request uses {{%s}} but the test has no variable %s", name, name)
		}
	}
	return cur, nil
}

// text substitutes every placeholder in s, passing each value through escape (nil: as is).
func (t *templater) text(s string, escape func(string) string) (string, error) {
	var firstErr error
	out := placeholder.ReplaceAllStringFunc(s, func(m string) string {
		v, err := t.lookup(placeholder.FindStringSubmatch(m)[1])
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return m
		}
		str := stringOf(v)
		if escape != nil {
			str = escape(str)
		}
		return str
	})
	return out, firstErr
}

// value substitutes placeholders in every string of a JSON-able value. A string that is
// exactly one placeholder takes the variable's own type (a number stays a number).
func (t *templater) value(v any) (any, error) {
	switch x := v.(type) {
	case string:
		if m := placeholder.FindStringSubmatch(x); m != nil && m[0] == strings.TrimSpace(x) {
			return t.lookup(m[1])
		}
		return t.text(x, nil)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := t.value(e)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := t.value(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// stringOf is a variable as text: strings as they are, anything else as JSON.
func stringOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonEscape is s as the inside of a JSON string literal.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// ParseOutputPath splits a JSON path such as "choices.0.message.content", "$.data[0].text"
// or "$['output']" into its steps. "" and "$" mean the whole body and give nil.
func ParseOutputPath(p string) ([]string, error) {
	s := strings.TrimSpace(p)
	s = strings.TrimPrefix(s, "$")
	if s == "" {
		return nil, nil
	}
	var steps []string
	for i := 0; i < len(s); {
		switch s[i] {
		case '.':
			i++
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("output path %q has an empty step at character %d", p, i)
			}
			steps = append(steps, s[i:j])
			i = j
		case '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("output path %q has an unclosed [", p)
			}
			inner := strings.TrimSpace(s[i+1 : i+end])
			if len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0] {
				inner = inner[1 : len(inner)-1]
			} else if _, err := strconv.Atoi(inner); err != nil {
				return nil, fmt.Errorf("output path %q: [%s] is neither an index nor a quoted key", p, inner)
			}
			steps = append(steps, inner)
			i += end + 1
		default:
			if len(steps) > 0 {
				return nil, fmt.Errorf("output path %q: expected . or [ at character %d", p, i)
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			steps = append(steps, s[i:j])
			i = j
		}
	}
	return steps, nil
}

// extract follows path through a JSON document and returns what it finds as text.
func extract(data []byte, path []string) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var cur any
	if err := dec.Decode(&cur); err != nil {
		return "", fmt.Errorf("the answer is not valid JSON (%v)", err)
	}
	for i, step := range path {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[step]
			if !ok {
				return "", fmt.Errorf("the answer has no %q at %s", step, strings.Join(path[:i+1], "."))
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(step)
			if err != nil || n < 0 || n >= len(x) {
				return "", fmt.Errorf("the answer has no element %s at %s (the list has %d)", step, strings.Join(path[:i+1], "."), len(x))
			}
			cur = x[n]
		default:
			return "", fmt.Errorf("the answer has no %q at %s", step, strings.Join(path[:i+1], "."))
		}
	}
	switch x := cur.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	}
	return stringOf(cur), nil
}
