package main

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activity-dev/activity/projections"
)

// config is everything main reads from the environment.
type config struct {
	DatabaseURL    string
	RedisURL       string
	HTTPAddr       string
	MetricsAddr    string
	AdminKey       string
	TrustedProxies []netip.Prefix
	RateLimit      int
	MaxBacklog     int64
	AcceptWindow   time.Duration
	// WriterClaimIdle is how long a stream entry stays pending with a
	// stopped writer before another claims it (ACTIVITY_WRITER_CLAIM_IDLE).
	WriterClaimIdle time.Duration
	// ProjectorTick is how often projectors look for new activities even
	// without a notification (ACTIVITY_PROJECTOR_TICK, default 1s).
	ProjectorTick time.Duration
	// StartupTimeout is how long serve waits for PostgreSQL to answer at
	// start (ACTIVITY_STARTUP_TIMEOUT, default 60s).
	StartupTimeout time.Duration
	// ReportTimeZones are the IANA zones whose local days the rollups
	// rebuilt from now on hold as rows of their own
	// (ACTIVITY_REPORT_TIME_ZONES, comma-separated; default none).
	ReportTimeZones []string
	// RebuildBatch is how many activities one transaction of a rebuild's
	// fill applies (ACTIVITY_REBUILD_BATCH, default 500000).
	RebuildBatch int
	// RebuildMemory is the maintenance_work_mem a rebuild's bulk fill
	// builds indexes with (ACTIVITY_REBUILD_MEMORY, default 512MB).
	RebuildMemory string
	// NoBulkFill makes rebuilds fill every version batch by batch
	// (ACTIVITY_REBUILD_BULK=off; default on).
	NoBulkFill bool
	// BulkMemory bounds the memory (bytes) of a rebuild's bulk fill
	// (ACTIVITY_REBUILD_BULK_MEMORY_MB, default 8192).
	BulkMemory int64
}

func configFromEnv() config {
	c := config{
		DatabaseURL: env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/activity?sslmode=disable"),
		RedisURL:    env("REDIS_URL", "redis://127.0.0.1:6379/0"),
		HTTPAddr:    env("ACTIVITY_HTTP_ADDR", ":8080"),
		MetricsAddr: env("ACTIVITY_METRICS_ADDR", ":9090"),
		AdminKey:    os.Getenv("ACTIVITY_ADMIN_KEY"),
	}
	c.RateLimit, _ = strconv.Atoi(os.Getenv("ACTIVITY_RATE_LIMIT"))
	c.MaxBacklog, _ = strconv.ParseInt(os.Getenv("ACTIVITY_MAX_BACKLOG"), 10, 64)
	if d, err := time.ParseDuration(os.Getenv("ACTIVITY_ACCEPT_WINDOW")); err == nil {
		c.AcceptWindow = d
	}
	if d, err := time.ParseDuration(os.Getenv("ACTIVITY_WRITER_CLAIM_IDLE")); err == nil {
		c.WriterClaimIdle = d
	}
	c.StartupTimeout = 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("ACTIVITY_STARTUP_TIMEOUT")); err == nil && d > 0 {
		c.StartupTimeout = d
	}
	c.ProjectorTick = time.Second
	if d, err := time.ParseDuration(os.Getenv("ACTIVITY_PROJECTOR_TICK")); err == nil && d > 0 {
		c.ProjectorTick = d
	}
	c.RebuildBatch, _ = strconv.Atoi(os.Getenv("ACTIVITY_REBUILD_BATCH"))
	c.RebuildMemory = os.Getenv("ACTIVITY_REBUILD_MEMORY")
	c.NoBulkFill = os.Getenv("ACTIVITY_REBUILD_BULK") == "off"
	if mb, err := strconv.ParseInt(os.Getenv("ACTIVITY_REBUILD_BULK_MEMORY_MB"), 10, 64); err == nil && mb > 0 {
		c.BulkMemory = mb << 20
	}
	for _, z := range strings.Split(os.Getenv("ACTIVITY_REPORT_TIME_ZONES"), ",") {
		if z = strings.TrimSpace(z); z != "" {
			c.ReportTimeZones = append(c.ReportTimeZones, z)
		}
	}
	for _, s := range strings.Split(os.Getenv("ACTIVITY_TRUSTED_PROXIES"), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, p)
		} else if a, err := netip.ParseAddr(s); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, netip.PrefixFrom(a, a.BitLen()))
		} else {
			fmt.Fprintf(os.Stderr, "activity: ignoring ACTIVITY_TRUSTED_PROXIES entry %q\n", s)
		}
	}
	return c
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// checkApplicationName refuses a DATABASE_URL (or PGAPPNAME) that names the
// application name projector transactions are tagged with: projectors do not
// wait for transactions under that name, so a writer connecting under it
// could commit activities a projector has already passed
// (docs/PROJECTIONS.md, "Exactly once").
func checkApplicationName(databaseURL string) error {
	pc, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil // reported where the URL is used
	}
	if pc.RuntimeParams["application_name"] == projections.ApplicationName {
		return fmt.Errorf("DATABASE_URL: application_name %q is reserved for the projectors' own transactions; choose another", projections.ApplicationName)
	}
	return nil
}
