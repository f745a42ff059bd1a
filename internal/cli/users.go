package cli

import (
	"context"
	"fmt"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/config"
)

const userRefExpect = "a user id, an email, or me"

func usersCommand() *Command {
	return &Command{
		Name:    "users",
		Summary: "List and manage users (owners only)",
		Sub: []*Command{
			usersListCommand(),
			usersShowCommand(),
			usersCreateCommand(),
			usersEditCommand(),
			usersSuspendCommand("suspend", true),
			usersSuspendCommand("unsuspend", false),
			usersDeleteCommand(),
		},
	}
}

func usersListCommand() *Command {
	return clientCommand{
		name: "users list", summary: "List every user",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, _ []string) error {
			l, err := c.ListUsers(ctx)
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(l)
			}
			tw := out.table()
			fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tSUSPENDED\tCREATED")
			for _, u := range l.Users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Name, u.Role, yesNo(u.Suspended), formatTime(u.CreatedAt))
			}
			return tw.Flush()
		},
	}.command()
}

func usersShowCommand() *Command {
	return clientCommand{
		name: "users show", usage: "USER", nargs: 1,
		summary: "Show one user, by id or email (me: yourself)",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			u, err := c.GetUser(ctx, args[0])
			if err != nil {
				return err
			}
			return writeUser(out, u)
		},
	}.command()
}

// writeUser prints one user as JSON or as a field list.
func writeUser(out output, u client.User) error {
	if out.json() {
		return out.writeJSON(u)
	}
	tw := out.table()
	for _, row := range [][2]string{
		{"ID", u.ID}, {"Email", u.Email}, {"Name", u.Name}, {"Role", u.Role}, {"Suspended", yesNo(u.Suspended)},
		{"Created", formatTime(u.CreatedAt)}, {"Updated", formatTime(u.UpdatedAt)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

// userFields are the options of users create and edit.
type userFields struct {
	email, name, role string
	passwordStdin     bool
	opts              map[string]*config.Option
}

func (f *userFields) options(edit bool) []*config.Option {
	of := "Email of the new user, also their login."
	if edit {
		of = "New email of the user, also their login."
	}
	email := stringOption(&f.email, "email", "EMAIL", of, "an email address such as ada@example.com")
	of = "Name of the new user."
	if edit {
		of = "New name of the user."
	}
	name := stringOption(&f.name, "name", "NAME", of, "1 to 200 characters")
	of = "Role of the new user: owner (everything), auditor (read-only, audit log) or member (use the gateway)."
	if edit {
		of = "New role of the user: owner, auditor or member."
	}
	role := stringOption(&f.role, "role", "ROLE", of, "owner, auditor or member")
	of = "Read the password from stdin, without a prompt (for scripts)."
	if edit {
		of = "Set a new password, read from stdin."
	}
	password := boolOption(&f.passwordStdin, "password-stdin", of)
	f.opts = map[string]*config.Option{"email": email, "name": name, "role": role}
	return []*config.Option{email, name, role, password}
}

// given reports whether the flag was on the command line.
func (f *userFields) given(flag string) bool { return f.opts[flag].Source() == "flag" }

func usersCreateCommand() *Command {
	var f userFields
	return clientCommand{
		name: "users create", options: f.options(false),
		summary: "Create a user; the password is asked for, or read from stdin with --password-stdin",
		run: func(ctx context.Context, io IO, c *client.Client, out output, _ []string) error {
			in := newInput(io)
			var (
				password string
				err      error
			)
			if f.passwordStdin {
				password, err = in.passwordStdin()
			} else {
				password, err = in.newPassword()
			}
			if err != nil {
				return err
			}
			u, err := c.CreateUser(ctx, client.UserInput{Email: f.email, Name: f.name, Role: f.role, Password: password})
			if err != nil {
				return err
			}
			return writeUser(out, u)
		},
	}.command()
}

func usersEditCommand() *Command {
	var f userFields
	return clientCommand{
		name: "users edit", usage: "USER", nargs: 1, options: f.options(true),
		summary: "Change a user's email, name, role or password; only the flags given change",
		run: func(ctx context.Context, io IO, c *client.Client, out output, args []string) error {
			var p client.UserPatch
			if f.given("email") {
				p.Email = &f.email
			}
			if f.given("name") {
				p.Name = &f.name
			}
			if f.given("role") {
				p.Role = &f.role
			}
			if f.passwordStdin {
				password, err := newInput(io).passwordStdin()
				if err != nil {
					return err
				}
				p.Password = &password
			}
			if p == (client.UserPatch{}) {
				return fmt.Errorf("nothing to change: give at least one of --email, --name, --role, --password-stdin")
			}
			u, err := c.UpdateUser(ctx, args[0], p)
			if err != nil {
				return err
			}
			return writeUser(out, u)
		},
	}.command()
}

func usersSuspendCommand(verb string, suspend bool) *Command {
	summary := "Suspend a user: their tokens stop working at once, and they cannot log in"
	if !suspend {
		summary = "Lift a user's suspension"
	}
	return clientCommand{
		name: "users " + verb, usage: "USER", nargs: 1, summary: summary,
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			u, err := c.UpdateUser(ctx, args[0], client.UserPatch{Suspended: &suspend})
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(u)
			}
			if suspend {
				fmt.Fprintf(out.w, "Suspended user %s.\n", u.Email)
			} else {
				fmt.Fprintf(out.w, "Unsuspended user %s.\n", u.Email)
			}
			return nil
		},
	}.command()
}

func usersDeleteCommand() *Command {
	return clientCommand{
		name: "users delete", usage: "USER", nargs: 1,
		summary: "Delete a user and all their tokens",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			if err := c.DeleteUser(ctx, args[0]); err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(map[string]string{"deleted_user": args[0]})
			}
			fmt.Fprintf(out.w, "Deleted user %s.\n", args[0])
			return nil
		},
	}.command()
}
