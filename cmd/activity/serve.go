package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/go-redis/redis_rate/v10"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"

	"github.com/activity-dev/activity/domain"
	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/openapi"
	"github.com/activity-dev/activity/internal/partitions"
	"github.com/activity-dev/activity/internal/pguuid"
	"github.com/activity-dev/activity/internal/problem"
	"github.com/activity-dev/activity/projections"
	"github.com/activity-dev/activity/write"
)

// app is what serve wires together; the wire* functions add their parts.
type app struct {
	cfg     config
	log     *slog.Logger
	pool    *pgxpool.Pool
	rdb     *redis.Client
	reg     *prometheus.Registry
	keys    *auth.Store
	parts   *partitions.Manager
	router  *mux.Router
	cron    *cron.Cron
	limits  domain.Limits
	runners []runner

	wmetrics    *write.Metrics
	projections *projections.Runner
}

type runner struct {
	name string
	run  func(ctx context.Context) error
}

func (a *app) addRunner(name string, run func(ctx context.Context) error) {
	a.runners = append(a.runners, runner{name: name, run: run})
}

func serve(ctx context.Context, cfg config, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	roles := fs.String("roles", "api,writer,projector,scheduler", "comma-separated subset of api,writer,projector,scheduler")
	noMigrate := fs.Bool("no-migrate", false, "do not apply pending migrations at start")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "API listen address")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "metrics listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, r := range strings.Split(*roles, ",") {
		r = strings.TrimSpace(r)
		switch r {
		case "api", "writer", "projector", "scheduler":
			want[r] = true
		case "":
		default:
			return fmt.Errorf("unknown role %q (want api, writer, projector, scheduler)", r)
		}
	}
	if err := waitForDatabase(ctx, cfg.DatabaseURL, cfg.StartupTimeout, log); err != nil {
		return err
	}
	if !*noMigrate {
		if err := migrate(ctx, cfg); err != nil {
			return err
		}
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()

	if want["api"] {
		a.wireAPI()
		wireReadAPI(a)
		wireProjectionsAPI(a)
		wireSegmentAPI(a)
	}
	if want["writer"] {
		if err := a.wireWriter(); err != nil {
			return err
		}
	}
	if want["projector"] {
		if err := wireProjectors(a); err != nil {
			return err
		}
	}
	if want["scheduler"] {
		if err := a.wireScheduler(ctx); err != nil {
			return err
		}
	}
	return a.run(ctx, want["api"])
}

func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	pcfg, err := pguuid.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if pcfg.MaxConns < 16 {
		pcfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	ropts.PoolSize = max(ropts.PoolSize, 64)
	rdb := redis.NewClient(ropts)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &app{
		cfg: cfg, log: log, pool: pool, rdb: rdb, reg: reg,
		keys:   auth.NewStore(pool, auth.Config{}),
		parts:  partitions.NewManager(pool),
		router: mux.NewRouter(),
		cron:   cron.New(cron.WithLocation(time.UTC)),
		limits: domain.DefaultLimits(),
	}
	if cfg.AcceptWindow > 0 {
		a.limits.MaxPast = cfg.AcceptWindow
	}
	if cfg.AdminKey != "" {
		if err := a.keys.EnsureAdmin(ctx, cfg.AdminKey); err != nil {
			a.close()
			return nil, err
		}
	}
	return a, nil
}

func (a *app) close() {
	a.rdb.Close()
	a.pool.Close()
}

