package httpapi

import (
	"context"
	"encoding/json"

	"github.com/danielgtaylor/huma/v2"
)

// JWKS is an RFC 7517 key set.
type JWKS struct {
	Keys []map[string]any `json:"keys" doc:"Public keys (never an HMAC key); each has kid, kty, alg, use and its public parameters"`
}

// DiscoveryBody is the OpenID Connect Discovery 1.0 document other
// services use to find the issuer, the token endpoint and the keys. This
// server is an OAuth2 authorization server that issues JWT access tokens,
// not an OpenID provider: it has no authorization endpoint and issues no ID
// token, and the document says only what is true of it, except where
// OpenID Discovery makes a field REQUIRED (see the doc tags).
type DiscoveryBody struct {
	Issuer                string   `json:"issuer" doc:"The issuer: --issuer, else --public-url, else the URL this document was fetched from"`
	JWKSURI               string   `json:"jwks_uri" doc:"The public keys that verify tokens"`
	TokenEndpoint         string   `json:"token_endpoint" doc:"OAuth2 token endpoint (password and refresh_token grants)"`
	RevocationEndpoint    string   `json:"revocation_endpoint" doc:"RFC 7009 token revocation"`
	GrantTypes            []string `json:"grant_types_supported"`
	TokenEndpointAuth     []string `json:"token_endpoint_auth_methods_supported" doc:"none: clients are public, no client authentication"`
	RevocationAuthMethods []string `json:"revocation_endpoint_auth_methods_supported" doc:"none: whoever holds a token may revoke it"`
	// REQUIRED by OpenID Discovery. There is no authorization endpoint, so
	// no response type is supported: the list is empty rather than claim
	// an implicit flow that does not exist.
	ResponseTypesSupported []string `json:"response_types_supported" doc:"Empty: there is no authorization endpoint"`
	// REQUIRED by OpenID Discovery: sub is the username, the same for
	// every client.
	SubjectTypes []string `json:"subject_types_supported" doc:"public: sub is the username for every client"`
	// REQUIRED by OpenID Discovery although no ID token is issued. It lists
	// the algorithms access tokens are signed with, which is what OIDC
	// libraries (go-oidc) take as the algorithms their verifier accepts.
	SigningAlgs     []string `json:"id_token_signing_alg_values_supported" doc:"No ID token is issued (the field is REQUIRED): the algorithms access tokens are signed with"`
	ClaimsSupported []string `json:"claims_supported" doc:"Claims of access tokens (see the AccessTokenClaims schema)"`
	ServiceDocs     string   `json:"service_documentation,omitempty" doc:"Human-readable API documentation"`
}

// AuthServerMetadata is the RFC 8414 OAuth 2.0 Authorization Server
// Metadata document. authorization_endpoint is left out as section 2
// allows when no grant type uses it (password and refresh_token do not);
// response_types_supported is REQUIRED and empty for the same reason.
type AuthServerMetadata struct {
	Issuer                 string   `json:"issuer" doc:"The issuer: --issuer, else --public-url, else the URL this document was fetched from"`
	TokenEndpoint          string   `json:"token_endpoint"`
	JWKSURI                string   `json:"jwks_uri"`
	RevocationEndpoint     string   `json:"revocation_endpoint" doc:"RFC 7009 token revocation"`
	ResponseTypesSupported []string `json:"response_types_supported" doc:"Empty: there is no authorization endpoint"`
	GrantTypes             []string `json:"grant_types_supported"`
	TokenEndpointAuth      []string `json:"token_endpoint_auth_methods_supported" doc:"none: clients are public"`
	RevocationAuthMethods  []string `json:"revocation_endpoint_auth_methods_supported" doc:"none: whoever holds a token may revoke it"`
	ServiceDocs            string   `json:"service_documentation,omitempty"`
}

// AccessTokenClaims documents the claims of an access token, so clients
// and other services know what to expect. Refresh tokens carry the same
// registered claims except fresh, iss and aud, and have the header typ
// refresh+jwt, so that a verifier configured with our issuer or audience
// (or checking typ) refuses them as access tokens.
type AccessTokenClaims struct {
	Sub   string   `json:"sub" doc:"The username"`
	Iat   int64    `json:"iat" doc:"Issued at, unix seconds"`
	Nbf   int64    `json:"nbf" doc:"Not before, unix seconds (equal to iat)"`
	JTI   string   `json:"jti" doc:"Token id, a UUID4; what a revocation names"`
	Exp   int64    `json:"exp" doc:"Expiry, unix seconds"`
	Type  string   `json:"type" enum:"access,refresh" doc:"Token type. Access tokens have the header typ JWT; refresh tokens have typ refresh+jwt and carry no iss or aud (they are for this server only: a verifier configured with the issuer or audience refuses them)"`
	Fresh bool     `json:"fresh" doc:"True only on access tokens from a password login; required by sensitive actions"`
	Roles []string `json:"roles,omitempty" doc:"The user's roles when the token was issued (checked against current roles on every request)"`
	SID   string   `json:"sid,omitempty" doc:"Session id; ending the session revokes its tokens"`
	CSRF  string   `json:"csrf,omitempty" doc:"Present on tokens issued into cookies: the value X-CSRF-Token must carry"`
	Iss   string   `json:"iss,omitempty" doc:"Issuer, the discovery document's issuer: --issuer, else --public-url, else the URL the login or refresh request came to (where a token is then accepted). Access tokens only (refresh tokens issued with --issuer before 2026-12 carry it too)"`
	Aud   string   `json:"aud,omitempty" doc:"Audience, when configured (--audience); access tokens only (refresh tokens issued before 2026-12 carry it too)"`
}

