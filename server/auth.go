package server

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// auth checks the bearer key for role. With no keys configured auth is off
// (New only allows that on loopback).
func (s *Server) auth(role string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(s.cfg.Keys) == 0 {
			return c.Next()
		}
		h := c.Get(fiber.HeaderAuthorization)
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return newError(http.StatusUnauthorized, "unauthorized", "missing API key: send Authorization: Bearer KEY")
		}
		key, found := s.lookupKey(strings.TrimSpace(token))
		if !found {
			return newError(http.StatusUnauthorized, "unauthorized", "invalid API key")
		}
		if !key.has(role) {
			return newError(http.StatusForbidden, "forbidden", "API key %q lacks the %q role", key.Name, role).
				with("required_role", role)
		}
		return c.Next()
	}
}

// lookupKey compares token with every key in constant time.
func (s *Server) lookupKey(token string) (APIKey, bool) {
	var found APIKey
	ok := false
	for _, k := range s.cfg.Keys {
		if subtle.ConstantTimeCompare([]byte(k.Key), []byte(token)) == 1 {
			found, ok = k, true
		}
	}
	return found, ok
}
