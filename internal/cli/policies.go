package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/config"
)

func policiesCommand() *Command {
	return &Command{
		Name:    "policies",
		Summary: "Budgets, rate limits, concurrency caps and model allow-lists (owners; members see their own)",
		Sub: []*Command{
			policiesListCommand(),
			policiesShowCommand(),
			policiesCreateCommand(),
			policiesEditCommand(),
			policiesDeleteCommand(),
			policiesStatusCommand(),
		},
	}
}

// policyLimit shows a policy's limit in its unit.
func policyLimit(p client.Policy) string {
	switch {
	case p.LimitUSD != nil:
		return "$" + *p.LimitUSD
	case p.Limit == nil:
		return "-"
	}
	return strconv.FormatInt(*p.Limit, 10)
}

// policySubject is whom the policy's scope names.
func policySubject(p client.Policy) string {
	var s string
	switch {
	case p.Group != nil:
		s = "group " + *p.Group
	case p.User != nil:
		s = "user " + *p.User
	case p.Token != nil:
		s = "token " + *p.Token
	default:
		s = "everyone"
	}
	if p.PerMember {
		s += " (each member)"
	}
	return s
}

func optOr(s *string, none string) string {
	if s == nil {
		return none
	}
	return *s
}

func listOrDash(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}

func policiesListCommand() *Command {
	return clientCommand{
		name: "policies list", summary: "List the policies (a member: those that apply to them)",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, _ []string) error {
			l, err := c.ListPolicies(ctx)
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(l)
			}
			tw := out.table()
			fmt.Fprintln(tw, "NAME\tAPPLIES TO\tKIND\tPERIOD\tLIMIT\tPROVIDERS\tMODELS\tENABLED")
			for _, p := range l.Policies {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, policySubject(p), p.Kind, optOr(p.Period, "-"),
					policyLimit(p), listOrDash(p.Providers), listOrDash(p.Models), yesNo(p.Enabled))
			}
			return tw.Flush()
		},
	}.command()
}

