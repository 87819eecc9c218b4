package gateway

import (
	"reflect"

	"github.com/plumbhq/plumb/internal/config"
)

// loader collects a config's errors and the position of every value in it
// (config.YAMLChecker), so that checks made after decoding still point at file:line:col.
type loader struct {
	*config.YAMLChecker
}

// posLookup maps a value's path ("routes[0].targets[1].model") to where it is written.
type posLookup struct {
	file string
	m    map[string]config.Pos
}

// at is the position of path, else of its closest parent that is written, else the file.
func (p posLookup) at(path string) config.Pos { return config.PosAt(p.m, p.file, path) }

func (l *loader) fail(pos config.Pos, hint, format string, args ...any) {
	l.Fail(pos, hint, format, args...)
}

var configSchemaValue = config.SchemaOf(reflect.TypeOf(Config{}))
