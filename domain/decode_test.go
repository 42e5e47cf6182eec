package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	testUser      = "0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b"
	testCommunity = "0190f7a2-8c3e-7b1a-9f00-000000000001"
)

var testNow = time.Date(2026, 11, 21, 9, 30, 0, 123456789, time.UTC)

func testDefaults() Defaults {
	return Defaults{Now: testNow, IPAddress: "198.51.100.9", UserAgent: "curl/8.0"}
}

// ev builds an event JSON object from a base valid login event, with fields overridden or
// removed (value nil removes).
func ev(t testing.TB, over map[string]any) string {
	t.Helper()
	base := map[string]any{
		"event_type": "user.login",
		"user_id":    testUser,
	}
	for k, v := range over {
		if v == nil {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	b, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeOne(t *testing.T, body string) (Event, []FieldError) {
	t.Helper()
	return DecodeEvent(json.RawMessage(body), DefaultLimits(), testDefaults())
}

func wantFieldError(t *testing.T, errs []FieldError, field, msgPart string) {
	t.Helper()
	for _, e := range errs {
		if e.Field == field && strings.Contains(e.Message, msgPart) {
			return
		}
	}
	t.Fatalf("want error on %q containing %q, got %+v", field, msgPart, errs)
}

func TestDecodeEvent_AcceptsMinimalEventAndFillsDefaults(t *testing.T) {
	e, errs := decodeOne(t, `{"event_type":"user.login","user_id":"0190F7A2-8C3E-7B1A-9F00-3C2D4E5F6A7B"}`)
	if errs != nil {
		t.Fatalf("errors: %+v", errs)
	}
	wantNow := testNow.Truncate(time.Microsecond)
	if e.UserID != testUser {
		t.Errorf("UserID = %q, want lower-case %q", e.UserID, testUser)
	}
	if !e.OccurredAt.Equal(wantNow) || !e.ReceivedAt.Equal(wantNow) || e.OccurredAt.Location() != time.UTC {
		t.Errorf("OccurredAt/ReceivedAt = %v/%v, want %v UTC", e.OccurredAt, e.ReceivedAt, wantNow)
	}
	if string(e.Metadata) != "{}" {
		t.Errorf("Metadata = %q, want {}", e.Metadata)
	}
	if e.IPAddress != "198.51.100.9" || e.UserAgent != "curl/8.0" {
		t.Errorf("IP/UA = %q/%q, want defaults", e.IPAddress, e.UserAgent)
	}
	if _, ok := ParseUUID(e.EventID); !ok || e.EventID[14] != '7' {
		t.Errorf("EventID = %q, want a UUIDv7", e.EventID)
	}
}

func TestDecodeEvent_KeepsAllClientFields(t *testing.T) {
	body := `{"event_id":"ord-1:A_b.c","event_type":"member.created","user_id":"` + testUser + `",
		"community_id":"` + testCommunity + `","entity_type":"order","entity_id":"o-42",
		"metadata":{"plan":"pro","n":12345678901234567890123,"html":"<b>&</b>"},
		"occurred_at":"2026-11-21T10:00:00.1234567+01:00","ip_address":"2001:0db8:0000::0001","user_agent":"sdk/1.0"}`
	e, errs := decodeOne(t, body)
	if errs != nil {
		t.Fatalf("errors: %+v", errs)
	}
	want := Event{
		EventID: "ord-1:A_b.c", EventType: "member.created", UserID: testUser, CommunityID: testCommunity,
		EntityType: "order", EntityID: "o-42",
		Metadata:   json.RawMessage(`{"html":"<b>&</b>","n":12345678901234567890123,"plan":"pro"}`),
		OccurredAt: time.Date(2026, 11, 21, 9, 0, 0, 123456000, time.UTC),
		ReceivedAt: testNow.Truncate(time.Microsecond),
		IPAddress:  "2001:db8::1", UserAgent: "sdk/1.0",
	}
	got, _ := json.Marshal(e)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("got  %s\nwant %s", got, exp)
	}
	if e.OccurredAt.Location() != time.UTC {
		t.Error("OccurredAt not UTC")
	}
}

func TestDecodeEvent_RejectsUnknownField(t *testing.T) {
	_, errs := decodeOne(t, ev(t, map[string]any{"userId": testUser}))
	wantFieldError(t, errs, "userId", `unknown field "userId"; did you mean "user_id"?`)
	_, errs = decodeOne(t, ev(t, map[string]any{"foo": 1}))
	wantFieldError(t, errs, "foo", `unknown field "foo"; known fields are event_id`)
}

func TestDecodeEvent_RejectsDuplicateField(t *testing.T) {
	_, errs := decodeOne(t, `{"event_type":"user.login","event_type":"github.push","user_id":"`+testUser+`"}`)
	wantFieldError(t, errs, "event_type", "appears more than once")
}

func TestDecodeEvent_RejectsNonObject(t *testing.T) {
	for _, body := range []string{`[]`, `"x"`, `1`, `null`, `{`, `{} {}`, "{\"event_type\":\"a\xff\"}"} {
		_, errs := decodeOne(t, body)
		if len(errs) != 1 || errs[0].Field != "" {
			t.Errorf("%q: errs = %+v, want one whole-event error", body, errs)
		}
	}
}

func TestDecodeEvent_FieldRules(t *testing.T) {
	long := func(n int, c string) string { return strings.Repeat(c, n) }
	future := testNow.Add(5*time.Minute + time.Second).Format(time.RFC3339Nano)
	past := testNow.Add(-30*24*time.Hour - time.Second).Format(time.RFC3339Nano)
	tests := []struct {
		name  string
		over  map[string]any
		field string // "" means valid
		msg   string
	}{
		// event_id
		{"event_id absent is assigned", map[string]any{"event_id": nil}, "", ""},
		{"event_id null is assigned", map[string]any{"event_id": json.RawMessage("null")}, "", ""},
		{"event_id 100 chars", map[string]any{"event_id": long(100, "a")}, "", ""},
		{"event_id all allowed chars", map[string]any{"event_id": "AZaz09._:-"}, "", ""},
		{"event_id empty", map[string]any{"event_id": ""}, "event_id", "1 to 100 characters"},
		{"event_id 101 chars", map[string]any{"event_id": long(101, "a")}, "event_id", "1 to 100 characters"},
		{"event_id with space", map[string]any{"event_id": "a b"}, "event_id", "1 to 100 characters"},
		{"event_id with slash", map[string]any{"event_id": "a/b"}, "event_id", "1 to 100 characters"},
		{"event_id number", map[string]any{"event_id": 12}, "event_id", "must be a string"},
		// event_type
		{"event_type missing", map[string]any{"event_type": nil}, "event_type", "is required"},
		{"event_type null", map[string]any{"event_type": json.RawMessage("null")}, "event_type", "is required"},
		{"event_type empty", map[string]any{"event_type": ""}, "event_type", "is required"},
		{"event_type number", map[string]any{"event_type": 1}, "event_type", "must be a string"},
		{"event_type custom", map[string]any{"event_type": "order.completed_v2"}, "", ""},
		{"event_type custom single word", map[string]any{"event_type": "checkout"}, "", ""},
		{"event_type custom 64", map[string]any{"event_type": "a" + long(63, "b")}, "", ""},
		{"event_type custom 65", map[string]any{"event_type": "a" + long(64, "b")}, "event_type", "at most 64"},
		{"event_type upper case", map[string]any{"event_type": "Order.completed"}, "event_type", "lower-case words"},
		{"event_type leading digit", map[string]any{"event_type": "1order"}, "event_type", "lower-case words"},
		{"event_type double dot", map[string]any{"event_type": "order..done"}, "event_type", "lower-case words"},
		{"event_type trailing dot", map[string]any{"event_type": "order."}, "event_type", "lower-case words"},
		{"event_type dash", map[string]any{"event_type": "order-done"}, "event_type", "lower-case words"},
		{"event_type segment after dot may start with digit", map[string]any{"event_type": "order.2nd"}, "", ""},
		// user_id
		{"user_id required for user.*", map[string]any{"user_id": nil}, "user_id", `is required for event type "user.login"`},
		{"user_id null counts as absent", map[string]any{"user_id": json.RawMessage("null")}, "user_id", "is required"},
		{"user_id required for member.*", map[string]any{"event_type": "member.activated", "user_id": nil, "community_id": testCommunity}, "user_id", `"member.activated"`},
		{"user_id required for custom user.*", map[string]any{"event_type": "user.logout", "user_id": nil}, "user_id", "is required"},
		{"user_id optional elsewhere", map[string]any{"event_type": "github.push", "user_id": nil}, "", ""},
		{"user_id must be UUID when present", map[string]any{"event_type": "github.push", "user_id": "42"}, "user_id", "must be a UUID (e.g. 0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b)"},
		{"user_id without hyphens", map[string]any{"user_id": strings.ReplaceAll(testUser, "-", "")}, "user_id", "must be a UUID"},
		{"user_id with braces", map[string]any{"user_id": "{" + testUser + "}"}, "user_id", "must be a UUID"},
		{"user_id number", map[string]any{"user_id": 5}, "user_id", "must be a string"},
		// community_id
		{"community_id required for community.*", map[string]any{"event_type": "community.created"}, "community_id", `is required for event type "community.created"`},
		{"community_id required for member.*", map[string]any{"event_type": "member.created"}, "community_id", "is required"},
		{"community_id required for event.created", map[string]any{"event_type": "event.created"}, "community_id", "is required"},
		{"community_id required for hackathon.created", map[string]any{"event_type": "hackathon.created"}, "community_id", "is required"},
		{"community_id not required for event.updated", map[string]any{"event_type": "event.updated"}, "", ""},
		{"community_id present ok", map[string]any{"event_type": "community.created", "user_id": nil, "community_id": testCommunity}, "", ""},
		{"community_id must be UUID", map[string]any{"community_id": "c1"}, "community_id", "must be a UUID"},
		// entity
		{"entity_type 64 runes", map[string]any{"entity_type": long(64, "é")}, "", ""},
		{"entity_type 65", map[string]any{"entity_type": long(65, "a")}, "entity_type", "at most 64 characters"},
		{"entity_type object", map[string]any{"entity_type": map[string]any{}}, "entity_type", "must be a string"},
		{"entity_type NUL", map[string]any{"entity_type": "a\x00b"}, "entity_type", "control characters"},
		{"entity_id 256 runes", map[string]any{"entity_id": long(256, "ü")}, "", ""},
		{"entity_id 257", map[string]any{"entity_id": long(257, "a")}, "entity_id", "at most 256 characters"},
		// metadata
		{"metadata null", map[string]any{"metadata": json.RawMessage("null")}, "", ""},
		{"metadata array", map[string]any{"metadata": []any{1}}, "metadata", "must be an object"},
		{"metadata string", map[string]any{"metadata": "{}"}, "metadata", "must be an object"},
		{"metadata depth 8", map[string]any{"metadata": json.RawMessage(nest(8))}, "", ""},
		{"metadata depth 9", map[string]any{"metadata": json.RawMessage(nest(9))}, "metadata", "at most 8 levels"},
		{"metadata array adds a level", map[string]any{"metadata": json.RawMessage(`{"a":` + nest(7) + `,"b":[[[[[[[[1]]]]]]]]}`)}, "metadata", "at most 8 levels"},
		{"metadata brackets in strings do not nest", map[string]any{"metadata": json.RawMessage(`{"a":"[[[[[[[[[[{{{{{{{{\"{{{{"}`)}, "", ""},
		{"metadata exactly 16384 bytes", map[string]any{"metadata": json.RawMessage(sized(16384))}, "", ""},
		{"metadata 16385 bytes", map[string]any{"metadata": json.RawMessage(sized(16385))}, "metadata", "at most 16384 bytes"},
		// occurred_at
		{"occurred_at Z", map[string]any{"occurred_at": "2026-11-20T09:30:00Z"}, "", ""},
		{"occurred_at offset", map[string]any{"occurred_at": "2026-11-20T09:30:00-07:00"}, "", ""},
		{"occurred_at without offset", map[string]any{"occurred_at": "2026-11-20T09:30:00"}, "occurred_at", "RFC 3339 time with a UTC offset"},
		{"occurred_at date only", map[string]any{"occurred_at": "2026-11-20"}, "occurred_at", "RFC 3339"},
		{"occurred_at unix number", map[string]any{"occurred_at": 1763717400}, "occurred_at", "must be a string"},
		{"occurred_at 5m in future ok", map[string]any{"occurred_at": testNow.Add(5 * time.Minute).Format(time.RFC3339Nano)}, "", ""},
		{"occurred_at too far in future", map[string]any{"occurred_at": future}, "occurred_at", "is more than 5 minutes in the future"},
		{"occurred_at 30 days ago ok", map[string]any{"occurred_at": testNow.Add(-30 * 24 * time.Hour).Format(time.RFC3339Nano)}, "", ""},
		{"occurred_at too old", map[string]any{"occurred_at": past}, "occurred_at", "is older than the accepted window of 30 days"},
		// ip_address
		{"ip_address v4", map[string]any{"ip_address": "203.0.113.7"}, "", ""},
		{"ip_address v6", map[string]any{"ip_address": "2001:db8::1"}, "", ""},
		{"ip_address zone", map[string]any{"ip_address": "fe80::1%eth0"}, "ip_address", "without a zone"},
		{"ip_address host name", map[string]any{"ip_address": "example.com"}, "ip_address", "IPv4 or IPv6"},
		{"ip_address with port", map[string]any{"ip_address": "203.0.113.7:80"}, "ip_address", "IPv4 or IPv6"},
		{"ip_address leading zeros", map[string]any{"ip_address": "203.000.113.7"}, "ip_address", "IPv4 or IPv6"},
		// user_agent
		{"user_agent 512", map[string]any{"user_agent": long(512, "ä")}, "", ""},
		{"user_agent 513", map[string]any{"user_agent": long(513, "a")}, "user_agent", "at most 512 characters"},
		{"user_agent bool", map[string]any{"user_agent": true}, "user_agent", "must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, errs := decodeOne(t, ev(t, tt.over))
			if tt.field == "" {
				if errs != nil {
					t.Fatalf("want valid, got %+v", errs)
				}
				if !json.Valid(e.Metadata) || e.EventID == "" {
					t.Fatalf("bad event %+v", e)
				}
				return
			}
			wantFieldError(t, errs, tt.field, tt.msg)
			if len(errs) != 1 {
				t.Errorf("want exactly one error, got %+v", errs)
			}
		})
	}
}

// nest returns a metadata object nested depth levels deep.
func nest(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
}

// sized returns a metadata object of exactly n bytes.
func sized(n int) string {
	const pre, post = `{"k":"`, `"}`
	return pre + strings.Repeat("x", n-len(pre)-len(post)) + post
}

func TestDecodeEvent_StoresCanonicalIPAndDefaults(t *testing.T) {
	tests := []struct {
		over   map[string]any
		defIP  string
		wantIP string
	}{
		{map[string]any{"ip_address": "2001:DB8:0::1"}, "", "2001:db8::1"},
		{map[string]any{"ip_address": json.RawMessage("null")}, "198.51.100.9", "198.51.100.9"},
		{nil, "fe80::1%eth0", "fe80::1"},
		{nil, "not-an-ip", ""},
		{nil, "", ""},
	}
	for _, tt := range tests {
		def := testDefaults()
		def.IPAddress = tt.defIP
		e, errs := DecodeEvent(json.RawMessage(ev(t, tt.over)), DefaultLimits(), def)
		if errs != nil || e.IPAddress != tt.wantIP {
			t.Errorf("%v def %q: ip %q errs %v, want %q", tt.over, tt.defIP, e.IPAddress, errs, tt.wantIP)
		}
	}
}

func TestDecodeEvent_CutsDefaultUserAgent(t *testing.T) {
	def := testDefaults()
	def.UserAgent = strings.Repeat("é", 600) + "\x01"
	e, errs := DecodeEvent(json.RawMessage(ev(t, nil)), DefaultLimits(), def)
	if errs != nil {
		t.Fatal(errs)
	}
	if e.UserAgent != strings.Repeat("é", 512) {
		t.Errorf("UserAgent has %d runes", len([]rune(e.UserAgent)))
	}
}

func TestDecodeEvent_SanitizesMetadata(t *testing.T) {
	e, errs := decodeOne(t, ev(t, map[string]any{"metadata": json.RawMessage(
		`{"password":"x","nested":{"email":"ann@example.com","list":[{"api_key":1}]},"bad\u0000key":"a\u0000b","big":1e400}`)}))
	if errs != nil {
		t.Fatal(errs)
	}
	want := `{"badkey":"ab","big":1e400,"nested":{"email":"[REDACTED]","list":[{"api_key":"[REDACTED]"}]},"password":"[REDACTED]"}`
	if string(e.Metadata) != want {
		t.Errorf("Metadata = %s\nwant       %s", e.Metadata, want)
	}
}

// TestDecodeEvent_AcceptsMetadataWithinTheLimitThatGrowsWhenRedacted: the
// limit is on the object as sent, and sanitizing never rejects (api.md).
func TestDecodeEvent_AcceptsMetadataWithinTheLimitThatGrowsWhenRedacted(t *testing.T) {
	// 1300 secret keys with one-digit values: each grows by 11 bytes when redacted.
	var b strings.Builder
	b.WriteString("{")
	for i := range 1300 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"pin%d":1`, i)
	}
	b.WriteString("}")
	if b.Len() > 16384 {
		t.Fatalf("test input too big: %d", b.Len())
	}
	e, errs := decodeOne(t, ev(t, map[string]any{"metadata": json.RawMessage(b.String())}))
	if len(errs) != 0 {
		t.Fatalf("errors %v, want none", errs)
	}
	var m map[string]any
	if err := json.Unmarshal(e.Metadata, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 1300 || m["pin0"] != "[REDACTED]" || m["pin1299"] != "[REDACTED]" || len(e.Metadata) <= 16384 {
		t.Errorf("metadata of %d keys, %d bytes, pin0 %v: want the 1300 keys redacted, over 16384 bytes", len(m), len(e.Metadata), m["pin0"])
	}
}

func TestDecodeEvent_ReportsEveryErrorInFieldOrder(t *testing.T) {
	_, errs := decodeOne(t, `{"zzz":1,"user_agent":1,"event_type":"member.created","event_id":"","aaa":2}`)
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	got := strings.Join(fields, ",")
	want := "event_id,user_id,community_id,user_agent,zzz,aaa"
	if got != want {
		t.Errorf("fields = %s, want %s (%+v)", got, want, errs)
	}
}

func TestDecodeEvent_HonoursCustomLimits(t *testing.T) {
	lim := Limits{MaxPast: time.Hour, MaxFuture: 90 * time.Second}
	_, errs := DecodeEvent(json.RawMessage(ev(t, map[string]any{"occurred_at": testNow.Add(-2 * time.Hour).Format(time.RFC3339)})), lim, testDefaults())
	wantFieldError(t, errs, "occurred_at", "older than the accepted window of 1 hour")
	_, errs = DecodeEvent(json.RawMessage(ev(t, map[string]any{"occurred_at": testNow.Add(2 * time.Minute).Format(time.RFC3339)})), lim, testDefaults())
	wantFieldError(t, errs, "occurred_at", "more than 90 seconds in the future")
}

func TestFormatDuration_SaysWholeUnits(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * 24 * time.Hour: "30 days", 24 * time.Hour: "1 day", 36 * time.Hour: "36 hours",
		5 * time.Minute: "5 minutes", time.Second: "1 second", 1500 * time.Millisecond: "1.5s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestDecodeRequest_AcceptsSingleEvent(t *testing.T) {
	acc, rej, err := DecodeRequest([]byte(" \n"+ev(t, nil)+"\n"), DefaultLimits(), testDefaults())
	if err != nil || len(rej) != 0 || len(acc) != 1 || acc[0].Index != 0 {
		t.Fatalf("acc %+v rej %+v err %v", acc, rej, err)
	}
}

func TestDecodeRequest_RejectsInvalidSingleEventAsRejection(t *testing.T) {
	acc, rej, err := DecodeRequest([]byte(ev(t, map[string]any{"event_id": "bad id"})), DefaultLimits(), testDefaults())
	if err != nil || len(acc) != 0 || len(rej) != 1 || rej[0].Index != 0 || rej[0].EventID != "bad id" {
		t.Fatalf("acc %+v rej %+v err %v", acc, rej, err)
	}
}

func TestDecodeRequest_KeepsValidRestOfBatch(t *testing.T) {
	body := `{"events":[` + ev(t, map[string]any{"event_id": "a"}) + `,` +
		ev(t, map[string]any{"event_id": "b", "user_id": "nope"}) + `, 7 ,` +
		ev(t, map[string]any{"event_id": 5, "userId": "x"}) + `,` +
		ev(t, map[string]any{"event_id": "e"}) + `]}`
	acc, rej, err := DecodeRequest([]byte(body), DefaultLimits(), testDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 2 || acc[0].Index != 0 || acc[0].Event.EventID != "a" || acc[1].Index != 4 || acc[1].Event.EventID != "e" {
		t.Errorf("accepted = %+v", acc)
	}
	want := `[{"index":1,"event_id":"b","errors":[{"field":"user_id","message":"must be a UUID (e.g. 0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b)"}]},` +
		`{"index":2,"errors":[{"field":"","message":"must be a JSON object"}]},` +
		`{"index":3,"errors":[{"field":"event_id","message":"must be a string"},{"field":"userId","message":"unknown field \"userId\"; did you mean \"user_id\"?"}]}]`
	got, _ := json.Marshal(rej)
	if string(got) != want {
		t.Errorf("rejected = %s\nwant       %s", got, want)
	}
}

func TestDecodeRequest_AssignsDistinctIDsInBatch(t *testing.T) {
	body := `{"events":[` + strings.Repeat(ev(t, nil)+",", 99) + ev(t, nil) + `]}`
	acc, _, err := DecodeRequest([]byte(body), DefaultLimits(), testDefaults())
	if err != nil || len(acc) != 100 {
		t.Fatal(err, len(acc))
	}
	seen := map[string]bool{}
	for _, a := range acc {
		if seen[a.Event.EventID] {
			t.Fatalf("duplicate id %s", a.Event.EventID)
		}
		seen[a.Event.EventID] = true
	}
}

func TestDecodeRequest_BodyErrors(t *testing.T) {
	one := ev(t, nil)
	tests := []struct {
		name, body, msg string
		lim             Limits
	}{
		{"empty", "", "body is empty", Limits{}},
		{"white space", "  \n", "body is empty", Limits{}},
		{"invalid UTF-8 in string", "{\"event_type\":\"user.login\",\"metadata\":{\"a\":\"\xc3\x28\"}}", "not valid UTF-8", Limits{}},
		{"invalid UTF-8 outside", one + "\xff", "not valid UTF-8", Limits{}},
		{"not JSON", "event_type=user.login", "not valid JSON", Limits{}},
		{"truncated", `{"events":[`, "not valid JSON", Limits{}},
		{"trailing data", one + ` {}`, "not valid JSON", Limits{}},
		{"trailing garbage", one + `x`, "not valid JSON", Limits{}},
		{"array", `[` + one + `]`, "must be a JSON object", Limits{}},
		{"string", `"x"`, "must be a JSON object", Limits{}},
		{"null", `null`, "must be a JSON object", Limits{}},
		{"events not array", `{"events":{}}`, `"events" must be an array`, Limits{}},
		{"events null", `{"events":null}`, `"events" must be an array`, Limits{}},
		{"events empty", `{"events":[]}`, `"events" is empty; send 1 to 1000 events`, Limits{}},
		{"too many events", `{"events":[{},{},{}]}`, `holds 3 events; send at most 2`, Limits{MaxEvents: 2}},
		{"batch with other key", `{"events":[` + one + `],"api_key":"x"}`, `only the key "events"; found "api_key"`, Limits{}},
		{"batch with events twice", `{"events":[` + one + `],"events":[]}`, `"events" once`, Limits{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc, rej, err := DecodeRequest([]byte(tt.body), tt.lim, testDefaults())
			var be *BodyError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v (acc %v rej %v), want *BodyError", err, acc, rej)
			}
			if !strings.Contains(be.Message, tt.msg) || be.Error() != be.Message {
				t.Errorf("message %q, want it to contain %q", be.Message, tt.msg)
			}
			if acc != nil || rej != nil {
				t.Errorf("results with a body error: %v %v", acc, rej)
			}
		})
	}
}

func TestDecodeRequest_AcceptsExactlyMaxEvents(t *testing.T) {
	body := `{"events":[` + strings.Repeat(ev(t, nil)+",", 999) + ev(t, nil) + `]}`
	acc, rej, err := DecodeRequest([]byte(body), DefaultLimits(), testDefaults())
	if err != nil || len(acc) != 1000 || len(rej) != 0 {
		t.Fatalf("acc %d rej %d err %v", len(acc), len(rej), err)
	}
}

func TestValidateEvent_ChecksBuiltEvent(t *testing.T) {
	base := Event{
		EventID: "m-1", EventType: "order_completed", Metadata: json.RawMessage(`{}`),
		OccurredAt: testNow, ReceivedAt: testNow,
	}
	tests := []struct {
		name  string
		mod   func(*Event)
		field string
		msg   string
	}{
		{"valid", func(*Event) {}, "", ""},
		{"valid with everything", func(e *Event) {
			e.EventType, e.UserID, e.CommunityID, e.IPAddress, e.ExternalUserID = "member.created", testUser, testCommunity, "::1", "segment-user-7"
		}, "", ""},
		{"event_id required", func(e *Event) { e.EventID = "" }, "event_id", "is required"},
		{"event_id charset", func(e *Event) { e.EventID = "a b" }, "event_id", "1 to 100"},
		{"event_type invalid", func(e *Event) { e.EventType = "a..b" }, "event_type", "lower-case"},
		{"event_type too long", func(e *Event) { e.EventType = "a" + strings.Repeat("b", 64) }, "event_type", "at most 64"},
		{"user_id required", func(e *Event) { e.EventType = "user.identify" }, "user_id", `"user.identify"`},
		{"user_id upper case", func(e *Event) { e.UserID = strings.ToUpper(testUser) }, "user_id", "canonical lower-case"},
		{"community_id bad", func(e *Event) { e.CommunityID = "x" }, "community_id", "must be a UUID"},
		{"metadata nil", func(e *Event) { e.Metadata = nil }, "metadata", "JSON object"},
		{"metadata array", func(e *Event) { e.Metadata = json.RawMessage(`[]`) }, "metadata", "JSON object"},
		{"metadata invalid", func(e *Event) { e.Metadata = json.RawMessage(`{"a":}`) }, "metadata", "JSON object"},
		{"metadata too deep", func(e *Event) { e.Metadata = json.RawMessage(nest(9)) }, "metadata", "at most 8 levels"},
		{"metadata too big", func(e *Event) { e.Metadata = json.RawMessage(sized(16385)) }, "metadata", "at most 16384 bytes"},
		{"occurred_at zero", func(e *Event) { e.OccurredAt = time.Time{} }, "occurred_at", "is required"},
		{"occurred_at future", func(e *Event) { e.OccurredAt = testNow.Add(time.Hour) }, "occurred_at", "5 minutes in the future"},
		{"occurred_at past", func(e *Event) { e.OccurredAt = testNow.AddDate(0, -2, 0) }, "occurred_at", "30 days"},
		{"ip invalid", func(e *Event) { e.IPAddress = "1.2.3" }, "ip_address", "IPv4 or IPv6"},
		{"ip zone", func(e *Event) { e.IPAddress = "fe80::1%en0" }, "ip_address", "zone"},
		{"entity_id long", func(e *Event) { e.EntityID = strings.Repeat("x", 257) }, "entity_id", "256"},
		{"user_agent long", func(e *Event) { e.UserAgent = strings.Repeat("x", 513) }, "user_agent", "512"},
		{"user_agent NUL", func(e *Event) { e.UserAgent = "a\x00" }, "user_agent", "control"},
		{"external_user_id NUL", func(e *Event) { e.ExternalUserID = "a\x00" }, "external_user_id", "control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			tt.mod(&e)
			errs := ValidateEvent(e, DefaultLimits(), testNow)
			if tt.field == "" {
				if errs != nil {
					t.Fatalf("want valid, got %+v", errs)
				}
				return
			}
			wantFieldError(t, errs, tt.field, tt.msg)
			if len(errs) != 1 {
				t.Errorf("want one error, got %+v", errs)
			}
		})
	}
}

func TestEventTypes_BuiltinsAreValidAndRecognised(t *testing.T) {
	if len(BuiltinEventTypes) != 10 {
		t.Fatalf("%d built-ins", len(BuiltinEventTypes))
	}
	for _, bt := range BuiltinEventTypes {
		if !IsBuiltinEventType(bt) || !ValidEventType(bt) {
			t.Errorf("%q not recognised", bt)
		}
	}
	for _, s := range []string{"user.identify", "order_completed", "a", "a.b.c_d.9"} {
		if IsBuiltinEventType(s) || !ValidEventType(s) {
			t.Errorf("%q: builtin %v valid %v", s, IsBuiltinEventType(s), ValidEventType(s))
		}
	}
	for _, s := range []string{"", "A", "_a", "a.", ".a", "a..b", "a.B", "a-b", "a b", "é"} {
		if ValidEventType(s) {
			t.Errorf("%q should be invalid", s)
		}
	}
}
