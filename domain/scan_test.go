package domain

import (
	"encoding/json"
	"strings"
	"testing"
)

var validJSONCases = []string{
	``, ` `, `{}`, `[]`, ` { } `, `{"a":1}`, `{"a":1,}`, `{,}`, `[1,]`, `[,1]`, `{"a"}`, `{"a":}`,
	`{"a" : [ 1 , 2 ] }`, `{1:2}`, `{"a":1 "b":2}`, `[1 2]`, `{"a":1]`, `[1}`, `]`, `}`, `{`, `[`,
	`"`, `""`, `"\"`, `"\\"`, `"\u00e9"`, `"\u00g9"`, `"\u00e"`, `"\x"`, `"\/\b\f\n\r\t"`, "\"\x01\"",
	"\"\x7f\xff\"", "\"\t\"", `true`, `tru`, `truex`, `false`, `null`, `nul`, `nulll`, `NaN`,
	`0`, `-0`, `-`, `01`, `-01`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1e+5`, `1E-5`, `1.5e10`, `+1`,
	`1ee5`, `0x10`, `1 2`, `{} {}`, `{}x`, "{}\n", "\t[\r\n]\n", `[true,false,null,"",0,{}]`,
	`{"a":{"b":[{"c":null}]}}`, `[[[]]]`, `[[]]]`, `[[[]]`, `{"a":1}}`, "\xef\xbb\xbf{}",
	strings.Repeat("[", maxNestingDepth) + strings.Repeat("]", maxNestingDepth),
	strings.Repeat("[", maxNestingDepth+1) + strings.Repeat("]", maxNestingDepth+1),
	strings.Repeat(`{"a":`, maxNestingDepth) + "1" + strings.Repeat("}", maxNestingDepth),
	strings.Repeat(`{"a":`, maxNestingDepth+1) + "1" + strings.Repeat("}", maxNestingDepth+1),
	strings.Repeat("[", 70) + `{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "}" + strings.Repeat("]", 70),
	strings.Repeat("[", 70) + `{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "]" + strings.Repeat("]", 70),
}

func TestValidJSON_MatchesEncodingJSON(t *testing.T) {
	for _, c := range validJSONCases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.80q) = %v, json.Valid says %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range validJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

// refSkipString is skipString one byte at a time.
func refSkipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

func FuzzSkipString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b"`, `"abcdefgh\\"x"`, `"abcdefghijklmnop`, `"\`, `"12345678"9`, `"1234567\"9"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != '"' {
			return
		}
		if got, want := skipString(b, 0), refSkipString(b, 0); got != want {
			t.Fatalf("skipString(%q) = %d, want %d", b, got, want)
		}
	})
}
