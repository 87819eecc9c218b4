package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/plumbhq/plumb/internal/report"
)

// The run_pairs.samples layout (migration 0004): the format byte, the number of samples
// (uvarint), then per sample in report order its Key and LabelKey (8 bytes each,
// little-endian), its test index (varint) and a flags byte; a score other than 0 and 1
// follows as 8 bytes (the float64's bits, little-endian). 100,000 samples take 2-2.8 MB.
const (
	pairsFormat = 1

	pairPassed = 1 << 0
	pairScore0 = 1 << 1 // the score is 0 (+0: the bits are kept exactly)
	pairScore1 = 1 << 2 // the score is 1
)

// encodePairs lays out samples as run_pairs.samples.
func encodePairs(samples []report.PairSample) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(samples)*(8+8+3+1+8))
	b = append(b, pairsFormat)
	b = binary.AppendUvarint(b, uint64(len(samples)))
	for i := range samples {
		s := &samples[i]
		b = binary.LittleEndian.AppendUint64(b, s.Key)
		b = binary.LittleEndian.AppendUint64(b, s.LabelKey)
		b = binary.AppendVarint(b, int64(s.Test))
		var flags byte
		if s.Passed {
			flags |= pairPassed
		}
		switch math.Float64bits(s.Score) {
		case 0:
			flags |= pairScore0
		case math.Float64bits(1):
			flags |= pairScore1
		}
		b = append(b, flags)
		if flags&(pairScore0|pairScore1) == 0 {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Score))
		}
	}
	return b
}

// decodePairs reads run_pairs.samples.
func decodePairs(runID string, b []byte) ([]report.PairSample, error) {
	corrupt := func(what string) error {
		return fmt.Errorf("stored pairing samples of run %s are corrupt (%s): upload or save the run again", runID, what)
	}
	if len(b) == 0 || b[0] != pairsFormat {
		return nil, corrupt("unknown format")
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || n > uint64(len(b)) {
		return nil, corrupt("bad count")
	}
	b = b[1+w:]
	out := make([]report.PairSample, n)
	for i := range out {
		if len(b) < 17 {
			return nil, corrupt("truncated")
		}
		s := &out[i]
		s.Key = binary.LittleEndian.Uint64(b)
		s.LabelKey = binary.LittleEndian.Uint64(b[8:])
		test, w := binary.Varint(b[16:])
		if w <= 0 || len(b) < 16+w+1 || test != int64(int(test)) {
			return nil, corrupt("bad test index")
		}
		s.Test = int(test)
		flags := b[16+w]
		b = b[16+w+1:]
		s.Passed = flags&pairPassed != 0
		switch {
		case flags&pairScore0 != 0:
			s.Score = 0
		case flags&pairScore1 != 0:
			s.Score = 1
		default:
			if len(b) < 8 {
				return nil, corrupt("truncated")
			}
			s.Score = math.Float64frombits(binary.LittleEndian.Uint64(b))
			b = b[8:]
		}
	}
	if len(b) != 0 {
		return nil, corrupt("trailing bytes")
	}
	return out, nil
}

// savePairsSQL stores a run's pairing samples, after its runs row; ? placeholders: run id,
// samples.
const savePairsSQL = `INSERT INTO run_pairs (run_id, samples) VALUES (?, ?)
	ON CONFLICT (run_id) DO UPDATE SET samples = excluded.samples`

// PairSamples implements Store.
func (a *accounts) PairSamples(ctx context.Context, runID string) ([]report.PairSample, error) {
	var data []byte
	err := a.db.queryRow(ctx, `SELECT p.samples FROM runs r LEFT JOIN run_pairs p ON p.run_id = r.id WHERE r.id = ?`, runID).Scan(&data)
	if errors.Is(err, errNoRows) {
		return nil, notFound(runID)
	}
	if err != nil {
		return nil, fmt.Errorf("pairing samples of run %s: %w", runID, err)
	}
	if data == nil {
		// SaveRun writes them and migration 0004 wrote them for older runs.
		return nil, fmt.Errorf("run %s has no pairing samples: upload or save it again", runID)
	}
	return decodePairs(runID, data)
}

// resultsAtChunk bounds the positions one query asks for.
const resultsAtChunk = 500

// ResultsAt implements Store.
func (a *accounts) ResultsAt(ctx context.Context, runID string, idx []int) ([]report.Result, error) {
	want := slices.Clone(idx)
	slices.Sort(want)
	want = slices.Compact(want)
	byIdx := make(map[int][]byte, len(want))
	for start := 0; start < len(want); start += resultsAtChunk {
		chunk := want[start:min(start+resultsAtChunk, len(want))]
		args := make([]any, 0, 1+len(chunk))
		args = append(args, runID)
		for _, i := range chunk {
			args = append(args, i)
		}
		rows, err := a.db.query(ctx, "SELECT idx, data FROM results WHERE run_id = ? AND idx IN (?"+
			strings.Repeat(", ?", len(chunk)-1)+")", args...)
		if err != nil {
			return nil, fmt.Errorf("results of run %s: %w", runID, err)
		}
		for rows.Next() {
			var i int
			var data []byte
			if err := rows.Scan(&i, &data); err != nil {
				rows.Close()
				return nil, fmt.Errorf("results of run %s: %w", runID, err)
			}
			byIdx[i] = data
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("results of run %s: %w", runID, err)
		}
	}
	out := make([]report.Result, len(idx))
	for k, i := range idx {
		data, ok := byIdx[i]
		if !ok {
			return nil, fmt.Errorf("run %q has no result at position %d: %w", runID, i, ErrNotFound)
		}
		if err := decodeResult(data, &out[k]); err != nil {
			return nil, fmt.Errorf("run %s: result %d: %w", runID, i, err)
		}
	}
	if err := attachHuman(ctx, a.db, runID, out, idx); err != nil {
		return nil, err
	}
	return out, nil
}

// backfillPairs is migration 0004's Go step: the pairing samples of every run saved before
// it, computed from the stored results as SaveRun computes them from the report.
func backfillPairs(ctx context.Context, d db) error {
	ids, err := runIDs(ctx, d, `SELECT id FROM runs WHERE NOT EXISTS (SELECT 1 FROM run_pairs p WHERE p.run_id = runs.id) ORDER BY id`)
	if err != nil {
		return err
	}
	for _, id := range ids {
		samples, err := storedPairSamples(ctx, d, id)
		if err != nil {
			return err
		}
		if _, err := d.exec(ctx, savePairsSQL, id, encodePairs(samples)); err != nil {
			return fmt.Errorf("run %s: save pairing samples: %w", id, err)
		}
	}
	return nil
}

// runIDs reads the run ids a migration's Go step works through.
func runIDs(ctx context.Context, d db, query string) ([]string, error) {
	rows, err := d.query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// storedPairSamples computes a run's pairing samples from its stored results.
func storedPairSamples(ctx context.Context, d db, runID string) ([]report.PairSample, error) {
	rows, err := d.query(ctx, `SELECT idx, data FROM results WHERE run_id = ? ORDER BY idx`, runID)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, err)
	}
	defer rows.Close()
	var samples []report.PairSample
	for rows.Next() {
		var idx int
		var data []byte
		if err := rows.Scan(&idx, &data); err != nil {
			return nil, fmt.Errorf("run %s: %w", runID, err)
		}
		var r report.Result
		if err := decodeResult(data, &r); err != nil {
			return nil, fmt.Errorf("run %s: result %d: %w", runID, idx, err)
		}
		samples = append(samples, r.PairSample())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, err)
	}
	return samples, nil
}
