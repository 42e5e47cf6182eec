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
	if !validJSON(body) {
		return nil, nil, &BodyError{Message: "body is not valid JSON: " + syntaxError(body)}
	}
	if trimmed[0] != '{' {
		return nil, nil, &BodyError{Message: `body must be a JSON object: one event, or {"events": [...]}`}
	}
	top := splitRequest(trimmed)

	rd := newRequestDefaults(def)
	if !top.batch {
		ev, id, errs := decodeEventObject(trimmed, lim, &rd)
		if len(errs) > 0 {
			return nil, []Rejection{{Index: 0, EventID: id, Errors: errs}}, nil
		}
		return []Accepted{{Index: 0, Event: ev, SentID: id}}, nil, nil
	}

	if top.members != 1 {
		if top.hasOther {
			return nil, nil, &BodyError{Message: fmt.Sprintf(`a batch object must hold only the key "events"; found %q`, top.otherKey)}
		}
		return nil, nil, &BodyError{Message: `a batch object must hold the key "events" once`}
	}
	if !top.isArray {
		return nil, nil, &BodyError{Message: `"events" must be an array of event objects`}
	}
	items := top.items
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
		ev, id, errs := decodeEventObject(item, lim, &rd)
		if len(errs) > 0 {
			rejected = append(rejected, Rejection{Index: i, EventID: id, Errors: errs})
			continue
		}
		accepted = append(accepted, Accepted{Index: i, Event: ev, SentID: id})
	}
	return accepted, rejected, nil
}

// requestShape is what DecodeRequest needs to know of the top-level object of a body.
type requestShape struct {
	members  int    // how many
	batch    bool   // one of them is named "events"
	hasOther bool   // one of them is not
	otherKey string // the first that is not
	// The first member, when it is named "events" and its value is an array: its elements.
	isArray bool
	items   []json.RawMessage
}

// splitRequest describes the valid JSON object b (b[0] == '{'), in one pass.
func splitRequest(b []byte) requestShape {
	var r requestShape
	i := skipSpace(b, 1)
	if i >= len(b) || b[i] == '}' {
		return r
	}
	for {
		kstart, kend := i, skipString(b, i)
		key := b[i+1 : kend-1]
		isEvents := string(key) == "events"
		if !isEvents && bytes.IndexByte(key, '\\') >= 0 {
			k, _ := unquote(b[kstart:kend])
			isEvents = k == "events"
		}
		i = skipSpace(b, kend)
		i = skipSpace(b, i+1) // ':'
		r.members++
		var end int
		switch {
		case isEvents && r.members == 1 && b[i] == '[':
			r.isArray = true
			r.items, end = splitArrayAt(b, i)
		default:
			end = skipValue(b, i)
		}
		if isEvents {
			r.batch = true
		} else if !r.hasOther {
			r.hasOther = true
			r.otherKey, _ = unquote(b[kstart:kend])
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] == '}' {
			return r
		}
		i = skipSpace(b, i+1) // ','
	}
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
	if !validJSON(raw) {
		return Event{}, []FieldError{{Field: "", Message: "must be a JSON object"}}
	}
	trimmed := bytes.TrimSpace(raw)
	if trimmed[0] != '{' {
		return Event{}, []FieldError{{Field: "", Message: "must be a JSON object"}}
	}
	rd := newRequestDefaults(def)
	ev, _, errs := decodeEventObject(trimmed, lim, &rd)
	if len(errs) > 0 {
		return Event{}, errs
	}
	return ev, nil
}

// Field indexes: the positions in knownFields.
const (
	fieldEventID = iota
	fieldEventType
	fieldUserID
	fieldCommunityID
	fieldEntityType
	fieldEntityID
	fieldMetadata
	fieldOccurredAt
	fieldIPAddress
	fieldUserAgent
	numFields
)

