package domain

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// refSanitizeMetadata is what sanitizeMetadata did before it scanned the bytes itself: decode
// with encoding/json into an any, SanitizeValue, encode again. Its output is the contract.
func refSanitizeMetadata(raw []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return encodeJSON(SanitizeValue(v))
}

var metadataCases = []string{
	`{}`, `{"a":1}`, ` { "b" : [ 1 , 2 ] , "a" : { } } `,
	`{"b":1,"a":2,"c":3}`, `{"a":1,"a":2}`, `{"a":{"x":1},"a":[2]}`,
	`{"dup":"first","du\u0001p":"second"}`, `{"du\u0001p":"second","dup":"first"}`,
	`{"a\u0000":1,"a":2,"a\u0001":3}`, `{"a\u0001":1,"a\u0000":2}`, `{"\u0000":1,"":2}`,
	`{"pass\u0000word":"x","password":1,"pa\u007fssword":{"a":1}}`,
	`{"n":1e400,"m":-0,"o":123456789012345678901234567890.5,"t":true,"f":false,"z":null}`,
	`{"h":"<a href='x'>&</a>","q":"\"quoted\" \\ back\/slash"}`,
	`{"s":"a\u0000b\u2028c\u2029d\u0085e\u009fg\u00a0h\t\n\r\b\f"}`,
	`{"s":"` + "\u2028\u2029\u0085\u007f" + `"}`,
	`{"s":"\ud800","t":"\ud83d\ude00","u":"\udc00\ud800x","v":"\ud800\u0041"}`,
	`{"e":"ann@example.com","e2":" ann@example.com\n","c":"4111 1111 1111 1111","j":"eyJa.eyJb.c","b":"Bearer abc"}`,
	`{"e":"ann@exam\u0000ple.com","c":"4111\u00001111 1111 1111","b":"bearer \u212a"}`,
	`{"a":[1,{"b":"ann@example.com","password":[1,2]},[[]],"x"],"token":{"a":1}}`,
	`{"k":"` + strings.Repeat("x", 3000) + `"}`,
	`{"k":"` + strings.Repeat("é", 3000) + `"}`,
	`{"k":"` + strings.Repeat("\\u00e9", 2100) + `"}`,
	`{"k":"` + strings.Repeat("x", 2047) + `\u0001é"}`,
	`{"` + strings.Repeat("k", 3000) + `":1,"` + strings.Repeat("k", 2048) + `":2}`,
	`{"` + strings.Repeat("k", 2048) + `x":1,"` + strings.Repeat("k", 2048) + `":2}`,
	`{"Z":1,"a":2,"é":3,"\u00e9":4,"e\u0301":5,"~":6}`,
	`{"tab\tkey":1.5,"nl\nkey":2,"user_card_number_last_four":"1234","shipping":"x"}`,
	`{"x":"\u0000\u0000"}`, `{"x":"  "}`, `{"x":""}`, `{"":""}`,
	`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{}}}}}}}}`,
	`[1,"a@b.cd",{"b":2,"a":1}]`, `"a\u0000b"`, `12`, `null`,
}

func TestSanitizeMetadata_MatchesDecodeSanitizeEncode(t *testing.T) {
	for _, c := range metadataCases {
		checkSanitizeMetadataMatches(t, []byte(c))
	}
	checkSanitizeMetadataMatches(t, benchBody(3))
}

func checkSanitizeMetadataMatches(t *testing.T, raw []byte) {
	t.Helper()
	want, werr := refSanitizeMetadata(raw)
	got, gerr := sanitizeMetadata(raw)
	if (werr != nil) != (gerr != nil) || string(got) != string(want) {
		t.Fatalf("sanitizeMetadata(%s)\n got  %s (%v)\n want %s (%v)", raw, got, gerr, want, werr)
	}
}

func TestSanitizeMetadata_Allocations(t *testing.T) {
	raw := []byte(`{"plan":"pro","utm":{"campaign":"winter_sale"},"items":[{"sku":"S-1","qty":2}],"contact":"ann.lee@example.com","access_token":"tok"}`)
	if _, err := sanitizeMetadata(raw); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = sanitizeMetadata(raw) }); n > 1 {
		t.Errorf("%v allocations per call, want 1 (the result)", n)
	}
}

func FuzzSanitizeMetadata(f *testing.F) {
	for _, c := range metadataCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// The preconditions of sanitizeMetadata: valid UTF-8, one valid JSON value.
		if !utf8.Valid(raw) || !json.Valid(raw) {
			return
		}
		checkSanitizeMetadataMatches(t, raw)
	})
}
