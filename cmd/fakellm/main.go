// Command fakellm runs a fake OpenAI- and Anthropic-compatible LLM server for benchmarks and
// CLI tests. It prints its base URL on the first line of stdout and serves until it is killed.
//
//	fakellm --addr 127.0.0.1:9001 --latency 50ms --rules rules.json
//
// rules.json is a list of {"match": "...", "reply": "..."}: the first rule whose match occurs
// in the last user message gives the reply ("/.../" is a regular expression); without a
// matching rule the reply is "echo: " and the message.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/plumbhq/plumb/internal/fakellm"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("fakellm", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0 picks a free port)")
	latency := fs.Duration("latency", 0, "delay added to every response, e.g. 50ms")
	rulesPath := fs.String("rules", "", "JSON file with a list of {\"match\", \"reply\"} rules")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fakellm: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var rules []fakellm.Rule
	if *rulesPath != "" {
		data, err := os.ReadFile(*rulesPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fakellm: cannot read rules: %v\n", err)
			return 2
		}
		if err := json.Unmarshal(data, &rules); err != nil {
			fmt.Fprintf(os.Stderr, "fakellm: %s is not a JSON list of {\"match\", \"reply\"} rules: %v\n", *rulesPath, err)
			return 2
		}
	}
	// Requests are not kept: a benchmark server must not grow with every call.
	srv, err := fakellm.Start(fakellm.Options{Addr: *addr, Latency: *latency, Rules: rules, DiscardRequests: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	fmt.Println(srv.URL)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return 0
}