func writePolicy(out output, p client.Policy) error {
	if out.json() {
		return out.writeJSON(p)
	}
	tw := out.table()
	for _, row := range [][2]string{
		{"ID", p.ID}, {"Name", p.Name}, {"Description", orDash(p.Description)}, {"Applies to", policySubject(p)},
		{"Kind", p.Kind}, {"Period", optOr(p.Period, "-")}, {"Limit", policyLimit(p)},
		{"Allowed models", listOrDash(p.AllowModels)}, {"Providers", listOrDash(p.Providers)}, {"Models", listOrDash(p.Models)},
		{"Time zone", p.TimeZone}, {"Enabled", yesNo(p.Enabled)}, {"Created", formatTime(p.CreatedAt)}, {"Updated", formatTime(p.UpdatedAt)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

func policiesShowCommand() *Command {
	return clientCommand{
		name: "policies show", usage: "POLICY", nargs: 1, summary: "Show a policy, by name or id",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			p, err := c.GetPolicy(ctx, args[0])
			if err != nil {
				return err
			}
			return writePolicy(out, p)
		},
	}.command()
}

// policyFields are the options of policies create and edit, named as the
// API's JSON fields are.
type policyFields struct {
	name, description, scope, group, user, token, kind, period, limit, limitUSD, timeZone string
	providers, models, allowModels                                                        string
	perMember, enabled                                                                    bool
	opts                                                                                  map[string]*config.Option
}

func (f *policyFields) options(edit bool) []*config.Option {
	list := "comma-separated names, exact or a prefix ending in * (\"\" for none)"
	f.opts = map[string]*config.Option{
		"description": stringOption(&f.description, "description", "TEXT", "What the policy is for.", "at most 1000 bytes"),
		"group":       stringOption(&f.group, "group", "GROUP", "The group (by name or id) of a group policy.", "a group's name or id"),
		"user":        stringOption(&f.user, "user", "USER", "The user (by email or id) of a user policy.", "an email or id"),
		// Not --token: that is the API token the CLI calls with.
		"token-id":     stringOption(&f.token, "token-id", "ID", "The API token (by id) of a token policy.", "a token id, as 'aigate tokens list' shows"),
		"per-member":   boolOption(&f.perMember, "per-member", "Give each member of everyone or the group the limit, rather than one pool they share."),
		"providers":    stringOption(&f.providers, "providers", "LIST", "Count only requests to these providers.", list),
		"models":       stringOption(&f.models, "models", "LIST", "Count only requests for these models.", list),
		"period":       stringOption(&f.period, "period", "PERIOD", "The calendar period of a budget, tokens or requests policy.", "minute, day, week or month"),
		"limit":        stringOption(&f.limit, "limit", "N", "The limit: tokens, requests or requests in flight (micro-dollars for a budget).", "a whole number, 0 or more"),
		"limit-usd":    stringOption(&f.limitUSD, "limit-usd", "DOLLARS", "A budget's limit in dollars, such as 25 or 25.50.", "a decimal amount with at most 6 decimals"),
		"allow-models": stringOption(&f.allowModels, "allow-models", "LIST", "The models a models policy allows.", list),
		"time-zone":    stringOption(&f.timeZone, "time-zone", "ZONE", "The time zone days, weeks and months start in (default UTC).", "an IANA name such as Europe/Berlin"),
	}
	order := []string{"description", "group", "user", "token-id", "per-member", "providers", "models", "period", "limit", "limit-usd", "allow-models", "time-zone"}
	if edit {
		f.opts["name"] = stringOption(&f.name, "name", "NAME", "New name of the policy.", "lowercase letters, digits, - and _")
		f.opts["enabled"] = boolOption(&f.enabled, "enabled", "Enforce the policy (--enabled=false stops enforcing it and keeps it).")
		order = append([]string{"name"}, append(order, "enabled")...)
	} else {
		f.opts["scope"] = stringOption(&f.scope, "scope", "SCOPE", "Whose requests the policy limits.", "everyone, group, user or token")
		f.opts["kind"] = stringOption(&f.kind, "kind", "KIND", "What the policy limits.", "budget, tokens, requests, concurrency or models")
		f.opts["enabled"] = boolOption(&f.enabled, "disabled", "Create the policy without enforcing it yet.")
		order = append([]string{"scope", "kind"}, append(order, "enabled")...)
	}
	out := make([]*config.Option, len(order))
	for i, k := range order {
		out[i] = f.opts[k]
	}
	return out
}

func (f *policyFields) given(flag string) bool { return f.opts[flag].Source() == "flag" }

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func (f *policyFields) limitValue() (*int64, error) {
	n, err := strconv.ParseInt(f.limit, 10, 64)
	if err != nil {
		return nil, errors.New("--limit must be a whole number such as 60")
	}
	return &n, nil
}

func policiesCreateCommand() *Command {
	var f policyFields
	return clientCommand{
		name: "policies create", usage: "NAME", nargs: 1, options: f.options(false),
		summary: "Create a policy, such as: --scope user --user dev@example.com --kind budget --period day --limit-usd 25",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			in := client.PolicyInput{Name: args[0], Description: f.description, Scope: f.scope, Group: f.group, User: f.user,
				Token: f.token, PerMember: f.perMember, Kind: f.kind, Period: f.period, TimeZone: f.timeZone,
				Providers: splitList(f.providers), Models: splitList(f.models), AllowModels: splitList(f.allowModels)}
			if f.given("limit") {
				n, err := f.limitValue()
				if err != nil {
					return err
				}
				in.Limit = n
			}
			if f.given("limit-usd") {
				in.LimitUSD = &f.limitUSD
			}
			if f.enabled { // --disabled
				no := false
				in.Enabled = &no
			}
			p, err := c.CreatePolicy(ctx, in)
			if err != nil {
				return err
			}
			return writePolicy(out, p)
		},
	}.command()
}

func policiesEditCommand() *Command {
	var f policyFields
	return clientCommand{
		name: "policies edit", usage: "POLICY", nargs: 1, options: f.options(true),
		summary: "Change a policy (not its scope or kind); only the flags given change",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			var p client.PolicyPatch
			str := map[string]**string{"name": &p.Name, "description": &p.Description, "group": &p.Group, "user": &p.User,
				"token-id": &p.Token, "period": &p.Period, "limit-usd": &p.LimitUSD, "time-zone": &p.TimeZone}
			vals := map[string]*string{"name": &f.name, "description": &f.description, "group": &f.group, "user": &f.user,
				"token-id": &f.token, "period": &f.period, "limit-usd": &f.limitUSD, "time-zone": &f.timeZone}
			for flag, dst := range str {
				if f.given(flag) {
					*dst = vals[flag]
				}
			}
			lists := map[string]struct {
				dst **[]string
				val string
			}{"providers": {&p.Providers, f.providers}, "models": {&p.Models, f.models}, "allow-models": {&p.AllowModels, f.allowModels}}
			for flag, l := range lists {
				if f.given(flag) {
					v := splitList(l.val)
					*l.dst = &v
				}
			}
			if f.given("limit") {
				n, err := f.limitValue()
				if err != nil {
					return err
				}
				p.Limit = n
			}
			if f.given("per-member") {
				p.PerMember = &f.perMember
			}
			if f.given("enabled") {
				p.Enabled = &f.enabled
			}
			if p == (client.PolicyPatch{}) {
				return fmt.Errorf("nothing to change: give at least one flag, such as --limit-usd or --enabled=false (see 'aigate policies edit --help')")
			}
			pol, err := c.UpdatePolicy(ctx, args[0], p)
			if err != nil {
				return err
			}
			return writePolicy(out, pol)
		},
	}.command()
}

func policiesDeleteCommand() *Command {
	return clientCommand{
		name: "policies delete", usage: "POLICY", nargs: 1, summary: "Delete a policy and what its windows counted",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			if err := c.DeletePolicy(ctx, args[0]); err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(map[string]string{"deleted_policy": args[0]})
			}
			fmt.Fprintf(out.w, "Deleted policy %s.\n", args[0])
			return nil
		},
	}.command()
}

func policiesStatusCommand() *Command {
	return clientCommand{
		name: "policies status", usage: "POLICY", nargs: 1,
		summary: "Show what a policy's current window has spent, holds in reserve and has left, and when it resets",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			s, err := c.GetPolicyStatus(ctx, args[0])
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(s)
			}
			tw := out.table()
			fmt.Fprintln(tw, "SUBJECT\tSPENT\tRESERVED\tREMAINING\tLIMIT\tEXHAUSTED\tRESETS AT")
			amount := func(n int64, usd string) string {
				if usd != "" {
					return "$" + usd
				}
				return strconv.FormatInt(n, 10)
			}
			for _, w := range s.Statuses {
				subject := "shared"
				if w.Subject != "" {
					subject = orDash(w.User)
					if w.User == "" {
						subject = w.Subject
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", subject, amount(w.Spent, w.SpentUSD), amount(w.Reserved, w.ReservedUSD),
					amount(w.Remaining, w.RemainingUSD), amount(w.Limit, w.LimitUSD), yesNo(w.Exhausted), formatTime(w.ResetsAt))
			}
			if len(s.Statuses) == 0 {
				fmt.Fprintln(tw, "(no member has drawn on this policy in its current window)")
			}
			return tw.Flush()
		},
	}.command()
}
