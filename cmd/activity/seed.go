package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/partitions"
	"github.com/activity-dev/activity/internal/pguuid"
	"github.com/activity-dev/activity/internal/seed"
	"github.com/activity-dev/activity/projections"
)

const devUsage = "usage: activity dev seed [--communities N] [--users N] [--days N] [--activities N] [--seed N] [--batch N] [--rebuild=false]"

func devCommand(ctx context.Context, cfg config, args []string, log *slog.Logger) error {
	if len(args) == 0 || args[0] != "seed" {
		return fmt.Errorf("%s", devUsage)
	}
	return devSeed(ctx, cfg, args[1:], log)
}

// devSeed bulk-loads a synthetic history (internal/seed) straight into the
// log with COPY, then rebuilds every projection from it.
func devSeed(ctx context.Context, cfg config, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("dev seed", flag.ContinueOnError)
	var sc seed.Config
	fs.IntVar(&sc.Communities, "communities", 200, "communities")
	fs.IntVar(&sc.Users, "users", 1_000_000, "users")
	fs.IntVar(&sc.Days, "days", 365, "days of history, ending now")
	fs.IntVar(&sc.Activities, "activities", 1_000_000, "activities in all")
	fs.Uint64Var(&sc.Seed, "seed", 1, "random seed (the same seed and flags give the same history)")
	batch := fs.Int("batch", 50_000, "activities per COPY (one transaction each)")
	rebuild := fs.Bool("rebuild", true, "rebuild every projection after the COPY (false: leave that to `activity projections rebuild --all` or the projectors)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *batch <= 0 || sc.Communities <= 0 || sc.Users <= 0 || sc.Days <= 0 || sc.Activities <= 0 {
		return fmt.Errorf("%s (all numbers positive)", devUsage)
	}
	sc.End = time.Now()
	gen, err := seed.New(sc)
	if err != nil {
		return err
	}

	if err := migrate(ctx, cfg); err != nil {
		return err
	}
	pool, err := pguuid.NewPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()
	q := db.New(pool)
	if n, err := q.ActivityCount(ctx); err != nil {
		return err
	} else if n > 0 {
		return fmt.Errorf("the log already holds %d activities: seed into a fresh database", n)
	}

	began := time.Now()
	if err := partitions.NewManager(pool).EnsureRange(ctx, gen.Start(), gen.End()); err != nil {
		return err
	}
	partsTook := time.Since(began)

	t := time.Now()
	if err := copyPopulation(ctx, pool, gen); err != nil {
		return err
	}
	popTook := time.Since(t)

	t = time.Now()
	rows, err := copyActivities(ctx, q, gen, *batch)
	if err != nil {
		return err
	}
	copyTook := time.Since(t)

	t = time.Now()
	if *rebuild {
		r, err := projections.NewRunner(pool, projections.Config{
			TimeZones: cfg.ReportTimeZones, RebuildBatch: cfg.RebuildBatch, RebuildMemory: cfg.RebuildMemory,
			NoBulkFill: cfg.NoBulkFill, BulkMemory: cfg.BulkMemory,
		}, log, nil)
		if err != nil {
			return err
		}
		if err := r.RebuildAll(ctx); err != nil {
			return fmt.Errorf("rebuild projections: %w", err)
		}
	}
	rebuildTook := time.Since(t)

	c := gen.Config()
	fmt.Printf("seeded %d activities, %d users, %d communities, %d days (%s .. %s), seed %d\n",
		rows, c.Users, c.Communities, c.Days, gen.Start().Format(time.DateOnly), gen.End().Format(time.DateOnly), c.Seed)
	type count struct {
		typ string
		n   int64
	}
	var counts []count
	for typ, n := range gen.Counts() {
		counts = append(counts, count{typ, n})
	}
	slices.SortFunc(counts, func(a, b count) int {
		if a.n != b.n {
			return int(b.n - a.n)
		}
		return strings.Compare(a.typ, b.typ)
	})
	for _, ct := range counts {
		fmt.Printf("  %-18s %9d  %5.1f%%\n", ct.typ, ct.n, 100*float64(ct.n)/float64(rows))
	}
	fmt.Printf("partitions          %s\n", partsTook.Round(time.Millisecond))
	fmt.Printf("users+communities   %s\n", popTook.Round(time.Millisecond))
	fmt.Printf("activities COPY     %s (%.0f rows/s, batches of %d)\n", copyTook.Round(time.Millisecond), float64(rows)/copyTook.Seconds(), *batch)
	fmt.Printf("projections rebuild %s\n", rebuildTook.Round(time.Millisecond))
	fmt.Printf("total               %s\n", time.Since(began).Round(time.Millisecond))
	return nil
}

