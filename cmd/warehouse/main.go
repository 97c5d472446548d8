// Command warehouse is the Warehouse Management API server and its admin
// tool: `serve`, `migrate`, `users`, `import`, `backup`, `restore`,
// `check`, `version`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/joho/godotenv"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return // --help printed the usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "warehouse:", cliMessage(err))
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code) // check's findings: 1
		}
		os.Exit(2)
	}
}

// cliMessage is err as a person reads it: a domain error's message without
// its machine code ("invalid: ", "not_found: "), which is for programs.
func cliMessage(err error) string {
	msg := err.Error()
	var we *warehouse.Error
	if errors.As(err, &we) {
		msg = strings.Replace(msg, we.Error(), we.Message, 1)
	}
	return msg
}

const usage = `warehouse: the Warehouse Management API

Usage:
  warehouse serve [flags]       run the server (see warehouse serve --help)
  warehouse migrate [flags]     apply database migrations and print the schema version
  warehouse users COMMAND       manage users: create, list, set-password, set-roles, disable, enable
  warehouse import KIND FILE    import a CSV file of items, locations or stock (see warehouse import --help)
  warehouse keys COMMAND        manage signing keys: list, rotate, retire
  warehouse backup FILE         copy the SQLite database to FILE, also while a server runs
  warehouse restore FILE        put a backup in place of the SQLite database (servers stopped)
  warehouse check               verify the database: integrity, balances against the ledger
  warehouse openapi             print the OpenAPI document that serve answers at /openapi.json
  warehouse version             print the version
  warehouse hash-worker         internal: run by serve; not for direct use

Every flag may also be set as WAREHOUSE_<FLAG> in the environment or in a .env file.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	getenv, err := loadDotEnv(".env", getenv)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr, getenv)
	case "users":
		return users(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "import":
		return importCmd(ctx, args[1:], stdout, stderr, getenv)
	case "keys":
		return keys(ctx, args[1:], stdout, stderr, getenv)
	case "backup":
		return backup(ctx, args[1:], stdout, stderr, getenv)
	case "restore":
		return restore(ctx, args[1:], stdout, stderr, getenv)
	case "check":
		return check(ctx, args[1:], stdout, stderr, getenv)
	case "openapi":
		return openapi(args[1:], stdout, stderr, getenv)
	case "hash-worker":
		return hashWorker(args[1:], stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "warehouse", versionString())
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := flag.NewFlagSet("warehouse migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	commonFlags(fs, &c)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	db, err := store.Open(ctx, c.DatabaseURL, c.DataDir, c.storeOptions())
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is at schema version %d\n", db.Path, v)
	return nil
}

func readDotEnv(path string) (map[string]string, error) { return godotenv.Read(path) }