// fieldIndex returns the index of the known field named key, or -1.
func fieldIndex[T ~string | ~[]byte](key T) int {
	switch string(key) {
	case "event_id":
		return fieldEventID
	case "event_type":
		return fieldEventType
	case "user_id":
		return fieldUserID
	case "community_id":
		return fieldCommunityID
	case "entity_type":
		return fieldEntityType
	case "entity_id":
		return fieldEntityID
	case "metadata":
		return fieldMetadata
	case "occurred_at":
		return fieldOccurredAt
	case "ip_address":
		return fieldIPAddress
	case "user_agent":
		return fieldUserAgent
	}
	return -1
}

// requestDefaults are the Defaults of a request, with what does not change from one event to
// the next worked out once.
type requestDefaults struct {
	now time.Time // Defaults.Now; zero: time.Now() for each event
	ip  string    // defaultIP(Defaults.IPAddress)
	ua  string    // Defaults.UserAgent without control characters, cut
}

func newRequestDefaults(def Defaults) requestDefaults {
	return requestDefaults{
		now: def.Now,
		ip:  defaultIP(def.IPAddress),
		ua:  cutRunes(removeAllControl(def.UserAgent), maxUserAgentLen),
	}
}

// eventDecoder collects the errors of one event: at most one per field, the first found.
type eventDecoder struct {
	errs   []FieldError
	failed uint16 // bit i: known field i has an error
}

func (d *eventDecoder) hasFailed(f int) bool { return d.failed&(1<<f) != 0 }

// fail records msg for the known field f unless f already has an error.
func (d *eventDecoder) fail(f int, msg string) {
	if !d.hasFailed(f) {
		d.failed |= 1 << f
		d.errs = append(d.errs, FieldError{Field: knownFields[f], Message: msg})
	}
}

// failName records msg for the field named name unless it already has an error.
func (d *eventDecoder) failName(name, msg string) {
	if f := fieldIndex(name); f >= 0 {
		d.fail(f, msg)
		return
	}
	for _, e := range d.errs {
		if e.Field == name {
			return
		}
	}
	d.errs = append(d.errs, FieldError{Field: name, Message: msg})
}

// eventObject is the raw members of an event object by field.
type eventObject struct {
	vals      [numFields][]byte // raw JSON values; nil when absent
	metaDepth int               // nesting depth of the metadata value
}

// split records the members of the valid JSON object b (b[0] == '{'): known fields in o,
// unknown and repeated ones as errors, in the order received.
func (d *eventDecoder) split(b []byte, o *eventObject) {
	i := skipSpace(b, 1)
	if i >= len(b) || b[i] == '}' {
		return
	}
	for {
		kend := skipString(b, i)
		key := b[i+1 : kend-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			key, _ = unescapeTo(nil, key)
		}
		i = skipSpace(b, kend)
		i = skipSpace(b, i+1) // ':'
		f := fieldIndex(key)
		var end int
		if f == fieldMetadata {
			end, o.metaDepth = skipValueDepth(b, i)
		} else {
			end = skipValue(b, i)
		}
		switch {
		case f < 0:
			name := string(key)
			d.failName(name, unknownFieldMessage(name))
		case o.vals[f] != nil:
			d.fail(f, "appears more than once; send each field once")
		default:
			o.vals[f] = b[i:end:end]
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] == '}' {
			return
		}
		i = skipSpace(b, i+1) // ','
	}
}

// str returns the decoded contents of the string field f; ok is false when the field is
// absent, null or failed.
func (d *eventDecoder) str(o *eventObject, f int) ([]byte, bool) {
	raw := o.vals[f]
	if raw == nil || d.hasFailed(f) || isNull(raw) {
		return nil, false
	}
	if raw[0] != '"' || len(raw) < 2 {
		d.fail(f, msgMustString)
		return nil, false
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		var ok bool
		if s, ok = unescapeTo(nil, s); !ok {
			d.fail(f, msgMustString)
			return nil, false
		}
	}
	return s, true
}

