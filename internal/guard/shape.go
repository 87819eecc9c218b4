package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// jsonSchemaDetector reports a text that is not JSON, or JSON that fails a JSON schema. A
// text wrapped in a Markdown code fence (```json … ```) is judged by what the fence holds.
type jsonSchemaDetector struct {
	schema *jsonschema.Schema
}

const guardSchemaURL = "plumb:///guard-schema.json"

// noSchemaLoader refuses external $refs: a policy must not make Plumb read files or the network.
type noSchemaLoader struct{}

func (noSchemaLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema %s is not loaded; inline it", url)
}

func newJSONSchema(o *options) (Detector, error) {
	v, ok := o.get("schema")
	if !ok {
		return nil, o.errorf("schema", "required: the JSON schema the text must satisfy, inline (e.g. schema: {type: object, required: [answer]}) or as JSON text")
	}
	var doc any
	var err error
	if s, isStr := v.(string); isStr {
		doc, err = jsonschema.UnmarshalJSON(strings.NewReader(s))
	} else {
		var b []byte
		if b, err = json.Marshal(v); err == nil {
			doc, err = jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
		}
	}
	if err != nil {
		return nil, o.errorf("schema", "not a JSON schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noSchemaLoader{})
	if err := c.AddResource(guardSchemaURL, doc); err != nil {
		return nil, o.errorf("schema", "%v", err)
	}
	sch, err := c.Compile(guardSchemaURL)
	if err != nil {
		return nil, o.errorf("schema", "invalid JSON schema: %s", oneLine(strings.ReplaceAll(err.Error(), guardSchemaURL, "schema")))
	}
	return &jsonSchemaDetector{schema: sch}, nil
}

func (d *jsonSchemaDetector) Name() string { return "json_schema" }

func (d *jsonSchemaDetector) Detect(_ context.Context, text string) ([]Finding, error) {
	body := unfence(text)
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
	if err != nil {
		return []Finding{{Detector: "json_schema", Type: "invalid_json", Start: 0, End: len(text), Score: 1,
			Reason: "not JSON: " + oneLine(err.Error())}}, nil
	}
	if verr := d.schema.Validate(v); verr != nil {
		msg := strings.ReplaceAll(verr.Error(), guardSchemaURL, "schema")
		return []Finding{{Detector: "json_schema", Type: "schema_violation", Start: 0, End: len(text), Score: 1,
			Reason: "JSON fails the schema: " + oneLine(msg)}}, nil
	}
	return nil, nil
}

// unfence returns what a Markdown code fence around the whole text holds, or the text.
func unfence(text string) string {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "```") || !strings.HasSuffix(t, "```") || len(t) < 6 {
		return text
	}
	t = t[3 : len(t)-3]
	if nl := strings.IndexByte(t, '\n'); nl >= 0 && !strings.ContainsAny(t[:nl], "{[\"") {
		t = t[nl+1:]
	}
	return t
}

// oneLine joins the lines of s with "; " and shortens it to 300 bytes.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	s = strings.Join(parts, "; ")
	if len(s) > 300 {
		cut := 300
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// lengthDetector reports a text outside bounds on its characters (Unicode code points) or
// its estimated tokens.
type lengthDetector struct {
	minChars, maxChars, minTokens, maxTokens int
}

func newLength(o *options) (Detector, error) {
	d := &lengthDetector{}
	var err error
	const most = 1 << 40
	if d.minChars, err = o.int("min_chars", 0, 0, most); err != nil {
		return nil, err
	}
	if d.maxChars, err = o.int("max_chars", 0, 0, most); err != nil {
		return nil, err
	}
	if d.minTokens, err = o.int("min_tokens", 0, 0, most); err != nil {
		return nil, err
	}
	if d.maxTokens, err = o.int("max_tokens", 0, 0, most); err != nil {
		return nil, err
	}
	if d.minChars+d.maxChars+d.minTokens+d.maxTokens == 0 {
		return nil, fmt.Errorf("guard: detector %q needs at least one bound: min_chars, max_chars, min_tokens or max_tokens", "length")
	}
	if d.maxChars > 0 && d.minChars > d.maxChars {
		return nil, o.errorf("min_chars", "%d is above max_chars %d", d.minChars, d.maxChars)
	}
	if d.maxTokens > 0 && d.minTokens > d.maxTokens {
		return nil, o.errorf("min_tokens", "%d is above max_tokens %d", d.minTokens, d.maxTokens)
	}
	return d, nil
}

func (d *lengthDetector) Name() string { return "length" }

// EstimateTokens estimates the tokens a model's tokenizer makes of text without the
// tokenizer: one per word of up to four letters or digits and one more per further four,
// plus one per other non-space character. It is within about 15% of cl100k on English prose.
func EstimateTokens(text string) int {
	n, _ := estimate(text)
	return n
}

// estimate returns EstimateTokens(text) and the number of code points of text, in one pass.
func estimate(text string) (n, chars int) {
	run := 0
	for _, r := range text {
		chars++
		if r < utf8.RuneSelf { // ASCII, without the unicode tables
			switch asciiTokClass[r] {
			case 1:
				run++
				if run&3 == 1 {
					n++
				}
			case 0:
				run = 0
			default:
				run = 0
				n++
			}
			continue
		}
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if r >= 0x2E80 { // CJK and other ideographic scripts: about one token per character
				n++
				run = 0
				continue
			}
			run++
			if run%4 == 1 {
				n++
			}
		case unicode.IsSpace(r):
			run = 0
		default:
			run = 0
			n++
		}
	}
	return n, chars
}

// asciiTokClass is 1 for ASCII letters and digits, 0 for white space, 2 for the rest.
var asciiTokClass = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		switch b := byte(c); {
		case byteClass[b] == 1:
			t[c] = 1
		case b == ' ' || b == '\n' || b == '\t' || b == '\r' || b == '\v' || b == '\f':
			t[c] = 0
		default:
			t[c] = 2
		}
	}
	return t
}()

func (d *lengthDetector) Detect(_ context.Context, text string) ([]Finding, error) {
	var out []Finding
	add := func(typ, reason string) {
		out = append(out, Finding{Detector: "length", Type: typ, Start: 0, End: len(text), Score: 1, Reason: reason})
	}
	t, c := 0, 0
	if d.minTokens > 0 || d.maxTokens > 0 {
		t, c = estimate(text)
	} else {
		c = utf8.RuneCountInString(text)
	}
	if d.minChars > 0 || d.maxChars > 0 {
		if c < d.minChars {
			add("too_short", fmt.Sprintf("%d characters, below the minimum %d", c, d.minChars))
		}
		if d.maxChars > 0 && c > d.maxChars {
			add("too_long", fmt.Sprintf("%d characters, above the maximum %d", c, d.maxChars))
		}
	}
	if d.minTokens > 0 || d.maxTokens > 0 {
		if t < d.minTokens {
			add("too_short", fmt.Sprintf("about %d tokens, below the minimum %d", t, d.minTokens))
		}
		if d.maxTokens > 0 && t > d.maxTokens {
			add("too_long", fmt.Sprintf("about %d tokens, above the maximum %d", t, d.maxTokens))
		}
	}
	return out, nil
}
