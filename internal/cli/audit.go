package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/config"
)

func auditCommand() *Command {
	return &Command{
		Name:    "audit",
		Summary: "Read the audit log (owners and auditors)",
		Sub:     []*Command{auditListCommand()},
	}
}

// timeOption is an optional RFC 3339 time.
// limitOption is --limit of a paged listing: how many of noun a page holds.
func limitOption(p *int, noun string) *config.Option {
	return &config.Option{
		Flag: "limit", Arg: "N", DefaultText: "empty: the server's default page size",
		Description: "How many " + noun + " to list at most.",
		Expect:      "a positive whole number (the server caps it)",
		Set: func(v string) error {
			*p = 0
			if v == "" {
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return errors.New("not a positive whole number")
			}
			*p = n
			return nil
		},
	}
}

// cursorOption is --cursor of a paged listing.
func cursorOption(p *string) *config.Option {
	return stringOption(p, "cursor", "CURSOR", "Where to continue: the cursor a previous page printed.", "a cursor from a previous page")
}

func timeOption(p **time.Time, flag, description string) *config.Option {
	return &config.Option{
		Flag: flag, Arg: "TIME", Description: description,
		Expect: "an RFC 3339 time such as 2026-01-02T15:04:05Z",
		Set: func(v string) error {
			*p = nil
			if v == "" {
				return nil
			}
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return errors.New("not an RFC 3339 time")
			}
			*p = &t
			return nil
		},
	}
}

func auditListCommand() *Command {
	var f client.AuditFilter
	return clientCommand{
		name: "audit list", summary: "List audit log entries, newest first, one page at a time",
		options: []*config.Option{
			stringOption(&f.ResourceType, "resource-type", "TYPE", "Only entries about this type of resource.", "a resource type such as user, api_token or provider"),
			stringOption(&f.Resource, "resource", "RESOURCE", "Only entries about this resource.", "a resource id or name"),
			stringOption(&f.Actor, "actor", "ACTOR", "Only entries by this actor.", "a user id, an email, or system"),
			stringOption(&f.Action, "action", "ACTION", "Only entries of this action.", "an action such as create, write, delete, login"),
			timeOption(&f.Since, "since", "Only entries at or after this time."),
			timeOption(&f.Until, "until", "Only entries before this time."),
			limitOption(&f.Limit, "entries"),
			cursorOption(&f.Cursor),
		},
		run: func(ctx context.Context, io IO, c *client.Client, out output, _ []string) error {
			page, err := c.ListAudit(ctx, f)
			if err != nil {
				return err
			}
			if out.json() {
				err = out.writeJSON(page)
			} else {
				tw := out.table()
				fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tRESOURCE\tSTATUS\tREQUEST ID")
				for _, e := range page.Entries {
					actor := e.Actor
					if e.ActorEmail != "" {
						actor = e.ActorEmail
					}
					name := e.ResourceName
					if name == "" {
						name = e.ResourceID
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%d\t%s\n", formatTime(e.Time), actor, e.Action, e.ResourceType, name, e.StatusCode, e.RequestID)
				}
				err = tw.Flush()
			}
			if err == nil && page.NextCursor != "" {
				fmt.Fprintf(io.Stderr, "More entries: --cursor %s\n", page.NextCursor)
			}
			return err
		},
	}.command()
}
