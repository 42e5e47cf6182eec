package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/pguuid"
	"github.com/activity-dev/activity/projections"
	"github.com/activity-dev/activity/write"
)

// projectionRunner returns the app's one projections.Runner, shared by the
// admin API and the projectors (its metrics register once).
func projectionRunner(a *app) (*projections.Runner, error) {
	if a.projections != nil {
		return a.projections, nil
	}
	wlog := watermill.NewSlogLogger(a.log)
	host, _ := os.Hostname()
	consumer := host + "-" + strconv.Itoa(os.Getpid())
	poisonTopic := write.RecordedTopic + ".poison"
	poison, err := redisstream.NewPublisher(redisstream.PublisherConfig{
		Client: a.rdb, Maxlens: map[string]int64{poisonTopic: 10000},
	}, wlog)
	if err != nil {
		return nil, err
	}
	r, err := projections.NewRunner(a.pool, projections.Config{
		Tick:          a.cfg.ProjectorTick,
		Topic:         write.RecordedTopic,
		TimeZones:     a.cfg.ReportTimeZones,
		RebuildBatch:  a.cfg.RebuildBatch,
		RebuildMemory: a.cfg.RebuildMemory,
		NoBulkFill:    a.cfg.NoBulkFill,
		BulkMemory:    a.cfg.BulkMemory,
		NewSubscriber: func(group string) (message.Subscriber, error) {
			return redisstream.NewSubscriber(redisstream.SubscriberConfig{
				Client: a.rdb, ConsumerGroup: group, Consumer: consumer,
				OldestId:  "$", // wake-ups only: older ones are covered by the first round
				BlockTime: time.Second, DisableIndefiniteInitialBlock: true,
			}, wlog)
		},
		PoisonPublisher: poison,
		PoisonTopic:     poisonTopic,
	}, a.log, projections.NewMetrics(a.reg))
	if err != nil {
		return nil, err
	}
	a.projections = r
	return r, nil
}

// wireProjectionsAPI mounts the projection admin endpoints.
func wireProjectionsAPI(a *app) {
	r, err := projectionRunner(a)
	if err != nil {
		a.log.Error("projection admin endpoints unavailable", "err", err)
		return
	}
	admin := a.router.NewRoute().Subrouter()
	admin.Use(a.keys.Require(auth.RoleAdmin))
	(&projections.AdminHandler{Runner: r, Log: a.log}).Register(admin)
	a.addRunner("projection-rebuilds", r.RunRebuilds)
}

// wireProjectors starts the projectors.
func wireProjectors(a *app) error {
	r, err := projectionRunner(a)
	if err != nil {
		return err
	}
	a.addRunner("projectors", r.Run)
	return nil
}

const projectionsUsage = "usage: activity projections status | activity projections rebuild NAME|--all"

func projectionsCommand(ctx context.Context, cfg config, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", projectionsUsage)
	}
	pool, err := pguuid.NewPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()
	r, err := projections.NewRunner(pool, projections.Config{
		TimeZones: cfg.ReportTimeZones, RebuildBatch: cfg.RebuildBatch, RebuildMemory: cfg.RebuildMemory,
		NoBulkFill: cfg.NoBulkFill, BulkMemory: cfg.BulkMemory,
	}, log, nil)
	if err != nil {
		return err
	}
	switch {
	case args[0] == "status" && len(args) == 1:
		return printProjectionStatus(ctx, r)
	case args[0] == "rebuild" && len(args) == 2:
		start := time.Now()
		if args[1] == "--all" {
			err = r.RebuildAll(ctx)
		} else {
			if _, lerr := projections.Lookup(args[1]); lerr != nil {
				return lerr
			}
			err = r.Rebuild(ctx, args[1])
		}
		if err != nil {
			return err
		}
		fmt.Printf("rebuilt in %s; all live:\n", time.Since(start).Round(time.Millisecond))
		return printProjectionStatus(ctx, r)
	}
	return fmt.Errorf("%s", projectionsUsage)
}

func printProjectionStatus(ctx context.Context, r *projections.Runner) error {
	st, err := r.Status(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tSTATUS\tCHECKPOINT\tLAG_SECONDS\tROWS_BEHIND\tNEXT\tLAST_ERROR")
	for _, s := range st {
		next := "-"
		if s.Next != nil {
			next = fmt.Sprintf("v%d %s at %s (%d behind)", s.Next.Version, s.Next.Status, s.Next.Checkpoint, s.Next.RowsBehind)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.1f\t%d\t%s\t%s\n", s.Name, s.Version, s.Status, s.Checkpoint, s.LagSeconds, s.RowsBehind, next, s.LastError)
	}
	return tw.Flush()
}
