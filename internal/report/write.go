package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// writers maps each supported file extension to the function that renders it. It is built
// per call rather than held in a package variable so there is no package-level state.
func writers() []struct {
	ext   string
	write func(io.Writer, *Report) error
} {
	return []struct {
		ext   string
		write func(io.Writer, *Report) error
	}{
		{".json", WriteJSON},
		{".jsonl", WriteJSONL},
		{".csv", WriteCSV},
		{".xml", WriteJUnit},
		{".md", WriteMarkdown},
		{".html", WriteHTML},
	}
}

// Formats returns the file extensions Write understands, in the order the docs list them.
func Formats() []string {
	var exts []string
	for _, w := range writers() {
		exts = append(exts, w.ext)
	}
	return exts
}

// Write writes r to path in the format named by the path's extension (see Formats). The file
// appears atomically: it is written to a temporary file in the same directory and renamed, so
// a crash or a full disk never leaves a half-written report that CI would then parse.
func Write(path string, r *Report) error {
	ext := strings.ToLower(filepath.Ext(path))
	var write func(io.Writer, *Report) error
	for _, w := range writers() {
		if w.ext == ext {
			write = w.write
		}
	}
	if write == nil {
		return fmt.Errorf("unknown report format %q for %s: use one of %s", ext, path, strings.Join(Formats(), " "))
	}
	if r == nil {
		return errNilReport
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if err := write(bw, r); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	// CreateTemp makes the file private (0600); a report is meant to be read by others.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	committed = true
	return nil
}

var errNilReport = errors.New("report: no report to write")
