package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

const (
	maxEventIDLen    = 100
	maxEntityTypeLen = 64
	maxEntityIDLen   = 256
	maxUserAgentLen  = 512

	uuidExample = "0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b"

	msgRequired   = "is required"
	msgMustString = "must be a string"
	msgEventID    = `must be 1 to 100 characters of A-Z, a-z, 0-9, ".", "_", ":" or "-"`
	msgEventType  = `must be a built-in event type (e.g. "user.login") or a custom one of lower-case words separated by dots, matching ^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$ (e.g. "order.completed")`
	msgUUID       = "must be a UUID (e.g. " + uuidExample + ")"
	msgCanonUUID  = "must be a UUID in canonical lower-case form (e.g. " + uuidExample + ")"
	msgControl    = "must not contain control characters"
	msgObject     = "must be an object"
	msgOccurredAt = "must be an RFC 3339 time with a UTC offset (e.g. 2026-11-21T09:30:00Z or 2026-11-21T10:30:00+01:00)"
	msgIP         = "must be an IPv4 or IPv6 address (e.g. 203.0.113.7 or 2001:db8::1)"
	msgIPZone     = "must be an IPv4 or IPv6 address without a zone (e.g. 2001:db8::1, not fe80::1%eth0)"
)

// fieldOrder is the order in which errors of one event are reported; unknown fields follow.
var fieldOrder = map[string]int{
	"":                 0,
	"event_id":         1,
	"event_type":       2,
	"user_id":          3,
	"community_id":     4,
	"entity_type":      5,
	"entity_id":        6,
	"metadata":         7,
	"occurred_at":      8,
	"ip_address":       9,
	"user_agent":       10,
	"external_user_id": 11,
}

// ValidateEvent checks an already-built Event (used by the Segment mapping): event_id (required),
// event_type, user_id and community_id (canonical lower-case UUIDs, required by event type),
// entity_type and entity_id lengths, metadata (a JSON object within the size and depth limits),
// occurred_at (required, within [now-MaxPast, now+MaxFuture]), ip_address (IPv4 or IPv6 without
// a zone), user_agent length and the absence of control characters in free-text columns.
// It returns the field errors; it does not sanitize metadata (use SanitizeValue first).
func ValidateEvent(e Event, lim Limits, now time.Time) []FieldError {
	return validate(e, lim.withDefaults(), now, true)
}

func validate(e Event, lim Limits, now time.Time, checkMetadata bool) []FieldError {
	var errs []FieldError
	add := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }

	switch {
	case e.EventID == "":
		add("event_id", msgRequired)
	case !validEventID(e.EventID):
		add("event_id", msgEventID)
	}

	typeOK := false
	switch {
	case e.EventType == "":
		add("event_type", msgRequired)
	case len(e.EventType) > maxEventTypeLen:
		add("event_type", fmt.Sprintf("must be at most %d characters", maxEventTypeLen))
	case !ValidEventType(e.EventType):
		add("event_type", msgEventType)
	default:
		typeOK = true
	}

	checkID := func(field, id string, required bool) {
		switch {
		case id == "":
			if typeOK && required {
				add(field, fmt.Sprintf("is required for event type %q", e.EventType))
			}
		default:
			var canon [36]byte
			if !parseUUID(&canon, id) {
				add(field, msgUUID)
			} else if string(canon[:]) != id {
				add(field, msgCanonUUID)
			}
		}
	}
	checkID("user_id", e.UserID, userIDRequired(e.EventType))
	checkID("community_id", e.CommunityID, communityIDRequired(e.EventType))

	checkText := func(field, s string, max int) {
		if max > 0 && utf8.RuneCountInString(s) > max {
			add(field, fmt.Sprintf("must be at most %d characters", max))
		} else if hasControl(s) {
			add(field, msgControl)
		}
	}
	checkText("entity_type", e.EntityType, maxEntityTypeLen)
	checkText("entity_id", e.EntityID, maxEntityIDLen)

	if checkMetadata {
		if msg := checkMetadataJSON(e.Metadata, lim); msg != "" {
			add("metadata", msg)
		}
	}

	if e.OccurredAt.IsZero() {
		add("occurred_at", msgRequired)
	} else if msg := checkWindow(e.OccurredAt, lim, now); msg != "" {
		add("occurred_at", msg)
	}

	if e.IPAddress != "" {
		addr, err := netip.ParseAddr(e.IPAddress)
		switch {
		case err != nil:
			add("ip_address", msgIP)
		case addr.Zone() != "":
			add("ip_address", msgIPZone)
		}
	}

	checkText("user_agent", e.UserAgent, maxUserAgentLen)
	checkText("external_user_id", e.ExternalUserID, 0)
	return errs
}

