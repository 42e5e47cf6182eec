package domain

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"unicode/utf8"
)

// Redacted replaces every value the sanitizer hides.
const redacted = "[REDACTED]"

// maxStringRunes is the length at which metadata strings and keys are cut.
const maxStringRunes = 2048

// secretWords name secrets in metadata keys (api.md "Sanitizing"). A key is secret when its
// lower-cased form with "_" and "-" removed contains one of them. This is a substring match as
// the contract says, so it also hides innocent keys: "pin" makes "shipping", "typing" and
// "mapping" secret, "token" makes "tokens_used" secret. Over-redacting is the safe side.
var secretWords = []string{
	"password", "passwd", "secret", "token", "apikey", "authorization", "cookie",
	"session", "ssn", "creditcard", "cardnumber", "cvv", "pin",
}

// IsSecretKey reports whether values under the metadata key k are hidden.
func IsSecretKey(k string) bool { return isSecretKey(k) }

// isSecretKey is IsSecretKey for keys held as a string or as bytes. ASCII keys (nearly all)
// are normalized into a stack buffer; others take the general path with strings.ToLower, whose
// Unicode mapping can turn a non-ASCII letter into an ASCII one (KELVIN SIGN → "k").
func isSecretKey[T ~string | ~[]byte](k T) bool {
	var buf [128]byte
	n := 0
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= utf8.RuneSelf:
			return isSecretKeySlow(string(k))
		case c == '_' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if n == len(buf) {
			return isSecretKeySlow(string(k))
		}
		buf[n] = c
		n++
	}
	return containsSecretWord(buf[:n])
}

func isSecretKeySlow(k string) bool {
	norm := strings.ToLower(k)
	if strings.ContainsAny(norm, "_-") {
		norm = strings.Map(func(r rune) rune {
			if r == '_' || r == '-' {
				return -1
			}
			return r
		}, norm)
	}
	return containsSecretWord(norm)
}

// containsSecretWord reports whether the normalized key s contains one of secretWords. It looks
// at each position once and compares only the words that start with the letter found there.
func containsSecretWord[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		var words []string
		switch s[i] {
		case 'p':
			words = secretWordsP
		case 's':
			words = secretWordsS
		case 't':
			words = secretWordsT
		case 'a':
			words = secretWordsA
		case 'c':
			words = secretWordsC
		default:
			continue
		}
		for _, w := range words {
			if len(s)-i >= len(w) && string(s[i:i+len(w)]) == w {
				return true
			}
		}
	}
	return false
}

// secretWords grouped by first letter, for containsSecretWord.
var secretWordsP, secretWordsS, secretWordsT, secretWordsA, secretWordsC = func() (p, s, t, a, c []string) {
	for _, w := range secretWords {
		switch w[0] {
		case 'p':
			p = append(p, w)
		case 's':
			s = append(s, w)
		case 't':
			t = append(t, w)
		case 'a':
			a = append(a, w)
		case 'c':
			c = append(c, w)
		default:
			panic("domain: secret word " + w + " starts with an unexpected letter")
		}
	}
	return
}()

// SanitizeValue sanitizes a decoded JSON value (map[string]any, []any, string, json.Number,
// float64, bool, nil) and returns the new value; the argument is not modified. Recursively
// through objects and arrays: values under secret keys (IsSecretKey, after cleaning the key)
// become "[REDACTED]" whatever their type; control characters other than tab and newline are
// removed from strings and keys; strings that are an e-mail address, a Luhn-valid card number,
// a JWT or a bearer token become "[REDACTED]"; strings and keys are cut at 2048 characters.
// Values of other Go types are returned unchanged.
//
// When cleaning makes two keys equal, the one whose original key sorts first wins, so the
// result does not depend on map order.
func SanitizeValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make(map[string]any, len(x))
		for _, k := range keys {
			ck := cleanString(k)
			if _, dup := out[ck]; dup {
				continue
			}
			if IsSecretKey(ck) {
				out[ck] = redacted
			} else {
				out[ck] = SanitizeValue(x[k])
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = SanitizeValue(e)
		}
		return out
	case string:
		return sanitizeString(x)
	default:
		return v
	}
}

// sanitizeString removes control characters, redacts sensitive values and cuts the rest.
func sanitizeString(s string) string {
	s = removeControl(s)
	if isSensitiveValue(s) {
		return redacted
	}
	return cutRunes(s, maxStringRunes)
}

// cleanString removes control characters and cuts at maxStringRunes (used for keys).
func cleanString(s string) string {
	return cutRunes(removeControl(s), maxStringRunes)
}

// isControl reports whether r is in Unicode category Cc and is neither tab nor newline.
func isControl(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r <= 0x9f)
}

