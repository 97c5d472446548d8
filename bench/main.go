// Command bench is warehouse's load benchmark: one command that builds
// warehouse and a bare net/http baseline (bench/baseline), runs each pinned
// to one core, drives both with the same load from another core, and prints
// a markdown table of req/s, p50, p99, peak RSS and the ratio to the
// baseline measured in the same run.
//
//	go run ./bench                                   # the README's table
//	go run ./bench -duration 1s -warmup 0s -scenarios welcome,user   # CI smoke
//	go run ./bench -scenarios user -profile /tmp/prof                # + CPU profiles
//	go run ./bench -engine postgres                  # on a throwaway PostgreSQL, with pgbench anchors
//
// It exits non-zero on errors (a failed request, a server that does not
// start), never on slow numbers.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	duration      time.Duration
	warmup        time.Duration
	rounds        int
	conns         int
	movementConns int
	floodConns    int
	scenarios     []string
	serverCPU     string
	loadCPU       string
	out           string
	profileDir    string
	warehouseEnv  []string
	warehouseArgs []string
	keep          bool

	engine          string
	pgCPU           string
	scaleoutPGCPU   string
	pgbenchDuration time.Duration
	pgbench         bool
}

const (
	engineSQLite   = "sqlite"
	enginePostgres = "postgres"
)

// pinnedEnv marks the re-executed, pinned process.
const pinnedEnv = "WAREHOUSE_BENCH_PINNED"

func main() {
	var o options
	var scenarios, env string
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario and server")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before each measurement (not counted)")
	flag.IntVar(&o.rounds, "rounds", 10, "alternate baseline and warehouse this many times within -duration (noise hits both alike)")
	flag.IntVar(&o.conns, "conns", 64, "connections per scenario")
	flag.IntVar(&o.movementConns, "movement-conns", 8, "connections of the movements scenario (the budget's 8 concurrent clients)")
	flag.IntVar(&o.floodConns, "flood-conns", 64, "login connections of the user+login-flood scenario (besides -conns for GET /user)")
	flag.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run")
	flag.StringVar(&o.serverCPU, "server-cpu", "0", "CPU list the servers are pinned to (taskset -c)")
	flag.StringVar(&o.loadCPU, "load-cpu", "1", "CPU list the load generator is pinned to (taskset -c)")
	flag.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	flag.StringVar(&o.profileDir, "profile", "", "save warehouse CPU and heap profiles of each scenario here (starts it with --pprof-addr)")
	flag.StringVar(&env, "warehouse-env", "", "comma-separated VAR=value for the warehouse process, e.g. GOMAXPROCS=2,GOMEMLIMIT=64MiB")
	var extra string
	flag.StringVar(&extra, "warehouse-args", "", "space-separated flags added to warehouse serve's, after the benchmark's own (so they win), e.g. '--log-level info --metrics-addr 127.0.0.1:0'")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, database, server logs)")
	flag.StringVar(&o.engine, "engine", engineSQLite, "database: sqlite, or postgres (a throwaway PostgreSQL cluster of its own, fsync on, with pgbench anchor rows)")
	flag.StringVar(&o.pgCPU, "pg-cpu", "", "postgres: CPU list PostgreSQL is pinned to (default: -server-cpu's, as one machine running both)")
	flag.StringVar(&o.scaleoutPGCPU, "scaleout-pg-cpu", "", "postgres: CPU list of PostgreSQL during "+scaleoutScenario+" (default: -load-cpu's, the core the instances do not use)")
	flag.DurationVar(&o.pgbenchDuration, "pgbench-duration", 0, "postgres: length of each pgbench anchor run (default: -duration)")
	flag.BoolVar(&o.pgbench, "pgbench", true, "postgres: run the pgbench anchors")
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "scenarios" })
	switch o.engine {
	case engineSQLite:
	case enginePostgres:
		if !explicit {
			scenarios += "," + scaleoutScenario
		}
	default:
		fmt.Fprintf(os.Stderr, "-engine must be sqlite or postgres, not %q\n", o.engine)
		os.Exit(2)
	}
	if o.pgCPU == "" {
		o.pgCPU = o.serverCPU
	}
	if o.scaleoutPGCPU == "" {
		o.scaleoutPGCPU = o.loadCPU
	}
	if o.pgbenchDuration <= 0 {
		o.pgbenchDuration = o.duration
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	for _, s := range strings.Split(scenarios, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) && (s != scaleoutScenario || o.engine != enginePostgres) {
			log.Error("unknown scenario", "scenario", s, "known", strings.Join(allScenarios, ","), "postgres also", scaleoutScenario)
			os.Exit(2)
		}
		o.scenarios = append(o.scenarios, s)
	}
	o.warehouseArgs = strings.Fields(extra)
	for _, kv := range strings.Split(env, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			o.warehouseEnv = append(o.warehouseEnv, kv)
		}
	}
	if err := pinSelf(o.loadCPU, log); err != nil {
		log.Error("cannot pin the load generator", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, o, os.Stdout, log); err != nil {
		log.Error("benchmark failed", "err", err)
		os.Exit(1)
	}
}

