package cli

import (
	"context"
	"fmt"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/config"
)

func groupsCommand() *Command {
	return &Command{
		Name:    "groups",
		Summary: "List and manage groups (teams) that policies can name (owners; auditors may list)",
		Sub: []*Command{
			groupsListCommand(),
			groupsShowCommand(),
			groupsCreateCommand(),
			groupsEditCommand(),
			groupsDeleteCommand(),
			groupsMemberCommand("add", "Add a user (by email or id) to a group"),
			groupsMemberCommand("remove", "Remove a user (by email or id) from a group"),
		},
	}
}

func groupsListCommand() *Command {
	return clientCommand{
		name: "groups list", summary: "List every group with its number of members",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, _ []string) error {
			l, err := c.ListGroups(ctx)
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(l)
			}
			tw := out.table()
			fmt.Fprintln(tw, "NAME\tDISPLAY NAME\tMEMBERS\tCREATED")
			for _, g := range l.Groups {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", g.Name, orDash(g.DisplayName), g.MemberCount, formatTime(g.CreatedAt))
			}
			return tw.Flush()
		},
	}.command()
}

// writeGroup prints one group and its members as JSON or as a field list.
func writeGroup(out output, g client.Group) error {
	if out.json() {
		return out.writeJSON(g)
	}
	tw := out.table()
	for _, row := range [][2]string{
		{"ID", g.ID}, {"Name", g.Name}, {"Display name", orDash(g.DisplayName)},
		{"Members", fmt.Sprint(g.MemberCount)}, {"Created", formatTime(g.CreatedAt)}, {"Updated", formatTime(g.UpdatedAt)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	for _, m := range g.Members {
		fmt.Fprintf(tw, "  %s\t%s\tadded %s\n", m.Email, m.Name, formatTime(m.AddedAt))
	}
	return tw.Flush()
}

func groupsShowCommand() *Command {
	return clientCommand{
		name: "groups show", usage: "GROUP", nargs: 1, summary: "Show a group, by name or id, and its members",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			g, err := c.GetGroup(ctx, args[0])
			if err != nil {
				return err
			}
			return writeGroup(out, g)
		},
	}.command()
}

func groupsCreateCommand() *Command {
	var display string
	return clientCommand{
		name: "groups create", usage: "NAME", nargs: 1, summary: "Create a group with no members",
		options: []*config.Option{stringOption(&display, "display-name", "TEXT", "How people see the group's name, such as \"Search team\".", "at most 200 characters")},
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			g, err := c.CreateGroup(ctx, client.GroupInput{Name: args[0], DisplayName: display})
			if err != nil {
				return err
			}
			return writeGroup(out, g)
		},
	}.command()
}

func groupsEditCommand() *Command {
	var name, display string
	nameOpt := stringOption(&name, "name", "NAME", "New name of the group.", "lowercase letters, digits, - and _")
	displayOpt := stringOption(&display, "display-name", "TEXT", "New display name of the group.", "at most 200 characters")
	return clientCommand{
		name: "groups edit", usage: "GROUP", nargs: 1, options: []*config.Option{nameOpt, displayOpt},
		summary: "Rename a group or change its display name; only the flags given change",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			var p client.GroupPatch
			if nameOpt.Source() == "flag" {
				p.Name = &name
			}
			if displayOpt.Source() == "flag" {
				p.DisplayName = &display
			}
			if p == (client.GroupPatch{}) {
				return fmt.Errorf("nothing to change: give --name or --display-name")
			}
			g, err := c.UpdateGroup(ctx, args[0], p)
			if err != nil {
				return err
			}
			return writeGroup(out, g)
		},
	}.command()
}

func groupsDeleteCommand() *Command {
	return clientCommand{
		name: "groups delete", usage: "GROUP", nargs: 1,
		summary: "Delete a group and its memberships (refused while policies name it)",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			if err := c.DeleteGroup(ctx, args[0]); err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(map[string]string{"deleted_group": args[0]})
			}
			fmt.Fprintf(out.w, "Deleted group %s.\n", args[0])
			return nil
		},
	}.command()
}

func groupsMemberCommand(verb, summary string) *Command {
	return clientCommand{
		name: "groups " + verb, usage: "GROUP USER", nargs: 2, summary: summary,
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			if verb == "add" {
				g, err := c.AddGroupMember(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				if out.json() {
					return out.writeJSON(g)
				}
				fmt.Fprintf(out.w, "Added %s to group %s (members: %d).\n", args[1], g.Name, g.MemberCount)
				return nil
			}
			if err := c.RemoveGroupMember(ctx, args[0], args[1]); err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(map[string]string{"group": args[0], "removed_user": args[1]})
			}
			fmt.Fprintf(out.w, "Removed %s from group %s.\n", args[1], args[0])
			return nil
		},
	}.command()
}
