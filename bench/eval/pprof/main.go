// Command pprof runs the plumb command line in-process with Go's profilers on, so that the
// eval benchmark can show where Plumb's wall time and memory go without changing Plumb:
//
//	go build -o bench/out/plumb-pprof ./bench/eval/pprof
//	bench/out/plumb-pprof -cpu cpu.prof -heap heap.prof -trace trace.out -- eval -c plumb.yaml ...
//	go tool pprof -top bench/out/plumb-pprof cpu.prof
//
// It prints the Go runtime's memory figures at exit on stderr. With -phases it does not call
// the command line but the same steps `plumb eval` takes (load the suite, open the store,
// prepare, run, summarise, store, print), timing each, and the first and last sample:
//
//	bench/out/plumb-pprof -phases -db sqlite:/tmp/p.db -j 50 plumb.yaml
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/plumbhq/plumb/internal/cli"
)

func main() {
	os.Exit(run())
}

func run() int {
	start := time.Now()
	cpu := flag.String("cpu", "", "write a CPU profile to `FILE`")
	heap := flag.String("heap", "", "write a heap profile (all allocations, and what is live at exit) to `FILE`")
	tr := flag.String("trace", "", "write an execution trace to `FILE` (go tool trace)")
	rate := flag.Int("memrate", 0, "runtime.MemProfileRate: sample one allocation per `N` bytes (0 keeps Go's default)")
	phases := flag.Bool("phases", false, "time the steps of `plumb eval` on the suite named by the argument instead of running the command line")
	db := flag.String("db", "", "with -phases: the store (sqlite:PATH)")
	jobs := flag.Int("j", 50, "with -phases: calls in flight")
	flag.Parse()
	if *rate > 0 {
		runtime.MemProfileRate = *rate
	}
	stop, err := startProfiles(*cpu, *tr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pprof:", err)
		return 2
	}
	t0 := time.Now()
	var code int
	if *phases {
		if flag.NArg() != 1 || *db == "" {
			fmt.Fprintln(os.Stderr, "pprof: -phases needs -db sqlite:PATH and one suite file")
			return 2
		}
		code = timePhases(flag.Arg(0), *db, *jobs)
	} else {
		code = cli.Main(flag.Args())
	}
	elapsed := time.Since(t0)
	stop()
	if *heap != "" {
		if err := writeHeap(*heap); err != nil {
			fmt.Fprintln(os.Stderr, "pprof:", err)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "pprof: main %.3fs (setup %.3fs); exit %d\n", elapsed.Seconds(), t0.Sub(start).Seconds(), code)
	fmt.Fprintf(os.Stderr, "pprof: heap in use at exit %.1f MB, heap obtained from the OS (about its peak) %.1f MB, stacks %.1f MB, Go total (Sys) %.1f MB\n",
		mb(ms.HeapInuse), mb(ms.HeapSys), mb(ms.StackSys), mb(ms.Sys))
	fmt.Fprintf(os.Stderr, "pprof: allocated %.1f MB in %d objects, %d GCs, %.1f ms GC pause\n",
		mb(ms.TotalAlloc), ms.Mallocs, ms.NumGC, float64(ms.PauseTotalNs)/1e6)
	return code
}

// startProfiles starts the CPU profile and the trace; the returned func stops both.
func startProfiles(cpuPath, tracePath string) (func(), error) {
	var closers []func()
	stop := func() {
		for _, c := range closers {
			c()
		}
	}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return stop, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return stop, err
		}
		closers = append(closers, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if tracePath != "" {
		f, err := os.Create(tracePath)
		if err != nil {
			stop()
			return func() {}, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stop()
			return func() {}, err
		}
		closers = append(closers, func() { trace.Stop(); f.Close() })
	}
	return stop, nil
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
