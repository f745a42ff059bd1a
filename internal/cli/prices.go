package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/config"
)

func pricesCommand() *Command {
	return &Command{
		Name:    "prices",
		Summary: "The price book requests are costed with: list it (everyone), set, import and delete overrides (owners)",
		Sub:     []*Command{pricesListCommand(), pricesSetCommand(), pricesImportCommand(), pricesDeleteCommand()},
	}
}

// maxPriceImport bounds an import file: ten thousand prices fit well
// within it, and the server takes at most 1 MiB.
const maxPriceImport = 1 << 20

func pricesListCommand() *Command {
	var typ, source string
	return clientCommand{
		name: "prices list", summary: "List the price book in USD per million tokens, with the default book's date and which rows are in effect",
		options: []*config.Option{
			stringOption(&typ, "provider-type", "TYPE", "Only this provider type's prices.", "one of openai, anthropic, bedrock"),
			stringOption(&source, "source", "SOURCE", "Only the shipped defaults or the overrides.", "default or override"),
		},
		run: func(ctx context.Context, io IO, c *client.Client, out output, _ []string) error {
			b, err := c.ListPrices(ctx, typ, source)
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(b)
			}
			tw := out.table()
			fmt.Fprintln(tw, "TYPE\tMODEL\tPROMPT\tSOURCE\tSTATE\tINPUT\tOUTPUT\tCACHE READ\tWRITE 5M\tWRITE 1H\tREASONING\tFROM\tID")
			for _, p := range b.Prices {
				tier := "any"
				if p.MinInputTokens > 0 {
					tier = ">" + strconv.FormatInt(p.MinInputTokens, 10)
				}
				reasoning := "as output"
				if p.Reasoning != nil {
					reasoning = *p.Reasoning
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ProviderType, p.Model, tier, p.Source,
					p.State, p.Input, p.Output, p.CacheRead, p.CacheWrite5m, p.CacheWrite1h, reasoning,
					p.EffectiveFrom.UTC().Format(time.DateOnly), p.ID)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			asOf := "none loaded"
			if b.DefaultAsOf != nil {
				asOf = *b.DefaultAsOf
			}
			fmt.Fprintf(io.Stderr, "USD per million tokens. Default book as of %s; overrides win over it.\n", asOf)
			return nil
		},
	}.command()
}

// optionalString is an option whose absence is not the empty string.
func optionalString(p **string, flag, arg, description, expect string) *config.Option {
	return &config.Option{
		Flag: flag, Arg: arg, Description: description, Expect: expect,
		// The option table sets every option's default, "" here: not given.
		Set: func(v string) error {
			*p = nil
			if v != "" {
				*p = &v
			}
			return nil
		},
	}
}

func pricesSetCommand() *Command {
	var in client.PriceInput
	return clientCommand{
		name: "prices set", summary: "Set a price override (a negotiated rate), which wins over the default book from its effective date",
		options: []*config.Option{
			stringOption(&in.ProviderType, "provider-type", "TYPE", "The provider type the price is for.", "one of openai, anthropic, bedrock"),
			stringOption(&in.Model, "model", "MODEL", "The model: an exact name, or a prefix ending in * (claude-sonnet-4-5*).", "a model name or prefix"),
			stringOption(&in.Input, "input-price", "USD", "Input tokens, USD per million (3.00).", "a decimal of at most 6 places"),
			stringOption(&in.Output, "output-price", "USD", "Output tokens, USD per million.", "a decimal of at most 6 places"),
			// The prices' flags end in -price: --output is the output format.
			optionalString(&in.CacheRead, "cache-read-price", "USD", "Cached input read, USD per million (default: 0.1x input for Anthropic and Bedrock, input for OpenAI).", "a decimal of at most 6 places"),
			optionalString(&in.CacheWrite5m, "cache-write-5m-price", "USD", "5-minute cache writes, USD per million (default: 1.25x input for Anthropic and Bedrock).", "a decimal of at most 6 places"),
			optionalString(&in.CacheWrite1h, "cache-write-1h-price", "USD", "1-hour cache writes, USD per million (default: 2x input for Anthropic and Bedrock).", "a decimal of at most 6 places"),
			optionalString(&in.Reasoning, "reasoning-price", "USD", "Reasoning tokens, USD per million, when priced apart from output (default: as output).", "a decimal of at most 6 places"),
			{
				Flag: "min-input-tokens", Arg: "N", DefaultText: "0, the normal tier",
				Description: "Make it a long-context tier: it prices requests whose prompt exceeds N tokens.",
				Expect:      "a whole number", Set: func(v string) error {
					if v == "" {
						in.MinInputTokens = 0
						return nil
					}
					n, err := strconv.ParseInt(v, 10, 64)
					if err != nil || n < 0 {
						return errors.New("not a whole number of tokens")
					}
					in.MinInputTokens = n
					return nil
				},
			},
			stringOption(&in.EffectiveFrom, "effective-from", "TIME", "When the price takes effect (default: now); requests that started before keep the price they had.", "an RFC 3339 time"),
			stringOption(&in.Note, "note", "TEXT", "Why: the contract, the ticket.", "text"),
		},
		run: func(ctx context.Context, _ IO, c *client.Client, out output, _ []string) error {
			p, err := c.SetPrice(ctx, in)
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(p)
			}
			fmt.Fprintf(out.w, "Price %s set for %s %s: input %s, output %s, cache read %s, writes 5m %s / 1h %s USD per million tokens (%s).\n",
				p.ID, p.ProviderType, p.Model, p.Input, p.Output, p.CacheRead, p.CacheWrite5m, p.CacheWrite1h, p.State)
			return nil
		},
	}.command()
}

func pricesImportCommand() *Command {
	return clientCommand{
		name: "prices import", usage: "FILE", nargs: 1,
		summary: "Set many overrides from a JSON array of prices as `prices set` takes them (- for stdin), all or none",
		run: func(ctx context.Context, cio IO, c *client.Client, out output, args []string) error {
			r := cio.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("open the prices to import: %w", err)
				}
				defer func() { _ = f.Close() }()
				r = f
			}
			raw, err := readAllLimited(r, maxPriceImport)
			if err != nil {
				return err
			}
			if !json.Valid(raw) {
				return fmt.Errorf("%s is not JSON: give an array of prices such as [{\"provider_type\": \"openai\", \"model\": \"gpt-4o\", \"input\": \"2.50\", \"output\": \"10.00\"}]", args[0])
			}
			ps, err := c.ImportPrices(ctx, raw)
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(ps)
			}
			fmt.Fprintf(out.w, "%d prices imported.\n", len(ps))
			return nil
		},
	}.command()
}

func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read the prices to import: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("the prices to import are larger than %d bytes; split them", limit)
	}
	return raw, nil
}

func pricesDeleteCommand() *Command {
	return clientCommand{
		name: "prices delete", usage: "ID", nargs: 1,
		summary: "Delete a price override (its ID from `aigate prices list --source override`); the default applies again",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			if err := c.DeletePrice(ctx, strings.TrimSpace(args[0])); err != nil {
				return err
			}
			if !out.json() {
				fmt.Fprintf(out.w, "Price %s deleted.\n", args[0])
			}
			return nil
		},
	}.command()
}
