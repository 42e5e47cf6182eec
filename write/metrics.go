package write

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the write side's Prometheus collectors.
type Metrics struct {
	Requests       *prometheus.CounterVec
	EventsAccepted prometheus.Counter
	EventsRejected prometheus.Counter
	BatchEvents    prometheus.Histogram
	CommitSeconds  prometheus.Histogram
	EventsStored   prometheus.Counter
	FailedEvents   *prometheus.CounterVec
	WriterErrors   prometheus.Counter
}

// NewMetrics registers the write side's collectors on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activity_ingest_requests_total", Help: "Ingest requests by route and HTTP status.",
		}, []string{"route", "status"}),
		EventsAccepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "activity_ingest_events_accepted_total", Help: "Events accepted (queued) by ingest.",
		}),
		EventsRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "activity_ingest_events_rejected_total", Help: "Events rejected by ingest validation.",
		}),
		BatchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "activity_writer_batch_events", Help: "Events per writer transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		CommitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "activity_writer_commit_seconds", Help: "Time to insert and commit one writer batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		EventsStored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "activity_writer_events_stored_total", Help: "Events newly appended to the log (duplicates excluded).",
		}),
		FailedEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activity_failed_events_total", Help: "Events sent to the dead letters, by source.",
		}, []string{"source"}),
		WriterErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "activity_writer_retries_total", Help: "Writer batches retried after a transient error.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.EventsAccepted, m.EventsRejected, m.BatchEvents,
			m.CommitSeconds, m.EventsStored, m.FailedEvents, m.WriterErrors)
	}
	return m
}
