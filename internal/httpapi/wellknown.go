package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// JWKS is an RFC 7517 key set.
type JWKS struct {
	Keys []map[string]any `json:"keys" doc:"Public keys (never an HMAC key); each has kid, kty, alg, use and its public parameters"`
}

// DiscoveryBody is the OpenID-style discovery document other services use
// to find the token endpoint and the keys.
type DiscoveryBody struct {
	Issuer                 string   `json:"issuer"`
	JWKSURI                string   `json:"jwks_uri"`
	TokenEndpoint          string   `json:"token_endpoint"`
	GrantTypes             []string `json:"grant_types_supported"`
	TokenEndpointAuth      []string `json:"token_endpoint_auth_methods_supported"`
	SigningAlgs            []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported []string `json:"response_types_supported"`
	ClaimsSupported        []string `json:"claims_supported"`
}

// AccessTokenClaims documents the claims of an access token, so clients
// and other services know what to expect.
type AccessTokenClaims struct {
	Sub   string   `json:"sub" doc:"The username"`
	Iat   int64    `json:"iat" doc:"Issued at, unix seconds"`
	Nbf   int64    `json:"nbf" doc:"Not before, unix seconds (equal to iat)"`
	JTI   string   `json:"jti" doc:"Token id, a UUID4; what a revocation names"`
	Exp   int64    `json:"exp" doc:"Expiry, unix seconds"`
	Type  string   `json:"type" enum:"access,refresh" doc:"Token type"`
	Fresh bool     `json:"fresh" doc:"True only on access tokens from a password login; required by sensitive actions"`
	Roles []string `json:"roles,omitempty" doc:"The user's roles when the token was issued (checked against current roles on every request)"`
	SID   string   `json:"sid,omitempty" doc:"Session id; ending the session revokes its tokens"`
	CSRF  string   `json:"csrf,omitempty" doc:"Present on tokens issued into cookies: the value X-CSRF-Token must carry"`
	Iss   string   `json:"iss,omitempty" doc:"Issuer, when configured (--issuer)"`
	Aud   string   `json:"aud,omitempty" doc:"Audience, when configured (--audience)"`
}

func (s *Server) wellKnownRoutes() {
	// The claims are listed in the bearer scheme (see claimsDoc); operator
	// claims from --claims are added to it.
	if len(s.cfg.ExtraClaims) > 0 {
		names := make([]string, 0, len(s.cfg.ExtraClaims))
		for k := range s.cfg.ExtraClaims {
			names = append(names, k)
		}
		sort.Strings(names)
		s.api.OpenAPI().Components.SecuritySchemes[schemeBearer].Description += "\n\nAccess tokens also carry the operator's claims: " + strings.Join(names, ", ") + "."
	}
	huma.Register(s.api, huma.Operation{
		OperationID: "jwks", Method: http.MethodGet, Path: "/.well-known/jwks.json", Tags: []string{"keys"},
		Summary:     "Public signing keys (JWKS)",
		Description: "RFC 7517 key set of the keys that verify tokens, for other services. Empty while the server signs with a shared secret (HS*), which is never published.",
	}, func(ctx context.Context, _ *struct{}) (*struct {
		CacheControl string `header:"Cache-Control"`
		Body         JWKS
	}, error) {
		raw, err := s.keys.PublicJWKS()
		if err != nil {
			return nil, s.problem(err)
		}
		var set JWKS
		if err := json.Unmarshal(raw, &set); err != nil {
			return nil, s.problem(err)
		}
		if set.Keys == nil {
			set.Keys = []map[string]any{}
		}
		return &struct {
			CacheControl string `header:"Cache-Control"`
			Body         JWKS
		}{"public, max-age=300, must-revalidate", set}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "openid-configuration", Method: http.MethodGet, Path: "/.well-known/openid-configuration", Tags: []string{"keys"},
		Summary:     "Discovery: issuer, token endpoint and JWKS location",
		Description: "An OpenID-style discovery document for services that verify our tokens: the issuer, the token endpoint and the JWKS URL.",
	}, func(ctx context.Context, in *struct {
		Host  string `header:"Host"`
		Proto string `header:"X-Forwarded-Proto"`
	}) (*struct {
		CacheControl string `header:"Cache-Control"`
		Body         DiscoveryBody
	}, error) {
		base := s.cfg.PublicURL
		if base == "" {
			scheme := "http"
			if in.Proto == "https" {
				scheme = "https"
			}
			base = scheme + "://" + in.Host
		}
		base = strings.TrimRight(base, "/")
		issuer := s.cfg.Issuer
		if issuer == "" {
			issuer = base
		}
		return &struct {
			CacheControl string `header:"Cache-Control"`
			Body         DiscoveryBody
		}{"public, max-age=300", DiscoveryBody{
			Issuer: issuer, JWKSURI: base + "/.well-known/jwks.json", TokenEndpoint: base + "/token",
			GrantTypes: []string{"password", "refresh_token"}, TokenEndpointAuth: []string{"none"},
			SigningAlgs: []string{s.keys.Current().Algorithm}, ResponseTypesSupported: []string{"token"},
			ClaimsSupported: []string{"sub", "iat", "nbf", "jti", "exp", "type", "fresh", "roles", "sid", "csrf", "iss", "aud"},
		}}, nil
	})
}
