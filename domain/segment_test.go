package domain

import "testing"

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
