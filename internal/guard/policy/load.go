package policy

import (
	"errors"
	"os"
	"reflect"

	"github.com/plumbhq/plumb/internal/config"
)

// Load reads, checks and compiles a policy file.
func Load(path string, opt Options) (*Compiled, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, config.Errors{{Pos: config.Pos{File: path}, Msg: "cannot read the policy: " + err.Error(), Hint: "check the path given with -p"}}
	}
	return Parse(data, path, opt)
}

// Parse reads a policy file's text (file names it in errors), checks it and compiles it.
// Every problem is reported at once as config.Errors, each at file:line:col with a hint.
func Parse(data []byte, file string, opt Options) (*Compiled, error) {
	y := config.NewYAMLChecker(file, "docs/guard.md")
	root, err := y.Parse(data, [2]string{"the policy is empty", "write input: and/or output: with steps {detector, action} (see docs/guard.md)"})
	if err != nil {
		return nil, err
	}
	y.Check(root, policySchema, "")
	if len(y.Errs) > 0 {
		// Unknown keys and values of the wrong type, all of them; the steps' own checks
		// would only repeat them ("step 1 has no action" for a misspelt action:).
		return nil, config.Sorted(y.Errs)
	}
	var p Policy
	if e := y.Decode(root, &p); e != nil {
		return nil, config.Sorted(append(y.Errs, e))
	}
	c, probs := p.Compile(opt)
	for _, e := range ProblemErrors(probs, y.At) {
		y.Fail(e.Pos, e.Hint, "%s", e.Msg)
	}
	if len(y.Errs) > 0 {
		return nil, config.Sorted(y.Errs)
	}
	return c, nil
}

// ProblemErrors turns problems into errors at the positions at gives their paths.
func ProblemErrors(probs []Problem, at func(path string) config.Pos) config.Errors {
	var es config.Errors
	for _, p := range probs {
		es = append(es, &config.Error{Pos: at(p.Path), Msg: p.Msg, Hint: p.Hint})
	}
	return es
}

// policySchema is a policy file's keys and their types.
var policySchema = config.SchemaOf(reflect.TypeOf(Policy{}))
