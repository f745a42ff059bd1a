package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/config"
)

func usageCommand() *Command {
	var f client.UsageFilter
	return clientCommand{
		name: "usage", summary: "Total requests and tokens from the usage rollups, grouped by user, provider, model, client, day or hour",
		options: []*config.Option{
			timeOption(&f.From, "from", "Count from this time (default: the start of today, UTC). Hour buckets count when their hour starts in [from, to)."),
			timeOption(&f.To, "to", "Count up to this time (default: now)."),
			{
				Flag: "by", Arg: "GROUP", DefaultText: "empty: one total",
				Description: "Group the totals.",
				Expect:      "one of user, provider, model, client, day, hour",
				Set: func(v string) error {
					switch v {
					case "", "user", "provider", "model", "client", "day", "hour":
						f.GroupBy = v
						return nil
					}
					return errors.New("not one of user, provider, model, client, day, hour")
				},
			},
			stringOption(&f.User, "user", "USER", "Only this user's usage (members always see only their own).", "a user id or email"),
		},
		run: func(ctx context.Context, io IO, c *client.Client, out output, _ []string) error {
			u, err := c.GetUsage(ctx, f)
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(u)
			}
			tw := out.table()
			key := "GROUP"
			if u.GroupBy != "" {
				key = u.GroupBy
			}
			fmt.Fprintf(tw, "%s\tREQUESTS\tERRORS\tDENIED\tINPUT\tOUTPUT\tCACHE READ\tCACHE WRITE\tREASONING\tCOST USD\tUNPRICED\n", strings.ToUpper(key))
			for _, r := range u.Rows {
				label := r.Key
				if r.UserEmail != "" {
					label = r.UserEmail
				}
				writeCounts(tw, label, r.UsageCounts)
			}
			writeCounts(tw, "TOTAL", u.Total)
			if err := tw.Flush(); err != nil {
				return err
			}
			rolled := "nothing rolled up yet"
			if u.RolledUpTo != nil {
				rolled = "requests recorded up to " + formatTime(*u.RolledUpTo)
			}
			fmt.Fprintf(io.Stderr, "From %s to %s; %s.\n", formatTime(u.From), formatTime(u.To), rolled)
			if len(u.UnpricedModels) > 0 {
				names := make([]string, len(u.UnpricedModels))
				for i, m := range u.UnpricedModels {
					names[i] = m.ProviderType + " " + m.Model
				}
				fmt.Fprintf(io.Stderr, "Cost leaves out %d requests of models without a price: %s. Price them with 'aigate prices set'.\n",
					u.Total.UnpricedRequests, strings.Join(names, ", "))
			}
			return nil
		},
	}.command()
}

func writeCounts(tw *tabwriter.Writer, label string, c client.UsageCounts) {
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\n", label, c.Requests, c.Errors, c.Denied,
		c.InputTokens, c.OutputTokens, c.CacheReadTokens, c.CacheWriteTokens, c.ReasoningTokens, c.CostUSD, c.UnpricedRequests)
}

func interceptionsCommand() *Command {
	return &Command{
		Name:    "interceptions",
		Summary: "List and show the gateway requests aigate recorded (members see only their own)",
		Sub:     []*Command{interceptionsListCommand(), interceptionsShowCommand()},
	}
}

func interceptionsListCommand() *Command {
	var f client.InterceptionFilter
	return clientCommand{
		name: "interceptions list", summary: "List recorded gateway requests, newest first, one page at a time",
		options: []*config.Option{
			stringOption(&f.User, "user", "USER", "Only this user's requests.", "a user id or email"),
			stringOption(&f.Provider, "provider", "PROVIDER", "Only requests to this provider.", "a provider name"),
			stringOption(&f.Model, "model", "MODEL", "Only requests for this model.", "a model name as the client asked for it"),
			stringOption(&f.Client, "client", "CLIENT", "Only requests from this client.", "one of claude-code, codex, openai-sdk, anthropic-sdk, curl, other"),
			stringOption(&f.Session, "session", "SESSION", "Only the requests of this agent session, as the client named it.", "a session id"),
			stringOption(&f.Status, "status", "STATUS", "Only requests that ended this way.", "one of ok, upstream_error, client_cancelled, gateway_error, denied"),
			timeOption(&f.Since, "since", "Only requests started at or after this time."),
			timeOption(&f.Until, "until", "Only requests started before this time."),
			limitOption(&f.Limit, "requests"),
			cursorOption(&f.Cursor),
		},
		run: func(ctx context.Context, io IO, c *client.Client, out output, _ []string) error {
			page, err := c.ListInterceptions(ctx, f)
			if err != nil {
				return err
			}
			if out.json() {
				err = out.writeJSON(page)
			} else {
				tw := out.table()
				fmt.Fprintln(tw, "STARTED\tUSER\tPROVIDER\tMODEL\tCLIENT\tSTATUS\tINPUT\tOUTPUT\tMS")
				for _, i := range page.Interceptions {
					user := i.UserID
					if i.UserEmail != "" {
						user = i.UserEmail
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", formatTime(i.StartedAt), user, i.Provider, i.Model,
						i.Client, i.Status, i.InputTokens, i.OutputTokens, i.EndedAt.Sub(i.StartedAt).Milliseconds())
				}
				err = tw.Flush()
			}
			if err == nil && page.NextCursor != "" {
				fmt.Fprintf(io.Stderr, "More requests: --cursor %s\n", page.NextCursor)
			}
			return err
		},
	}.command()
}

