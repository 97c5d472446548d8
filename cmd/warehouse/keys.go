package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/keystore"
	"github.com/warehouse-api/warehouse/internal/store"
)

var keysUsage = `Usage:
  warehouse keys list
  warehouse keys rotate              [--jwt-algorithm ALG] [--key-publish-delay 10m]
  warehouse keys retire --kid KID    [--refresh-ttl 720h] [--force]

Signing keys live in the database and are shared by every instance on it.
rotate makes a new key for --jwt-algorithm (` + algorithmList + `).
It is published at once (in /.well-known/jwks.json, state "published") and
starts signing after --key-publish-delay, longer than the 5 minutes other
services may cache the key set, so none of them meets a token signed by a
key it has not fetched; every instance switches then. Older keys keep
verifying the tokens they signed until you retire them: retire refuses a
key that signed within --refresh-ttl (its refresh tokens may still be live)
unless --force is given. list shows each key's state; states do not depend
on --jwt-algorithm. Database flags as for serve (--data, --database-url).
`

// algorithmList is the --jwt-algorithm values, for help texts.
var algorithmList = strings.Join(algorithms, ", ")

func keys(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: no subcommand given (list, rotate or retire)")
	}
	sub := args[0]
	switch sub {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	case "list", "rotate", "retire":
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: unknown subcommand %q (list, rotate or retire)", sub)
	}
	var c config
	fs := flag.NewFlagSet("warehouse keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), keysUsage, "\nFlags:\n"); fs.PrintDefaults() }
	commonFlags(fs, &c)
	fs.StringVar(&c.Algorithm, "jwt-algorithm", "HS256", "the algorithm of the key rotate makes (as the servers' --jwt-algorithm): "+algorithmList)
	keyPublishDelayVar(fs, &c.KeyPublishDelay)
	fs.DurationVar(&c.RefreshTTL, "refresh-ttl", 30*24*time.Hour, "the servers' refresh token lifetime: retire refuses a key that signed more recently")
	force := fs.Bool("force", false, "retire: retire a key even though refresh tokens it signed may still be live (their sessions end)")
	// Key ids may start with "-" (base64url), which flag parsing would
	// take for a flag: --kid takes any value.
	kid := fs.String("kid", "", "the key to retire")
	pos, err := parseInterspersed(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	if !supportedAlgorithm(c.Algorithm) {
		return fmt.Errorf("--jwt-algorithm %q is not supported; use one of %s", c.Algorithm, algorithmList)
	}
	if c.KeyPublishDelay < 0 {
		return errors.New("--key-publish-delay must not be negative")
	}
	// The CLI acts as no user: the audit trail says "cli".
	policy := keystore.Policy{PublishDelay: c.KeyPublishDelay, Actor: "cli"}
	db, err := store.Open(ctx, c.DatabaseURL, c.DataDir, c.storeOptions())
	if err != nil {
		return err
	}
	defer db.Close()
	return cliError(keysRun(ctx, db, policy, sub, pos, &c, *kid, *force, stdout, stderr))
}

func keysRun(ctx context.Context, db *store.DB, policy keystore.Policy, sub string, pos []string, c *config, kid string, force bool, stdout, stderr io.Writer) error {
	const stamp = "2006-01-02T15:04:05Z"
	switch sub {
	case "list":
		if len(pos) != 0 {
			return fmt.Errorf("keys list takes no arguments")
		}
		list, err := policy.List(ctx, db)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALGORITHM\tCREATED\tSTATE")
		for _, k := range list {
			state := k.State
			switch k.State {
			case keystore.StateRetired:
				state += " " + k.RetiredAt.UTC().Format(stamp)
			case keystore.StatePublished:
				state += ", signs from " + k.SignsAt.UTC().Format(stamp)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.CreatedAt.UTC().Format(stamp), state)
		}
		return tw.Flush()
	case "rotate":
		if len(pos) != 0 {
			return fmt.Errorf("keys rotate takes no arguments")
		}
		k, err := policy.Rotate(ctx, db, c.Algorithm)
		if err != nil {
			return err
		}
		if policy.PublishDelay == 0 {
			fmt.Fprintf(stdout, "new %s key %s signs from now on; older keys keep verifying until retired\n", k.Algorithm, k.ID)
			return nil
		}
		fmt.Fprintf(stdout, "new %s key %s is published now and signs from %s (after --key-publish-delay %s); older keys keep verifying until retired\n",
			k.Algorithm, k.ID, time.Now().Add(policy.PublishDelay).UTC().Format(stamp), policy.PublishDelay)
	case "retire":
		if kid == "" && len(pos) == 1 {
			kid = pos[0]
		}
		if kid == "" || len(pos) > 1 {
			fmt.Fprint(stderr, keysUsage)
			return fmt.Errorf("keys retire takes one key id (--kid KID)")
		}
		if err := policy.Retire(ctx, db, kid, c.RefreshTTL, force); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s retired: tokens it signed are refused from now on\n", kid)
	}
	return nil
}

// keyPublishDelayVar is --key-publish-delay, for serve and keys.
func keyPublishDelayVar(fs *flag.FlagSet, d *time.Duration) {
	fs.DurationVar(d, "key-publish-delay", keystore.DefaultPublishDelay,
		"how long a rotated signing key is only published in the JWKS (which is cached for 5m) before it signs; 0s: at once")
}

// cliError drops the machine code from a domain error ("not_found: ..."):
// a person reads the message.
func cliError(err error) error {
	var e *warehouse.Error
	if errors.As(err, &e) {
		return errors.New(e.Message)
	}
	return err
}
