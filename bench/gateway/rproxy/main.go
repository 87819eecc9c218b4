// Command rproxy is the gateway benchmark's floor: a bare net/http/httputil.ReverseProxy in
// front of one upstream, with nothing else (no auth, routing, limits, metrics or records).
// It is what any Go proxy pays for accepting a request and forwarding it. Its transport
// keeps as many idle connections to the upstream as the load has in flight (the default of
// 2 per host would make it open a new connection for most requests), and it flushes every
// write at once so that streams pass through event by event, as the gateway does.
//
//	rproxy -addr 127.0.0.1:19002 -upstream http://127.0.0.1:19001
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0 picks a free port)")
	up := flag.String("upstream", "", "the upstream's origin, e.g. http://127.0.0.1:19001")
	idle := flag.Int("idle", 256, "idle connections kept to the upstream")
	flag.Parse()
	target, err := url.Parse(*up)
	if err != nil || target.Scheme == "" || target.Host == "" {
		fmt.Fprintf(os.Stderr, "rproxy: -upstream %q: give the upstream's origin, e.g. http://127.0.0.1:19001\n", *up)
		os.Exit(2)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = *idle
	tr.MaxIdleConnsPerHost = *idle
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     tr,
		FlushInterval: -1,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rproxy:", err)
		os.Exit(1)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, srv.Serve(ln))
	os.Exit(1)
}
