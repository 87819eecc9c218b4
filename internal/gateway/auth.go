package gateway

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
)

// authenticate finds the client's key: a Bearer token (OpenAI clients) or x-api-key
// (Anthropic clients), matched against the config's keys by hash, then, when the gateway
// has a key store, against the projects' API keys.
func (g *Gateway) authenticate(r *http.Request) (*clientKey, *apiError) {
	secret := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return nil, errUnauthorized("The Authorization header must be `Bearer KEY`.")
		}
		secret = strings.TrimSpace(rest)
	} else {
		secret = strings.TrimSpace(r.Header.Get("x-api-key"))
	}
	if secret == "" {
		return nil, errUnauthorized("You didn't provide an API key. Send your gateway key in the Authorization header as `Bearer KEY`.")
	}
	// The lookup is by a hash of the secret, so that its time does not depend on how much
	// of a guess matches a real key.
	if k, ok := g.keys[sha256.Sum256([]byte(secret))]; ok {
		return k, nil
	}
	if g.opt.Keys != nil && auth.LooksLikeAPIKey(secret) {
		k, err := g.opt.Keys.GetAPIKeyByHash(r.Context(), store.HashToken(secret))
		switch {
		case err == nil:
			// Shown by its name (its id when it has none); counted by its id, as two keys may
			// share a name.
			name := k.Name
			if name == "" {
				name = k.ID
			}
			return &clientKey{name: name, limitID: k.ID, project: k.ProjectID, limits: g.opt.ProjectKeyLimits}, nil
		case !errors.Is(err, store.ErrNotFound):
			g.log.Error("gateway: look up a project API key", "err", err)
			return nil, &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "auth_unavailable",
				Message: "The gateway cannot check API keys right now; retry shortly."}
		}
	}
	return nil, errUnauthorized("Incorrect API key provided. Use a key of the gateway's config (or a project API key), not an upstream provider's key.")
}

func errUnauthorized(msg string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest, Code: "invalid_api_key", Message: msg}
}