func opJWKS() huma.Operation {
	return huma.Operation{Tags: []string{"keys"},
		Summary:     "Public signing keys (JWKS)",
		Description: "RFC 7517 key set of the keys that verify tokens, for other services. Empty while the server signs with a shared secret (HS*), which is never published.",
	}
}

type jwksOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         JWKS
}

func (s *Server) jwks(ctx context.Context, _ *struct{}) (*jwksOutput, error) {
	raw, err := s.keys.PublicJWKS()
	if err != nil {
		return nil, err
	}
	var set JWKS
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, err
	}
	if set.Keys == nil {
		set.Keys = []map[string]any{}
	}
	return &jwksOutput{"public, max-age=300, must-revalidate", set}, nil
}

// discoveryOp documents a discovery document.
func discoveryOp(summary, desc string) huma.Operation {
	return huma.Operation{Tags: []string{"keys"}, Summary: summary,
		Description: desc + " Without --public-url the URLs are those the request came to (X-Forwarded-Proto/-Host " +
			"count only from --trusted-proxies), and the answer is not for shared caches."}
}

func opOpenIDConfiguration() huma.Operation {
	return discoveryOp("Discovery: issuer, token endpoint and JWKS location",
		"OpenID Connect Discovery 1.0, for OIDC libraries that verify access tokens. No ID token is issued.")
}

func (s *Server) openIDConfiguration(ctx context.Context, _ *struct{}) (*discoveryOutput[DiscoveryBody], error) {
	m := s.discovery(ctx)
	return &discoveryOutput[DiscoveryBody]{CacheControl: m.headers.cacheControl, Vary: m.headers.vary, Body: DiscoveryBody{
		Issuer: m.issuer, JWKSURI: m.base + "/.well-known/jwks.json", TokenEndpoint: m.base + "/token",
		RevocationEndpoint: m.base + "/revoke",
		GrantTypes:         grantTypes, TokenEndpointAuth: noClientAuth, RevocationAuthMethods: noClientAuth,
		ResponseTypesSupported: []string{}, SubjectTypes: []string{"public"},
		SigningAlgs:     s.keys.Algorithms(),
		ClaimsSupported: []string{"sub", "iat", "nbf", "jti", "exp", "type", "fresh", "roles", "sid", "csrf", "iss", "aud"},
		ServiceDocs:     m.base + "/docs",
	}}, nil
}

func opAuthServerMetadata() huma.Operation {
	return discoveryOp("OAuth 2.0 Authorization Server Metadata (RFC 8414)",
		"RFC 8414 metadata: the token and revocation endpoints, the grants and the keys.")
}

func (s *Server) authServerMetadata(ctx context.Context, _ *struct{}) (*discoveryOutput[AuthServerMetadata], error) {
	m := s.discovery(ctx)
	return &discoveryOutput[AuthServerMetadata]{CacheControl: m.headers.cacheControl, Vary: m.headers.vary, Body: AuthServerMetadata{
		Issuer: m.issuer, TokenEndpoint: m.base + "/token", JWKSURI: m.base + "/.well-known/jwks.json",
		RevocationEndpoint: m.base + "/revoke", ResponseTypesSupported: []string{},
		GrantTypes: grantTypes, TokenEndpointAuth: noClientAuth, RevocationAuthMethods: noClientAuth,
		ServiceDocs: m.base + "/docs",
	}}, nil
}

var (
	grantTypes   = []string{"password", "refresh_token"}
	noClientAuth = []string{"none"}
)

// discoveryHeaders are the caching headers of the discovery documents.
type discoveryHeaders struct{ cacheControl, vary string }

type discoveryOutput[T any] struct {
	CacheControl string `header:"Cache-Control" doc:"public with --public-url; private when the URLs come from the request"`
	Vary         string `header:"Vary" doc:"Host, X-Forwarded-Host, X-Forwarded-Proto when the URLs come from the request"`
	Body         T
}

type discoveryMeta struct {
	base, issuer string
	headers      discoveryHeaders
}

// discovery works out the base URL and issuer the documents publish:
// --public-url when set, else the URL the request came to (see origin).
// A document built from the request must not be shared by caches, or one
// client's Host would be served to another.
func (s *Server) discovery(ctx context.Context) discoveryMeta {
	r := requestOf(ctx)
	m := discoveryMeta{base: s.cfg.PublicURL,
		headers: discoveryHeaders{cacheControl: "public, max-age=300"}}
	if m.base == "" {
		o := origin{scheme: "http", host: "localhost"}
		if r != nil {
			o = s.origin(r)
		}
		m.base = o.baseURL()
		m.headers = discoveryHeaders{cacheControl: "private, max-age=300", vary: "Host, X-Forwarded-Host, X-Forwarded-Proto"}
	}
	// The issuer tokens carry (see issuer.go).
	if m.issuer = s.issuer(r); m.issuer == "" {
		m.issuer = m.base
	}
	return m
}