// pinSelf re-executes this program under taskset so that the load
// generator (this process) runs on its own core, away from the servers.
// Without taskset or with one CPU it runs unpinned and says so.
func pinSelf(cpu string, log *slog.Logger) error {
	if os.Getenv(pinnedEnv) != "" || cpu == "" {
		return nil
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil || runtime.NumCPU() < 2 {
		log.Warn("running unpinned: numbers are noisier (needs taskset and 2 CPUs)", "cpus", runtime.NumCPU())
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	args := append([]string{"taskset", "-c", cpu, self}, os.Args[1:]...)
	env := append(os.Environ(), pinnedEnv+"=1")
	if err := syscall.Exec(taskset, args, env); err != nil {
		return fmt.Errorf("exec taskset: %w", err)
	}
	return nil
}

func bench(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	work, err := os.MkdirTemp("", "warehouse-bench-")
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	if o.keep {
		log.Info("keeping the work directory", "dir", work)
	} else {
		defer os.RemoveAll(work)
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return fmt.Errorf("profile dir: %w", err)
		}
	}
	bins, err := build(ctx, work)
	if err != nil {
		return err
	}
	r := &runner{o: o, log: log, work: work, bins: bins}
	if o.engine == enginePostgres {
		if r.pg, err = startPG(ctx, work, o.pgCPU, o.profileDir != "", log); err != nil {
			return err
		}
		defer r.pg.stop()
		if err := r.pg.initPgbench(ctx); err != nil {
			return err
		}
		if o.pgbench {
			for _, a := range []struct {
				mode    string
				clients int
			}{{"-N", 8}, {"-S", 8}, {"-S", 64}} {
				log.Info("anchor", "pgbench", a.mode, "clients", a.clients)
				res, err := r.pg.pgbench(ctx, pgbenchCPU(o.loadCPU, o.serverCPU, o.pgCPU), a.mode, a.clients, o.pgbenchDuration)
				if err != nil {
					return err
				}
				r.anchors = append(r.anchors, res)
			}
		}
	}
	if err := r.setup(ctx); err != nil {
		return err
	}
	var rows []row
	failed := false
	for _, name := range o.scenarios {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Info("scenario", "name", name)
		rw, err := r.scenario(ctx, name)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", name, err)
		}
		rows = append(rows, rw)
		if rw.warehouse.errors > 0 || rw.baseline.errors > 0 {
			failed = true
		}
	}
	report := r.report(rows)
	if r.pg != nil {
		report += anchorTable(o, r.pg, r.anchors, rows) + r.scaleoutTable(rows)
	}
	fmt.Fprint(stdout, report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if failed {
		return fmt.Errorf("requests failed (see the errors column)")
	}
	return nil
}

// pgbenchCPU is where pgbench runs: on the load generator's CPU when
// PostgreSQL shares the server's (pgbench then plays the load generator,
// PostgreSQL the server), else on the server's CPU (pgbench plays
// warehouse, and PostgreSQL keeps its core, as warehouse leaves it).
func pgbenchCPU(load, server, pg string) string {
	if pg == server {
		return load
	}
	return server
}

type binaries struct{ warehouse, baseline string }

// build compiles both servers from the module this command runs in.
func build(ctx context.Context, dir string) (binaries, error) {
	b := binaries{warehouse: dir + "/warehouse", baseline: dir + "/baseline"}
	for _, t := range []struct{ out, pkg string }{{b.warehouse, "./cmd/warehouse"}, {b.baseline, "./bench/baseline"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", t.out, t.pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return binaries{}, fmt.Errorf("go build %s (run from the repository root): %w", t.pkg, err)
		}
	}
	return b, nil
}