func removeControl(s string) string {
	clean := true
	for _, r := range s {
		if isControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if !isControl(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// isSensitiveValue reports whether s (ignoring surrounding white space) is an e-mail address, a
// Luhn-valid card number, a JWT or a bearer token.
func isSensitiveValue(s string) bool { return isSensitiveTrimmed(strings.TrimSpace(s)) }

// isSensitiveBytes is isSensitiveValue for bytes.
func isSensitiveBytes(b []byte) bool { return isSensitiveTrimmed(bytes.TrimSpace(b)) }

// isSensitiveTrimmed is isSensitiveValue after white space is trimmed. Each kind is recognised
// by a hand-written matcher equivalent to a regular expression (see sanitize_regexp_test.go):
//
//	e-mail  ^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$
//	JWT     ^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$  (three base64url segments; the
//	        header is a JSON object, so it starts with "eyJ"; the signature may be empty)
//	bearer  (?i)^bearer +[A-Za-z0-9\-._~+/]+=*$
func isSensitiveTrimmed[T ~string | ~[]byte](t T) bool {
	if len(t) < 6 { // the shortest match is "a@b.cd"
		return false
	}
	switch {
	case isCardNumber(t):
		return true
	case t[0] == 'e' && t[1] == 'y' && t[2] == 'J':
		return isJWT(t)
	case len(t) > 7 && equalFoldBearer(t):
		return isBearer(t)
	case indexByte(t, '@') > 0:
		return isEmail(t)
	}
	return false
}

func indexByte[T ~string | ~[]byte](s T, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// charClass bits: which matcher accepts a byte.
const (
	classAlnum   = 1 << iota // [A-Za-z0-9]
	classAlpha               // [A-Za-z]
	classB64URL              // [A-Za-z0-9_-]
	classBearer              // [A-Za-z0-9\-._~+/]
	classEmailLP             // [A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alpha := 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z'
		alnum := alpha || '0' <= b && b <= '9'
		if alnum {
			t[c] |= classAlnum | classB64URL | classBearer | classEmailLP
		}
		if alpha {
			t[c] |= classAlpha
		}
		if strings.IndexByte("_-", b) >= 0 {
			t[c] |= classB64URL
		}
		if strings.IndexByte("-._~+/", b) >= 0 {
			t[c] |= classBearer
		}
		if strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", b) >= 0 {
			t[c] |= classEmailLP
		}
	}
	return
}()

// isJWT: t starts with "eyJ"; exactly three dot-separated base64url segments, the middle one
// not empty.
func isJWT[T ~string | ~[]byte](t T) bool {
	dots, seg := 0, 0 // seg: length of the current segment
	for i := 3; i < len(t); i++ {
		c := t[i]
		if c == '.' {
			if dots == 1 && seg == 0 {
				return false
			}
			dots++
			seg = 0
			continue
		}
		if charClass[c]&classB64URL == 0 {
			return false
		}
		seg++
	}
	return dots == 2
}

// equalFoldBearer reports whether t starts with "bearer" in any case. (No non-ASCII letter
// folds to one of b, e, a, r, so ASCII case folding is strings.EqualFold here.)
func equalFoldBearer[T ~string | ~[]byte](t T) bool {
	const w = "bearer"
	for i := 0; i < len(w); i++ {
		if t[i]|0x20 != w[i] {
			return false
		}
	}
	return true
}

// isBearer: t starts with "bearer" (any case); then one or more spaces, a token of one or more
// characters of classBearer and any number of "=". The expression is case-insensitive, so its
// [A-Za-z] also matches U+017F (ſ, which folds to s) and U+212A (KELVIN SIGN, which folds to k).
func isBearer[T ~string | ~[]byte](t T) bool {
	i := 6
	if i >= len(t) || t[i] != ' ' {
		return false
	}
	for i < len(t) && t[i] == ' ' {
		i++
	}
	start := i
	for i < len(t) {
		c := t[i]
		switch {
		case charClass[c]&classBearer != 0:
			i++
		case c == 0xC5 && i+1 < len(t) && t[i+1] == 0xBF: // U+017F
			i += 2
		case c == 0xE2 && i+2 < len(t) && t[i+1] == 0x84 && t[i+2] == 0xAA: // U+212A
			i += 3
		default:
			goto token
		}
	}
token:
	if i == start {
		return false
	}
	for i < len(t) && t[i] == '=' {
		i++
	}
	return i == len(t)
}

// isEmail: a local part of classEmailLP characters, "@", then two or more dot-separated labels;
// each label starts and ends with a letter or digit and holds only letters, digits and "-"; the
// last label is two or more letters.
func isEmail[T ~string | ~[]byte](t T) bool {
	at := indexByte(t, '@')
	if at <= 0 {
		return false
	}
	for i := 0; i < at; i++ {
		if charClass[t[i]]&classEmailLP == 0 {
			return false
		}
	}
	labels := 0
	start := at + 1
	for i := start; ; i++ {
		if i < len(t) && t[i] != '.' {
			continue
		}
		label := t[start:i]
		if len(label) == 0 {
			return false
		}
		labels++
		if i == len(t) { // the last label
			if len(label) < 2 {
				return false
			}
			for j := 0; j < len(label); j++ {
				if charClass[label[j]]&classAlpha == 0 {
					return false
				}
			}
			return labels >= 2
		}
		if charClass[label[0]]&classAlnum == 0 || charClass[label[len(label)-1]]&classAlnum == 0 {
			return false
		}
		for j := 1; j < len(label)-1; j++ {
			if charClass[label[j]]&classAlnum == 0 && label[j] != '-' {
				return false
			}
		}
		start = i + 1
	}
}

// isCardNumber reports whether s is 13–19 digits, optionally grouped by single spaces or
// dashes, that pass the Luhn check.
func isCardNumber[T ~string | ~[]byte](s T) bool {
	if len(s) < 13 || len(s) > 19+18 {
		return false
	}
	var digits [19]byte
	n := 0
	prevSep := true // no separator at the start
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(digits) {
				return false
			}
			digits[n] = c - '0'
			n++
			prevSep = false
		case c == ' ' || c == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	if prevSep || n < 13 {
		return false
	}
	sum := 0
	for i := 0; i < n; i++ {
		d := int(digits[n-1-i])
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func encodeJSON(v any) (json.RawMessage, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(strings.TrimSuffix(b.String(), "\n")), nil
}

// jsonDepth returns the maximum nesting depth of objects and arrays in the valid JSON text b
// (a top-level object is depth 1; scalars add nothing).
func jsonDepth(b []byte) int {
	depth, max := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				max = depth
			}
		case '}', ']':
			depth--
		}
	}
	return max
}
