package activity_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/activity-dev/activity/sdk"
)

func TestRequestContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		remote, xff, ua string
		wantIP, wantUA  string
	}{
		{"203.0.113.7:51234", "", "Mozilla/5.0", "203.0.113.7", "Mozilla/5.0"},
		{"[2001:db8::1]:443", "", "", "2001:db8::1", ""},
		{"[::ffff:198.51.100.2]:80", "", "curl", "198.51.100.2", "curl"},
		{"[fe80::1%eth0]:80", "", "", "fe80::1", ""},
		{"203.0.113.7:1", "198.51.100.9", "", "203.0.113.7", ""}, // X-Forwarded-For is not trusted
		{"@unix", "", "", "", ""},
		{"10.0.0.1:1", "", strings.Repeat("é", 300), "10.0.0.1", strings.Repeat("é", 256)},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		r.Header.Set("User-Agent", tt.ua)
		ip, ua := activity.RequestContext(r)
		if ip != tt.wantIP || ua != tt.wantUA {
			t.Errorf("RequestContext(%q, XFF %q) = %q, %q; want %q, %q", tt.remote, tt.xff, ip, ua, tt.wantIP, tt.wantUA)
		}
	}
}

func TestEvent_FromRequestKeepsFieldsAlreadySet(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.7:1"
	r.Header.Set("User-Agent", "browser")

	e := activity.Event{IPAddress: "198.51.100.9"}
	e.FromRequest(r)
	if e.IPAddress != "198.51.100.9" || e.UserAgent != "browser" {
		t.Errorf("FromRequest gave %q, %q", e.IPAddress, e.UserAgent)
	}
}
