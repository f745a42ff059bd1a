package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/config"
)

type loginConfig struct {
	Email         string
	Name          string
	PasswordStdin bool
}

func loginOptionSet(cfg *loginConfig) *config.Set {
	return &config.Set{
		Command: "aigate login",
		Usage:   "URL [flags]",
		Summary: "Log in to the aigate server at URL and store its URL and a token in $XDG_CONFIG_HOME/aigate/config.json " +
			"(~/.config/aigate/config.json). On a server with no users yet, this creates its first owner.",
		Options: []*config.Option{
			stringOption(&cfg.Email, "email", "EMAIL", "Email to log in with; asked for when not given.", "an email address"),
			stringOption(&cfg.Name, "name", "NAME",
				"Name of the first owner, used only when the server has no users yet; asked for on a terminal, else the part of the email before @.",
				"1 to 200 characters"),
			boolOption(&cfg.PasswordStdin, "password-stdin", "Read the password from stdin, without a prompt (for scripts); needs --email."),
		},
	}
}

func loginCommand() *Command {
	return &Command{
		Name:    "login",
		Summary: "Log in to an aigate server (or create its first owner) and store the token",
		Run: func(ctx context.Context, io IO, args []string) error {
			var cfg loginConfig
			rest, err := loginOptionSet(&cfg).Parse(args, io.Getenv, io.Stdout)
			if err != nil {
				return err
			}
			if len(rest) != 1 {
				return fmt.Errorf("usage: aigate login URL [flags] (got %d arguments; run 'aigate login --help')", len(rest))
			}
			return login(ctx, io, rest[0], cfg)
		},
	}
}

// login tries the credentials; when they are refused, it tries to create
// the first owner with them, which the server allows only while it has no
// users. The API has no way to ask "any users yet?", so the refusal is the
// only hint.
func login(ctx context.Context, io IO, rawURL string, cfg loginConfig) error {
	path, err := credentialsPath(io.Getenv)
	if err != nil {
		return err
	}
	c, err := client.New(rawURL, "")
	if err != nil {
		return err
	}
	defer c.Close()

	in := newInput(io)
	email := cfg.Email
	if email == "" {
		if cfg.PasswordStdin {
			return errors.New("--password-stdin needs --email: stdin holds only the password")
		}
		if email, err = in.line("Email: ", "email"); err != nil {
			return err
		}
	}
	var password string
	if cfg.PasswordStdin {
		password, err = in.passwordStdin()
	} else {
		password, err = in.password("Password: ")
	}
	if err != nil {
		return err
	}

	session, loginErr := c.Login(ctx, email, password)
	if loginErr == nil {
		if err := saveCredentials(path, credentials{URL: c.BaseURL(), Token: session.Token}); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "Logged in to %s as %s (%s)\n", c.BaseURL(), session.User.Email, session.User.Role)
		storedLoginToken(io, path)
		return nil
	}
	if !client.IsStatus(loginErr, http.StatusUnauthorized) {
		return loginErr
	}

	name := cfg.Name
	if name == "" && in.tty {
		fmt.Fprintln(io.Stderr, "Wrong email or password, or this server has no users yet.")
		if name, err = in.line("To create its first owner, give a name (empty to give up): ", "name"); err != nil {
			return err
		}
		if strings.TrimSpace(name) == "" {
			return loginErr
		}
	}
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	session, firstErr := c.CreateFirstUser(ctx, client.UserInput{Email: email, Name: name, Password: password})
	switch {
	case firstErr == nil:
		if err := saveCredentials(path, credentials{URL: c.BaseURL(), Token: session.Token}); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "Created the first owner %s on %s and logged in.\n", session.User.Email, c.BaseURL())
		storedLoginToken(io, path)
		return nil
	case client.IsStatus(firstErr, http.StatusConflict):
		// The server has users: the credentials were simply wrong.
		return loginErr
	case client.IsStatus(firstErr, http.StatusBadRequest):
		// users/first answers 409 before judging input once users exist,
		// so a 400 means the server is new and the details are invalid.
		return fmt.Errorf("this server has no users yet, and its first owner could not be created: %w", firstErr)
	default:
		return fmt.Errorf("create the first owner: %w", firstErr)
	}
}

// storedLoginToken tells where the login token went, and that it is not the
// one to give a coding agent: login tokens have only the api scope.
func storedLoginToken(io IO, path string) {
	fmt.Fprintf(io.Stderr, "Stored the token in %s. It works on the admin API and this CLI only; "+
		"for the gateway (/ai/), create one with: aigate tokens create NAME\n", path)
}
