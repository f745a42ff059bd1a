package api_test

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/interceptions/interceptionstest"
	"github.com/aigate/aigate/internal/servertest"
	"github.com/aigate/aigate/internal/testdb"
)

var dashboardInterceptions = flag.Int("dashboard-interceptions", 1_000_000,
	"interceptions BenchmarkDashboardReads seeds (a smaller number for a quick try)")

// pageViews is how many times each page is viewed per benchmark iteration:
// enough for a p99 whatever -benchtime says, since one iteration of the
// slowest page is already seconds long.
const pageViews = 100

// BenchmarkDashboardReads times the API calls each dashboard page makes,
// over HTTP on loopback to a real replica, on a database of a million
// interceptions (30 days, 100 users; interceptionstest.Seed) rolled up into
// their hourly buckets. Each sub-benchmark is one page as one role: a view
// is the page's calls made one after another, as the page makes them, and
// the metrics are the views' p50, p95 and p99 in milliseconds (ns/op is the
// mean view). The figures and the method are in docs/performance.md:
//
//	go test -run '^$' -bench BenchmarkDashboardReads ./internal/api
//
// Seeding takes under a minute; -dashboard-interceptions N seeds fewer for
// a quick try.
func BenchmarkDashboardReads(b *testing.B) {
	ctx := context.Background()
	const password = "benchmark password"
	dbURL := testdb.URL(b)
	db := testdb.Open(b, dbURL)
	// The history ends at a fixed hour, so every run reads the same days
	// (the 24 hours before a weekday noon, busy ones); the replica's clock
	// stands there, so no rollup or retention run starts meanwhile.
	end := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	seedStart := time.Now()
	seeded, err := interceptionstest.Seed(ctx, db, interceptionstest.Options{
		Interceptions: *dashboardInterceptions, End: end, Owners: 1, Password: password, Logger: testdb.Logger(b),
	})
	require.NoError(b, err)
	b.Logf("seeded %d interceptions, %d buckets, in %s", *dashboardInterceptions, seeded.Buckets,
		time.Since(seedStart).Round(time.Second))
	r := servertest.Start(b, servertest.Options{DatabaseURL: dbURL, Clock: clock.NewManual(end)})
	c := &benchClient{b: b, base: r.URL}
	owner, member, rare := seeded.Users[0], seeded.Typical(), seeded.Rarest()
	b.Logf("member %s has %d interceptions; the rare user %s has %d", member.Email, member.Interceptions,
		rare.Email, rare.Interceptions)

	type role struct {
		name  string
		token string
		// rows is how many interceptions the role sees over the history.
		rows int
	}
	roles := []role{
		{"owner", c.login(owner.Email, password), *dashboardInterceptions},
		{"member", c.login(member.Email, password), member.Interceptions},
	}

	for _, rl := range roles {
		// The model filter picks the role's least used model: a filter
		// that keeps a minority of the rows, as a person looking for one
		// model's requests would.
		var models struct {
			Rows []struct {
				Key string `json:"key"`
			} `json:"rows"`
		}
		require.NoError(b, json.Unmarshal(c.get("/api/v1/usage?"+url.Values{
			"from": {end.AddDate(0, 0, -30).Format(time.RFC3339)}, "to": {end.Format(time.RFC3339)}, "group_by": {"model"},
		}.Encode(), rl.token), &models))
		require.NotEmpty(b, models.Rows)
		model := models.Rows[len(models.Rows)-1].Key
		for _, p := range dashboardPages(end, rl.name == "owner", model, member.Email, rare.Email) {
			b.Run(rl.name+"/"+p.name, func(b *testing.B) {
				c := &benchClient{b: b, base: r.URL}
				calls := p.calls(c, rl.token)
				// Once off the clock: the answers are right, and the
				// caches are warm as a dashboard in use has them.
				for _, call := range calls {
					body := c.get(call, rl.token)
					checkAnswer(b, call, body, p.mayBeEmpty, rl.name == "member", member.ID.String(), rl.rows)
				}
				var views []time.Duration
				for b.Loop() {
					for range pageViews {
						var view time.Duration
						for _, call := range calls {
							start := time.Now()
							c.get(call, rl.token)
							view += time.Since(start)
						}
						views = append(views, view)
					}
				}
				reportPercentiles(b, views)
			})
		}
	}
}

// page is one dashboard page: calls returns the API paths it requests, in
// order; a deep page walks its cursor once, off the clock, to find them.
type page struct {
	name  string
	calls func(c *benchClient, token string) []string
	// mayBeEmpty: a list that can rightly have no row (a member's rare
	// status: aigate's own failures are one request in 10,000).
	mayBeEmpty bool
}

