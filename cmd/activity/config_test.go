package main

import (
	"strings"
	"testing"
)

// TestCheckApplicationName: the application name that tags projector
// transactions (which projectors do not wait for) is refused for the
// service's own connections, from DATABASE_URL or PGAPPNAME.
func TestCheckApplicationName(t *testing.T) {
	const base = "postgres://postgres@127.0.0.1:5432/activity?sslmode=disable"
	if err := checkApplicationName(base); err != nil {
		t.Errorf("plain URL: %v", err)
	}
	if err := checkApplicationName(base + "&application_name=dashboards"); err != nil {
		t.Errorf("another name: %v", err)
	}
	if err := checkApplicationName(base + "&application_name=activity-projector"); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("the projectors' name in the URL: %v, want it refused", err)
	}
	t.Setenv("PGAPPNAME", "activity-projector")
	if err := checkApplicationName(base); err == nil {
		t.Error("the projectors' name in PGAPPNAME: accepted, want it refused")
	}
}
