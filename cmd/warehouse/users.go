package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/session"
	"github.com/warehouse-api/warehouse/internal/store"
)

const usersUsage = `Usage:
  warehouse users create USERNAME [--role ROLE,...] [--password-stdin]
  warehouse users list
  warehouse users set-password USERNAME [--password-stdin]
  warehouse users set-roles USERNAME ROLE[,ROLE...]
  warehouse users disable USERNAME
  warehouse users enable USERNAME
  warehouse users unlock USERNAME

unlock ends a login lockout (too many failed logins); set-password ends it
too. Enabling a user does not.

Roles: viewer, clerk, manager, admin. Without --password-stdin a random
password is generated and printed once. Database flags as for serve
(--data, --database-url).
`

func users(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usersUsage)
		return fmt.Errorf("users: no subcommand given")
	}
	sub := args[0]
	if sub == "help" || sub == "-h" || sub == "-help" || sub == "--help" {
		fmt.Fprint(stdout, usersUsage)
		return nil
	}
	switch sub {
	case "create", "list", "set-password", "set-roles", "disable", "enable", "unlock":
	default:
		// Before the database is opened: a typo must not create one.
		fmt.Fprint(stderr, usersUsage)
		return fmt.Errorf("users: unknown subcommand %q", sub)
	}
	var c config
	fs := flag.NewFlagSet("warehouse users "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usersUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	commonFlags(fs, &c)
	role := fs.String("role", "viewer", "roles of a new user, comma-separated")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	// Positional arguments may come before or after flags.
	pos, err := parseInterspersed(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	hasher, err := hasherFor(&c)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, c.DatabaseURL, c.DataDir, c.storeOptions())
	if err != nil {
		return err
	}
	defer db.Close()
	// The same use cases as the API; no in-memory auth state here: servers
	// follow the database's event log.
	sessions := session.New(session.Config{}, session.Deps{Store: db, Hasher: hasher})

	need := func(n int) error {
		if len(pos) != n {
			fmt.Fprint(stderr, usersUsage)
			return fmt.Errorf("users %s: expected %d argument(s), got %d", sub, n, len(pos))
		}
		return nil
	}
	password := func() (string, bool, error) {
		if !*pwStdin {
			return randomPassword(), true, nil
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", false, fmt.Errorf("read password: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		return pw, false, warehouse.ValidatePassword(pw)
	}
	const actor = "cli"
	switch sub {
	case "create":
		if err := need(1); err != nil {
			return err
		}
		if err := warehouse.ValidateUsername(pos[0]); err != nil {
			return err
		}
		roles, err := warehouse.ValidateRoles(strings.Split(*role, ","))
		if err != nil {
			return err
		}
		pw, generated, err := password()
		if err != nil {
			return err
		}
		if _, err := sessions.CreateUser(ctx, session.NewUser{Username: pos[0], Password: pw, Roles: roles, Active: true}, actor); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created user %s with roles %s\n", pos[0], strings.Join(roles, ","))
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
	case "list":
		if err := need(0); err != nil {
			return err
		}
		list, err := db.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tROLES\tACTIVE\tUPDATED")
		for _, u := range list {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", u.Username, strings.Join(u.Roles, ","), u.Active, u.UpdatedAt.Format("2006-01-02T15:04:05Z"))
		}
		return tw.Flush()
	case "set-password":
		if err := need(1); err != nil {
			return err
		}
		pw, generated, err := password()
		if err != nil {
			return err
		}
		upd, err := sessions.PrepareUpdate(ctx, session.UserChange{Password: &pw})
		if err != nil {
			return err
		}
		if _, err := sessions.UpdateUser(ctx, pos[0], warehouse.AnyVersion, upd, actor); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s changed\n", pos[0])
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
	case "set-roles":
		if err := need(2); err != nil {
			return err
		}
		roles, err := warehouse.ValidateRoles(strings.Split(pos[1], ","))
		if err != nil {
			return err
		}
		if _, err := sessions.UpdateUser(ctx, pos[0], warehouse.AnyVersion, warehouse.UserUpdate{Roles: roles}, actor); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "roles of %s set to %s\n", pos[0], strings.Join(roles, ","))
	case "disable", "enable":
		if err := need(1); err != nil {
			return err
		}
		active := sub == "enable"
		if _, err := sessions.UpdateUser(ctx, pos[0], warehouse.AnyVersion, warehouse.UserUpdate{Active: &active}, actor); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s %sd\n", pos[0], sub)
	case "unlock":
		if err := need(1); err != nil {
			return err
		}
		unlocked, err := sessions.Unlock(ctx, pos[0], actor)
		if err != nil {
			return err
		}
		if unlocked {
			fmt.Fprintf(stdout, "user %s unlocked\n", pos[0])
		} else {
			fmt.Fprintf(stdout, "user %s was not locked out\n", pos[0])
		}
	default:
		fmt.Fprint(stderr, usersUsage)
		return fmt.Errorf("users: unknown subcommand %q", sub)
	}
	return nil
}
