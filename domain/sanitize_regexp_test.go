package domain

import (
	"regexp"
	"strings"
	"testing"
)

// The regular expressions and key normalization the hand-written matchers replace; the tests
// here check that both agree.
var (
	refEmailRe  = regexp.MustCompile("^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\\.[A-Za-z]{2,}$")
	refJWTRe    = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)
	refBearerRe = regexp.MustCompile(`(?i)^bearer +[A-Za-z0-9\-._~+/]+=*$`)
)

func refIsSensitiveValue(s string) bool {
	t := strings.TrimSpace(s)
	if len(t) < 6 {
		return false
	}
	switch {
	case isCardNumber(t):
		return true
	case strings.HasPrefix(t, "eyJ"):
		return refJWTRe.MatchString(t)
	case len(t) > 7 && strings.EqualFold(t[:6], "bearer"):
		return refBearerRe.MatchString(t)
	case strings.IndexByte(t, '@') > 0:
		return refEmailRe.MatchString(t)
	}
	return false
}

func refIsSecretKey(k string) bool {
	norm := strings.ToLower(k)
	if strings.ContainsAny(norm, "_-") {
		norm = strings.Map(func(r rune) rune {
			if r == '_' || r == '-' {
				return -1
			}
			return r
		}, norm)
	}
	for _, w := range secretWords {
		if strings.Contains(norm, w) {
			return true
		}
	}
	return false
}

var sensitiveCases = []string{
	"", "a@b.cd", "a@b.c", "a@b.c1", "a@-b.cd", "a@b-.cd", "a@b--c.de", "a@b..cd", "a@.b.cd", "a@b.cd.",
	"@b.cd", "a@@b.cd", "a b@c.de", "ann@example.com", "ann@example.co.uk", "ann@ex_ample.com",
	"x@y.zz\n", "  x@y.zz  ", "x@localhost", "x@1.2.3.4", "x@a.b1", "x@a.bc-", "x@a.b-c",
	"eyJ", "eyJ.a.", "eyJ..a", "eyJa.b.c", "eyJa.b.c.d", "eyJa.b", "eyJa@b.cd", "eyJa.b.c=", "eyJ.a.b ",
	"Bearer x", "bearer  x", "BEARER x==", "Bearer x=y", "Bearer x =", "Bearer ", "Bearer  ", "Bearerx y",
	"bearer ſ", "bearer \u212a", "bearer \u212a=", "bearer é", "bearer x\u212ay", "bearer\tx",
	"Bearer a@b.cd", "bEaReR abc/+~._-", "bearer ==", "bearer x=\u212a",
	"4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "4111111111111112",
	"\u00a0ann@example.com\u2028", "\u0085eyJa.b.c", "\xffa@b.cd", "a@b.c\xff",
}

func TestIsSensitiveValue_MatchesRegexps(t *testing.T) {
	for _, s := range sensitiveCases {
		if got, want := isSensitiveValue(s), refIsSensitiveValue(s); got != want {
			t.Errorf("isSensitiveValue(%q) = %v, regexps say %v", s, got, want)
		}
		if got, want := isSensitiveBytes([]byte(s)), refIsSensitiveValue(s); got != want {
			t.Errorf("isSensitiveBytes(%q) = %v, regexps say %v", s, got, want)
		}
	}
}

func TestIsSecretKey_MatchesReference(t *testing.T) {
	for _, k := range []string{
		"", "pin", "PIN", "p-i-n", "to\u212aen", "TO\u212aEN", "ſession", "ſſn", "X-Api-Key",
		"İpin", "spin", "sp", "tokenß", "é_password", strings.Repeat("a", 127) + "pin",
		strings.Repeat("a", 128) + "pin", strings.Repeat("_", 300) + "cvv", strings.Repeat("b", 200),
		"credit-card", "card_number", "authorizatio", "cooki", "passw", "apikey",
	} {
		if got, want := IsSecretKey(k), refIsSecretKey(k); got != want {
			t.Errorf("IsSecretKey(%q) = %v, reference says %v", k, got, want)
		}
		if got, want := isSecretKey([]byte(k)), refIsSecretKey(k); got != want {
			t.Errorf("isSecretKey([]byte(%q)) = %v, reference says %v", k, got, want)
		}
	}
}

func TestIsBearer_CaseFoldedClassRunes(t *testing.T) {
	// Under (?i), [A-Za-z] also holds the runes that fold to ASCII letters.
	for r := rune(0x80); r <= 0x3000; r++ {
		s := "bearer a" + string(r)
		if got, want := isSensitiveValue(s), refIsSensitiveValue(s); got != want {
			t.Errorf("%q (%U): %v, regexps say %v", s, r, got, want)
		}
	}
}

func FuzzIsSensitiveValue(f *testing.F) {
	for _, s := range sensitiveCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isSensitiveValue(s), refIsSensitiveValue(s); got != want {
			t.Fatalf("isSensitiveValue(%q) = %v, regexps say %v", s, got, want)
		}
		if got, want := isSensitiveBytes([]byte(s)), refIsSensitiveValue(s); got != want {
			t.Fatalf("isSensitiveBytes(%q) = %v, regexps say %v", s, got, want)
		}
	})
}

func FuzzIsSecretKey(f *testing.F) {
	for _, s := range []string{"pin", "X-Api-Key", "to\u212aen", "ſession", "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := IsSecretKey(k), refIsSecretKey(k); got != want {
			t.Fatalf("IsSecretKey(%q) = %v, reference says %v", k, got, want)
		}
	})
}
