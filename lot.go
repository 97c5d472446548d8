package warehouse

import (
	"fmt"
	"time"
)

// DateLayout is the form of a calendar date in the API and the database
// (ISO 8601, YYYY-MM-DD), which sorts as text.
const DateLayout = "2006-01-02"

// Lot is what is known of one lot of a lot-tracked item beyond its stock:
// its expiry date, when it has one.
type Lot struct {
	ItemID int64  `json:"item_id"`
	SKU    string `json:"sku"`
	Lot    string `json:"lot"`
	// ExpiresOn is an ISO date (YYYY-MM-DD), or empty for a lot that does
	// not expire.
	ExpiresOn string    `json:"expires_on,omitempty" doc:"ISO date (YYYY-MM-DD) the lot expires on; absent when it does not expire"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// ParseDate checks that s is an ISO calendar date and returns it at
// midnight UTC.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, Errorf(EINVALID, "%q is not a date of the form YYYY-MM-DD", s)
	}
	return t, nil
}

// ExpiresBefore reports whether a lot expiring on expiresOn (an ISO date,
// empty for never) expires before the date d. Dates compare as text.
func ExpiresBefore(expiresOn, d string) bool {
	return expiresOn != "" && expiresOn < d
}

// FormatDate is t's calendar date in UTC.
func FormatDate(t time.Time) string { return t.UTC().Format(DateLayout) }

// LotKey names a lot in messages.
func LotKey(sku, lot string) string { return fmt.Sprintf("%s lot %s", sku, lot) }
