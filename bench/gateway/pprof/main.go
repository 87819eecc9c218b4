// Command pprof runs the plumb command line in-process with Go's profiling endpoints served
// on a second loopback address, so that the gateway benchmark can profile `plumb gateway`
// under load without changing Plumb:
//
//	go build -o bench/out/gateway/plumb-pprof ./bench/gateway/pprof
//	bench/out/gateway/plumb-pprof -http 127.0.0.1:19009 -- gateway -c gateway.yaml --db sqlite:plumb.db
//	go tool pprof -top 'http://127.0.0.1:19009/debug/pprof/profile?seconds=8'   # while the load runs
//	go tool pprof -sample_index=inuse_space -top http://127.0.0.1:19009/debug/pprof/heap
//
// It also serves /debug/memstats: the Go runtime's memory figures as JSON (runtime.MemStats).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"

	"github.com/plumbhq/plumb/internal/cli"
)

func main() {
	addr := flag.String("http", "127.0.0.1:0", "serve /debug/pprof/ and /debug/memstats on this `address`")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pprof:", err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/memstats", func(w http.ResponseWriter, _ *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]uint64{
			"HeapInuse": ms.HeapInuse, "HeapSys": ms.HeapSys, "HeapReleased": ms.HeapReleased,
			"StackSys": ms.StackSys, "Sys": ms.Sys, "TotalAlloc": ms.TotalAlloc, "Mallocs": ms.Mallocs,
			"NumGC": uint64(ms.NumGC), "PauseTotalNs": ms.PauseTotalNs,
		})
	})
	fmt.Fprintf(os.Stderr, "pprof: profiles at http://%s/debug/pprof/\n", ln.Addr())
	go func() { _ = http.Serve(ln, mux) }()
	os.Exit(cli.Main(flag.Args()))
}
