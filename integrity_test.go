package warehouse

import "testing"

func TestCheckReportString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		r    CheckReport
		want string
	}{
		{CheckReport{Balances: 7, LedgerEntries: 7, Movements: 1}, "ok: 7 balances, 7 ledger lines checked"},
		{CheckReport{Balances: 1, LedgerEntries: 2, Movements: 1, Findings: []Finding{
			{Check: CheckBalanceLedger, Where: "item 2 at location 4", Expected: "on_hand 15", Found: "16"},
			{Check: CheckSQLiteIntegrity, Where: "database file", Found: "row 3 missing from index"},
		}}, "balance_ledger: item 2 at location 4: expected on_hand 15, found 16\n" +
			"sqlite_integrity: database file: row 3 missing from index\n" +
			"2 findings in 1 balance, 2 ledger lines, 1 movement"},
	}
	for _, tc := range cases {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("got\n%s\nwant\n%s", got, tc.want)
		}
		if tc.r.OK() != (len(tc.r.Findings) == 0) {
			t.Errorf("OK() = %v with %d findings", tc.r.OK(), len(tc.r.Findings))
		}
	}
}
