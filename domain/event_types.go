package domain

import (
	"slices"
)

// BuiltinEventTypes are the event types the platform itself emits (api.md "Ingest").
var BuiltinEventTypes = []string{
	"user.signup",
	"user.login",
	"community.created",
	"member.created",
	"member.activated",
	"event.created",
	"hackathon.created",
	"webhook.triggered",
	"github.push",
	"github.pr.opened",
}

const maxEventTypeLen = 64

// IsBuiltinEventType reports whether t is one of BuiltinEventTypes.
func IsBuiltinEventType(t string) bool {
	return slices.Contains(BuiltinEventTypes, t)
}

// builtinEventType returns the built-in event type spelled s, without allocating.
func builtinEventType(s []byte) (string, bool) {
	for _, t := range BuiltinEventTypes {
		if string(s) == t {
			return t, true
		}
	}
	return "", false
}

// ValidEventType reports whether t is a built-in event type or a custom one: at most 64
// characters matching ^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$.
func ValidEventType(t string) bool {
	if IsBuiltinEventType(t) {
		return true
	}
	if len(t) == 0 || len(t) > maxEventTypeLen {
		return false
	}
	if t[0] < 'a' || t[0] > 'z' {
		return false
	}
	prevDot := false
	for i := 1; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			prevDot = false
		default:
			return false
		}
	}
	return !prevDot
}

// userIDRequired reports whether events of type t must name a user.
func userIDRequired(t string) bool {
	return hasPrefix(t, "user.") || hasPrefix(t, "member.")
}

// communityIDRequired reports whether events of type t must name a community.
func communityIDRequired(t string) bool {
	return hasPrefix(t, "community.") || hasPrefix(t, "member.") ||
		t == "event.created" || t == "hackathon.created"
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
