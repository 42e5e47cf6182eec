package domain

import (
	"net/netip"
	"testing"
	"time"
)

var rfc3339Cases = []string{
	"2026-11-21T09:30:00Z", "2026-11-21T09:30:00.123456789+01:00", "2026-11-21T09:30:00.1234567891234-07:30",
	"2026-11-21T09:30:00.Z", "2026-11-21T09:30:00,5Z", "2026-11-21t09:30:00z", "2026-11-21T09:30:00",
	"2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
	"2026-04-31T00:00:00Z", "2026-12-31T23:59:59Z", "2026-12-31T23:59:60Z", "2026-12-31T24:00:00Z",
	"0000-01-01T00:00:00Z", "9999-12-31T23:59:59+23:59", "2026-11-21T09:30:00+24:00", "2026-11-21T09:30:00+01:60",
	"2026-11-21T09:30:00+0100", "2026-11-21T09:30:00 +01:00", "+2026-11-21T09:30:00Z", "2026-1-21T09:30:00Z",
	"2026-11-21T09:30:00-00:00", "2026-11-21T09:30:00.000000000Z", "2026-11-21T09:30:00Z ", "",
}

func checkParseRFC3339(t *testing.T, s string) {
	t.Helper()
	want, err := time.Parse(time.RFC3339Nano, s)
	got, ok := parseRFC3339([]byte(s))
	if ok != (err == nil) || ok && !got.Equal(want) {
		t.Fatalf("parseRFC3339(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, err)
	}
	if fast, ok := parseStrictRFC3339([]byte(s)); ok && (err != nil || !fast.Equal(want)) {
		t.Fatalf("parseStrictRFC3339(%q) = %v; time.Parse: %v, %v", s, fast, want, err)
	}
}

func TestParseRFC3339_MatchesTimeParse(t *testing.T) {
	for _, s := range rfc3339Cases {
		checkParseRFC3339(t, s)
	}
}

func FuzzParseRFC3339(f *testing.F) {
	for _, s := range rfc3339Cases {
		f.Add(s)
	}
	f.Fuzz(checkParseRFC3339)
}

var ipCases = []string{
	"1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..3.4",
	"1.2.3.4.", ".1.2.3", "1.2.3.-4", "1.2.3.04", "1.2.3.0", "1.2.3.00", "1234.1.1.1", "::1", "1.2.3.4%x", "",
}

func checkPlainIPv4(t *testing.T, s string) {
	t.Helper()
	if !plainIPv4([]byte(s)) {
		return
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" || addr.String() != s {
		t.Fatalf("plainIPv4(%q) but netip says %v, %v", s, addr, err)
	}
}

func TestPlainIPv4_IsCanonicalForNetip(t *testing.T) {
	for _, s := range ipCases {
		checkPlainIPv4(t, s)
	}
	if !plainIPv4([]byte("203.0.113.7")) || plainIPv4([]byte("203.000.113.7")) {
		t.Error("plainIPv4 misses the plain case or accepts leading zeros")
	}
}

func FuzzPlainIPv4(f *testing.F) {
	for _, s := range ipCases {
		f.Add(s)
	}
	f.Fuzz(checkPlainIPv4)
}
