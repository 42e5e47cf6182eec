package domain

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var dnsNamespace = [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

func TestUUIDv5_MatchesKnownVector(t *testing.T) {
	if got, want := UUIDv5(dnsNamespace, "www.example.com"), "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != want {
		t.Errorf("UUIDv5 = %s, want %s", got, want)
	}
}

func TestSegmentNamespace_IsDocumentedConstant(t *testing.T) {
	if got := formatUUID(SegmentNamespace); got != "d3e29bbb-ce27-4767-93b1-96ddfed83f79" {
		t.Errorf("SegmentNamespace = %s; changing it remaps every Segment user", got)
	}
}

var v7Re = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewUUIDv7_HasVersionVariantAndTimestamp(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	id := NewUUIDv7(now)
	if !v7Re.MatchString(id) {
		t.Fatalf("%s is not a v7 UUID", id)
	}
	hexMS := strings.ReplaceAll(id[:13], "-", "")
	var ms int64
	for _, c := range hexMS {
		ms = ms*16 + int64(strings.IndexRune("0123456789abcdef", c))
	}
	if ms != now.UnixMilli() {
		t.Errorf("timestamp %d, want %d", ms, now.UnixMilli())
	}
	if NewUUIDv7(now) == id {
		t.Error("two ids for the same time are equal")
	}
	if !v7Re.MatchString(NewUUIDv7(time.Unix(-5, 0))) {
		t.Error("pre-1970 time gives a malformed id")
	}
}

func TestNewUUIDv7_SortsByTime(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 2000 {
		ids = append(ids, NewUUIDv7(start.Add(time.Duration(i)*time.Microsecond)))
	}
	if !sort.StringsAreSorted(ids) {
		t.Error("ids of increasing times (1 µs apart) are not sorted")
	}
}

func TestParseUUID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b", "0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b", true},
		{"0190F7A2-8C3E-7B1A-9F00-3C2D4E5F6A7B", "0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b", true},
		{"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", true},
		{"0190f7a28c3e7b1a9f003c2d4e5f6a7b", "", false},
		{"{0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b}", "", false},
		{"urn:uuid:0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b", "", false},
		{"0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7g", "", false},
		{"0190f7a2-8c3e-7b1a-9f003-c2d4e5f6a7b", "", false},
		{" 0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := ParseUUID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseUUID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
