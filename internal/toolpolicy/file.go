package toolpolicy

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/goccy/go-yaml"
)

// File is a standalone tool policy file, for applications that ask the approval API
// without the gateway: the policy under the key tools, as a route has it.
type File struct {
	Tools Policy `yaml:"tools"`
}

// Load reads and checks a standalone policy file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: cannot read the tool policy: %v", path, err)
	}
	return Parse(data, path)
}

// Parse reads a policy file's text; file names it in errors. Unknown keys are errors.
func Parse(data []byte, file string) (*Policy, error) {
	var f File
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s (see docs/approvals.md for the policy's keys)", decodeError(file, oneLine(yaml.FormatError(err, false, false))))
	}
	if f.Tools.Empty() {
		return nil, fmt.Errorf("%s: the file has no tools: policy: write tools: {allow: [...], deny: [...], approve: [...]}", file)
	}
	if probs := f.Tools.Check(); len(probs) > 0 {
		pos := filePositions(data)
		msgs := make([]string, len(probs))
		for i, p := range probs {
			msgs[i] = fmt.Sprintf("%s: tools.%s: %s (%s)", pos.at(file, "tools."+p.Path), p.Path, p.Msg, p.Hint)
		}
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	return &f.Tools, nil
}
