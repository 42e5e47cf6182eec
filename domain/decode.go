package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// knownFields are the top-level fields of an event, in the order of api.md.
var knownFields = []string{
	"event_id", "event_type", "user_id", "community_id", "entity_type", "entity_id",
	"metadata", "occurred_at", "ip_address", "user_agent",
}

// member is one key and its raw value in a JSON object, in the order received.
type member struct {
	key string
	val json.RawMessage
}

// parseObject splits the JSON object raw into its members, in the order received. It fails
// when raw is not exactly one JSON object (with optional surrounding white space).
func parseObject(raw []byte) ([]member, error) {
	if !json.Valid(raw) {
		return nil, errors.New("not valid JSON")
	}
	return splitObject(raw)
}

// DecodeRequest parses a POST /api/v1/events body: either one event object, or {"events": [...]}
// with 1..MaxEvents items (a top-level object is a batch iff it has the key "events"). It returns
// the valid events and per-event rejections, both in request order. err is *BodyError when:
// invalid UTF-8 anywhere in the body, not JSON, trailing data after the JSON value, top-level not
// an object, "events" not an array, 0 events, more than MaxEvents, or a batch object with keys
// other than "events". A batch item that is not a JSON object is a rejection (field ""), not a
// body error. A single event that is invalid is a rejection with index 0.
func DecodeRequest(body []byte, lim Limits, def Defaults) (accepted []Accepted, rejected []Rejection, err error) {
	lim = lim.withDefaults()
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil, &BodyError{Message: `body is empty; send one event object or {"events": [...]}`}
	}
	if !utf8.Valid(body) {
		return nil, nil, &BodyError{Message: "body is not valid UTF-8"}
	}
	if !json.Valid(body) {
		return nil, nil, &BodyError{Message: "body is not valid JSON: " + syntaxError(body)}
	}
	if trimmed[0] != '{' {
		return nil, nil, &BodyError{Message: `body must be a JSON object: one event, or {"events": [...]}`}
	}
	members, perr := splitObject(trimmed)
	if perr != nil { // cannot happen: the body is valid JSON
		return nil, nil, &BodyError{Message: "body is not valid JSON: " + perr.Error()}
	}

	batch := slices.ContainsFunc(members, func(m member) bool { return m.key == "events" })
	if !batch {
		ev, id, errs := decodeMembers(members, lim, def)
		if len(errs) > 0 {
			return nil, []Rejection{{Index: 0, EventID: id, Errors: errs}}, nil
		}
		return []Accepted{{Index: 0, Event: ev}}, nil, nil
	}

	if len(members) != 1 {
		for _, m := range members {
			if m.key != "events" {
				return nil, nil, &BodyError{Message: fmt.Sprintf(`a batch object must hold only the key "events"; found %q`, m.key)}
			}
		}
		return nil, nil, &BodyError{Message: `a batch object must hold the key "events" once`}
	}
	rawEvents := bytes.TrimSpace(members[0].val)
	if len(rawEvents) == 0 || rawEvents[0] != '[' {
		return nil, nil, &BodyError{Message: `"events" must be an array of event objects`}
	}
	items, ok := splitArray(rawEvents)
	if !ok {
		return nil, nil, &BodyError{Message: `"events" must be an array of event objects`}
	}
	switch {
	case len(items) == 0:
		return nil, nil, &BodyError{Message: fmt.Sprintf(`"events" is empty; send 1 to %d events`, lim.MaxEvents)}
	case len(items) > lim.MaxEvents:
		return nil, nil, &BodyError{Message: fmt.Sprintf(`"events" holds %d events; send at most %d per request`, len(items), lim.MaxEvents)}
	}

	accepted = make([]Accepted, 0, len(items))
	for i, item := range items {
		item = bytes.TrimSpace(item)
		if len(item) == 0 || item[0] != '{' {
			rejected = append(rejected, Rejection{Index: i, Errors: []FieldError{{Field: "", Message: "must be a JSON object"}}})
			continue
		}
		ms, err := splitObject(item)
		if err != nil { // cannot happen: the body is valid JSON
			rejected = append(rejected, Rejection{Index: i, Errors: []FieldError{{Field: "", Message: "must be a JSON object"}}})
			continue
		}
		ev, id, errs := decodeMembers(ms, lim, def)
		if len(errs) > 0 {
			rejected = append(rejected, Rejection{Index: i, EventID: id, Errors: errs})
			continue
		}
		accepted = append(accepted, Accepted{Index: i, Event: ev})
	}
	return accepted, rejected, nil
}

// syntaxError describes why body is not valid JSON, with the byte offset when known.
func syntaxError(body []byte) string {
	var v struct{}
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	if err != nil {
		return err.Error()
	}
	return "malformed"
}

// DecodeEvent validates and sanitizes one JSON event object. On errors the returned Event is
// the zero value.
func DecodeEvent(raw json.RawMessage, lim Limits, def Defaults) (Event, []FieldError) {
	lim = lim.withDefaults()
	if !utf8.Valid(raw) {
		return Event{}, []FieldError{{Field: "", Message: "must be valid UTF-8"}}
	}
	ms, err := parseObject(raw)
	if err != nil {
		return Event{}, []FieldError{{Field: "", Message: "must be a JSON object"}}
	}
	ev, _, errs := decodeMembers(ms, lim, def)
	if len(errs) > 0 {
		return Event{}, errs
	}
	return ev, nil
}

