package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// embeddedMigrations is the migration set shipped for a driver (DriverSQLite, DriverPostgres).
func embeddedMigrations(driver string) (fs.FS, error) {
	return fs.Sub(migrationFiles, "migrations/"+driver)
}

// migration is one schema step: NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
	// fill, when set, runs after sql in the same transaction: the part of a step that SQL
	// cannot express (dataStep).
	fill func(ctx context.Context, d db) error
}

// dataStep is the Go part of a migration, if it has one.
func dataStep(version int, name string) func(ctx context.Context, d db) error {
	switch {
	case version == 4 && name == "run_pairs":
		return backfillPairs
	case version == 7 && name == "group_positions":
		return backfillGroupPositions
	}
	return nil
}

// loadMigrations reads the *.sql files at the root of fsys. Versions must run 1, 2, 3, ...
// without gaps or duplicates, because the schema version is "how many have been applied".
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		num, rest, ok := strings.Cut(strings.TrimSuffix(path.Base(n), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || rest == "" {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", n)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: rest, sql: string(b), fill: dataStep(v, rest)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %04d_%s: expected version %d (versions must be 1, 2, 3, ... without gaps or duplicates)", m.version, m.name, i+1)
		}
	}
	return ms, nil
}
