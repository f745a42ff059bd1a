package interceptions

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	queueDepth     prometheus.GaugeFunc
	queueBytes     prometheus.GaugeFunc
	promptsDropped prometheus.Counter
	droppedVec     *prometheus.CounterVec
	dropped        [numDropReasons]prometheus.Counter // by reason, resolved once: Record must not look labels up
	written        prometheus.Counter
	writeErrors    prometheus.Counter
	batchDuration  prometheus.Histogram
}

func newMetrics(depth, bytes func() float64) metrics {
	m := metrics{
		queueDepth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "aigate_interceptions_queue_depth",
			Help: "Interception records waiting to be written, the batch being written included.",
		}, depth),
		queueBytes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "aigate_interceptions_queue_bytes",
			Help: "Prompt bytes of the interception records waiting to be written, the batch being written included; bounded by --record-queue-bytes.",
		}, bytes),
		promptsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aigate_interceptions_prompts_dropped_total",
			Help: "Interception records queued without their prompt because the queued prompts filled --record-queue-bytes; the records and their usage are kept.",
		}),
		droppedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aigate_interceptions_dropped_total",
			Help: "Interception records dropped, by reason: queue_full, stopped, rejected (refused by the database), write_failed (every attempt failed), shutdown_timeout.",
		}, []string{"reason"}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aigate_interceptions_written_total",
			Help: "Interception records written to the database.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aigate_interceptions_write_errors_total",
			Help: "Failed attempts to write a batch of interception records (each retry counts).",
		}),
		batchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aigate_interceptions_batch_duration_seconds",
			Help:    "Time to write one batch of interception records (one COPY attempt).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10),
		}),
	}
	// Every reason is exported from the start, at zero.
	for reason, name := range dropReasonNames {
		m.dropped[reason] = m.droppedVec.WithLabelValues(name)
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.queueDepth, m.queueBytes, m.promptsDropped, m.droppedVec, m.written, m.writeErrors, m.batchDuration}
}
