// Command loadgen sends a realistic event mix to POST /api/v1/events and
// reports throughput, request latency, refusals and freshness (how long until
// the rollups include what was accepted).
//
//	go run ./cmd/loadgen -url http://127.0.0.1:8080 -key $KEY -rate 5000 -clients 8 -batch 100 -duration 30s
//	go run ./cmd/loadgen -url http://127.0.0.1:8080 -key $ADMIN -query 200 -database-url $DATABASE_URL
//
// Freshness is read from GET /api/v1/analytics/* (the key, or -read-key, must
// have role read or admin), else from the rollup tables with -database-url;
// distinct-user freshness (-user-markers) only from the API.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Config is loadgen's flags.
type Config struct {
	URL              string
	Key              string
	ReadKey          string
	DatabaseURL      string
	Rate             float64 // events/s; 0 = as fast as possible
	Clients          int
	Batch            int
	Duration         time.Duration
	Warmup           time.Duration // sent before the measured run, at the same rate, without markers
	Users            int
	Communities      int
	MarkerEvery      time.Duration // 0 = no markers
	UserMarkers      bool          // with each marker, a user marker (read API only)
	Poll             time.Duration
	FreshnessTimeout time.Duration
	JSON             bool
	Query            int    // > 0: time this many requests per read endpoint instead of loading
	NaiveQuery       int    // with Query and DatabaseURL: this many runs of each naive log query
	QueryUser        string // with Query: the user whose page is timed (default: loadgen's busiest)
	QueryCommunity   string // with Query: the community whose page is timed (default: loadgen's busiest)
	Quiet            bool
}

func main() {
	var c Config
	flag.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "base URL of the activity API")
	flag.StringVar(&c.Key, "key", os.Getenv("ACTIVITY_KEY"), "ingest (or admin) key; default $ACTIVITY_KEY")
	flag.StringVar(&c.ReadKey, "read-key", "", "read or admin key for the freshness polls (default -key)")
	flag.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL: freshness from the rollup tables when the read API does not answer; naive log queries with -query")
	flag.Float64Var(&c.Rate, "rate", 0, "target events/s over all clients (0: as fast as possible)")
	flag.IntVar(&c.Clients, "clients", 8, "concurrent clients")
	flag.IntVar(&c.Batch, "batch", 100, "events per request (1-1000)")
	flag.DurationVar(&c.Duration, "duration", 30*time.Second, "how long to send")
	flag.DurationVar(&c.Warmup, "warmup", 0, "send this long first, at the same rate and without markers, and wait for the rollups to hold it; then measure (a service just started, or caches just emptied, is slower for a few seconds)")
	flag.IntVar(&c.Users, "users", 100000, "users (Zipf-distributed)")
	flag.IntVar(&c.Communities, "communities", 500, "communities (Zipf-distributed)")
	flag.DurationVar(&c.MarkerEvery, "marker-every", 100*time.Millisecond, "send a freshness marker this often (0: none)")
	flag.BoolVar(&c.UserMarkers, "user-markers", true, "with each marker, send one from a new user in a new community and time until the read API counts that user (distinct-user freshness)")
	flag.DurationVar(&c.Poll, "poll", 50*time.Millisecond, "how often the rollups are polled for freshness")
	flag.DurationVar(&c.FreshnessTimeout, "freshness-timeout", 2*time.Minute, "give up waiting for the rollups after this long")
	flag.BoolVar(&c.JSON, "json", false, "print the report as JSON on stdout")
	flag.IntVar(&c.Query, "query", 0, "instead of sending load, time this many requests to each analytics endpoint")
	flag.IntVar(&c.NaiveQuery, "naive", 20, "with -query and -database-url: runs of each naive GROUP BY over the log")
	flag.StringVar(&c.QueryUser, "query-user", UserID(0), "with -query: the user id whose page is timed (activity dev seed's busiest is 3f3ac64b-2ffc-55f8-8d28-f8b5ee96e5a6)")
	flag.StringVar(&c.QueryCommunity, "query-community", CommunityID(0), "with -query: the community id whose page is timed (activity dev seed's busiest is e3f76028-8a0d-5722-a266-6d397bec7635)")
	flag.BoolVar(&c.Quiet, "quiet", false, "no progress line")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c Config, stdout, stderr io.Writer) error {
	c.URL = strings.TrimRight(c.URL, "/")
	if c.Key == "" {
		return fmt.Errorf("-key is required (an ingest or admin key)")
	}
	if c.ReadKey == "" {
		c.ReadKey = c.Key
	}
	if c.Query > 0 {
		rep, err := runQueries(ctx, c)
		if err != nil {
			return err
		}
		if c.JSON {
			return json.NewEncoder(stdout).Encode(rep)
		}
		rep.print(stdout)
		return nil
	}
	if c.Batch < 1 || c.Batch > 1000 {
		return fmt.Errorf("-batch must be 1-1000")
	}
	if c.Clients < 1 || c.Users < 1 || c.Communities < 1 || c.Duration <= 0 {
		return fmt.Errorf("-clients, -users, -communities and -duration must be positive")
	}
	if c.Warmup < 0 {
		return fmt.Errorf("-warmup must not be negative")
	}
	progress := stderr
	if c.Quiet {
		progress = io.Discard
	}
	if c.Warmup > 0 {
		w := c
		w.Duration, w.MarkerEvery, w.Warmup = c.Warmup, 0, 0
		fmt.Fprintf(progress, "warm-up: %s at the same rate\n", c.Warmup)
		if _, err := Load(ctx, w, progress); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	rep, err := Load(ctx, c, progress)
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(stdout)
	return nil
}

func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "lg" + hex.EncodeToString(b)
}