// dashboardPages are the pages as the dashboard makes them: the overview's
// five usage questions over a window, and the requests log, first pages and
// a page 20 "next"s deep. The owner's list also filters by user: a typical
// one and the rare one, whose few rows lie among a million.
func dashboardPages(end time.Time, owner bool, model, memberEmail, rareEmail string) []page {
	overview := func(window time.Duration, series string) page {
		from, to := end.Add(-window).Format(time.RFC3339), end.Format(time.RFC3339)
		var calls []string
		for _, g := range []string{series, "model", "user", "provider", "client"} {
			calls = append(calls, "/api/v1/usage?"+url.Values{"from": {from}, "to": {to}, "group_by": {g}}.Encode())
		}
		return page{name: "overview-" + map[time.Duration]string{24 * time.Hour: "24h", 7 * 24 * time.Hour: "7d", 30 * 24 * time.Hour: "30d"}[window],
			calls: func(*benchClient, string) []string { return calls }}
	}
	list := func(name string, q url.Values) page {
		q.Set("limit", "50")
		path := "/api/v1/interceptions?" + q.Encode()
		return page{name: name, calls: func(*benchClient, string) []string { return []string{path} }}
	}
	deep := func(name string, q url.Values) page {
		q.Set("limit", "50")
		return page{name: name, calls: func(c *benchClient, token string) []string {
			cursor := ""
			for range 20 {
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				var ans struct {
					NextCursor string `json:"next_cursor"`
				}
				require.NoError(c.b, json.Unmarshal(c.get("/api/v1/interceptions?"+q.Encode(), token), &ans))
				require.NotEmpty(c.b, ans.NextCursor, "fewer than 21 pages")
				cursor = ans.NextCursor
			}
			q.Set("cursor", cursor)
			return []string{"/api/v1/interceptions?" + q.Encode()}
		}}
	}
	pages := []page{
		overview(24*time.Hour, "hour"),
		overview(7*24*time.Hour, "day"),
		overview(30*24*time.Hour, "day"),
		list("requests", url.Values{}),
		list("requests-model", url.Values{"model": {model}}),
		list("requests-status", url.Values{"status": {"upstream_error"}}),
		deep("requests-deep", url.Values{}),
	}
	// The dashboard's own pages, rendered: the calls above made in process,
	// plus the session check and the template.
	html := func(name, path string) page {
		return page{name: "html-" + name, calls: func(*benchClient, string) []string { return []string{path} }}
	}
	pages = append(pages, html("overview-24h", "/?range=24h"), html("overview-7d", "/?range=7d"),
		html("overview-30d", "/?range=30d"), html("requests", "/requests"), html("requests-status", "/requests?status=upstream_error"))
	rareStatus := list("requests-rare-status", url.Values{"status": {"gateway_error"}})
	rareStatus.mayBeEmpty = !owner
	pages = append(pages, rareStatus)
	if owner {
		pages = append(pages,
			list("requests-user", url.Values{"user": {memberEmail}}),
			list("requests-rare-user", url.Values{"user": {rareEmail}}),
			deep("requests-deep-status", url.Values{"status": {"upstream_error"}}),
		)
	}
	return pages
}

// checkAnswer fails unless body is a real answer: a member's rows are all
// their own, and the whole history's usage adds up to what the role sees.
func checkAnswer(b *testing.B, path string, body []byte, mayBeEmpty, member bool, memberID string, rows int) {
	b.Helper()
	if !strings.HasPrefix(path, "/api/") {
		// A dashboard page: its numbers are tested against the API in
		// internal/dashboard; here, that it is the page, not the sign-in.
		require.Regexp(b, `data-stat="requests">[1-9]|data-table="requests"`, string(body), path)
		return
	}
	if strings.HasPrefix(path, "/api/v1/interceptions") {
		var ans struct {
			Interceptions []struct {
				UserID string `json:"user_id"`
			} `json:"interceptions"`
		}
		require.NoError(b, json.Unmarshal(body, &ans))
		if !mayBeEmpty {
			require.NotEmpty(b, ans.Interceptions, path)
		}
		for _, i := range ans.Interceptions {
			if member {
				require.Equal(b, memberID, i.UserID, "a member sees only their own requests")
			}
		}
		return
	}
	var ans struct {
		From, To time.Time
		Rows     []json.RawMessage `json:"rows"`
		Total    struct {
			Requests int `json:"requests"`
		} `json:"total"`
	}
	require.NoError(b, json.Unmarshal(body, &ans))
	require.NotEmpty(b, ans.Rows, path)
	if ans.To.Sub(ans.From) == 30*24*time.Hour {
		require.Equal(b, rows, ans.Total.Requests, "the 30 days are the whole history: %s", path)
	} else {
		require.Less(b, ans.Total.Requests, rows, path)
	}
}

// reportPercentiles reports the views' nearest-rank p50, p95 and p99 in
// milliseconds, and their mean as ns/op.
func reportPercentiles(b *testing.B, views []time.Duration) {
	slices.Sort(views)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(views))+0.999999) - 1
		return views[max(0, min(i, len(views)-1))]
	}
	var sum time.Duration
	for _, v := range views {
		sum += v
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(rank(0.50)), "p50-ms")
	b.ReportMetric(ms(rank(0.95)), "p95-ms")
	b.ReportMetric(ms(rank(0.99)), "p99-ms")
	b.ReportMetric(float64(sum)/float64(len(views)), "ns/op")
	b.ReportMetric(float64(len(views)), "views")
}

// benchClient sends the pages' requests; a failure fails the benchmark.
type benchClient struct {
	b    *testing.B
	base string
}

func (c *benchClient) get(path, token string) []byte {
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	require.NoError(c.b, err)
	if strings.HasPrefix(path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+token)
	} else {
		// The dashboard's session is the login token, in its cookie.
		req.AddCookie(&http.Cookie{Name: "aigate_session", Value: token})
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.b, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.b, err)
	require.Equal(c.b, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	return body
}

func (c *benchClient) login(email, password string) string {
	raw, err := json.Marshal(map[string]string{"email": email, "password": password})
	require.NoError(c.b, err)
	resp, err := http.Post(c.base+"/api/v1/login", "application/json", strings.NewReader(string(raw)))
	require.NoError(c.b, err)
	defer resp.Body.Close()
	var ans struct {
		Token string `json:"token"`
	}
	require.Equal(c.b, http.StatusOK, resp.StatusCode)
	require.NoError(c.b, json.NewDecoder(resp.Body).Decode(&ans))
	require.NotEmpty(c.b, ans.Token)
	return ans.Token
}
