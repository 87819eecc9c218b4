package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// resolver is the lookups ResolveRun is made of; both implementations provide them so that
// the rules (exact id first, then "latest", then a unique prefix) live in one place.
type resolver interface {
	// runExists reports whether a run with exactly this id exists.
	runExists(ctx context.Context, id string) (bool, error)
	// latestRun returns the newest run's id, or ErrNotFound.
	latestRun(ctx context.Context) (string, error)
	// runsWithPrefix returns up to limit ids starting with prefix, newest first.
	runsWithPrefix(ctx context.Context, prefix string, limit int) ([]string, error)
}

// LatestRef is the run reference that names the newest run.
const LatestRef = "latest"

// resolveRun implements Store.ResolveRun. An exact id wins over "latest", so a run that
// happens to be called "latest" stays reachable.
func resolveRun(ctx context.Context, r resolver, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", errors.New("empty run reference: give a run id, a unique prefix of one, or \"latest\"")
	}
	ok, err := r.runExists(ctx, ref)
	if err != nil {
		return "", err
	}
	if ok {
		return ref, nil
	}
	if ref == LatestRef {
		id, err := r.latestRun(ctx)
		if errors.Is(err, ErrNotFound) {
			return "", fmt.Errorf("no runs stored yet, so there is no %q run: %w", LatestRef, ErrNotFound)
		}
		return id, err
	}
	ids, err := r.runsWithPrefix(ctx, ref, maxCandidates+1)
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", notFound(ref)
	case 1:
		return ids[0], nil
	}
	e := &AmbiguousError{Ref: ref, Candidates: ids}
	if len(ids) > maxCandidates {
		e.Candidates, e.More = ids[:maxCandidates], true
	}
	return "", e
}
