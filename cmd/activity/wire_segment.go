package main

import (
	"fmt"
	"net/http"

	"github.com/go-redis/redis_rate/v10"

	"github.com/activity-dev/activity/write"
)

// wireSegmentAPI mounts the Segment-compatible ingest routes: /v1/track,
// /v1/identify, /v1/batch and /v1/import (a batch).
func wireSegmentAPI(a *app) {
	queue := write.NewQueue(a.rdb, write.QueueConfig{MaxBacklog: a.cfg.MaxBacklog})
	h, err := write.NewSegmentHandler(write.SegmentConfig{
		Limits: a.limits, TrustedProxies: a.cfg.TrustedProxies, RateLimit: a.cfg.RateLimit,
	}, queue, a.keys, redis_rate.NewLimiter(a.rdb), a.pool, a.log, a.writeMetrics())
	if err != nil {
		panic(fmt.Sprintf("wire the Segment API: %v", err)) // the app always has a pool, Redis and keys
	}
	// OPTIONS: browsers' CORS preflights, answered by the handlers.
	a.router.Handle("/v1/track", h.Track()).Methods(http.MethodPost, http.MethodOptions)
	a.router.Handle("/v1/identify", h.Identify()).Methods(http.MethodPost, http.MethodOptions)
	a.router.Handle("/v1/batch", h.Batch()).Methods(http.MethodPost, http.MethodOptions)
	a.router.Handle("/v1/import", h.Batch()).Methods(http.MethodPost, http.MethodOptions)
}
