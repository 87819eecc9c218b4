package assert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/plumbhq/plumb/internal/config"
)

// maxJSONCandidates bounds how many '{' or '[' positions contains-json tries to decode from,
// so that a long output full of brackets costs linear rather than quadratic time.
const maxJSONCandidates = 256

// schemaURL is the name an assertion's inline schema is compiled under. Schemas are inline;
// a $ref to anything else is refused by noLoader.
const schemaURL = "plumb:///assertion-schema.json"

// compileJSON: is-json (the whole output is JSON) and contains-json (some JSON object or
// array appears in the output), each optionally validated against the value as a JSON schema.
func compileJSON(base string, a *config.Assertion) (checkFunc, error) {
	var sch *jsonschema.Schema
	if a.Value != nil {
		var err error
		if sch, err = compileSchema(a, a.Value); err != nil {
			return nil, err
		}
	}
	suffix := ""
	if sch != nil {
		suffix = " valid against the schema"
	}
	if base == "is-json" {
		return func(_ context.Context, in *Input) outcome {
			o := outcome{want: "output to be JSON" + suffix, wantNot: "output not to be JSON" + suffix}
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(in.Output))
			switch {
			case err != nil:
				o.got = "invalid JSON (" + err.Error() + "): " + quote(in.Output)
			case sch != nil:
				if verr := sch.Validate(v); verr != nil {
					o.got = "JSON that fails the schema: " + schemaReason(verr)
					break
				}
				fallthrough
			default:
				o.pass, o.score = true, 1
				o.got = "JSON " + quote(in.Output)
			}
			return o
		}, nil
	}
	return func(_ context.Context, in *Input) outcome {
		o := outcome{want: "output to contain JSON" + suffix, wantNot: "output not to contain JSON" + suffix}
		found := 0
		var firstErr error
		for text, v := range jsonValues(in.Output) {
			found++
			if sch != nil {
				if verr := sch.Validate(v); verr != nil {
					if firstErr == nil {
						firstErr = verr
					}
					continue
				}
			}
			o.pass, o.score = true, 1
			o.got = "JSON " + quote(text)
			return o
		}
		if found == 0 {
			o.got = "no JSON object or array in " + quote(in.Output)
		} else {
			o.got = fmt.Sprintf("%d JSON value(s), none valid against the schema: %s", found, schemaReason(firstErr))
		}
		return o
	}, nil
}

// compileJSONSchema: the output is JSON that validates against the value, a JSON schema
// compiled once here.
func compileJSONSchema(a *config.Assertion) (checkFunc, error) {
	if a.Value == nil {
		return nil, errAt(a, "json-schema needs a value: the JSON schema the output must satisfy",
			"e.g. value: {type: object, required: [answer]}")
	}
	sch, err := compileSchema(a, a.Value)
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, in *Input) outcome {
		o := outcome{want: "output to be JSON valid against the schema", wantNot: "output not to be JSON valid against the schema"}
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(in.Output))
		if err != nil {
			o.got = "invalid JSON (" + err.Error() + "): " + quote(in.Output)
			return o
		}
		if verr := sch.Validate(v); verr != nil {
			o.got = "JSON that fails the schema: " + schemaReason(verr)
			return o
		}
		o.pass, o.score = true, 1
		o.got = "valid JSON " + quote(in.Output)
		return o
	}, nil
}

// compileSchema compiles a schema given as a YAML/JSON value or as JSON text.
func compileSchema(a *config.Assertion, v any) (*jsonschema.Schema, error) {
	hint := "the value must be a JSON schema (draft 2020-12 unless it names another $schema), written inline; external $refs are not loaded"
	var doc any
	var err error
	if s, ok := v.(string); ok {
		doc, err = jsonschema.UnmarshalJSON(strings.NewReader(s))
		if err != nil {
			return nil, errAt(a, fmt.Sprintf("invalid JSON schema for %s: the value is not JSON: %v", typeName(a), err), hint)
		}
	} else {
		b, merr := json.Marshal(yamlToJSON(v))
		if merr != nil {
			return nil, errAt(a, fmt.Sprintf("invalid JSON schema for %s: %v", typeName(a), merr), hint)
		}
		doc, err = jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
		if err != nil {
			return nil, errAt(a, fmt.Sprintf("invalid JSON schema for %s: %v", typeName(a), err), hint)
		}
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, errAt(a, fmt.Sprintf("invalid JSON schema for %s: %v", typeName(a), err), hint)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, errAt(a, fmt.Sprintf("invalid JSON schema for %s: %s", typeName(a), schemaCompileReason(err)), hint)
	}
	return sch, nil
}

// noLoader refuses every external schema: an assertion must not make Plumb read files or
// reach the network while a suite loads.
type noLoader struct{}

// Load implements jsonschema.URLLoader.
func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema %s is not loaded; inline it", url)
}

// schemaCompileReason is a one-line form of a schema compile error.
func schemaCompileReason(err error) string {
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) {
		// The metaschema's verdict: which keywords of the schema are wrong.
		return errorLeaves(sve.Err)
	}
	return shorten(oneLine(strings.ReplaceAll(err.Error(), schemaURL, "schema")), 300)
}

// schemaReason is a short form of a validation error.
func schemaReason(err error) string {
	if err == nil {
		return ""
	}
	return errorLeaves(err)
}

// errorLeaves shortens the jsonschema library's error tree ("- at '/x': ..." lines, nested by
// indentation) to its innermost causes, which say what is actually wrong, on one line.
func errorLeaves(err error) string {
	type line struct {
		indent int
		text   string
	}
	var lines []line
	for _, l := range strings.Split(err.Error(), "\n") {
		t := strings.TrimLeft(l, " ")
		if !strings.HasPrefix(t, "- ") {
			continue
		}
		lines = append(lines, line{len(l) - len(t), strings.TrimPrefix(t, "- ")})
	}
	if len(lines) == 0 {
		return shorten(oneLine(strings.ReplaceAll(err.Error(), schemaURL, "schema")), 300)
	}
	var leaves []string
	for i, l := range lines {
		if i+1 < len(lines) && lines[i+1].indent > l.indent {
			continue
		}
		leaves = append(leaves, l.text)
	}
	const show = 3
	if len(leaves) > show {
		leaves = append(leaves[:show], fmt.Sprintf("and %d more", len(leaves)-show))
	}
	return shorten(strings.Join(leaves, "; "), 300)
}

// oneLine collapses whitespace so that a message fits one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// jsonValues yields the JSON objects and arrays embedded in text, in order of their start,
// each with its source text. A value nested in one already yielded is not yielded again.
func jsonValues(text string) func(yield func(string, any) bool) {
	return func(yield func(string, any) bool) {
		tries := 0
		for i := 0; i < len(text) && tries < maxJSONCandidates; i++ {
			if text[i] != '{' && text[i] != '[' {
				continue
			}
			tries++
			dec := json.NewDecoder(strings.NewReader(text[i:]))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				continue
			}
			n := int(dec.InputOffset())
			if !yield(text[i:i+n], v) {
				return
			}
			i += n - 1
		}
	}
}
