// Command activity runs the activity service: `activity serve`, `activity
// migrate`, `activity keys create`, `activity projections ...`,
// `activity dev seed`.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `activity: event-sourced activity tracking and analytics.

Usage:
  activity serve [--roles api,writer,projector,scheduler] [--no-migrate] [--http-addr A] [--metrics-addr A]
  activity migrate
  activity keys create --role ingest|read|admin [--name N] [--community ID]...
  activity projections status
  activity projections rebuild NAME|--all
  activity dev seed [--communities 200] [--users 1000000] [--days 365] [--activities 1000000] [--seed 1] [--batch 50000]

Configuration comes from the environment (flags override): DATABASE_URL, REDIS_URL,
ACTIVITY_HTTP_ADDR (:8080), ACTIVITY_METRICS_ADDR (:9090), ACTIVITY_ADMIN_KEY,
ACTIVITY_TRUSTED_PROXIES, ACTIVITY_RATE_LIMIT, ACTIVITY_MAX_BACKLOG, ACTIVITY_ACCEPT_WINDOW.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(ctx, os.Args[1:], log); err != nil {
		fmt.Fprintln(os.Stderr, "activity:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("a command is required")
	}
	cfg := configFromEnv()
	if err := checkApplicationName(cfg.DatabaseURL); err != nil {
		return err
	}
	switch args[0] {
	case "serve":
		return serve(ctx, cfg, args[1:], log)
	case "migrate":
		if err := migrate(ctx, cfg); err != nil {
			return err
		}
		fmt.Println("migrations applied")
		return nil
	case "keys":
		return keysCommand(ctx, cfg, args[1:])
	case "projections":
		return projectionsCommand(ctx, cfg, args[1:], log)
	case "dev":
		return devCommand(ctx, cfg, args[1:], log)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
