package main

import (
	"fmt"
	"net/http"

	"github.com/go-redis/redis_rate/v10"

	"github.com/activity-dev/activity/write"
)

// wireSegmentAPI mounts the Segment-compatible ingest routes (segmentRoutes).
func wireSegmentAPI(a *app) {
	queue := write.NewQueue(a.rdb, write.QueueConfig{MaxBacklog: a.cfg.MaxBacklog})
	h, err := write.NewSegmentHandler(write.SegmentConfig{
		Limits: a.limits, TrustedProxies: a.cfg.TrustedProxies, RateLimit: a.cfg.RateLimit,
	}, queue, a.keys, redis_rate.NewLimiter(a.rdb), a.pool, a.log, a.writeMetrics())
	if err != nil {
		panic(fmt.Sprintf("wire the Segment API: %v", err)) // the app always has a pool, Redis and keys
	}
	for path, handler := range segmentRoutes(h) {
		// OPTIONS: browsers' CORS preflights, answered by the handlers.
		a.router.Handle(path, handler).Methods(http.MethodPost, http.MethodOptions)
	}
}

// segmentRoutes are the Segment routes by path: the HTTP Tracking API's,
// and the short ones analytics.js posts to (its apiHost names /v1, and it
// sends each call to /t, /i, /p or /s, or batches to /b).
func segmentRoutes(h *write.SegmentHandler) map[string]http.Handler {
	track, identify, page, screen, batch := h.Track(), h.Identify(), h.Page(), h.Screen(), h.Batch()
	return map[string]http.Handler{
		"/v1/track": track, "/v1/identify": identify, "/v1/page": page, "/v1/screen": screen,
		"/v1/batch": batch, "/v1/import": batch,
		"/v1/t": track, "/v1/i": identify, "/v1/p": page, "/v1/s": screen, "/v1/b": batch,
	}
}
