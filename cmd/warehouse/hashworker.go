package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/warehouse-api/warehouse/internal/hashworker"
)

// hashWorker is `warehouse hash-worker`, started by serve (see
// app.serveHasher): it computes argon2id keys for the jobs framed on stdin,
// at a lower priority, until stdin closes.
func hashWorker(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("warehouse hash-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nice := fs.Int("nice", 10, "nice value of this process, 0..19")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := hashworker.PrepareChild(*nice); err != nil {
		return err
	}
	return hashworker.Serve(stdin, stdout)
}
