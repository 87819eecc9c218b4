package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
)

// defaultDB is the embedded store every command uses when neither --db nor PLUMB_DB is set.
const defaultDB = "sqlite:.plumb/plumb.db"

// dbGiven says whether the store was named (--db or PLUMB_DB) rather than the default.
func dbGiven(cmd *cobra.Command, e *env) bool {
	v, _ := cmd.Flags().GetString("db")
	return v != "" || e.getenv("PLUMB_DB") != ""
}

func dbDSN(cmd *cobra.Command, e *env) string {
	if v, _ := cmd.Flags().GetString("db"); v != "" {
		return v
	}
	if v := e.getenv("PLUMB_DB"); v != "" {
		return v
	}
	return defaultDB
}

// openStore opens the store. The embedded SQLite database belongs to this user, so a new
// version of plumb simply brings its schema up to date; a shared PostgreSQL database is
// migrated only by `plumb migrate`, so that one user's upgrade does not change the schema
// under everyone else's older binaries. (A new, empty database is set up either way.)
func openStore(cmd *cobra.Command, e *env, tune ...func(*store.OpenOptions)) (store.Store, error) {
	dsn := dbDSN(cmd, e)
	driver, _, err := store.ParseDSN(dsn)
	if err != nil {
		return nil, usageErr("--db: %v", err)
	}
	opt := store.OpenOptions{Migrate: driver == store.DriverSQLite}
	for _, f := range tune {
		f(&opt)
	}
	st, err := store.Open(cmd.Context(), dsn, opt)
	if err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	}
	return st, nil
}

// loadRun resolves a run reference (an id, a unique prefix, "latest", or "latest~N" for
// the Nth run before the latest) and loads it. With suite set, "latest" and "latest~N"
// count only that suite's runs: a baseline must be a run of the same suite.
func loadRun(cmd *cobra.Command, st store.Store, ref, suite string) (*report.Report, error) {
	id, err := resolveRun(cmd, st, ref, suite)
	if errors.Is(err, store.ErrNotFound) {
		return nil, usageErr("no run %q in the store (list them with `plumb runs`)", ref)
	}
	if err != nil {
		return nil, usageErr("%v", err)
	}
	rep, err := st.GetRun(cmd.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, usageErr("no run %q in the store (list them with `plumb runs`)", ref)
	}
	if err != nil {
		return nil, fmt.Errorf("load run %s: %w", id, err)
	}
	return rep, nil
}

func resolveRun(cmd *cobra.Command, st store.Store, ref, suite string) (string, error) {
	n := 0
	if back, ok := strings.CutPrefix(ref, "latest~"); ok {
		var err error
		if n, err = strconv.Atoi(back); err != nil || n < 0 {
			return "", fmt.Errorf("%q: write latest~N with N a number, e.g. latest~1 for the run before the latest", ref)
		}
	} else if ref != "latest" || suite == "" {
		return st.ResolveRun(cmd.Context(), ref)
	}
	runs, err := st.ListRuns(cmd.Context(), store.ListOptions{Limit: n + 1, Suite: suite})
	if err != nil {
		return "", err
	}
	if len(runs) <= n {
		return "", store.ErrNotFound
	}
	return runs[n].ID, nil
}
