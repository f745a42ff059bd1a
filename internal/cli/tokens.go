package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/config"
)

func tokensCommand() *Command {
	return &Command{
		Name:    "tokens",
		Summary: "List, create and revoke API tokens (yours, or any user's as an owner)",
		Sub:     []*Command{tokensListCommand(), tokensCreateCommand(), tokensRevokeCommand()},
	}
}

func userOption(p *string) *config.Option {
	return &config.Option{
		Flag: "user", Arg: "USER", Default: "me",
		Description: "Whose tokens: a user id or email (owners only), or me for yourself.",
		Expect:      userRefExpect,
		Set: func(v string) error {
			if v == "" {
				return errors.New("must not be empty")
			}
			*p = v
			return nil
		},
	}
}

func tokensListCommand() *Command {
	var user string
	return clientCommand{
		name: "tokens list", summary: "List a user's API tokens (never their secrets)",
		options: []*config.Option{userOption(&user)},
		run: func(ctx context.Context, _ IO, c *client.Client, out output, _ []string) error {
			l, err := c.ListTokens(ctx, user)
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(l)
			}
			tw := out.table()
			fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tEXPIRES\tLAST USED\tCREATED")
			for _, t := range l.Tokens {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(t.Scopes, ","),
					formatOptTime(t.ExpiresAt, "never"), formatOptTime(t.LastUsedAt, "never"), formatTime(t.CreatedAt))
			}
			return tw.Flush()
		},
	}.command()
}

func tokensCreateCommand() *Command {
	var (
		user      string
		expiresIn time.Duration
		scopes    []string
	)
	return clientCommand{
		name: "tokens create", usage: "NAME", nargs: 1,
		summary: "Create an API token; its secret is printed once, on stdout",
		options: []*config.Option{
			userOption(&user),
			{
				Flag: "expires-in", Arg: "DURATION", Default: "", DefaultText: "empty: never expires",
				Description: "How long the token is valid, from now.",
				Expect:      "a Go duration such as 720h (30 days) or 90m",
				Set: func(v string) error {
					expiresIn = 0
					if v == "" {
						return nil
					}
					d, err := time.ParseDuration(v)
					if err != nil {
						return errors.New("not a duration")
					}
					if d <= 0 {
						return errors.New("must be positive")
					}
					expiresIn = d
					return nil
				},
			},
			{
				// Sent explicitly, so what the CLI says it makes does not
				// hang on the server's default.
				Flag: "scope", Arg: "SCOPES", Default: string(auth.ScopeGateway),
				Description: "Where the token may be used: gateway (the /ai/ routes, for coding agents and SDKs), " +
					"api (the admin API and this CLI), or gateway,api for both.",
				Expect: "gateway, api or gateway,api",
				Set: func(v string) error {
					names := strings.Split(v, ",")
					for i := range names {
						names[i] = strings.TrimSpace(names[i])
					}
					parsed, err := auth.ParseScopes(names)
					if err != nil {
						return err
					}
					scopes = auth.ScopeStrings(parsed)
					return nil
				},
			},
		},
		run: func(ctx context.Context, io IO, c *client.Client, out output, args []string) error {
			var expiresAt *time.Time
			if expiresIn > 0 {
				t := clock.Or(io.Clock).Now().Add(expiresIn).UTC()
				expiresAt = &t
			}
			nt, err := c.CreateToken(ctx, user, args[0], expiresAt, scopes)
			if err != nil {
				return err
			}
			fmt.Fprintf(io.Stderr, "Created token %s (%s) for %s, scopes %s, expires %s. Copy it now: it will not be shown again.\n",
				nt.APIToken.Name, nt.APIToken.ID, user, strings.Join(nt.APIToken.Scopes, ","), formatOptTime(nt.APIToken.ExpiresAt, "never"))
			if out.json() {
				return out.writeJSON(nt)
			}
			fmt.Fprintln(out.w, nt.Token)
			return nil
		},
	}.command()
}

func tokensRevokeCommand() *Command {
	var user string
	return clientCommand{
		name: "tokens revoke", usage: "ID", nargs: 1,
		summary: "Revoke (delete) one of a user's API tokens, by its id",
		options: []*config.Option{userOption(&user)},
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			if err := c.RevokeToken(ctx, user, args[0]); err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(map[string]string{"revoked_token": args[0]})
			}
			fmt.Fprintf(out.w, "Revoked token %s.\n", args[0])
			return nil
		},
	}.command()
}
