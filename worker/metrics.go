package worker

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the worker's Prometheus series.
type metrics struct {
	jobs        *prometheus.CounterVec   // outcome, reason
	duration    *prometheus.HistogramVec // outcome
	lag         prometheus.Histogram
	inFlight    prometheus.Gauge
	depth       prometheus.Gauge
	queueErrors *prometheus.CounterVec // operation
	// invalidations counts the CDN invalidations of thumbnails that
	// followed their original, by outcome (ok, failed).
	invalidations *prometheus.CounterVec
}

// knownVerdicts are the outcome and reason pairs Classify gives, shown at 0
// from the start so that dashboards and alerts see every series.
var knownVerdicts = map[Outcome][]string{
	Done:    {ReasonMade, ReasonRefreshed, ReasonUpload},
	Skipped: {ReasonExists, ReasonStoredByAnother, ReasonNotOriginal, ReasonNoClasses, ReasonOutsideStore, ReasonChanged},
	Failed: {ReasonMalformed, ReasonInvalidKey, ReasonSizeNotAllowed, ReasonOriginalMissing, ReasonIsOriginal, ReasonNotThumbnail, ReasonOriginalTooLarge, ReasonTooMuchMemory,
		ReasonUnsupportedImage, ReasonDamagedImage, ReasonTooManyPixels, ReasonInvalidOptions},
	Retried: {ReasonInterrupted, ReasonTimeout, ReasonStoreBack, ReasonError},
}

// Queue operations counted in s3thumb_worker_queue_errors_total.
const (
	opReceive          = "receive"
	opDelete           = "delete"
	opChangeVisibility = "change_visibility"
	opDeadLetter       = "dead_letter"
	opDepth            = "depth"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3thumb_worker_jobs_total",
			Help: "Job deliveries handled, by outcome (done, skipped, failed, retried) and reason.",
		}, []string{"outcome", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "s3thumb_worker_job_duration_seconds",
			Help:    "Time from a job's start to its message being settled, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"outcome"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "s3thumb_worker_queue_lag_seconds",
			Help:    "Time from a job being queued (enqueued_at, else the queue's sent time) to a worker starting it.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 12),
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "s3thumb_worker_jobs_in_flight",
			Help: "Jobs running now.",
		}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "s3thumb_worker_queue_depth",
			Help: "Approximate number of jobs waiting in the queue, polled periodically.",
		}),
		queueErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3thumb_worker_queue_errors_total",
			Help: "Failed queue operations, by operation.",
		}, []string{"operation"}),
		invalidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3thumb_worker_cdn_invalidations_total",
			Help: "CDN invalidations of thumbnails remade or deleted after their original changed, by outcome (ok, failed).",
		}, []string{"outcome"}),
	}
	m.invalidations.WithLabelValues("ok")
	m.invalidations.WithLabelValues("failed")
	for outcome, reasons := range knownVerdicts {
		for _, reason := range reasons {
			m.jobs.WithLabelValues(string(outcome), reason)
		}
		m.duration.WithLabelValues(string(outcome))
	}
	for _, op := range []string{opReceive, opDelete, opChangeVisibility, opDeadLetter, opDepth} {
		m.queueErrors.WithLabelValues(op)
	}
	for _, c := range []prometheus.Collector{m.jobs, m.duration, m.lag, m.inFlight, m.depth, m.queueErrors, m.invalidations} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register worker metrics: %w", err)
		}
	}
	return m, nil
}
