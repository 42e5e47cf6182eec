package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	`{"event_type":"user.login","user_id":"0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b"}`,
	`{"events":[{"event_type":"github.push","metadata":{"a":[1,{"b":"ann@example.com"}],"password":"x"}},1,null,{"userId":"x"}]}`,
	`{"event_id":"e-1","event_type":"member.created","user_id":"0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b","community_id":"0190f7a2-8c3e-7b1a-9f00-000000000001","entity_type":"t","entity_id":"i","metadata":{"n":1e400,"s":"a\u0000b\u2028","k\u0001":"Bearer abc","c":"4111 1111 1111 1111"},"occurred_at":"2026-11-21T09:00:00.123456789+01:00","ip_address":"::ffff:1.2.3.4","user_agent":"x"}`,
	`{"events":[]}`,
	`{"events":{}}`,
	`{"events":[{}],"x":1}`,
	`{"event_type":"a","metadata":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{}}}}}}}}}}`,
	`{"event_type":"a","metadata":{"a":"\ud800","b":"eyJ.eyJ.x"}}`,
	`[1]`, `{} {}`, "\xff", ``, `{"event_type":"a","event_type":"b"}`,
}

func fuzzDefaults() Defaults {
	return Defaults{Now: time.Date(2026, 11, 21, 9, 30, 0, 123456789, time.UTC), IPAddress: "fe80::1%eth0", UserAgent: "fuzz/\x001"}
}

// checkAccepted asserts what every accepted event guarantees.
func checkAccepted(t *testing.T, e Event, lim Limits, def Defaults) {
	t.Helper()
	m := e.Metadata
	if m == nil || !json.Valid(m) || bytes.TrimSpace(m)[0] != '{' {
		t.Fatalf("metadata %q is not a JSON object", m)
	}
	if len(m) > lim.MaxMetadataBytes || jsonDepth(m) > lim.MaxMetadataDepth {
		t.Fatalf("metadata over limits: %d bytes, depth %d", len(m), jsonDepth(m))
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(m))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	checkSanitized(t, v)
	if errs := ValidateEvent(e, lim, def.Now); errs != nil {
		t.Fatalf("accepted event fails ValidateEvent: %+v\n%+v", errs, e)
	}
	if e.OccurredAt.Location() != time.UTC || e.OccurredAt.Nanosecond()%1000 != 0 || e.ReceivedAt.Nanosecond()%1000 != 0 {
		t.Fatalf("times not UTC µs: %v %v", e.OccurredAt, e.ReceivedAt)
	}
	for _, s := range []string{e.EventID, e.EventType, e.UserID, e.CommunityID, e.EntityType, e.EntityID, e.IPAddress, e.UserAgent} {
		if !utf8.ValidString(s) || hasNUL(s) {
			t.Fatalf("bad string %q", s)
		}
	}
}

func hasNUL(s string) bool { return bytes.IndexByte([]byte(s), 0) >= 0 }

// checkSanitized asserts that a sanitized value holds no control characters (but tab and
// newline) and no string or key over 2048 characters.
func checkSanitized(t *testing.T, v any) {
	t.Helper()
	checkStr := func(s string) {
		if utf8.RuneCountInString(s) > maxStringRunes {
			t.Fatalf("string of %d runes", utf8.RuneCountInString(s))
		}
		for _, r := range s {
			if isControl(r) {
				t.Fatalf("control character %U in %q", r, s)
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			checkStr(k)
			if IsSecretKey(k) && e != redacted {
				t.Fatalf("secret key %q kept value %v", k, e)
			}
			checkSanitized(t, e)
		}
	case []any:
		for _, e := range x {
			checkSanitized(t, e)
		}
	case string:
		checkStr(x)
		if x != redacted && isSensitiveValue(x) && utf8.RuneCountInString(x) < maxStringRunes {
			t.Fatalf("sensitive value kept: %q", x)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	lim := DefaultLimits()
	lim.MaxEvents = 5
	lim.MaxMetadataBytes = 512
	lim.MaxMetadataDepth = 4
	f.Fuzz(func(t *testing.T, body []byte) {
		def := fuzzDefaults()
		acc, rej, err := DecodeRequest(body, lim, def)
		if err != nil {
			var be *BodyError
			if !errors.As(err, &be) || be.Message == "" || acc != nil || rej != nil {
				t.Fatalf("bad error result: %v %v %v", err, acc, rej)
			}
			return
		}
		if len(acc)+len(rej) == 0 || len(acc)+len(rej) > lim.MaxEvents {
			t.Fatalf("%d accepted + %d rejected", len(acc), len(rej))
		}
		seen := map[int]bool{}
		last := -1
		for _, r := range rej {
			if r.Index <= last || len(r.Errors) == 0 {
				t.Fatalf("rejections out of order or empty: %+v", rej)
			}
			last = r.Index
			seen[r.Index] = true
		}
		for _, a := range acc {
			if seen[a.Index] {
				t.Fatalf("index %d both accepted and rejected", a.Index)
			}
			seen[a.Index] = true
			checkAccepted(t, a.Event, lim, def)
		}
		for i := range len(acc) + len(rej) {
			if !seen[i] {
				t.Fatalf("index %d missing", i)
			}
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	lim := DefaultLimits()
	lim.MaxMetadataBytes = 512
	lim.MaxMetadataDepth = 4
	f.Fuzz(func(t *testing.T, raw []byte) {
		def := fuzzDefaults()
		e, errs := DecodeEvent(raw, lim, def)
		if errs != nil {
			for _, fe := range errs {
				if fe.Message == "" {
					t.Fatalf("empty message: %+v", errs)
				}
			}
			return
		}
		checkAccepted(t, e, lim, def)
	})
}

func FuzzSanitizeValue(f *testing.F) {
	for _, s := range []string{
		`{"password":"x","a":[{"token":1}],"e":"ann@example.com","c":"4111-1111-1111-1111"}`,
		`"a\u0000b"`, `["Bearer x", "eyJa.eyJb.c", 12, null, true, {"k\u0001":"v"}]`, `1e999`,
		`{"a\u0000":1,"a":2,"a\u0001":3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !utf8.Valid(raw) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return
		}
		out := SanitizeValue(v)
		b, err := encodeJSON(out)
		if err != nil || !json.Valid(b) {
			t.Fatalf("sanitized value does not encode: %v %q", err, b)
		}
		if jsonDepth(b) > jsonDepth(raw) {
			t.Fatalf("depth grew: %s -> %s", raw, b)
		}
		checkSanitized(t, out)
	})
}