// decodeEventObject builds, sanitizes and validates an event from the valid JSON object b
// (b[0] == '{'). It also returns the event_id the client sent, when it sent a string.
//
// The text fields of the event are gathered in one buffer and made into one string, so a
// valid event costs a few allocations (that string, the metadata and the event's slot).
func decodeEventObject(b []byte, lim Limits, rd *requestDefaults) (Event, string, []FieldError) {
	now := rd.now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Microsecond)

	var d eventDecoder
	var o eventObject
	d.split(b, &o)

	// Text of the string fields, as spans of buf.
	var stack [512]byte
	buf := stack[:0]
	type span struct{ start, end int }
	var spans [numFields]span
	put := func(f int, s []byte) {
		start := len(buf)
		buf = append(buf, s...)
		spans[f] = span{start, len(buf)}
	}
	var has [numFields]bool // the field's text is in buf

	ev := Event{ReceivedAt: now}
	var generatedID string
	hasID := false
	if s, ok := d.str(&o, fieldEventID); ok {
		hasID = true
		if len(s) == 0 {
			d.fail(fieldEventID, msgEventID)
		}
		put(fieldEventID, s)
		has[fieldEventID] = true
	} else if !d.hasFailed(fieldEventID) {
		generatedID = NewUUIDv7(now)
	}

	if s, ok := d.str(&o, fieldEventType); ok {
		if bt, ok := builtinEventType(s); ok {
			ev.EventType = bt
		} else {
			put(fieldEventType, s)
			has[fieldEventType] = true
		}
	}

	for _, f := range [...]int{fieldUserID, fieldCommunityID} {
		s, ok := d.str(&o, f)
		if !ok {
			continue
		}
		var u [36]byte
		if !parseUUID(&u, s) {
			d.fail(f, msgUUID)
			continue
		}
		put(f, u[:])
		has[f] = true
	}
	for _, f := range [...]int{fieldEntityType, fieldEntityID} {
		if s, ok := d.str(&o, f); ok {
			put(f, s)
			has[f] = true
		}
	}

	if raw := o.vals[fieldMetadata]; raw != nil && !d.hasFailed(fieldMetadata) && !isNull(raw) {
		switch {
		case raw[0] != '{':
			d.fail(fieldMetadata, msgObject)
		case checkMetadataSize(len(raw), lim) != "":
			d.fail(fieldMetadata, checkMetadataSize(len(raw), lim))
		case o.metaDepth > lim.MaxMetadataDepth:
			d.fail(fieldMetadata, metadataDepthMessage(o.metaDepth, lim))
		default:
			m, err := sanitizeMetadata(raw)
			switch {
			case err != nil:
				d.fail(fieldMetadata, msgObject)
			// The limit is on the object as sent: sanitizing never rejects, so an object
			// that redaction ("[REDACTED]" for 0) or escaping U+2028/U+2029 makes longer is
			// stored longer (at most about 2.3 times).
			case checkMetadataNumbers(m) != "":
				d.fail(fieldMetadata, checkMetadataNumbers(m))
			default:
				ev.Metadata = m
			}
		}
	}

	ev.OccurredAt = now
	if s, ok := d.str(&o, fieldOccurredAt); ok {
		t, ok := parseRFC3339(s)
		if !ok {
			d.fail(fieldOccurredAt, msgOccurredAt)
		} else {
			ev.OccurredAt = t.UTC().Truncate(time.Microsecond)
		}
	}

	ev.IPAddress = rd.ip
	if s, ok := d.str(&o, fieldIPAddress); ok {
		if plainIPv4(s) { // its canonical form is itself
			put(fieldIPAddress, s)
			has[fieldIPAddress] = true
		} else {
			addr, err := netip.ParseAddr(string(s))
			switch {
			case err != nil:
				d.fail(fieldIPAddress, msgIP)
			case addr.Zone() != "":
				d.fail(fieldIPAddress, msgIPZone)
			default:
				ev.IPAddress = addr.String()
			}
		}
	}

	ev.UserAgent = rd.ua
	if s, ok := d.str(&o, fieldUserAgent); ok {
		put(fieldUserAgent, s)
		has[fieldUserAgent] = true
	}

	if ev.Metadata == nil {
		ev.Metadata = json.RawMessage("{}")
	}
	text := string(buf)
	get := func(f int) string { return text[spans[f].start:spans[f].end] }
	var clientID string
	if hasID {
		clientID = get(fieldEventID)
		ev.EventID = clientID
	} else {
		ev.EventID = generatedID
	}
	if has[fieldEventType] {
		ev.EventType = get(fieldEventType)
	}
	if has[fieldUserID] {
		ev.UserID = get(fieldUserID)
	}
	if has[fieldCommunityID] {
		ev.CommunityID = get(fieldCommunityID)
	}
	if has[fieldEntityType] {
		ev.EntityType = get(fieldEntityType)
	}
	if has[fieldEntityID] {
		ev.EntityID = get(fieldEntityID)
	}
	if has[fieldIPAddress] {
		ev.IPAddress = get(fieldIPAddress)
	}
	if has[fieldUserAgent] {
		ev.UserAgent = get(fieldUserAgent)
	}

	for _, fe := range validate(ev, lim, now, false) {
		d.failName(fe.Field, fe.Message)
	}
	if len(d.errs) > 0 {
		sortFieldErrors(d.errs)
		return Event{}, clientID, d.errs
	}
	return ev, clientID, nil
}

