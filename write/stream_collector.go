package write

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// StreamCollector reports the ingest stream's length and pending entries at
// scrape time.
type StreamCollector struct {
	rdb           redis.UniversalClient
	stream, group string
	length        *prometheus.Desc
	pending       *prometheus.Desc
}

// NewStreamCollector returns a collector for stream and its consumer group.
func NewStreamCollector(rdb redis.UniversalClient, stream, group string) *StreamCollector {
	return &StreamCollector{
		rdb: rdb, stream: stream, group: group,
		length:  prometheus.NewDesc("activity_ingest_stream_length", "Entries in the ingest stream (the writer deletes written ones).", nil, nil),
		pending: prometheus.NewDesc("activity_ingest_stream_pending", "Entries delivered to a writer and not yet acknowledged.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StreamCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.length; ch <- c.pending }

// Collect implements prometheus.Collector.
func (c *StreamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if n, err := c.rdb.XLen(ctx, c.stream).Result(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.length, prometheus.GaugeValue, float64(n))
	}
	if p, err := c.rdb.XPending(ctx, c.stream, c.group).Result(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(p.Count))
	}
}
