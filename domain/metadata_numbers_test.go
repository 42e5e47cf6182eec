package domain

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestNumericFits_MatchesPostgreSQLNumeric holds the bounds of PostgreSQL's
// numeric (checked with psql: SELECT '{"a":N}'::jsonb), which stores metadata
// numbers.
func TestNumericFits_MatchesPostgreSQLNumeric(t *testing.T) {
	for n, want := range map[string]bool{
		"0": true, "-0": true, "1e400": true, "123456789012345678901234567890.5": true,
		"1e131071": true, "9.99e131071": true, "0.5e131072": true, "-1E+131071": true,
		"1e131072": false, "1E+131072": false, "10e131071": false, "1e999999": false,
		"1e-16383": true, "0.1e-16382": true, "1.5e-16383": false, "1e-16384": false, "1e-999999": false,
		"0e999999": true, "0e1073741822": true, "0e1073741823": false, "0.0e-16383": false, "-0e-20000": false,
		"1e99999999999999999999": false,
	} {
		if got := numericFits([]byte(n)); got != want {
			t.Errorf("numericFits(%s) = %v, want %v", n, got, want)
		}
	}
}

// TestDecodeEvent_RejectsMetadataNumbersPostgreSQLCannotStore: such an
// event was accepted (202) and then failed in the writer, so it was lost.
func TestDecodeEvent_RejectsMetadataNumbersPostgreSQLCannotStore(t *testing.T) {
	for _, n := range []string{"1e131072", "-1e999999", "1e-999999", "[1,{\"x\":1E+200000}]"} {
		body := `{"event_type":"webhook.triggered","metadata":{"ok":1e400,"n":` + n + `}}`
		_, rejected, err := DecodeRequest([]byte(body), DefaultLimits(), Defaults{Now: time.Now()})
		if err != nil || len(rejected) != 1 || rejected[0].Errors[0].Field != "metadata" ||
			!strings.Contains(rejected[0].Errors[0].Message, "decimal point") {
			t.Errorf("metadata number %s: rejected %+v, err %v; want a metadata error", n, rejected, err)
		}
		e := Event{EventID: "e", EventType: "webhook.triggered", Metadata: json.RawMessage(`{"n":` + n + `}`), OccurredAt: time.Now()}
		if errs := ValidateEvent(e, DefaultLimits(), time.Now()); len(errs) != 1 || errs[0].Field != "metadata" {
			t.Errorf("ValidateEvent with metadata number %s = %+v, want a metadata error", n, errs)
		}
	}
}
