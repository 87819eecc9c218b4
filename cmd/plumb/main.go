// Command plumb is the Plumb command line. Everything happens in internal/cli.
package main

import (
	"os"

	"github.com/plumbhq/plumb/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