// parseRFC3339 is time.Parse(time.RFC3339Nano, string(s)) without the allocations of its
// common case: the strict RFC 3339 form that time.Parse itself tries first is parsed here, to
// the same instant (the location differs: UTC here, a fixed zone there; callers use UTC).
// Anything else goes to time.Parse.
func parseRFC3339(s []byte) (time.Time, bool) {
	if t, ok := parseStrictRFC3339(s); ok {
		return t, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	return t, err == nil
}

// parseStrictRFC3339 accepts what the RFC 3339 fast path of time.Parse accepts, and nothing
// else.
func parseStrictRFC3339(s []byte) (time.Time, bool) {
	ok := true
	num := func(s []byte, min, max int) int {
		x := 0
		for _, c := range s {
			if c < '0' || '9' < c {
				ok = false
				return min
			}
			x = x*10 + int(c-'0')
		}
		if x < min || max < x {
			ok = false
			return min
		}
		return x
	}
	if len(s) < len("2006-01-02T15:04:05") {
		return time.Time{}, false
	}
	year := num(s[0:4], 0, 9999)
	month := num(s[5:7], 1, 12)
	day := num(s[8:10], 1, daysIn(time.Month(month), year))
	hour := num(s[11:13], 0, 23)
	minute := num(s[14:16], 0, 59)
	sec := num(s[17:19], 0, 59)
	if !ok || !(s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':') {
		return time.Time{}, false
	}
	s = s[19:]
	nsec := 0
	if len(s) >= 2 && s[0] == '.' && isDigit(s[1]) {
		n := 2
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		// Digits after the ninth are ignored, as time.Parse does.
		digits := s[1:min(n, 10)]
		for _, c := range digits {
			nsec = nsec*10 + int(c-'0')
		}
		for range 9 - len(digits) {
			nsec *= 10
		}
		s = s[n:]
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if len(s) == 1 && s[0] == 'Z' {
		return t, true
	}
	if len(s) != len("-07:00") {
		return time.Time{}, false
	}
	hr := num(s[1:3], 0, 23)
	mm := num(s[4:6], 0, 59)
	if !ok || !((s[0] == '-' || s[0] == '+') && s[3] == ':') {
		return time.Time{}, false
	}
	offset := time.Duration(hr*60+mm) * time.Minute
	if s[0] == '-' {
		offset = -offset
	}
	return t.Add(-offset), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + int((m+m>>3)&1) // 31 in Jan, Mar, May, Jul, Aug, Oct, Dec
}

// plainIPv4 reports whether s is an IPv4 address in the form netip writes: four decimal
// fields of 0 to 255 without leading zeros. netip.ParseAddr accepts it, and its String is s.
func plainIPv4(s []byte) bool {
	fields, v, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || v > 255 {
				return false
			}
			fields++
			v, digits = 0, 0
			continue
		}
		c := s[i]
		if !isDigit(c) || digits == 3 || (digits == 1 && v == 0) {
			return false
		}
		v = v*10 + int(c-'0')
		digits++
	}
	return fields == 4
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
