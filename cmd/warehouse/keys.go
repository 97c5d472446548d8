package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/warehouse-api/warehouse/internal/keystore"
	"github.com/warehouse-api/warehouse/internal/store"
)

const keysUsage = `Usage:
  warehouse keys list                [--jwt-algorithm ALG]
  warehouse keys rotate              [--jwt-algorithm ALG]
  warehouse keys retire --kid KID    [--jwt-algorithm ALG]

Signing keys live in the database and are shared by every instance on it.
rotate makes a new key that signs from then on; older keys keep verifying
the tokens they signed until you retire them (wait at least --refresh-ttl).
Running servers pick up a change within --sync-interval. Database flags as
for serve (--data, --database-url).
`

func keys(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: no subcommand given")
	}
	sub := args[0]
	var c config
	fs := flag.NewFlagSet("warehouse keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	commonFlags(fs, &c)
	fs.StringVar(&c.Algorithm, "jwt-algorithm", "HS256", "the algorithm the servers sign with")
	// Key ids may start with "-" (base64url), which flag parsing would
	// take for a flag: --kid takes any value.
	kid := fs.String("kid", "", "the key to retire")
	pos, err := parseInterspersed(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	if !supportedAlgorithm(c.Algorithm) {
		return fmt.Errorf("--jwt-algorithm %q is not supported", c.Algorithm)
	}
	db, err := store.Open(ctx, c.DatabaseURL, c.DataDir, c.storeOptions())
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "list":
		list, err := keystore.List(ctx, db, c.Algorithm)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALGORITHM\tCREATED\tSTATE")
		for _, k := range list {
			state := "verifies"
			switch {
			case !k.RetiredAt.IsZero():
				state = "retired " + k.RetiredAt.Format("2006-01-02T15:04:05Z")
			case k.Current:
				state = "signs"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.CreatedAt.Format("2006-01-02T15:04:05Z"), state)
		}
		return tw.Flush()
	case "rotate":
		if len(pos) != 0 {
			return fmt.Errorf("keys rotate takes no arguments")
		}
		k, err := keystore.Rotate(ctx, db, c.Algorithm)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new %s key %s signs from now on; older keys keep verifying until retired\n", k.Algorithm, k.ID)
	case "retire":
		if *kid == "" && len(pos) == 1 {
			*kid = pos[0]
		}
		if *kid == "" || len(pos) > 1 {
			fmt.Fprint(stderr, keysUsage)
			return fmt.Errorf("keys retire takes one key id (--kid KID)")
		}
		if err := keystore.Retire(ctx, db, c.Algorithm, *kid); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s retired: tokens it signed are refused from now on\n", *kid)
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: unknown subcommand %q", sub)
	}
	return nil
}
