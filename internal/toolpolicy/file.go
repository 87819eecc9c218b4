package toolpolicy

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/plumbhq/plumb/internal/config"
)

// File is a standalone tool policy file, for applications that ask the approval API
// without the gateway: the policy under the key tools, as a route has it.
type File struct {
	Tools Policy `yaml:"tools"`
}

// fileSchema is a policy file's keys and their types.
var fileSchema = config.SchemaOf(reflect.TypeOf(File{}))

// policyKeys are the keys of a policy, which a file writes under tools:.
var policyKeys = func() []string {
	var ks []string
	t := reflect.TypeOf(Policy{})
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k != "" {
			ks = append(ks, k)
		}
	}
	return ks
}()

// Load reads and checks a standalone policy file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, config.Errors{{Pos: config.Pos{File: path}, Msg: "cannot read the tool policy: " + err.Error(),
			Hint: "check the path of the tool policy file"}}
	}
	return Parse(data, path)
}

// Parse reads a policy file's text; file names it in errors. Every mistake is reported at
// once, in file order, as config.Errors at file:line:col with a hint: unknown keys (with a
// "did you mean"), values of the wrong type, and the policy's own checks.
func Parse(data []byte, file string) (*Policy, error) {
	const noTools = "write tools: {allow: [...], deny: [...], approve: [...]} (see docs/approvals.md)"
	y := config.NewYAMLChecker(file, "docs/approvals.md")
	root, err := y.Parse(data, [2]string{"the file has no tools: policy", noTools})
	if err != nil {
		return nil, err
	}
	// Unknown keys and values of the wrong type do not stop the check: the rest is
	// decoded without them and checked too.
	y.Check(root, fileSchema, "")
	for _, e := range y.Errs {
		// allow: at the top: the policy without its tools: key.
		if e.Pos.Col == 1 && slices.ContainsFunc(policyKeys, func(k string) bool { return e.Msg == fmt.Sprintf("unknown key %q", k) }) {
			e.Hint = "the policy goes under the key tools: indent it under a line tools:"
		}
	}
	var f File
	if e := y.Decode(root, &f); e != nil {
		return nil, config.Sorted(append(y.Errs, e))
	}
	if f.Tools.Empty() {
		if len(y.Errs) == 0 {
			y.Fail(y.At("tools"), noTools, "the file has no tools: policy")
		}
	} else {
		for _, p := range f.Tools.Check() {
			y.Fail(y.At("tools."+p.Path), p.Hint, "tools.%s: %s", p.Path, p.Msg)
		}
	}
	if len(y.Errs) > 0 {
		return nil, config.Sorted(y.Errs)
	}
	return &f.Tools, nil
}
