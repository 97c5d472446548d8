package auth_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warehouse-api/warehouse/auth"
)

func Example() {
	// In production the secret comes from the operator (checked with
	// CheckSecret) or from auth.NewSecret, stored where every instance sees it.
	keys, err := auth.NewKeyring(auth.Key{ID: "2026-01", Secret: auth.NewSecret()})
	if err != nil {
		panic(err)
	}

	now := time.Now()
	claims := auth.NewClaims("joevu", auth.TypeAccess, now, 15*time.Minute)
	claims.Roles = []string{"admin"}
	token, err := keys.Sign(claims)
	if err != nil {
		panic(err)
	}

	got, err := keys.Verify(token, now, auth.VerifyOptions{Leeway: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	// Verify leaves the type check to the caller, as fastapi-jwt-auth's
	// jwt_required does.
	fmt.Println(got.Subject, got.Type, got.Roles, got.Expiry.Sub(got.IssuedAt))

	_, err = keys.Verify(token, now.Add(time.Hour), auth.VerifyOptions{})
	var te *auth.TokenError
	if errors.As(err, &te) {
		fmt.Println(te.Code, te.Detail)
	}

	hasher := auth.NewHasher(auth.TestParams(), 4) // DefaultParams() in production
	phc, err := hasher.Hash(context.Background(), "glinteco")
	if err != nil {
		panic(err)
	}
	ok, rehash, err := hasher.Verify(context.Background(), "glinteco", phc)
	fmt.Println(ok, rehash, err)
	// Output:
	// joevu access [admin] 15m0s
	// expired Signature has expired
	// true false <nil>
}
