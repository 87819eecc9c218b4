package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn            string
		driver, target string
		err            string // a substring of the error; "" when none is expected
	}{
		{dsn: "sqlite:.plumb/plumb.db", driver: DriverSQLite, target: ".plumb/plumb.db"},
		{dsn: "sqlite:/var/lib/plumb/runs.sqlite", driver: DriverSQLite, target: "/var/lib/plumb/runs.sqlite"},
		{dsn: "sqlite://data/plumb.db", driver: DriverSQLite, target: "data/plumb.db"},
		{dsn: "sqlite:///abs/plumb.db", driver: DriverSQLite, target: "/abs/plumb.db"},
		{dsn: "plumb.db", driver: DriverSQLite, target: "plumb.db"},
		{dsn: "./dir with space/Runs.DB", driver: DriverSQLite, target: "./dir with space/Runs.DB"},
		{dsn: "postgres://plumb@db:5432/plumb?sslmode=disable", driver: DriverPostgres, target: "postgres://plumb@db:5432/plumb?sslmode=disable"},
		{dsn: "postgresql://u:p@localhost/x", driver: DriverPostgres, target: "postgresql://u:p@localhost/x"},
		{dsn: "", err: "empty database address"},
		{dsn: "sqlite:", err: "no file path"},
		{dsn: "sqlite::memory:", err: "plain file path"},
		{dsn: "sqlite:file:x.db?mode=ro", err: "plain file path"},
		{dsn: "plumb.sqlite", err: "sqlite:PATH"},
		{dsn: "mysql://root:hunter2@db/plumb", err: "postgres://"},
		{dsn: "redis://localhost:6379", err: "unsupported database address"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			driver, target, err := ParseDSN(tt.dsn)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseDSN(%q) = %q, %q, %v; want an error containing %q", tt.dsn, driver, target, err, tt.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q repeats the password", err)
				}
				return
			}
			if err != nil || driver != tt.driver || target != tt.target {
				t.Errorf("ParseDSN(%q) = %q, %q, %v; want %q, %q", tt.dsn, driver, target, err, tt.driver, tt.target)
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name  string
		files fstest.MapFS
		want  int
		err   string
	}{
		{"ordered", fstest.MapFS{"0002_b.sql": file("B"), "0001_a.sql": file("A"), "README": file("x")}, 2, ""},
		{"gap", fstest.MapFS{"0001_a.sql": file("A"), "0003_c.sql": file("C")}, 0, "expected version 2"},
		{"duplicate", fstest.MapFS{"0001_a.sql": file("A"), "0001_b.sql": file("B")}, 0, "expected version 2"},
		{"no number", fstest.MapFS{"init.sql": file("A")}, 0, "NNNN_description.sql"},
		{"zero", fstest.MapFS{"0000_a.sql": file("A")}, 0, "NNNN_description.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.files)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || len(ms) != tt.want || ms[0].sql != "A" || ms[0].name != "a" {
				t.Fatalf("loadMigrations = %+v, %v", ms, err)
			}
		})
	}
	// Both dialects ship the same schema versions, so one binary means one version.
	var counts []int
	for _, driver := range []string{DriverSQLite, DriverPostgres} {
		fsys, err := embeddedMigrations(driver)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := loadMigrations(fsys)
		if err != nil || len(ms) == 0 {
			t.Fatalf("%s migrations: %d, %v", driver, len(ms), err)
		}
		counts = append(counts, len(ms))
	}
	if counts[0] != counts[1] {
		t.Errorf("SQLite has %d migrations, PostgreSQL %d: they must stay in step", counts[0], counts[1])
	}
}

func TestSQLiteOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	t.Run("creates the parent directories", func(t *testing.T) {
		path := filepath.Join(dir, "a", "b?#%c", "plumb.db")
		s := openStore(t, "sqlite:"+path)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("database file not created at %s: %v", path, err)
		}
		ss := s.(*sqliteStore)
		pragmas := []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"busy_timeout", "10000"},
			{"query_only", "1"},
		}
		for _, p := range pragmas {
			var got string
			if err := ss.reader.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil || got != p.want {
				t.Errorf("reader PRAGMA %s = %q, %v; want %q", p.pragma, got, err, p.want)
			}
		}
		var fk string
		if err := ss.writer.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != "1" {
			t.Errorf("writer foreign_keys = %q, %v; want 1 (cascading deletes depend on it)", fk, err)
		}
	})

	t.Run("a directory is not a database", func(t *testing.T) {
		_, err := Open(ctx, "sqlite:"+dir, OpenOptions{})
		if err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Fatalf("err = %v, want one saying the path is a directory", err)
		}
	})

	t.Run("an unwritable location", func(t *testing.T) {
		blocker := filepath.Join(dir, "file")
		if err := os.WriteFile(blocker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(ctx, "sqlite:"+filepath.Join(blocker, "plumb.db"), OpenOptions{})
		if err == nil || !strings.Contains(err.Error(), "create its directory") {
			t.Fatalf("err = %v, want one about creating the directory", err)
		}
	})
}

func TestPostgresUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	// Port 1 on loopback refuses connections at once.
	_, err := Open(ctx, "postgres://plumb:s3cr3t-pw@127.0.0.1:1/plumb?sslmode=disable", OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), "cannot connect to PostgreSQL at 127.0.0.1:1") {
		t.Fatalf("err = %v, want a clear connection error", err)
	}
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("error %q contains the password", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failing took %v; an unreachable database must fail fast", d)
	}
}
