package hashworker

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"

	"golang.org/x/crypto/argon2"
)

// PrepareChild readies a worker process before Serve: it lowers the
// priority of every thread of the process to nice (0..19; a process
// already nicer keeps its value; a no-op where unsupported) and runs Go on
// one P, since a worker computes one hash at a time.
func PrepareChild(nice int) error {
	if nice < 0 || nice > 19 {
		return fmt.Errorf("hashworker: nice %d out of range 0..19", nice)
	}
	runtime.GOMAXPROCS(1)
	if err := setNice(nice); err != nil {
		return fmt.Errorf("hashworker: lower priority to nice %d: %w", nice, err)
	}
	return nil
}

// Serve is a worker's loop: it reads request frames from r, computes each
// argon2id key and writes an answer frame to w, until r ends. It returns
// nil when r ends between frames and an error for a malformed frame (the
// stream can no longer be trusted) or a failed write. A well-framed job
// with parameters out of range gets a refusal and the loop goes on.
//
// After each answer it collects the hash's garbage at once, so the next
// hash reuses the same memory and the process stays near one hash's size
// (about 20 MiB at OWASP's parameters) instead of twice that; and once no
// job has come for idleRelease, it gives that memory back to the system,
// so an idle worker costs a few MiB, not a hash's worth.
func Serve(r io.Reader, w io.Writer) error {
	br := bufio.NewReader(r)
	bw := bufio.NewWriter(w)
	release := time.AfterFunc(time.Hour, debug.FreeOSMemory)
	release.Stop()
	defer release.Stop()
	var in, out []byte
	for {
		body, err := readFrame(br, in, requestHeaderLen, maxRequestLen)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("hashworker: read request: %w", err)
		}
		in = body
		j, err := parseRequest(body)
		if err != nil {
			return fmt.Errorf("hashworker: read request: %w", err)
		}
		out = out[:0]
		if err := j.check(); err != nil {
			msg := err.Error()
			out = appendAnswer(out, j.id, statusRefused, []byte(msg[:min(len(msg), maxErrorLen)]))
		} else {
			key := argon2.IDKey(j.password, j.salt, j.iterations, j.memory, j.parallelism, j.keyLen)
			out = appendAnswer(out, j.id, statusOK, key)
		}
		clear(body) // the password
		if _, err := bw.Write(out); err != nil {
			return fmt.Errorf("hashworker: write answer: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("hashworker: write answer: %w", err)
		}
		runtime.GC()
		release.Reset(idleRelease)
	}
}

// idleRelease is how long a worker waits for its next job before it
// returns its memory to the system. Under a login flood jobs come every
// few tens of milliseconds, so the memory is kept for the next hash.
const idleRelease = time.Second
