//go:build unix

package guard

import "syscall"

// cpuNanos is the CPU time (user + system) this process has used, in nanoseconds. Benchmarks
// report it per operation beside the wall time, which on a shared machine counts the time
// other processes held the core.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
