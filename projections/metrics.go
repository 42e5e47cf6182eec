package projections

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the projectors' Prometheus collectors, labelled by projection.
type Metrics struct {
	Lag        *prometheus.GaugeVec
	RowsBehind *prometheus.GaugeVec
	Batches    *prometheus.CounterVec
	Rows       *prometheus.CounterVec
	Failures   *prometheus.CounterVec
	Duration   *prometheus.HistogramVec
	BulkFills  *prometheus.CounterVec
	BulkRows   *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them on reg (none when
// reg is nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{"projection"}
	m := &Metrics{
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "activity_projection_lag_seconds",
			Help: "Age of the oldest received activity the current version has not applied; 0 when caught up.",
		}, labels),
		RowsBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "activity_projection_rows_behind",
			Help: "Committed activities after the current version's checkpoint.",
		}, labels),
		Batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activity_projection_batches_total",
			Help: "Batches applied (every version).",
		}, labels),
		Rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activity_projection_activities_total",
			Help: "Activities applied (every version, rebuilds included).",
		}, labels),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activity_projection_failures_total",
			Help: "Batches that failed and were rolled back.",
		}, labels),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "activity_projection_batch_duration_seconds",
			Help:    "Time to apply one batch, commit included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, labels),
		BulkFills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activity_projection_bulk_fills_total",
			Help: "Rebuilt versions filled in bulk (one pass over the log) rather than batch by batch.",
		}, labels),
		BulkRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activity_projection_bulk_activities_total",
			Help: "Activities applied by bulk fills of rebuilt versions.",
		}, labels),
	}
	if reg != nil {
		reg.MustRegister(m.Lag, m.RowsBehind, m.Batches, m.Rows, m.Failures, m.Duration, m.BulkFills, m.BulkRows)
	}
	for _, p := range All() {
		// Every series exists from the start, so a rate() over it is whole.
		m.Lag.WithLabelValues(p.Name)
		m.RowsBehind.WithLabelValues(p.Name)
		m.Batches.WithLabelValues(p.Name)
		m.Rows.WithLabelValues(p.Name)
		m.Failures.WithLabelValues(p.Name)
	}
	return m
}
