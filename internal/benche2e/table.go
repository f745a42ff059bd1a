package benche2e

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Row is one line of the table: a measure and its value on each target, NaN
// where it does not apply.
type Row struct {
	Measure string
	Unit    string // printed after each value: "ms", "MB", ""
	Values  []float64
}

// Rows turns a run's results into the table's rows.
func Rows(cfg Config, results []*Result) []Row {
	each := func(f func(r *Result) float64) []float64 {
		out := make([]float64, len(results))
		for k, r := range results {
			out[k] = f(r)
		}
		return out
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	per := func(total time.Duration, n int) float64 {
		if n == 0 {
			return math.NaN()
		}
		return ms(total) / float64(n)
	}
	perK := func(v float64, n int64) float64 {
		if v < 0 || n == 0 {
			return math.NaN()
		}
		return v * 1000 / float64(n)
	}
	rows := []Row{
		{fmt.Sprintf("latency p50 at %g req/s", cfg.Rate), "ms", each(func(r *Result) float64 { return ms(Percentile(r.Latency, 50)) })},
		{fmt.Sprintf("latency p99 at %g req/s", cfg.Rate), "ms", each(func(r *Result) float64 { return ms(Percentile(r.Latency, 99)) })},
		{"CPU per 1,000 requests", "ms", each(func(r *Result) float64 { return 1000 * per(r.LatencyCPU, r.LatencyCount) })},
		{fmt.Sprintf("max throughput at c=%d", cfg.Workers), "req/s", each(func(r *Result) float64 {
			if r.ThroughputTime <= 0 {
				return math.NaN()
			}
			return float64(r.ThroughputOK) / r.ThroughputTime.Seconds()
		})},
		{"stream (20 events) TTFB p50", "ms", each(func(r *Result) float64 { return ms(Percentile(r.TTFB, 50)) })},
		{"stream (20 events) TTFB p99", "ms", each(func(r *Result) float64 { return ms(Percentile(r.TTFB, 99)) })},
		{"CPU per stream", "ms", each(func(r *Result) float64 { return per(r.StreamCPU, cfg.Streams*cfg.Rounds) })},
		{"failed requests and streams", "", each(func(r *Result) float64 {
			return float64(r.LatencyFail + r.ThroughputFail + r.StreamFail)
		})},
		{"DB pool acquires per 1,000 requests", "", each(func(r *Result) float64 { return perK(r.Acquires, r.Requests) })},
		{"PG transactions per 1,000 requests", "", each(func(r *Result) float64 { return perK(float64(r.Transactions), r.Requests) })},
	}
	if len(cfg.SlowStreams) > 0 {
		slow := func(r *Result, f func(s SlowResult) float64, i int) float64 {
			if !r.Target.SlowStreams || i >= len(r.Slow) {
				return math.NaN()
			}
			return f(r.Slow[i])
		}
		rows = append(rows, Row{"RSS idle", "MB", each(func(r *Result) float64 {
			if !r.Target.SlowStreams {
				return math.NaN()
			}
			return mb(r.IdleRSS)
		})})
		for i, n := range cfg.SlowStreams {
			rows = append(rows,
				Row{fmt.Sprintf("RSS with %d slow streams", n), "MB", each(func(r *Result) float64 {
					return slow(r, func(s SlowResult) float64 { return mb(s.RSS) }, i)
				})},
				Row{fmt.Sprintf("  truncated of %d", n), "", each(func(r *Result) float64 {
					return slow(r, func(s SlowResult) float64 { return float64(s.Truncated) }, i)
				})},
				Row{fmt.Sprintf("  event gap p99 beyond %v", cfg.SlowDelay), "ms", each(func(r *Result) float64 {
					return slow(r, func(s SlowResult) float64 { return ms(s.GapP99) }, i)
				})},
			)
		}
	}
	return rows
}

// Format prints rows as a Markdown table: a column per target, each value
// after the first target's with its ratio to it.
func Format(names []string, rows []Row) string {
	header := []string{"measure"}
	align := []string{"---"}
	for k, n := range names {
		header = append(header, n)
		align = append(align, "---:")
		if k > 0 {
			header = append(header, "×")
			align = append(align, "---:")
		}
	}
	lines := [][]string{header, align}
	for _, r := range rows {
		line := []string{r.Measure}
		for k, v := range r.Values {
			line = append(line, value(v, r.Unit))
			if k > 0 {
				line = append(line, ratio(v, r.Values[0]))
			}
		}
		lines = append(lines, line)
	}
	width := make([]int, len(header))
	for _, l := range lines {
		for i, cell := range l {
			width[i] = max(width[i], len([]rune(cell)))
		}
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("|")
		for i, cell := range l {
			pad := strings.Repeat(" ", width[i]-len([]rune(cell)))
			if i == 0 {
				b.WriteString(" " + cell + pad + " |")
			} else {
				b.WriteString(" " + pad + cell + " |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func value(v float64, unit string) string {
	if math.IsNaN(v) {
		return "—"
	}
	var s string
	switch a := math.Abs(v); {
	case a == 0 || a >= 100:
		s = fmt.Sprintf("%.0f", v)
	case a >= 10:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}

func ratio(v, base float64) string {
	if math.IsNaN(v) || math.IsNaN(base) || base == 0 {
		return "—"
	}
	return fmt.Sprintf("×%.2f", v/base)
}
