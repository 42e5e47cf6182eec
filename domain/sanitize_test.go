package domain

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestIsSecretKey_MatchesContractWords(t *testing.T) {
	secret := []string{
		"password", "Password", "user_password", "passwd", "client_secret", "token", "access_token",
		"api_key", "apikey", "X-Api-Key", "API-KEY", "authorization", "Authorization", "cookie",
		"set-cookie", "session", "SessionId", "session_id", "ssn", "credit_card", "CreditCard",
		"card_number", "cardNumber", "card-number", "cvv", "CVV2", "pin", "PIN_code",
		// Substring matching as the contract says: these innocent keys are hidden too.
		"shipping", "typing", "tokens_used",
	}
	for _, k := range secret {
		if !IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false, want true", k)
		}
	}
	for _, k := range []string{"email", "plan", "name", "api", "key", "card", "credit", "user_id", "pass", "api key", "p_i_n_"} {
		want := k == "p_i_n_" // "_" is removed, so p_i_n_ is "pin"
		if IsSecretKey(k) != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", k, !want, want)
		}
	}
}

func TestSanitizeValue_RedactsValuesUnderSecretKeysWhateverTheirType(t *testing.T) {
	in := map[string]any{
		"password": "hunter2", "token": json.Number("12"), "cookie": true, "session": nil,
		"secret": map[string]any{"a": "b"}, "apikey": []any{"x"}, "plain": "ok",
	}
	want := map[string]any{
		"password": redacted, "token": redacted, "cookie": redacted, "session": redacted,
		"secret": redacted, "apikey": redacted, "plain": "ok",
	}
	if got := SanitizeValue(in); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if in["password"] != "hunter2" {
		t.Error("input was modified")
	}
}

func TestSanitizeValue_RecursesThroughArraysAndObjects(t *testing.T) {
	in := map[string]any{"a": []any{
		map[string]any{"b": []any{"ann@example.com", "x", map[string]any{"Access-Token": "t"}}},
		[]any{[]any{"Bearer abc.def"}},
	}}
	want := map[string]any{"a": []any{
		map[string]any{"b": []any{redacted, "x", map[string]any{"Access-Token": redacted}}},
		[]any{[]any{redacted}},
	}}
	if got := SanitizeValue(in); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSanitizeValue_Strings(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	tests := []struct {
		name, in, want string
	}{
		{"plain text kept", "hello world", "hello world"},
		{"email", "ann.lee+tag@mail.example.co.uk", redacted},
		{"email with spaces around", "  ann@example.com\n", redacted},
		{"email inside text kept", "write to ann@example.com", "write to ann@example.com"},
		{"package version not email", "lodash@4.17.21", "lodash@4.17.21"},
		{"handle not email", "@ann", "@ann"},
		{"visa", "4111111111111111", redacted},
		{"visa spaces", "4111 1111 1111 1111", redacted},
		{"visa dashes", "4111-1111-1111-1111", redacted},
		{"amex 15", "378282246310005", redacted},
		{"13 digits luhn", "4222222222222", redacted},
		{"19 digits luhn", "6011000990139424000", "6011000990139424000"}, // not Luhn-valid
		{"non-luhn digits kept", "4111111111111112", "4111111111111112"},
		{"12 digits kept", "411111111111", "411111111111"},
		{"20 digits kept", "41111111111111111113", "41111111111111111113"},
		{"double separator kept", "4111  1111 1111 1111", "4111  1111 1111 1111"},
		{"other separator kept", "4111.1111.1111.1111", "4111.1111.1111.1111"},
		{"jwt", jwt, redacted},
		{"jwt unsigned", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", redacted},
		{"not jwt two segments", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0"},
		{"not jwt wrong start", "abc.def.ghi", "abc.def.ghi"},
		{"bearer", "Bearer abc123._~+/-==", redacted},
		{"bearer lower case", "bearer mF_9.B5f-4.1JqM", redacted},
		{"bearer jwt", "BEARER " + jwt, redacted},
		{"bearer prose kept", "Bearer of bad news", "Bearer of bad news"},
		{"NUL removed", "a\x00b", "ab"},
		{"controls removed tab newline kept", "a\x01\x1f\r\x7f\u0085\u009f\tb\nc", "a\tb\nc"},
		{"redaction after control removal", "ann@exam\x00ple.com", redacted},
		{"card after control removal", "4111\x001111 1111 1111", redacted},
		{"non-control unicode kept", "héllo \u200b 😀 \u2028", "héllo \u200b 😀 \u2028"},
		{"cut at 2048 runes", strings.Repeat("é", 3000), strings.Repeat("é", 2048)},
		{"2048 runes kept", strings.Repeat("a", 2048), strings.Repeat("a", 2048)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SanitizeValue(tt.in); got != tt.want {
				t.Errorf("SanitizeValue(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSanitizeValue_CleansKeys(t *testing.T) {
	in := map[string]any{
		"na\x00me":                   "v",
		"pass\x00word":               "v",
		strings.Repeat("k", 3000):    "long",
		"dup":                        "first",
		"du\x01p":                    "second",
		"tab\tkey":                   1.5,
		"user_card_number_last_four": "1234",
	}
	got := SanitizeValue(in).(map[string]any)
	want := map[string]any{
		"name":                       "v",
		"password":                   redacted,
		strings.Repeat("k", 2048):    "long",
		"dup":                        "second", // both clean to "dup"; "du\x01p" sorts first and wins
		"tab\tkey":                   1.5,
		"user_card_number_last_four": redacted,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestSanitizeValue_KeepsNumbersBoolsAndNull(t *testing.T) {
	in := []any{json.Number("4111111111111111"), true, nil, 3.5}
	if got := SanitizeValue(in); !reflect.DeepEqual(got, in) {
		t.Errorf("got %v", got)
	}
}

func TestSanitizeMetadata_EncodesWithoutHTMLEscapingOrNewline(t *testing.T) {
	got, err := sanitizeMetadata([]byte(`{"h":"<a href='x'>&</a>","n":123456789012345678901234567890.5}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"h":"<a href='x'>&</a>","n":123456789012345678901234567890.5}`
	if string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestJSONDepth_CountsObjectsAndArrays(t *testing.T) {
	for in, want := range map[string]int{
		`{}`: 1, `{"a":1}`: 1, `{"a":[]}`: 2, `{"a":{"b":[{}]}}`: 4,
		`{"a":"{[{[\"\\"}`: 1, `{"a":[1,2],"b":{"c":{}}}`: 3,
	} {
		if got := jsonDepth([]byte(in)); got != want {
			t.Errorf("jsonDepth(%s) = %d, want %d", in, got, want)
		}
	}
}
