package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// scaleoutScenario runs the movements load against one instance and then
// against three instances on the same PostgreSQL (PostgreSQL only): the
// instances share -server-cpu, PostgreSQL moves to -scaleout-pg-cpu. If
// the app tier is not the bottleneck, three instances post close to three
// times as much.
const scaleoutScenario = "movements-3x"

const scaleoutInstances = 3

func (r *runner) scaleout(ctx context.Context) (row, error) {
	rw := row{name: scaleoutScenario, conns: fmt.Sprintf("%d per instance", r.o.movementConns)}
	if r.pg == nil {
		return rw, errors.New("needs -engine postgres")
	}
	if r.o.scaleoutPGCPU != r.o.pgCPU {
		if err := r.pg.repin(ctx, r.o.scaleoutPGCPU); err != nil {
			return rw, err
		}
		defer func() {
			if err := r.pg.repin(context.WithoutCancel(ctx), r.o.pgCPU); err != nil {
				r.log.Error("PostgreSQL not restarted on its CPU", "err", err)
			}
		}()
	}
	a, err := r.pg.pgbench(ctx, pgbenchCPU(r.o.loadCPU, r.o.serverCPU, r.o.scaleoutPGCPU), "-N", 8, r.o.pgbenchDuration)
	if err != nil {
		return rw, err
	}
	a.name += fmt.Sprintf(", PostgreSQL on CPU %s", r.o.scaleoutPGCPU)
	r.anchors = append(r.anchors, a)

	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for range scaleoutInstances {
		p, err := r.startWarehouse(ctx, "")
		if err != nil {
			return rw, err
		}
		procs = append(procs, p)
	}
	// Each run is measured with the CPU its instances and PostgreSQL used,
	// so the table shows which side of the split ran out.
	pgPIDs := r.pg.postgresPIDs
	measure := func(ps []*proc, conns int, d time.Duration) scaleRun {
		app := newCPUMeter(func() []int {
			pids := make([]int, len(ps))
			for i, p := range ps {
				pids[i] = p.cmd.Process.Pid
			}
			return pids
		})
		pg := newCPUMeter(pgPIDs)
		res := make([]result, len(ps))
		var wg sync.WaitGroup
		for i, p := range ps {
			wg.Go(func() {
				g := r.movementGroup(p.addr, fmt.Sprintf("i%d", i), i*conns)
				g.conns = conns
				res[i] = run(ctx, p.addr, []group{g}, 0, d)[0]
			})
		}
		wg.Wait()
		sum := result{elapsed: d}
		for _, x := range res {
			sum.requests += x.requests
			sum.errors += x.errors
			sum.lat = append(sum.lat, x.lat...)
			if sum.firstErr == "" {
				sum.firstErr = x.firstErr
			}
		}
		return scaleRun{res: sum, appCPU: app.used(), pgCPU: pg.used()}
	}
	// Three shapes: one instance with the movements connections, one
	// instance with as many connections as the three together (what more
	// concurrency alone does), and three instances.
	conns := r.o.movementConns
	shapes := []struct {
		name         string
		procs, conns int
	}{
		{"1 instance", 1, conns},
		{"1 instance, " + strconv.Itoa(scaleoutInstances) + "× the connections", 1, scaleoutInstances * conns},
		{strconv.Itoa(scaleoutInstances) + " instances", scaleoutInstances, conns},
	}
	if r.o.warmup > 0 {
		for _, sh := range shapes {
			measure(procs[:sh.procs], sh.conns, r.o.warmup)
		}
	}
	rounds := max(r.o.rounds, 1)
	slice := r.o.duration / time.Duration(rounds)
	runs := make([]scaleRun, len(shapes))
	for i := range rounds {
		for j, sh := range shapes {
			m := measure(procs[:sh.procs], sh.conns, slice)
			if i == 0 {
				runs[j] = m
				continue
			}
			runs[j] = scaleRun{res: merge(runs[j].res, m.res), appCPU: runs[j].appCPU + m.appCPU, pgCPU: runs[j].pgCPU + m.pgCPU}
		}
	}
	for j, sh := range shapes {
		runs[j].name, runs[j].conns = sh.name, strconv.Itoa(sh.conns)
		if sh.procs > 1 {
			runs[j].conns = fmt.Sprintf("%d × %d", sh.procs, sh.conns)
		}
		runs[j].res.finish()
		if runs[j].res.errors > 0 {
			r.log.Error("requests failed", "scenario", scaleoutScenario, "shape", sh.name, "errors", runs[j].res.errors, "first", runs[j].res.firstErr)
		}
	}
	rw.baseline, rw.warehouse = runs[0].res, runs[len(runs)-1].res
	rw.scaleout = runs
	return rw, nil
}

// scaleRun is one shape of the three-instance scenario.
type scaleRun struct {
	name, conns   string
	res           result
	appCPU, pgCPU time.Duration // used by the instances, by PostgreSQL
}

// scaleoutTable renders the three-instance scenario, if it ran.
func (r *runner) scaleoutTable(rows []row) string {
	var b strings.Builder
	for _, rw := range rows {
		if rw.name != scaleoutScenario {
			continue
		}
		fmt.Fprintf(&b, "\nThree instances on one PostgreSQL: the instances on CPU %s, PostgreSQL (and the load generator) on CPU %s. CPU: the share of one core used by the instances and by PostgreSQL (all its processes) during the run, and per movement.\n\n", r.o.serverCPU, r.o.scaleoutPGCPU)
		b.WriteString("| POST /api/v1/movements | conns | movements/s | p50 | p99 | instances CPU | PostgreSQL CPU | per movement: instances, PostgreSQL | errors |\n|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, s := range rw.scaleout {
			per := func(d time.Duration) string {
				if s.res.requests == 0 {
					return "-"
				}
				return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(s.res.requests))
			}
			share := func(d time.Duration) string {
				if s.res.elapsed <= 0 {
					return "-"
				}
				return fmt.Sprintf("%.0f%%", 100*d.Seconds()/s.res.elapsed.Seconds())
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %s | %s | %s | %s, %s | %d |\n", s.name, s.conns, s.res.rate(), ms(s.res.p50), ms(s.res.p99), share(s.appCPU), share(s.pgCPU), per(s.appCPU), per(s.pgCPU), s.res.errors)
		}
		fmt.Fprintf(&b, "\n%d instances ÷ 1 instance: %s\n", scaleoutInstances, ratio(rw.warehouse.rate(), rw.baseline.rate()))
	}
	return b.String()
}

// saveStats keeps the scenario's pg_stat_statements next to its profiles.
func (r *runner) saveStats(ctx context.Context, name string) {
	if r.o.profileDir == "" || r.pg == nil {
		return
	}
	file := strings.NewReplacer("+", "-", "/", "-").Replace(name) + ".pg_stat_statements.txt"
	if err := r.pg.saveStats(context.WithoutCancel(ctx), filepath.Join(r.o.profileDir, file)); err != nil {
		r.log.Warn("pg_stat_statements not saved", "scenario", name, "err", err)
	}
}