// copyPopulation COPYs the communities and every user of the population
// (stub rows, as the writer would create them).
func copyPopulation(ctx context.Context, pool *pgxpool.Pool, gen *seed.Generator) error {
	c := gen.Config()
	q := db.New(pool)
	communities := make([]db.CommunityCopyParams, c.Communities)
	for i := range communities {
		cm := gen.Community(i)
		communities[i] = db.CommunityCopyParams{ID: cm.ID, Name: pgtype.Text{String: cm.Name, Valid: true}, CreatedAt: cm.CreatedAt}
	}
	if _, err := q.CommunityCopy(ctx, communities); err != nil {
		return fmt.Errorf("copy communities: %w", err)
	}
	const chunk = 100_000
	start := gen.Start()
	users := make([]db.UserCopyParams, 0, chunk)
	for i := 0; i < c.Users; i += chunk {
		users = users[:0]
		for j := i; j < min(i+chunk, c.Users); j++ {
			users = append(users, db.UserCopyParams{ID: seed.UserID(j), CreatedAt: start})
		}
		if _, err := q.UserCopy(ctx, users); err != nil {
			return fmt.Errorf("copy users: %w", err)
		}
	}
	return nil
}

// copyActivities streams the generator's rows into the log, one COPY of
// batch rows at a time, generating the next batch while the previous one is
// being copied. It prints progress to stderr and returns the rows copied.
func copyActivities(ctx context.Context, q *db.Queries, gen *seed.Generator, batch int) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan []db.ActivityCopyParams, 1)
	free := make(chan []db.ActivityCopyParams, 2)
	for range cap(free) {
		free <- make([]db.ActivityCopyParams, 0, batch)
	}
	go func() {
		defer close(full)
		var r seed.Row
		for {
			var buf []db.ActivityCopyParams
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			for len(buf) < batch && gen.Next(&r) {
				buf = append(buf, copyParams(&r))
			}
			if len(buf) == 0 {
				return
			}
			select {
			case full <- buf:
			case <-ctx.Done():
				return
			}
		}
	}()

	total := int64(gen.Config().Activities)
	var done int64
	start, last := time.Now(), time.Now()
	for buf := range full {
		n, err := q.ActivityCopy(ctx, buf)
		if err != nil {
			return done, fmt.Errorf("copy activities after %d rows: %w", done, err)
		}
		done += n
		clear(buf) // drop references to metadata and addresses
		free <- buf[:0]
		if now := time.Now(); now.Sub(last) >= 2*time.Second || done == total {
			last = now
			el := now.Sub(start).Seconds()
			fmt.Fprintf(os.Stderr, "seed: %d/%d activities (%.0f%%), %.0f rows/s\n", done, total, 100*float64(done)/float64(total), float64(done)/el)
		}
	}
	if err := ctx.Err(); err != nil {
		return done, err
	}
	if done != total {
		return done, errors.New("seed: the generator stopped early")
	}
	return done, nil
}

func copyParams(r *seed.Row) db.ActivityCopyParams {
	p := db.ActivityCopyParams{
		EventID:     r.EventID,
		EventType:   r.EventType,
		UserID:      uuid.NullUUID{UUID: r.UserID, Valid: r.UserID != uuid.UUID{}},
		CommunityID: uuid.NullUUID{UUID: r.CommunityID, Valid: r.CommunityID != uuid.UUID{}},
		EntityType:  pgtype.Text{String: r.EntityType, Valid: r.EntityType != ""},
		EntityID:    pgtype.Text{String: r.EntityID, Valid: r.EntityID != ""},
		Metadata:    r.Metadata,
		UserAgent:   pgtype.Text{String: r.UserAgent, Valid: r.UserAgent != ""},
		CreatedAt:   r.OccurredAt,
		ReceivedAt:  r.ReceivedAt,
	}
	if r.IP.IsValid() {
		ip := r.IP
		p.IpAddress = &ip
	}
	return p
}
