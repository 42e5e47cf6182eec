package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

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

// SegmentEventID maps a Segment messageId to an event_id: a messageId that already satisfies the
// event_id rule (1–100 characters of [A-Za-z0-9._:-]) is kept as is; any other non-empty one maps
// to UUIDv5(SegmentNamespace, messageId), so retries of the same message keep one event_id.
func SegmentEventID(messageID string) string {
	if validEventID(messageID) {
		return messageID
	}
	return UUIDv5(SegmentNamespace, messageID)
}

// The Segment message types MapSegmentMessage accepts.
const (
	SegmentTrack    = "track"
	SegmentIdentify = "identify"
	SegmentPage     = "page"
	SegmentScreen   = "screen"
)

// The event types of Segment messages other than track.
const (
	SegmentIdentifyEventType = "user.identify"
	SegmentPageEventType     = "page.viewed"
	SegmentScreenEventType   = "screen.viewed"
)

const maxEmailLen = 320

// SizeError: a Segment request or one of its messages is over a size limit (→ HTTP 413).
type SizeError struct {
	Message string
}

func (e *SizeError) Error() string { return e.Message }

// SegmentRequest is a parsed Segment request body.
type SegmentRequest struct {
	// WriteKey is the top-level "writeKey" string ("" when absent).
	WriteKey string
	// Context is the batch-level "context" (batch requests only; nil when absent).
	Context map[string]any
	// Messages are the raw messages in request order, without any "writeKey" member (so a key
	// never reaches the dead letters). Track and identify requests hold one: the body.
	Messages []json.RawMessage
	// Invalid is set when a batch body is JSON but not a usable batch (not an object, "batch"
	// not an array, "context" not an object): the body as a whole is one invalid message, and
	// Messages holds it.
	Invalid string
}

// ParseSegmentBody parses the body of a Segment request. batch selects the batch format
// ({"batch": [...], "context": {...}}); otherwise the body is one message. It fails with
// *BodyError (→ 400) when the body is not valid UTF-8 JSON or a batch holds more than
// maxMessages messages, and with *SizeError (→ 413) when a batch message is over
// maxMessageBytes as received. A body that is JSON but not a usable batch is not an error: see
// SegmentRequest.Invalid. An empty batch gives no messages.
func ParseSegmentBody(body []byte, batch bool, maxMessages, maxMessageBytes int) (SegmentRequest, error) {
	var req SegmentRequest
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return req, &BodyError{Message: "body is empty; send a Segment message as JSON"}
	case !utf8.Valid(body):
		return req, &BodyError{Message: "body is not valid UTF-8"}
	case !json.Valid(body):
		return req, &BodyError{Message: "body is not valid JSON: " + syntaxError(body)}
	}
	var members []member
	if trimmed[0] == '{' {
		members, _ = splitObject(trimmed) // valid JSON: cannot fail
	}
	for _, m := range members {
		if m.key == "writeKey" && len(m.val) > 0 && m.val[0] == '"' {
			req.WriteKey, _ = unquote(m.val)
		}
	}
	if !batch {
		req.Messages = []json.RawMessage{withoutWriteKey(trimmed, members)}
		return req, nil
	}
	invalid := func(reason string) (SegmentRequest, error) {
		req.Invalid = reason
		req.Messages = []json.RawMessage{withoutWriteKey(trimmed, members)}
		return req, nil
	}
	if trimmed[0] != '{' {
		return invalid(`the body must be a JSON object {"batch": [...]}`)
	}
	var items []json.RawMessage
	found := false
	for _, m := range members {
		switch m.key {
		case "batch":
			var ok bool
			if items, ok = splitArray(m.val); !ok {
				return invalid(`"batch" must be an array of messages`)
			}
			found = true
		case "context":
			if isNull(m.val) {
				continue
			}
			if m.val[0] != '{' {
				return invalid(`"context" must be an object`)
			}
			ctx, err := decodeSegmentObject(m.val)
			if err != nil {
				return invalid(`"context" must be an object`)
			}
			req.Context = ctx
		}
	}
	if !found {
		return invalid(`the body must hold "batch": an array of messages`)
	}
	if len(items) > maxMessages {
		return SegmentRequest{}, &BodyError{Message: fmt.Sprintf(`"batch" holds %d messages; send at most %d per request`, len(items), maxMessages)}
	}
	req.Messages = make([]json.RawMessage, len(items))
	for i, it := range items {
		if len(it) > maxMessageBytes {
			return SegmentRequest{}, &SizeError{Message: fmt.Sprintf("message %d of the batch is %d bytes; a message may be at most %d bytes", i, len(it), maxMessageBytes)}
		}
		var ms []member
		if it[0] == '{' {
			ms, _ = splitObject(it)
		}
		req.Messages[i] = withoutWriteKey(it, ms)
	}
	return req, nil
}

