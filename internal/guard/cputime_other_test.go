//go:build !unix

package guard

// cpuNanos is not measured off Unix; benchmarks then report 0 cpu-ns/op.
func cpuNanos() int64 { return 0 }