func interceptionsShowCommand() *Command {
	return clientCommand{
		name: "interceptions show", usage: "ID", nargs: 1,
		summary: "Show one recorded gateway request: every field, its tool calls and, when recorded, its prompt",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			d, err := c.GetInterception(ctx, args[0])
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(d)
			}
			return writeInterception(out, d)
		},
	}.command()
}

// writeInterception prints one request as "Field: value" lines, its tool
// calls as a table and its prompt as indented JSON.
func writeInterception(out output, d client.InterceptionDetail) error {
	user := d.UserID
	if d.UserEmail != "" {
		user = d.UserEmail + " (" + d.UserID + ")"
	}
	optInt := func(p *int, unit, none string) string {
		if p == nil {
			return none
		}
		return strconv.Itoa(*p) + unit
	}
	rows := [][2]string{
		{"ID", d.ID}, {"Request ID", shown(d.RequestID)},
		{"Started", d.StartedAt.UTC().Format(time.RFC3339Nano)}, {"Ended", d.EndedAt.UTC().Format(time.RFC3339Nano)},
		{"Duration", strconv.FormatInt(d.DurationMs, 10) + " ms"},
		{"Time to first byte", optInt(d.TTFBMs, " ms", "- (no byte came back)")},
		{"User", user}, {"Token ID", shown(d.TokenID)},
		{"Provider", d.Provider + " (" + d.ProviderType + ")"}, {"Model", shown(d.Model)}, {"Endpoint", d.Endpoint},
		{"Streaming", yesNo(d.Streaming)}, {"Client", d.Client}, {"Session", orDash(shown(d.Session))},
		{"Status", d.Status}, {"Upstream status", optInt(d.UpstreamStatus, "", "-")},
	}
	if d.Error != "" {
		rows = append(rows, [2]string{"Error", shown(d.Error)})
	}
	rows = append(rows, [][2]string{
		{"Input tokens", strconv.FormatInt(d.InputTokens, 10)}, {"Output tokens", strconv.FormatInt(d.OutputTokens, 10)},
		{"Cache read tokens", strconv.FormatInt(d.CacheReadTokens, 10)}, {"Cache write tokens", strconv.FormatInt(d.CacheWriteTokens, 10)},
		{"Cache write 1h tokens", strconv.FormatInt(d.CacheWrite1hTokens, 10)},
		{"Reasoning tokens", strconv.FormatInt(d.ReasoningTokens, 10)},
		{"Cost USD", costText(d.CostUSD)},
	}...)
	tw := out.table()
	for _, row := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(out.w)
	if len(d.ToolCalls) == 0 {
		fmt.Fprintln(out.w, "Tool calls: none")
	} else {
		fmt.Fprintln(out.w, "Tool calls:")
		tw = out.table()
		fmt.Fprintln(tw, "  ID\tNAME")
		for _, tc := range d.ToolCalls {
			fmt.Fprintf(tw, "  %s\t%s\n", shown(tc.ID), shown(tc.Name))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(out.w)
	if !d.HasPrompt() {
		fmt.Fprintln(out.w, "Prompt: not recorded (the server records prompts only with --record-prompts)")
		return nil
	}
	// JSON escapes control characters in strings, so the prompt cannot
	// drive the terminal.
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, d.Prompt, "", "  "); err != nil {
		return fmt.Errorf("the server sent a prompt that is not JSON: %w", err)
	}
	fmt.Fprintln(out.w, "Prompt:")
	pretty.WriteByte('\n')
	_, err := pretty.WriteTo(out.w)
	return err
}

// shown is text a client sent (a model name, a session id, an error) made
// safe to print on a terminal: quoted, with escapes, when it holds
// anything that is not printable, such as an escape sequence.
func shown(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// costText is a request's cost, or why it has none.
func costText(usd *string) string {
	if usd == nil {
		return "unpriced (its model has no price; see aigate prices list)"
	}
	return *usd
}