// decodeMembers builds, sanitizes and validates an event from the members of its JSON object.
// It also returns the event_id the client sent, when it sent a string.
func decodeMembers(ms []member, lim Limits, def Defaults) (Event, string, []FieldError) {
	now := def.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Microsecond)

	var errs []FieldError
	failed := map[string]bool{}
	fail := func(field, msg string) {
		if !failed[field] {
			failed[field] = true
			errs = append(errs, FieldError{Field: field, Message: msg})
		}
	}

	vals := make(map[string]json.RawMessage, len(ms))
	for _, m := range ms {
		if !slices.Contains(knownFields, m.key) {
			fail(m.key, unknownFieldMessage(m.key))
			continue
		}
		if _, dup := vals[m.key]; dup {
			fail(m.key, "appears more than once; send each field once")
			continue
		}
		vals[m.key] = m.val
	}

	// str decodes a string field; ok is false when the field is absent, null or failed.
	str := func(field string) (string, bool) {
		raw, present := vals[field]
		if !present || failed[field] || isNull(raw) {
			return "", false
		}
		if raw[0] != '"' {
			fail(field, msgMustString)
			return "", false
		}
		s, err := unquote(raw)
		if err != nil {
			fail(field, msgMustString)
			return "", false
		}
		return s, true
	}

	ev := Event{ReceivedAt: now}
	clientID, hasID := str("event_id")
	if hasID {
		if clientID == "" {
			fail("event_id", msgEventID)
		}
		ev.EventID = clientID
	} else if !failed["event_id"] {
		ev.EventID = NewUUIDv7(now)
	}
	ev.EventType, _ = str("event_type")

	uuidField := func(field string) string {
		s, ok := str(field)
		if !ok {
			return ""
		}
		u, ok := ParseUUID(s)
		if !ok {
			fail(field, msgUUID)
			return ""
		}
		return u
	}
	ev.UserID = uuidField("user_id")
	ev.CommunityID = uuidField("community_id")
	ev.EntityType, _ = str("entity_type")
	ev.EntityID, _ = str("entity_id")

	ev.Metadata = json.RawMessage("{}")
	if raw, ok := vals["metadata"]; ok && !failed["metadata"] && !isNull(raw) {
		switch {
		case raw[0] != '{':
			fail("metadata", msgObject)
		case checkMetadataSize(len(raw), lim) != "":
			fail("metadata", checkMetadataSize(len(raw), lim))
		case checkMetadataDepth(raw, lim) != "":
			fail("metadata", checkMetadataDepth(raw, lim))
		default:
			m, err := sanitizeMetadata(raw)
			switch {
			case err != nil:
				fail("metadata", msgObject)
			case len(m) > lim.MaxMetadataBytes:
				// Redaction can make a value longer ("[REDACTED]" for 0), and U+2028/U+2029 are
				// escaped on output; the stored object keeps within the limit too.
				fail("metadata", fmt.Sprintf("must be at most %d bytes encoded (it is %d bytes after sanitizing)", lim.MaxMetadataBytes, len(m)))
			default:
				ev.Metadata = m
			}
		}
	}

	ev.OccurredAt = now
	if s, ok := str("occurred_at"); ok {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			fail("occurred_at", msgOccurredAt)
		} else {
			ev.OccurredAt = t.UTC().Truncate(time.Microsecond)
		}
	}

	ev.IPAddress = defaultIP(def.IPAddress)
	if s, ok := str("ip_address"); ok {
		addr, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			fail("ip_address", msgIP)
		case addr.Zone() != "":
			fail("ip_address", msgIPZone)
		default:
			ev.IPAddress = addr.String()
		}
	}

	ev.UserAgent = cutRunes(removeAllControl(def.UserAgent), maxUserAgentLen)
	if s, ok := str("user_agent"); ok {
		ev.UserAgent = s
	}

	for _, fe := range validate(ev, lim, now, false) {
		fail(fe.Field, fe.Message)
	}
	if len(errs) > 0 {
		sortFieldErrors(errs)
		return Event{}, clientID, errs
	}
	return ev, clientID, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// defaultIP canonicalizes the caller's address; an unusable one is dropped, never an error of
// the client's event. A zone (link-local caller) is removed.
func defaultIP(s string) string {
	if s == "" {
		return ""
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	return addr.WithZone("").String()
}

// removeAllControl removes every Cc character, tab and newline included.
func removeAllControl(s string) string {
	if !hasControl(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return -1
		}
		return r
	}, s)
}

func unknownFieldMessage(key string) string {
	msg := fmt.Sprintf("unknown field %q", key)
	if s := snakeCase(key); s != key && slices.Contains(knownFields, s) {
		return msg + fmt.Sprintf("; did you mean %q?", s)
	}
	return msg + "; known fields are " + strings.Join(knownFields, ", ")
}

// snakeCase turns "userId" or "User-ID" into "user_id".
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			if i > 0 && !strings.HasSuffix(b.String(), "_") && !(s[i-1] >= 'A' && s[i-1] <= 'Z') {
				b.WriteByte('_')
			}
			b.WriteRune(r + 'a' - 'A')
		case r == '-' || r == ' ':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sortFieldErrors orders errors by field as in api.md; unknown fields keep request order, last.
func sortFieldErrors(errs []FieldError) {
	rank := func(f string) int {
		if r, ok := fieldOrder[f]; ok {
			return r
		}
		return len(fieldOrder)
	}
	slices.SortStableFunc(errs, func(a, b FieldError) int { return rank(a.Field) - rank(b.Field) })
}
