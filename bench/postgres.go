package main

// The PostgreSQL engine: a throwaway cluster of the bench's own, durable
// (fsync and synchronous_commit on, PostgreSQL's defaults) and pinned to a
// CPU, with pgbench run on it as the anchor of the warehouse rows. It is a
// small copy of internal/pgtest's cluster code, which needs a testing.TB
// and turns fsync off.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"syscall"
	"time"
)

type pgCluster struct {
	dir   string // owned by the server's user; data/ and the socket inside
	bin   string // initdb, pg_ctl, pgbench, psql
	port  int
	cred  *syscall.Credential // nil: run as ourselves
	stats bool                // pg_stat_statements loaded
	log   *slog.Logger
}

// pgBinDir finds initdb: on PATH, else Debian's newest
// /usr/lib/postgresql/<version>/bin.
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		// A symlink on PATH (/usr/local/bin/initdb): pgbench and psql
		// are beside its target.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	if len(dirs) == 0 {
		return "", errors.New("PostgreSQL not found: no initdb on PATH nor in /usr/lib/postgresql/*/bin")
	}
	return filepath.Dir(dirs[0]), nil
}

func pgVersion(initdb string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(initdb))), 64)
	return v
}

// startPG initialises a cluster in a new directory under work and starts
// it pinned to cpu. PostgreSQL refuses root, so as root it runs as the
// postgres user.
func startPG(ctx context.Context, work, cpu string, stats bool, log *slog.Logger) (*pgCluster, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	c := &pgCluster{bin: bin, stats: stats, log: log, dir: filepath.Join(work, "pg")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, and PostgreSQL refuses root: need the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The postgres user must reach the cluster's directory.
		if err := os.Chmod(work, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Mkdir(c.dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster dir: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	if out, err := c.run(ctx, "", "initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"); err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := c.start(ctx, cpu); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// run runs one of PostgreSQL's programs as the cluster's user, pinned to
// cpu if given (a server started by pg_ctl inherits it, and so does every
// backend it forks).
func (c *pgCluster) run(ctx context.Context, cpu, name string, args ...string) ([]byte, error) {
	argv := append([]string{filepath.Join(c.bin, name)}, args...)
	if ts, err := exec.LookPath("taskset"); err == nil && cpu != "" {
		argv = append([]string{ts, "-c", cpu}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGHOST=127.0.0.1", "PGUSER=postgres")
	if c.port != 0 {
		cmd.Env = append(cmd.Env, "PGPORT="+strconv.Itoa(c.port))
	}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

// start starts the server pinned to cpu. Durability stays at
// PostgreSQL's defaults: fsync=on, synchronous_commit=on.
func (c *pgCluster) start(ctx context.Context, cpu string) error {
	opts := fmt.Sprintf("-p %d -h 127.0.0.1 -k %s -c max_connections=200 -c shared_buffers=128MB", c.port, c.dir)
	if c.stats {
		opts += " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on"
	}
	out, err := c.run(ctx, cpu, "pg_ctl", "start", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "-o", opts)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		return fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, log)
	}
	c.log.Info("PostgreSQL started", "port", c.port, "cpu", cpu, "bin", c.bin)
	return nil
}

// repin restarts the server pinned to cpu.
func (c *pgCluster) repin(ctx context.Context, cpu string) error {
	if out, err := c.run(ctx, "", "pg_ctl", "stop", "-D", c.data(), "-m", "fast", "-w"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return c.start(ctx, cpu)
}

// stop stops the server; its files go with the work directory.
func (c *pgCluster) stop() {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		_, _ = c.run(context.Background(), "", "pg_ctl", "stop", "-D", c.data(), "-m", "immediate", "-w")
	}
}

func (c *pgCluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// psql runs SQL on database db and returns its unaligned output.
func (c *pgCluster) psql(ctx context.Context, db, sql string) (string, error) {
	out, err := c.run(ctx, "", "psql", "-X", "-q", "-A", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql)
	if err != nil {
		return "", fmt.Errorf("psql: %w: %s", err, out)
	}
	return string(out), nil
}

// anchor is one pgbench run.
type anchor struct {
	name    string // e.g. "pgbench -N"
	clients int
	tps     float64
	latency time.Duration // average
	p99     time.Duration // from pgbench's per-transaction log
}

var (
	tpsRe = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	latRe = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
)

// pgbench runs the built-in script mode (-N: three updates and an insert
// per transaction, no hot branch row; -S: one primary-key select) on
// database "pgbench" for d, pinned to cpu: pgbench stands where warehouse
// stands, so it never shares PostgreSQL's core unless warehouse does.
func (c *pgCluster) pgbench(ctx context.Context, cpu, mode string, clients int, d time.Duration) (anchor, error) {
	a := anchor{name: "pgbench " + mode, clients: clients}
	secs := max(int(d.Round(time.Second)/time.Second), 1)
	// -l logs every transaction's latency: PostgreSQL's own p99 on this
	// machine, the floor under warehouse's.
	prefix := filepath.Join(c.dir, "pgbench-log")
	out, err := c.run(ctx, cpu, "pgbench", mode, "-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(secs), "-l", "--log-prefix="+prefix, "pgbench")
	if err != nil {
		return a, fmt.Errorf("pgbench %s: %w: %s", mode, err, out)
	}
	a.p99 = pgbenchP99(prefix)
	m := tpsRe.FindSubmatch(out)
	if m == nil {
		return a, fmt.Errorf("pgbench %s: no tps in its output: %s", mode, out)
	}
	a.tps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := latRe.FindSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		a.latency = time.Duration(v * float64(time.Millisecond))
	}
	return a, nil
}

// pgbenchP99 reads and removes the transaction logs of one pgbench run
// (prefix.<pid>[.<thread>]: client, transaction, latency in µs, ...) and
// returns their 99th percentile, or 0 if there are none.
func pgbenchP99(prefix string) time.Duration {
	files, _ := filepath.Glob(prefix + ".*")
	var lat []time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		_ = os.Remove(f)
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			fields := bytes.Fields(line)
			if len(fields) < 3 {
				continue
			}
			if us, err := strconv.ParseInt(string(fields[2]), 10, 64); err == nil {
				lat = append(lat, time.Duration(us)*time.Microsecond)
			}
		}
	}
	slices.Sort(lat)
	return percentile(lat, 0.99)
}

// initPgbench creates the warehouse database and pgbench's, with its
// tables at scale 1 (100,000 accounts).
func (c *pgCluster) initPgbench(ctx context.Context) error {
	for _, db := range []string{"warehouse", "pgbench"} {
		if _, err := c.psql(ctx, "postgres", "CREATE DATABASE "+db); err != nil {
			return err
		}
	}
	if c.stats {
		if _, err := c.psql(ctx, "warehouse", "CREATE EXTENSION pg_stat_statements"); err != nil {
			return err
		}
	}
	if out, err := c.run(ctx, "", "pgbench", "-i", "-q", "-s", "1", "pgbench"); err != nil {
		return fmt.Errorf("pgbench -i: %w: %s", err, out)
	}
	return nil
}

// resetStats empties pg_stat_statements, before a scenario.
func (c *pgCluster) resetStats(ctx context.Context) error {
	if c == nil || !c.stats {
		return nil
	}
	_, err := c.psql(ctx, "warehouse", "SELECT pg_stat_statements_reset()")
	return err
}

// saveStats writes the warehouse database's statements by total time.
func (c *pgCluster) saveStats(ctx context.Context, path string) error {
	if c == nil || !c.stats {
		return nil
	}
	out, err := c.psql(ctx, "warehouse", `SELECT calls, plans, round(total_plan_time::numeric, 1) AS plan_ms, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS query
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'warehouse') ORDER BY calls DESC LIMIT 40`)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// anchorTable renders the pgbench runs and the warehouse rows' ratio to
// them.
func anchorTable(o options, pg *pgCluster, anchors []anchor, rows []row) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\nPostgreSQL %s (fsync=on, synchronous_commit=on, shared_buffers=128MB) pinned to CPU %s; pgbench (scale 1, -M prepared, -j 2) from CPU %s.\n", filepath.Base(filepath.Dir(pg.bin)), o.pgCPU, pgbenchCPU(o.loadCPU, o.serverCPU, o.pgCPU))
	b.WriteString("\n| PostgreSQL anchor (same cluster, same run) | clients | tps | latency avg | p99 |\n|---|--:|--:|--:|--:|\n")
	for _, a := range anchors {
		fmt.Fprintf(&b, "| `%s` | %d | %.0f | %s | %s |\n", a.name, a.clients, a.tps, ms(a.latency), ms(a.p99))
	}
	find := func(name string, clients int) *anchor {
		for i := range anchors {
			if anchors[i].name == name && anchors[i].clients == clients {
				return &anchors[i]
			}
		}
		return nil
	}
	b.WriteString("\n| warehouse on PostgreSQL | conns | req/s | p99 | anchor | ratio |\n|---|---|--:|--:|---|--:|\n")
	for _, rw := range rows {
		var as []*anchor
		switch rw.name {
		case "movements", "refresh":
			as = []*anchor{find("pgbench -N", 8)}
		case "stock", "user":
			as = []*anchor{find("pgbench -S", 8), find("pgbench -S", 64)}
		}
		for _, a := range as {
			if a == nil {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %s | `%s` %d clients | %s |\n", scenarioLabel(rw.name), rw.conns, rw.warehouse.rate(), ms(rw.warehouse.p99), a.name, a.clients, ratio(rw.warehouse.rate(), a.tps))
		}
	}
	return b.String()
}
