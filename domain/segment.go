package domain

import "strings"

// SegmentEventName maps a Segment track event name to an event type: lower-cased, every run of
// characters outside [a-z0-9._] replaced by "_", and prefixed with "event_" when the result does
// not start with a letter (also when it is empty). "Order Completed" → "order_completed",
// "123 go" → "event_123_go". The result is not guaranteed to be a valid event type ("a..b",
// names over 64 characters); ValidateEvent rejects those.
func SegmentEventName(name string) string {
	lower := strings.ToLower(name)
	var b strings.Builder
	b.Grow(len(lower) + len("event_"))
	inRun := false
	for _, r := range lower {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '.' || r == '_' {
			b.WriteRune(r)
			inRun = false
			continue
		}
		if !inRun {
			b.WriteByte('_')
			inRun = true
		}
	}
	out := b.String()
	if out == "" || out[0] < 'a' || out[0] > 'z' {
		out = "event_" + out
	}
	return out
}

// SegmentID maps a Segment id (userId, anonymousId, groupId, properties.community_id) to a UUID.
// A UUID is kept (in canonical lower case; external is ""); any other non-empty string maps to
// UUIDv5(SegmentNamespace, id) and is returned as external, to be kept on the user row. An empty
// id gives ("", "").
func SegmentID(id string) (uuid string, external string) {
	if id == "" {
		return "", ""
	}
	if u, ok := ParseUUID(id); ok {
		return u, ""
	}
	return UUIDv5(SegmentNamespace, id), id
}