// checkMetadataJSON returns what is wrong with metadata as a stored value, or "".
func checkMetadataJSON(m []byte, lim Limits) string {
	t := bytes.TrimSpace(m)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return "must be a JSON object (\"{}\" when empty)"
	}
	if msg := checkMetadataSize(len(m), lim); msg != "" {
		return msg
	}
	if msg := checkMetadataDepth(t, lim); msg != "" {
		return msg
	}
	return checkMetadataNumbers(t)
}

// PostgreSQL's numeric, which holds the numbers of stored metadata (jsonb), takes at most
// 131072 digits before the decimal point and 16383 after it, and exponents below 2^30-1.
const (
	maxNumericWeight = 131071 // decimal exponent of the leading digit
	maxNumericScale  = 16383
	maxNumericExp    = 1<<30 - 2
)

// checkMetadataNumbers returns what is wrong with the numbers in the valid JSON text m, or "":
// a number PostgreSQL cannot store would fail the event after it was accepted.
func checkMetadataNumbers(m []byte) string {
	for i := 0; i < len(m); {
		switch c := m[i]; {
		case c == '"':
			i = skipString(m, i)
		case c == '-' || c >= '0' && c <= '9':
			end := i + 1
			for end < len(m) && (m[end] >= '0' && m[end] <= '9' || m[end] == '.' || m[end] == 'e' || m[end] == 'E' || m[end] == '+' || m[end] == '-') {
				end++
			}
			if !numericFits(m[i:end]) {
				n := string(m[i:end])
				if len(n) > 40 {
					n = n[:40] + "..."
				}
				return fmt.Sprintf("numbers must have at most %d digits before and %d after the decimal point once their exponent is applied; %s has more", maxNumericWeight+1, maxNumericScale, n)
			}
			i = end
		default:
			i++
		}
	}
	return ""
}

// numericFits reports whether the JSON number n fits PostgreSQL's numeric.
func numericFits(n []byte) bool {
	n = bytes.TrimPrefix(n, []byte("-"))
	mant, exp10, hasExp := bytes.Cut(n, []byte("e"))
	if !hasExp {
		mant, exp10, hasExp = bytes.Cut(n, []byte("E"))
	}
	exp := 0
	if hasExp {
		neg := len(exp10) > 0 && exp10[0] == '-'
		for _, d := range bytes.TrimLeft(exp10, "+-") {
			if exp = exp*10 + int(d-'0'); exp > maxNumericExp {
				return false
			}
		}
		if neg {
			exp = -exp
		}
	}
	intPart, frac, _ := bytes.Cut(mant, []byte("."))
	if len(frac)-exp > maxNumericScale {
		return false
	}
	if lead := bytes.TrimLeft(intPart, "0"); len(lead) > 0 {
		return len(lead)-1+exp <= maxNumericWeight
	}
	if lead := bytes.TrimLeft(frac, "0"); len(lead) > 0 {
		return -(len(frac)-len(lead))-1+exp <= maxNumericWeight
	}
	return true // zero
}

func checkMetadataSize(n int, lim Limits) string {
	if n > lim.MaxMetadataBytes {
		return fmt.Sprintf("must be at most %d bytes encoded (it is %d bytes)", lim.MaxMetadataBytes, n)
	}
	return ""
}

func checkMetadataDepth(raw []byte, lim Limits) string {
	if d := jsonDepth(raw); d > lim.MaxMetadataDepth {
		return metadataDepthMessage(d, lim)
	}
	return ""
}

func metadataDepthMessage(depth int, lim Limits) string {
	return fmt.Sprintf("must be nested at most %d levels deep, counting the metadata object itself as level 1 (it is %d levels deep)", lim.MaxMetadataDepth, depth)
}

// checkWindow returns what is wrong with the time t received at now, or "".
func checkWindow(t time.Time, lim Limits, now time.Time) string {
	switch {
	case t.After(now.Add(lim.MaxFuture)):
		return "is more than " + formatDuration(lim.MaxFuture) + " in the future"
	case t.Before(now.Add(-lim.MaxPast)):
		return "is older than the accepted window of " + formatDuration(lim.MaxPast)
	}
	return ""
}

// formatDuration renders d for people: "30 days", "5 minutes", "1 hour", else d.String().
func formatDuration(d time.Duration) string {
	units := []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}}
	for _, u := range units {
		if d >= u.d && d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 {
				return "1 " + u.name
			}
			return strconv.FormatInt(n, 10) + " " + u.name + "s"
		}
	}
	return d.String()
}

func validEventID(s string) bool {
	if len(s) == 0 || len(s) > maxEventIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// hasControl reports whether s holds a character of Unicode category Cc (tab and newline too).
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}