// withoutWriteKey returns the JSON object raw (whose members are ms) without its "writeKey"
// members; raw itself when it has none.
func withoutWriteKey(raw []byte, ms []member) json.RawMessage {
	if !slices.ContainsFunc(ms, func(m member) bool { return m.key == "writeKey" }) {
		return raw
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, m := range ms {
		if m.key == "writeKey" {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
		n++
	}
	b.WriteByte('}')
	return b.Bytes()
}

// decodeSegmentObject decodes a JSON object, keeping numbers as json.Number.
func decodeSegmentObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errNotObject
	}
	return m, nil
}

// MapSegmentMessage maps one Segment message to an event (api.md "Segment-compatible ingest").
// typ is the message type the route implies ("track" for /v1/track, "identify" for
// /v1/identify), or "" to take it from the message's "type" (batch). batchContext is the
// batch-level context, merged under the message's own context (a message key wins; top-level
// keys of context only).
//
// The mapping:
//   - messageId → event_id via SegmentEventID; absent or "" → a new UUIDv7.
//   - timestamp, else originalTimestamp, else the received time → occurred_at. RFC 3339
//     ("2012-12-02T00:30:08.276Z"); an offset without colon ("+0000") is accepted too.
//   - userId, else anonymousId → user_id via SegmentID, the original kept as ExternalUserID.
//     One of them is required (as Segment requires).
//   - properties.community_id, else context.groupId → community_id via SegmentID;
//     properties.community_id is removed from the metadata.
//   - track: event → event_type via SegmentEventName; properties → metadata.
//   - identify: event_type "user.identify"; traits without "email" → metadata; traits.email →
//     Email (for the user row; never in metadata).
//   - page, screen: event_type "page.viewed" / "screen.viewed"; properties → metadata, plus the
//     message's "name" (and, for page, "category") when properties hold none.
//   - context.ip → ip_address; context.userAgent → user_agent; defaults from def.
//   - Ids may be JSON strings or numbers (a number stands for its decimal text).
//
// Metadata is sanitized (SanitizeValue) and the event is then checked with the rules of the
// main ingest (ValidateEvent, e.g. the occurred_at window). Errors name the Segment field
// ("timestamp", "context.ip", ...). messageID is the messageId the client sent (for the dead
// letters); on errors the Event is incomplete and must not be stored.
func MapSegmentMessage(raw []byte, typ string, batchContext map[string]any, lim Limits, def Defaults) (ev Event, messageID string, errs []FieldError) {
	lim = lim.withDefaults()
	now := def.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Microsecond)

	failed := map[string]bool{}
	fail := func(field, msg string) {
		if !failed[field] {
			failed[field] = true
			errs = append(errs, FieldError{Field: field, Message: msg})
		}
	}
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return Event{}, "", []FieldError{{Field: "", Message: "must be a JSON object"}}
	}
	msg, err := decodeSegmentObject(t)
	if err != nil {
		return Event{}, "", []FieldError{{Field: "", Message: "must be a JSON object"}}
	}

	// str reads an id-like field: a string, or a number as its text; ok is false when the
	// field is absent, null, "" or of another type (then it fails).
	str := func(m map[string]any, field, name string) (string, bool) {
		switch v := m[field].(type) {
		case nil:
		case string:
			return v, v != ""
		case json.Number:
			return v.String(), true
		default:
			fail(name, "must be a string")
		}
		return "", false
	}
	object := func(m map[string]any, field, name string) map[string]any {
		switch v := m[field].(type) {
		case nil:
			return map[string]any{}
		case map[string]any:
			return maps.Clone(v)
		default:
			fail(name, msgObject)
			return map[string]any{}
		}
	}

	if typ == "" {
		s, ok := msg["type"].(string)
		switch {
		case !ok || s == "":
			return Event{}, "", []FieldError{{Field: "type", Message: "is required: track, identify, page or screen"}}
		case s != SegmentTrack && s != SegmentIdentify && s != SegmentPage && s != SegmentScreen:
			return Event{}, "", []FieldError{{Field: "type", Message: fmt.Sprintf("%q is not supported; send track, identify, page or screen", s)}}
		}
		typ = s
	}

	ev = Event{ReceivedAt: now}
	if id, ok := str(msg, "messageId", "messageId"); ok {
		messageID = id
		ev.EventID = SegmentEventID(id)
	} else {
		ev.EventID = NewUUIDv7(now)
	}

	ev.OccurredAt = now
	tsField := "timestamp"
	for _, f := range []string{"timestamp", "originalTimestamp"} {
		if s, ok := str(msg, f, f); ok {
			tsField = f
			ts, err := parseSegmentTime(s)
			if err != nil {
				fail(f, "must be an ISO 8601 time with a UTC offset (e.g. 2012-12-02T00:30:08.276Z)")
			} else {
				ev.OccurredAt = ts.UTC().Truncate(time.Microsecond)
			}
			break
		}
		if failed[f] {
			break
		}
	}

	userField := "userId"
	uid, ok := str(msg, "userId", "userId")
	if !ok && !failed["userId"] {
		userField = "anonymousId"
		uid, ok = str(msg, "anonymousId", "anonymousId")
	}
	if ok {
		ev.UserID, ev.ExternalUserID = SegmentID(uid)
	} else if !failed[userField] {
		userField = "userId"
		fail(userField, "is required (or anonymousId)")
	}

	ctx := maps.Clone(batchContext)
	if ctx == nil {
		ctx = map[string]any{}
	}
	maps.Copy(ctx, object(msg, "context", "context"))

	var meta map[string]any
	metaField := "properties"
	switch typ {
	case SegmentTrack:
		name, ok := msg["event"].(string)
		if !ok || name == "" {
			if _, present := msg["event"]; present && !ok {
				fail("event", "must be a string")
			} else {
				fail("event", "is required for a track message")
			}
		} else {
			ev.EventType = SegmentEventName(name)
		}
		meta = object(msg, "properties", "properties")
	case SegmentIdentify:
		ev.EventType = SegmentIdentifyEventType
		metaField = "traits"
		meta = object(msg, "traits", "traits")
		if e, ok := meta["email"].(string); ok {
			e = strings.TrimSpace(removeAllControl(e))
			if utf8.RuneCountInString(e) > maxEmailLen {
				fail("traits.email", fmt.Sprintf("must be at most %d characters", maxEmailLen))
			}
			ev.Email = e
		}
		delete(meta, "email")
	case SegmentPage, SegmentScreen:
		ev.EventType = SegmentPageEventType
		extra := []string{"name", "category"}
		if typ == SegmentScreen {
			ev.EventType = SegmentScreenEventType
			extra = extra[:1]
		}
		meta = object(msg, "properties", "properties")
		for _, k := range extra {
			if v, ok := msg[k].(string); ok && v != "" {
				if _, has := meta[k]; !has {
					meta[k] = v
				}
			}
		}
	}

	communityField := "properties.community_id"
	community, ok := "", false
	if typ != SegmentIdentify {
		community, ok = str(meta, "community_id", communityField)
		delete(meta, "community_id")
	}
	if !ok && !failed[communityField] {
		communityField = "context.groupId"
		community, _ = str(ctx, "groupId", communityField)
	}
	ev.CommunityID, _ = SegmentID(community)

	m, err := encodeJSON(SanitizeValue(meta))
	if err != nil {
		fail(metaField, msgObject)
		m = json.RawMessage("{}")
	}
	ev.Metadata = m

	ev.IPAddress = defaultIP(def.IPAddress)
	if s, ok := str(ctx, "ip", "context.ip"); ok {
		addr, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			fail("context.ip", msgIP)
		case addr.Zone() != "":
			fail("context.ip", msgIPZone)
		default:
			ev.IPAddress = addr.String()
		}
	}
	ev.UserAgent = cutRunes(removeAllControl(def.UserAgent), maxUserAgentLen)
	switch v := ctx["userAgent"].(type) {
	case nil:
	case string:
		if v != "" {
			ev.UserAgent = v
		}
	default:
		fail("context.userAgent", "must be a string")
	}

	segmentField := map[string]string{
		"event_id": "messageId", "event_type": "event", "user_id": userField,
		"community_id": communityField, "metadata": metaField, "occurred_at": tsField,
		"ip_address": "context.ip", "user_agent": "context.userAgent", "external_user_id": userField,
	}
	for _, fe := range validate(ev, lim, now, true) {
		f, ok := segmentField[fe.Field]
		if !ok {
			f = fe.Field
		}
		fail(f, fe.Message)
	}
	return ev, messageID, errs
}

// parseSegmentTime parses an ISO 8601 time with an offset: RFC 3339, or with "+hhmm".
func parseSegmentTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t, nil
	}
	if t2, err2 := time.Parse("2006-01-02T15:04:05.999999999Z0700", s); err2 == nil {
		return t2, nil
	}
	return time.Time{}, err
}
