package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSegmentEventName_MapsToEventType(t *testing.T) {
	tests := map[string]string{
		"Order Completed":      "order_completed",
		"123 go":               "event_123_go",
		"":                     "event_",
		"Signed Up!!":          "signed_up_",
		"page.viewed":          "page.viewed",
		"  Product -- Added  ": "event__product_added_",
		"Élan Vital":           "event__lan_vital",
		"checkout_step.2":      "checkout_step.2",
		"_private":             "event__private",
		"ORDER":                "order",
	}
	for in, want := range tests {
		if got := SegmentEventName(in); got != want {
			t.Errorf("SegmentEventName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSegmentEventName_CommonNamesAreValidEventTypes(t *testing.T) {
	for _, n := range []string{"Order Completed", "Product Viewed", "Signed Up", "123 go", "Checkout Step 2"} {
		if got := SegmentEventName(n); !ValidEventType(got) {
			t.Errorf("%q maps to invalid event type %q", n, got)
		}
	}
}

func TestSegmentID_KeepsUUIDsAndMapsOtherIDs(t *testing.T) {
	u, ext := SegmentID("0190F7A2-8C3E-7B1A-9F00-3C2D4E5F6A7B")
	if u != "0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b" || ext != "" {
		t.Errorf("UUID: %q %q", u, ext)
	}
	u, ext = SegmentID("user-42")
	if u != UUIDv5(SegmentNamespace, "user-42") || ext != "user-42" {
		t.Errorf("non-UUID: %q %q", u, ext)
	}
	if u2, _ := SegmentID("user-42"); u2 != u {
		t.Error("mapping is not stable")
	}
	if u2, _ := SegmentID("User-42"); u2 == u {
		t.Error("mapping ignores case")
	}
	if u, ext := SegmentID(""); u != "" || ext != "" {
		t.Errorf("empty: %q %q", u, ext)
	}
}

func TestSegmentEventID_KeepsValidIDsAndMapsOthers(t *testing.T) {
	if got := SegmentEventID("ajs-next-1700000000000-3c2d"); got != "ajs-next-1700000000000-3c2d" {
		t.Errorf("valid id changed: %q", got)
	}
	odd := "{0190f7a2 8c3e}"
	got := SegmentEventID(odd)
	if got != UUIDv5(SegmentNamespace, odd) || !validEventID(got) {
		t.Errorf("invalid id: %q", got)
	}
	if SegmentEventID(odd) != got {
		t.Error("mapping is not stable")
	}
}

func TestMapSegmentMessage_MapsFields(t *testing.T) {
	now := time.Date(2012, 12, 2, 0, 31, 0, 0, time.UTC)
	def := Defaults{Now: now, IPAddress: "203.0.113.9", UserAgent: "curl/8"}
	userUUID := "0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b"
	tests := []struct {
		name  string
		typ   string
		ctx   map[string]any
		raw   string
		check func(t *testing.T, ev Event)
	}{
		{"track: doc example", SegmentTrack, nil,
			`{"userId":"019mr8mf4r","event":"Item Purchased","properties":{"name":"Leap to Conclusions Mat","revenue":14.99},"context":{"ip":"24.5.68.47"},"timestamp":"2012-12-02T00:30:12.984Z","messageId":"m-1"}`,
			func(t *testing.T, ev Event) {
				want := Event{EventID: "m-1", EventType: "item_purchased", UserID: UUIDv5(SegmentNamespace, "019mr8mf4r"),
					Metadata:   json.RawMessage(`{"name":"Leap to Conclusions Mat","revenue":14.99}`),
					OccurredAt: time.Date(2012, 12, 2, 0, 30, 12, 984000000, time.UTC), ReceivedAt: now,
					IPAddress: "24.5.68.47", UserAgent: "curl/8", ExternalUserID: "019mr8mf4r"}
				if !reflect.DeepEqual(ev, want) {
					t.Errorf("got  %+v\nwant %+v", ev, want)
				}
			}},
		{"identify: email to the user row, not metadata", SegmentIdentify, nil,
			`{"userId":"` + strings.ToUpper(userUUID) + `","traits":{"email":" pgibbons@example.com ","name":"Peter","password":"x"}}`,
			func(t *testing.T, ev Event) {
				if ev.EventType != "user.identify" || ev.UserID != userUUID || ev.ExternalUserID != "" ||
					ev.Email != "pgibbons@example.com" || string(ev.Metadata) != `{"name":"Peter","password":"[REDACTED]"}` {
					t.Errorf("got %+v", ev)
				}
				if !ev.OccurredAt.Equal(now) || ev.IPAddress != "203.0.113.9" {
					t.Errorf("defaults: %+v", ev)
				}
			}},
		{"batch type, anonymousId, community from properties removed", "", nil,
			`{"type":"track","anonymousId":"anon-1","event":"Signed Up","properties":{"community_id":"acme","plan":"pro"},"context":{"groupId":"other"}}`,
			func(t *testing.T, ev Event) {
				if ev.UserID != UUIDv5(SegmentNamespace, "anon-1") || ev.ExternalUserID != "anon-1" ||
					ev.CommunityID != UUIDv5(SegmentNamespace, "acme") || string(ev.Metadata) != `{"plan":"pro"}` {
					t.Errorf("got %+v", ev)
				}
			}},
		{"community from context.groupId; batch context merged, message wins", "",
			map[string]any{"groupId": "g1", "ip": "198.51.100.1", "userAgent": "batch-ua"},
			`{"type":"track","userId":42,"event":"x","context":{"ip":"2001:db8::1"}}`,
			func(t *testing.T, ev Event) {
				if ev.CommunityID != UUIDv5(SegmentNamespace, "g1") || ev.IPAddress != "2001:db8::1" ||
					ev.UserAgent != "batch-ua" || ev.ExternalUserID != "42" {
					t.Errorf("got %+v", ev)
				}
			}},
		{"originalTimestamp when no timestamp; offset without colon", SegmentTrack, nil,
			`{"userId":"u","event":"x","originalTimestamp":"2012-12-02T01:30:08.276+0100"}`,
			func(t *testing.T, ev Event) {
				if !ev.OccurredAt.Equal(time.Date(2012, 12, 2, 0, 30, 8, 276000000, time.UTC)) {
					t.Errorf("got %v", ev.OccurredAt)
				}
			}},
		{"page", "", nil,
			`{"type":"page","userId":"u","name":"Home","properties":{"path":"/"}}`,
			func(t *testing.T, ev Event) {
				if ev.EventType != "page.viewed" || string(ev.Metadata) != `{"name":"Home","path":"/"}` {
					t.Errorf("got %+v", ev)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, _, errs := MapSegmentMessage([]byte(tt.raw), tt.typ, tt.ctx, Limits{}, def)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			tt.check(t, ev)
		})
	}
}

func TestMapSegmentMessage_RejectsInvalidMessages(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name, typ, raw, field string
	}{
		{"not an object", SegmentTrack, `[1]`, ""},
		{"no user", SegmentTrack, `{"event":"x"}`, "userId"},
		{"no event", SegmentTrack, `{"userId":"u"}`, "event"},
		{"event not a string", SegmentTrack, `{"userId":"u","event":5}`, "event"},
		{"no type in batch", "", `{"userId":"u","event":"x"}`, "type"},
		{"unsupported type", "", `{"type":"alias","userId":"u","previousId":"v"}`, "type"},
		{"bad timestamp", SegmentTrack, `{"userId":"u","event":"x","timestamp":"yesterday"}`, "timestamp"},
		{"too old", SegmentTrack, `{"userId":"u","event":"x","timestamp":"2012-12-02T00:30:08.276Z"}`, "timestamp"},
		{"bad ip", SegmentTrack, `{"userId":"u","event":"x","context":{"ip":"nope"}}`, "context.ip"},
		{"properties not an object", SegmentTrack, `{"userId":"u","event":"x","properties":[1]}`, "properties"},
		{"event type too long", SegmentTrack, `{"userId":"u","event":"` + strings.Repeat("a", 65) + `"}`, "event"},
		{"metadata too deep", SegmentTrack, `{"userId":"u","event":"x","properties":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}}`, "properties"},
		{"control in userId", SegmentTrack, `{"userId":"a\u0001b","event":"x"}`, "userId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, errs := MapSegmentMessage([]byte(tt.raw), tt.typ, nil, Limits{}, Defaults{Now: now})
			if !slices.ContainsFunc(errs, func(fe FieldError) bool { return fe.Field == tt.field }) {
				t.Errorf("errors %v, want one for %q", errs, tt.field)
			}
		})
	}
}

func TestParseSegmentBody_LimitsAndShapes(t *testing.T) {
	if _, err := ParseSegmentBody([]byte(`{"batch":[`), true, 10, 100); !isBodyError(err) {
		t.Errorf("not JSON: %v", err)
	}
	if _, err := ParseSegmentBody([]byte(`{"batch":[{},{},{}]}`), true, 2, 100); !isBodyError(err) {
		t.Errorf("too many: %v", err)
	}
	var se *SizeError
	if _, err := ParseSegmentBody([]byte(`{"batch":[{"a":"`+strings.Repeat("x", 100)+`"}]}`), true, 2, 100); !errors.As(err, &se) {
		t.Errorf("too large: %v", err)
	}
	req, err := ParseSegmentBody([]byte(`{"writeKey":"k","batch":[{"writeKey":"k2","type":"track"}],"context":{"ip":"1.2.3.4"}}`), true, 2, 100)
	if err != nil || req.WriteKey != "k" || len(req.Messages) != 1 || string(req.Messages[0]) != `{"type":"track"}` || req.Context["ip"] != "1.2.3.4" {
		t.Errorf("batch: %+v %v", req, err)
	}
	req, err = ParseSegmentBody([]byte(`{"writeKey":"k","event":"x"}`), false, 2, 100)
	if err != nil || req.WriteKey != "k" || string(req.Messages[0]) != `{"event":"x"}` {
		t.Errorf("track: %+v %v", req, err)
	}
	req, err = ParseSegmentBody([]byte(`{"batch":"x"}`), true, 2, 100)
	if err != nil || req.Invalid == "" || len(req.Messages) != 1 {
		t.Errorf("bad batch: %+v %v", req, err)
	}
}

func isBodyError(err error) bool {
	var be *BodyError
	return errors.As(err, &be)
}

func FuzzMapSegmentMessage(f *testing.F) {
	f.Add([]byte(`{"type":"track","userId":"u","event":"Order Completed","properties":{"community_id":"c","total":1}}`))
	f.Add([]byte(`{"type":"identify","anonymousId":"a","traits":{"email":"a@b.cd"},"context":{"ip":"::1"}}`))
	f.Add([]byte(`{"batch":[{"type":"page"}],"context":{"groupId":1}}`))
	now := time.Now()
	f.Fuzz(func(t *testing.T, raw []byte) {
		if req, err := ParseSegmentBody(raw, true, 100, 1<<20); err == nil {
			for _, m := range req.Messages {
				ev, _, errs := MapSegmentMessage(m, "", req.Context, Limits{}, Defaults{Now: now})
				if len(errs) == 0 {
					if fe := ValidateEvent(ev, Limits{}, now); len(fe) > 0 {
						t.Fatalf("mapped event is invalid: %v", fe)
					}
					if strings.Contains(string(ev.Metadata), `"email"`) && ev.EventType == SegmentIdentifyEventType {
						t.Fatalf("email in identify metadata: %s", ev.Metadata)
					}
				}
			}
		}
	})
}
