// Command track sends a few events to an activity server with the Go SDK
// and prints the client's counters.
//
//	ACTIVITY_API_KEY=<ingest key> go run ./examples/track -endpoint http://localhost:8080 -n 100
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/activity-dev/activity/sdk"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "track:", err)
		os.Exit(1)
	}
}

func run() error {
	endpoint := flag.String("endpoint", envOr("ACTIVITY_ENDPOINT", "http://localhost:8080"), "server base URL")
	n := flag.Int("n", 10, "events to send")
	community := flag.String("community", "0190f5b8-4a52-7c3e-9b1a-2f0c8d6e4a11", "community id of the events")
	flag.Parse()
	key := os.Getenv("ACTIVITY_API_KEY")
	if key == "" {
		return fmt.Errorf("set ACTIVITY_API_KEY to an ingest key")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := activity.New(activity.Config{
		Endpoint: *endpoint,
		APIKey:   key,
		Logger:   logger,
		OnRejected: func(e activity.Event, errs []activity.FieldError) {
			logger.Warn("event rejected", "event_id", e.EventID, "event_type", e.EventType, "errors", errs)
		},
		OnError: func(err error) { logger.Error("events not delivered", "error", err) },
	})
	if err != nil {
		return err
	}

	users := []string{"0190f5b8-4a52-7c3e-9b1a-2f0c8d6e4a10", "0190f5b8-4a52-7c3e-9b1a-2f0c8d6e4a12"}
	for i := range *n {
		if ctx.Err() != nil {
			break
		}
		err := client.Track(activity.Event{
			EventType:   "member.activated",
			UserID:      users[i%len(users)],
			CommunityID: *community,
			EntityType:  "example",
			EntityID:    fmt.Sprint(i),
			Metadata:    map[string]any{"source": "examples/track", "n": i},
		})
		if err != nil {
			logger.Warn("event not queued", "error", err)
		}
	}

	// Close flushes what is queued; give it a bounded time, as a service
	// would during graceful shutdown.
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = client.Close(closeCtx)
	fmt.Printf("%+v\n", client.Stats())
	return err
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
