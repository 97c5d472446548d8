package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/keystore"
	"github.com/warehouse-api/warehouse/internal/store"
)

// signingKeys builds the keyring: the operator's secret if given, else the
// key kept in the database (generated on first start), shared by every
// instance on that database.
func signingKeys(ctx context.Context, db *store.DB, c *Config, policy keystore.Policy) (*auth.Keyring, error) {
	secret := []byte(c.Secret)
	if c.SecretFile != "" {
		b, err := os.ReadFile(c.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("--jwt-secret-file: %w", err)
		}
		secret = []byte(strings.TrimRight(string(b), "\r\n"))
	}
	if len(secret) > 0 {
		if err := auth.CheckSecret(secret); err != nil && !c.InsecureDevKey {
			return nil, fmt.Errorf("refusing the signing secret: %w (use a random secret of at least 32 bytes, e.g. `openssl rand -base64 48`, or --insecure-dev-key for development)", err)
		}
		// The kid names the key without revealing it.
		sum := sha256.Sum256(append([]byte("warehouse-kid:"), secret...))
		kid := base64.RawURLEncoding.EncodeToString(sum[:9])
		return auth.NewKeyring(auth.Key{ID: kid, Algorithm: c.Algorithm, Secret: secret})
	}
	if err := keystore.Ensure(ctx, db, c.Algorithm); err != nil {
		return nil, err
	}
	return policy.Keyring(ctx, db, c.Algorithm)
}

// bootstrapUsers creates the first admin on an empty database and, with
// --demo, the tutorial's user.
func bootstrapUsers(ctx context.Context, db *store.DB, hasher *auth.Hasher, c *Config, log *slog.Logger) error {
	n, err := db.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		pw := c.AdminPassword
		generated := pw == ""
		if generated {
			pw = RandomPassword()
		} else if err := warehouse.ValidatePassword(pw); err != nil {
			return fmt.Errorf("--admin-password: %w", err)
		}
		if err := createUser(ctx, db, hasher, "admin", pw, []string{string(warehouse.RoleAdmin)}); err != nil {
			return err
		}
		if generated {
			// The only way to learn it, but never in a log (logs are
			// shipped and kept): a file only this user can read.
			path, err := writeAdminPassword(adminPasswordDir(c), pw)
			if err != nil {
				return err
			}
			log.Warn("created user 'admin' with a random password, written to a file only this user can read; read it, delete the file, and change it with `warehouse users set-password admin`",
				"username", "admin", "file", path)
		} else {
			log.Info("created user 'admin'")
		}
	}
	if c.Demo {
		_, err := db.UserByName(ctx, "joevu")
		if warehouse.ErrorCode(err) == warehouse.ENOTFOUND {
			if err := createUser(ctx, db, hasher, "joevu", "glinteco", []string{string(warehouse.RoleAdmin)}); err != nil {
				return err
			}
			log.Warn("demo mode: created the tutorial's user joevu (its password is the tutorial's, see the README; role admin); do not use --demo in production")
		} else if err != nil {
			return err
		}
		if err := seedDemo(ctx, db, log); err != nil {
			return err
		}
	}
	return nil
}

func createUser(ctx context.Context, db *store.DB, hasher *auth.Hasher, name, pw string, roles []string) error {
	h, err := hasher.Hash(ctx, pw)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	err = db.CreateUser(ctx, &warehouse.User{Username: name, PasswordHash: h, Roles: roles, Active: true, CreatedBy: "system"})
	if err != nil && warehouse.ErrorCode(err) == warehouse.ECONFLICT {
		return nil // another instance created it first
	}
	return err
}

// adminPasswordFile is where the first start leaves a generated admin
// password, next to the SQLite database (in --data on PostgreSQL).
const adminPasswordFile = "initial_admin_password"

// adminPasswordDir is the directory of the SQLite file, or --data.
func adminPasswordDir(c *Config) string {
	if path, ok := strings.CutPrefix(c.DatabaseURL, "sqlite:"); ok && path != "" {
		return filepath.Dir(strings.TrimPrefix(path, "//"))
	}
	return c.DataDir
}

// writeAdminPassword writes pw to dir/initial_admin_password, readable by
// this user only, and returns the file's path. An existing file is
// replaced: it held the password of a database since emptied.
func writeAdminPassword(dir, pw string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("write the generated admin password: %w (or set WAREHOUSE_ADMIN_PASSWORD)", err)
	}
	path := filepath.Join(dir, adminPasswordFile)
	_ = os.Remove(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("write the generated admin password: %w (or set WAREHOUSE_ADMIN_PASSWORD)", err)
	}
	if _, err := f.WriteString(pw + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write the generated admin password to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write the generated admin password to %s: %w", path, err)
	}
	return path, nil
}

// RandomPassword is a password for a user nobody chose one for.
func RandomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
