package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
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
	one := func(d time.Duration) result {
		return run(ctx, procs[0].addr, []group{r.movementGroup(procs[0].addr, "a", 0)}, 0, d)[0]
	}
	all := func(d time.Duration) result {
		res := make([]result, len(procs))
		var wg sync.WaitGroup
		for i, p := range procs {
			wg.Go(func() {
				res[i] = run(ctx, p.addr, []group{r.movementGroup(p.addr, fmt.Sprintf("i%d", i), i*r.o.movementConns)}, 0, d)[0]
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
		return sum
	}
	if r.o.warmup > 0 {
		one(r.o.warmup)
		all(r.o.warmup)
	}
	rounds := max(r.o.rounds, 1)
	slice := r.o.duration / time.Duration(rounds)
	var single, three result
	for i := range rounds {
		s, t := one(slice), all(slice)
		if i == 0 {
			single, three = s, t
			continue
		}
		single, three = merge(single, s), merge(three, t)
	}
	single.finish()
	three.finish()
	rw.warehouse, rw.baseline = three, single
	for _, res := range []result{single, three} {
		if res.errors > 0 {
			r.log.Error("requests failed", "scenario", scaleoutScenario, "errors", res.errors, "first", res.firstErr)
		}
	}
	return rw, nil
}

// scaleoutTable renders the three-instance scenario, if it ran.
func (r *runner) scaleoutTable(rows []row) string {
	var b strings.Builder
	for _, rw := range rows {
		if rw.name != scaleoutScenario {
			continue
		}
		fmt.Fprintf(&b, "\nThree instances on one PostgreSQL: the instances on CPU %s, PostgreSQL (and the load generator) on CPU %s.\n\n", r.o.serverCPU, r.o.scaleoutPGCPU)
		b.WriteString("| POST /api/v1/movements | conns | movements/s | p50 | p99 | errors |\n|---|---|--:|--:|--:|--:|\n")
		fmt.Fprintf(&b, "| 1 instance | %d | %.0f | %s | %s | %d |\n", r.o.movementConns, rw.baseline.rate(), ms(rw.baseline.p50), ms(rw.baseline.p99), rw.baseline.errors)
		fmt.Fprintf(&b, "| %d instances | %d × %d | %.0f | %s | %s | %d |\n", scaleoutInstances, scaleoutInstances, r.o.movementConns, rw.warehouse.rate(), ms(rw.warehouse.p50), ms(rw.warehouse.p99), rw.warehouse.errors)
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
