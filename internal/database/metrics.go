package database

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports connection pool statistics, read at scrape time.
type PoolCollector struct {
	pool                                    *pgxpool.Pool
	total, idle, acquired, max, waitSeconds *prometheus.Desc
	acquires                                *prometheus.Desc
}

// NewPoolCollector returns a collector for pool.
func NewPoolCollector(pool *pgxpool.Pool) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("aigate_db_pool_"+name, help, nil, nil)
	}
	return &PoolCollector{
		pool:        pool,
		total:       d("connections", "Open connections in the pool."),
		idle:        d("idle_connections", "Idle connections in the pool."),
		acquired:    d("acquired_connections", "Connections currently in use."),
		max:         d("max_connections", "Most connections the pool will open."),
		acquires:    d("acquires_total", "Connections acquired from the pool."),
		waitSeconds: d("acquire_wait_seconds_total", "Time spent waiting for a free connection."),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.max, c.acquires, c.waitSeconds} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, s.AcquireDuration().Seconds())
}
