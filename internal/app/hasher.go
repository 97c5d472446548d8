package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/hashworker"
)

// hashWorkerStartTimeout bounds how long Open waits for its hash workers
// to answer a first tiny hash before it hashes in-process instead.
const hashWorkerStartTimeout = 30 * time.Second

// serveHasher is the server's password hasher: with --hash-workers
// process, its hashes run in `warehouse hash-worker` processes (this
// executable) at --hash-nice, so that the kernel gives requests the CPU
// first, even on one core; if those cannot start, in-process, with a
// warning. The returned stop ends the workers.
func serveHasher(ctx context.Context, c *Config, stderr io.Writer, log *slog.Logger) (*auth.Hasher, func(), error) {
	inline, err := c.Hasher() // checks the argon2 parameters
	if err != nil {
		return nil, nil, err
	}
	switch c.HashWorkers {
	case "inline":
		return inline, func() {}, nil
	case "process":
	default:
		return nil, nil, fmt.Errorf("--hash-workers must be process or inline, not %q", c.HashWorkers)
	}
	if c.HashNice < 0 || c.HashNice > 19 {
		return nil, nil, fmt.Errorf("--hash-nice must be in 0..19, not %d", c.HashNice)
	}
	n := c.HashConcurrency
	if n <= 0 {
		n = auth.DefaultHashConcurrency()
	}
	pool, err := startHashWorkers(ctx, n, c.HashNice, stderr, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, err
		}
		log.Warn("hash worker processes did not start; hashing passwords in the server process", "err", err)
		return inline, func() {}, nil
	}
	log.Info("hash workers started", "workers", n, "nice", c.HashNice)
	hasher, err := c.Hasher(auth.WithKeyFunc(pool.Key))
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return hasher, func() { pool.Close() }, nil
}

// startHashWorkers starts n copies of this executable as hash workers.
func startHashWorkers(ctx context.Context, n, nice int, stderr io.Writer, log *slog.Logger) (*hashworker.Pool, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable: %w", err)
	}
	newCmd := func() *exec.Cmd {
		cmd := exec.Command(exe, "hash-worker", "--nice", strconv.Itoa(nice))
		// The server's settings (a signing secret, the database URL) are
		// none of a worker's business.
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "WAREHOUSE_") })
		cmd.Stderr = stderr
		return cmd
	}
	ctx, cancel := context.WithTimeout(ctx, hashWorkerStartTimeout)
	defer cancel()
	return hashworker.NewPool(ctx, newCmd, n, log)
}
