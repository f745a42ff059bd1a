package dashboard

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/aigate/aigate/internal/client"
)

// ranges are the overview's time ranges, by their ?range= value: how far
// back, and the bucket of its chart.
var ranges = []timeRange{
	{"24h", "Last 24 hours", 24 * time.Hour, "hour"},
	{"7d", "Last 7 days", 7 * 24 * time.Hour, "day"},
	{"30d", "Last 30 days", 30 * 24 * time.Hour, "day"},
}

const defaultRange = "7d"

type timeRange struct {
	Name   string
	Label  string
	Back   time.Duration
	Bucket string // the usage API's group_by
}

// rangeChoice is one of the range links, for the template.
type rangeChoice struct {
	Name, Label string
	Current     bool
}

// overviewData is the overview's data: the usage API's answers for one range.
type overviewData struct {
	Range  string
	Ranges []rangeChoice
	User   string // the ?user= filter, as given
	From   time.Time
	To     time.Time
	Total  client.UsageCounts
	Rolled *time.Time
	// Unpriced are the models with requests that had no price in the
	// range: the cost shown leaves them out, and the page says so.
	Unpriced []client.UnpricedModel
	Series   chartSeries
	Models   []client.UsageRow
	Users    []client.UsageRow
	Provs    []client.UsageRow
	Clients  []client.UsageRow
}

// chartSeries is what app.js draws: one x value (unix seconds, the bucket's
// start) per bucket, zero-filled, and the values of each series.
type chartSeries struct {
	X        []int64   `json:"x"`
	Requests []int64   `json:"requests"`
	Errors   []int64   `json:"errors"`
	Input    []int64   `json:"input"`
	Output   []int64   `json:"output"`
	Bucket   string    `json:"bucket"`
	Labels   [4]string `json:"labels"`
}

// window is the range's [from, to): whole buckets back from now's bucket,
// so the first bar is as full as the others.
func window(now time.Time, back time.Duration, bucket string) (from, to time.Time) {
	now = now.UTC()
	step := time.Hour
	start := now.Truncate(time.Hour)
	if bucket == "day" {
		step = 24 * time.Hour
		start = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	}
	n := int(back / step)
	return start.Add(-time.Duration(n-1) * step), now
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	name := cmp.Or(q.Get("range"), defaultRange)
	i := slices.IndexFunc(ranges, func(x timeRange) bool { return x.Name == name })
	if i < 0 {
		d.fail(w, r, s, http.StatusBadRequest, "range must be one of 24h, 7d, 30d.")
		return
	}
	rg := ranges[i]
	from, to := window(d.now(), rg.Back, rg.Bucket)
	data := overviewData{Range: rg.Name, User: q.Get("user"), From: from, To: to}
	for _, x := range ranges {
		data.Ranges = append(data.Ranges, rangeChoice{Name: x.Name, Label: x.Label, Current: x.Name == rg.Name})
	}
	ctx := r.Context()
	get := func(groupBy string) (client.Usage, error) {
		return s.api.GetUsage(ctx, client.UsageFilter{From: &from, To: &to, GroupBy: groupBy, User: data.User})
	}
	series, err := get(rg.Bucket)
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	data.Total, data.Rolled, data.Unpriced = series.Total, series.RolledUpTo, series.UnpricedModels
	data.Series = fill(series.Rows, from, to, rg.Bucket)
	for _, g := range []struct {
		by  string
		dst *[]client.UsageRow
	}{{"model", &data.Models}, {"provider", &data.Provs}, {"client", &data.Clients}, {"user", &data.Users}} {
		if g.by == "user" && (s.IsMember() || data.User != "") {
			continue // one user: the totals already say it
		}
		u, err := get(g.by)
		if err != nil {
			d.fail(w, r, s, 0, err)
			return
		}
		rows := u.Rows
		slices.SortStableFunc(rows, func(a, b client.UsageRow) int {
			return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Key, b.Key))
		})
		if g.by == "user" && len(rows) > 10 {
			rows = rows[:10]
		}
		*g.dst = rows
	}
	d.render(w, r, s, 0, "overview", "Overview", data)
}

// fill lays the API's bucket rows on every bucket of [from, to), zero where
// the API had no row.
func fill(rows []client.UsageRow, from, to time.Time, bucket string) chartSeries {
	step := time.Hour
	if bucket == "day" {
		step = 24 * time.Hour
	}
	byStart := map[int64]client.UsageRow{}
	for _, row := range rows {
		t, err := time.Parse(time.RFC3339, row.Key)
		if err == nil {
			byStart[t.Unix()] = row
		}
	}
	cs := chartSeries{Bucket: bucket, Labels: [4]string{"Requests", "Errors", "Input tokens", "Output tokens"}}
	for t := from; t.Before(to); t = t.Add(step) {
		row := byStart[t.Unix()]
		cs.X = append(cs.X, t.Unix())
		cs.Requests = append(cs.Requests, row.Requests)
		cs.Errors = append(cs.Errors, row.Errors)
		cs.Input = append(cs.Input, row.InputTokens)
		cs.Output = append(cs.Output, row.OutputTokens)
	}
	return cs
}