// wireAPI mounts the write side's and operations' routes.
func (a *app) wireAPI() {
	r := a.router
	// Answer odd paths ("//x", "/a/../b") with the API's own 404 problem
	// rather than mux's 301 to a cleaned path.
	r.SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problem.Write(w, problem.New(http.StatusNotFound, "no such endpoint; see /openapi.yaml"))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problem.Write(w, problem.New(http.StatusMethodNotAllowed, "this endpoint does not take that method; see /openapi.yaml"))
	})
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		problem.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", a.readyz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openapi.Spec)
	}).Methods(http.MethodGet)

	metrics := a.writeMetrics()
	queue := write.NewQueue(a.rdb, write.QueueConfig{MaxBacklog: a.cfg.MaxBacklog})
	a.reg.MustRegister(write.NewStreamCollector(a.rdb, queue.Stream(), "writers"))
	ingest := write.NewIngestHandler(write.IngestConfig{
		Limits: a.limits, TrustedProxies: a.cfg.TrustedProxies, RateLimit: a.cfg.RateLimit,
	}, queue, a.keys, redis_rate.NewLimiter(a.rdb), a.log, metrics)
	r.Handle("/api/v1/events", ingest).Methods(http.MethodPost)

	admin := r.NewRoute().Subrouter()
	admin.Use(a.keys.Require(auth.RoleAdmin))
	(&auth.KeysHandler{Store: a.keys, Log: a.log}).Register(admin)
	admin.Handle("/api/v1/admin/failed-events", &write.FailedEventsHandler{Pool: a.pool, Log: a.log}).Methods(http.MethodGet)
}

func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var down []string
	if err := a.pool.Ping(ctx); err != nil {
		down = append(down, "postgresql")
	}
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		down = append(down, "redis")
	}
	if len(down) > 0 {
		p := problem.New(http.StatusServiceUnavailable, "not answering: "+strings.Join(down, ", "))
		p.RetryAfter = 2 * time.Second
		problem.Write(w, p)
		return
	}
	problem.JSON(w, http.StatusOK, map[string]string{"status": "ready", "postgresql": "ok", "redis": "ok"})
}

func (a *app) wireWriter() error {
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{
		Client:  a.rdb,
		Maxlens: map[string]int64{write.RecordedTopic: 10000}, // wake-ups only: trimming loses nothing
	}, watermill.NewSlogLogger(a.log))
	if err != nil {
		return err
	}
	w, err := write.NewWriter(write.WriterConfig{ClaimIdle: a.cfg.WriterClaimIdle, ClaimEvery: min(a.cfg.WriterClaimIdle, 5*time.Second)}, a.pool, a.rdb, pub, a.parts, a.log, a.writeMetrics())
	if err != nil {
		return err
	}
	a.addRunner("writer", w.Run)
	return nil
}

// writeMetrics registers the write side's collectors once.
func (a *app) writeMetrics() *write.Metrics {
	if a.wmetrics == nil {
		a.wmetrics = write.NewMetrics(a.reg)
	}
	return a.wmetrics
}

// wireScheduler creates partitions now and ahead every day.
func (a *app) wireScheduler(ctx context.Context) error {
	ensure := func() {
		now := time.Now()
		if err := a.parts.EnsureRange(ctx, now.Add(-a.limits.MaxPast-24*time.Hour), now.Add(72*time.Hour)); err != nil {
			a.log.Error("creating partitions ahead failed", "err", err)
		}
	}
	ensure()
	if _, err := a.cron.AddFunc("5 * * * *", ensure); err != nil {
		return err
	}
	return nil
}

func (a *app) run(ctx context.Context, api bool) error {
	var servers []*http.Server
	if api {
		servers = append(servers, &http.Server{
			Addr: a.cfg.HTTPAddr, Handler: a.router,
			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		})
	}
	servers = append(servers, &http.Server{
		Addr:              a.cfg.MetricsAddr,
		Handler:           promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
	})
	errc := make(chan error, len(servers)+len(a.runners))
	for _, s := range servers {
		go func() {
			a.log.Info("listening", "addr", s.Addr)
			if err := s.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("listen %s: %w", s.Addr, err)
			}
		}()
	}
	rctx, cancelRunners := context.WithCancel(ctx)
	defer cancelRunners()
	var wg sync.WaitGroup
	for _, r := range a.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.log.Info("starting", "component", r.name)
			if err := r.run(rctx); err != nil && rctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", r.name, err)
			}
		}()
	}
	a.cron.Start()

	var runErr error
	select {
	case <-ctx.Done():
		a.log.Info("shutting down")
	case runErr = <-errc:
		a.log.Error("stopping after a failure", "err", runErr)
	}
	// Drain: stop taking requests, let in-flight ones finish, then stop the
	// background parts (the writer finishes or abandons its batch for
	// redelivery).
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	<-a.cron.Stop().Done()
	cancelRunners()
	wg.Wait()
	return runErr
}
