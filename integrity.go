package warehouse

import (
	"fmt"
	"strings"
)

// What the integrity check (warehouse check) looks for: each Finding names
// one of these.
const (
	// CheckSQLiteIntegrity is a problem SQLite's PRAGMA integrity_check found
	// in the file itself.
	CheckSQLiteIntegrity = "sqlite_integrity"
	// CheckForeignKey is a row whose reference names no row (SQLite's PRAGMA
	// foreign_key_check).
	CheckForeignKey = "foreign_key"
	// CheckBalanceLedger is a balance that is not the sum of its ledger
	// entries.
	CheckBalanceLedger = "balance_ledger"
	// CheckNegativeBalance is a balance below zero, or reserved stock below
	// zero or above what is on hand.
	CheckNegativeBalance = "negative_balance"
	// CheckLedgerChain is a ledger entry whose qty_after is not the previous
	// entry's qty_after (of the same item, location and lot) plus its delta.
	CheckLedgerChain = "ledger_chain"
	// CheckMovementLines is a movement without lines, or a ledger entry of
	// a line that does not exist.
	CheckMovementLines = "movement_lines"
	// CheckReversal is a reversal of a movement that does not exist.
	CheckReversal = "reversal"
	// CheckReservations is a balance whose reserved stock is not what its
	// open reservations hold.
	CheckReservations = "reservations"
)

// Finding is one thing the integrity check found wrong: which check, where
// (the rows involved, by id and name), what it expected and what it found.
type Finding struct {
	Check    string
	Where    string
	Expected string
	Found    string
}

// String is the finding on one line, for an operator.
func (f Finding) String() string {
	if f.Expected == "" {
		return fmt.Sprintf("%s: %s: %s", f.Check, f.Where, f.Found)
	}
	return fmt.Sprintf("%s: %s: expected %s, found %s", f.Check, f.Where, f.Expected, f.Found)
}

// CheckReport is the outcome of the integrity check: how much it looked at
// and what it found wrong (nothing, when the books balance).
type CheckReport struct {
	Balances      int
	LedgerEntries int
	Movements     int
	Findings      []Finding
}

// OK reports whether the check found nothing wrong.
func (r CheckReport) OK() bool { return len(r.Findings) == 0 }

// String is the report as warehouse check prints it: "ok: N balances, M
// ledger lines checked", or one finding per line and a count.
func (r CheckReport) String() string {
	if r.OK() {
		return fmt.Sprintf("ok: %d balances, %d ledger lines checked", r.Balances, r.LedgerEntries)
	}
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%s in %s, %s, %s", count(len(r.Findings), "finding"), count(r.Balances, "balance"), count(r.LedgerEntries, "ledger line"), count(r.Movements, "movement"))
	return b.String()
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
