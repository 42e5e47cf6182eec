package domain

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
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
func IsSecretKey(k string) bool {
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

var (
	emailRe = regexp.MustCompile("^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\\.[A-Za-z]{2,}$")
	// A JWT: three base64url segments; the header is a JSON object, so it starts with "eyJ".
	// The signature may be empty (unsecured JWT).
	jwtRe    = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)
	bearerRe = regexp.MustCompile(`(?i)^bearer +[A-Za-z0-9\-._~+/]+=*$`)
)

// isSensitiveValue reports whether s (ignoring surrounding white space) is an e-mail address, a
// Luhn-valid card number, a JWT or a bearer token.
func isSensitiveValue(s string) bool {
	t := strings.TrimSpace(s)
	if len(t) < 6 { // the shortest match is "a@b.cd"
		return false
	}
	switch {
	case isCardNumber(t):
		return true
	case strings.HasPrefix(t, "eyJ"):
		return jwtRe.MatchString(t)
	case len(t) > 7 && strings.EqualFold(t[:6], "bearer"):
		return bearerRe.MatchString(t)
	case strings.IndexByte(t, '@') > 0:
		return emailRe.MatchString(t)
	}
	return false
}

// isCardNumber reports whether s is 13–19 digits, optionally grouped by single spaces or
// dashes, that pass the Luhn check.
func isCardNumber(s string) bool {
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

// sanitizeMetadata decodes a raw JSON object, sanitizes it and encodes it again without HTML
// escaping and without a trailing newline.
func sanitizeMetadata(raw []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return encodeJSON(SanitizeValue(v))
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
