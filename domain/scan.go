package domain

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
)

// The functions here split JSON text that json.Valid (or validJSON) has accepted into object
// members and array elements without decoding it again. They must not be given unvalidated
// input.

var errNotObject = errors.New("not a JSON object")

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'. It looks at eight
// bytes at a time for the next '"' or '\\'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); {
		if len(b)-i >= 8 {
			m := quoteOrBackslash(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8 // the first '"' or '\\'
		}
		switch b[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return len(b)
}

// quoteOrBackslash returns a mask whose lowest set bit is the high bit of the first byte of x
// (in memory order) that is '"' or '\\'; it is zero when there is none. (Bits above it may be
// set spuriously.)
func quoteOrBackslash(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ ('"' * ones)
	bs := x ^ ('\\' * ones)
	return ((q-ones)&^q | (bs-ones)&^bs) & highs
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	end, _ := skipValueDepth(b, i)
	return end
}

// skipValueDepth returns the index after the value starting at b[i] and its nesting depth
// (jsonDepth of the value).
func skipValueDepth(b []byte, i int) (end, maxDepth int) {
	switch b[i] {
	case '"':
		return skipString(b, i), 0
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
				maxDepth = max(maxDepth, depth)
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, maxDepth
				}
			}
			i++
		}
		return len(b), maxDepth
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i, 0
			}
			i++
		}
		return i, 0
	}
}

// splitObject returns the members of the valid JSON text b, which must be one object.
func splitObject(b []byte) ([]member, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errNotObject
	}
	var ms []member
	i = skipSpace(b, i+1)
	if b[i] == '}' {
		return ms, nil
	}
	for {
		end := skipString(b, i)
		key, err := unquote(b[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // ':'
		end = skipValue(b, i)
		ms = append(ms, member{key: key, val: b[i:end:end]})
		i = skipSpace(b, end)
		if b[i] == '}' {
			return ms, nil
		}
		i = skipSpace(b, i+1) // ','
	}
}

// splitArray returns the elements of the valid JSON text b, which must be one array.
func splitArray(b []byte) ([]json.RawMessage, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	items, _ := splitArrayAt(b, i)
	return items, true
}

// splitArrayAt returns the elements of the valid JSON array that starts at b[i] and the index
// after it.
func splitArrayAt(b []byte, i int) ([]json.RawMessage, int) {
	var items []json.RawMessage
	i = skipSpace(b, i+1)
	if b[i] == ']' {
		return items, i + 1
	}
	for {
		end := skipValue(b, i)
		items = append(items, json.RawMessage(b[i:end:end]))
		i = skipSpace(b, end)
		if b[i] == ']' {
			return items, i + 1
		}
		i = skipSpace(b, i+1)
	}
}

// unquote decodes the valid JSON string literal q. Callers have checked the text is valid UTF-8.
func unquote(q []byte) (string, error) {
	if len(q) >= 2 && bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1]), nil
	}
	var s string
	err := json.Unmarshal(q, &s)
	return s, err
}

// maxNestingDepth is the nesting depth encoding/json accepts at most.
const maxNestingDepth = 10000

// strByte[c] is true for the bytes that end the plain run of a JSON string: '"', '\\' and the
// control characters, which must be escaped.
var strByte = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return
}()

// controlByte returns a mask whose lowest set bit is the high bit of the first byte of x (in
// memory order) below 0x20; it is zero when there is none.
func controlByte(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (x - 0x20*ones) &^ x & highs
}

// validJSON is json.Valid: whether b is exactly one JSON value with optional surrounding white
// space, nested at most maxNestingDepth levels deep. Like json.Valid it does not check UTF-8.
// It is a plain loop over the bytes instead of the step-function scanner of encoding/json.
func validJSON(b []byte) bool {
	var inObject [maxNestingDepth/64 + 1]uint64 // bit d: the container at depth d is an object
	depth := 0
	i := skipSpace(b, 0)
	const (
		wantValue = iota
		wantKey
		afterValue
	)
	state := wantValue
	for {
		switch state {
		case wantValue:
			if i >= len(b) {
				return false
			}
			switch b[i] {
			case '{', '[':
				if depth == maxNestingDepth {
					return false
				}
				open, obj := b[i], b[i] == '{'
				if obj {
					inObject[depth/64] |= 1 << (depth % 64)
				} else {
					inObject[depth/64] &^= 1 << (depth % 64)
				}
				depth++
				i = skipSpace(b, i+1)
				switch {
				case i < len(b) && (open == '{' && b[i] == '}' || open == '[' && b[i] == ']'):
					depth--
					i++
					state = afterValue
				case obj:
					state = wantKey
				}
				continue
			case '"':
				var ok bool
				if i, ok = validString(b, i); !ok {
					return false
				}
			case 't':
				if !hasLiteral(b, i, "true") {
					return false
				}
				i += 4
			case 'f':
				if !hasLiteral(b, i, "false") {
					return false
				}
				i += 5
			case 'n':
				if !hasLiteral(b, i, "null") {
					return false
				}
				i += 4
			default:
				var ok bool
				if i, ok = validNumber(b, i); !ok {
					return false
				}
			}
			state = afterValue
		case wantKey:
			if i >= len(b) || b[i] != '"' {
				return false
			}
			var ok bool
			if i, ok = validString(b, i); !ok {
				return false
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return false
			}
			i = skipSpace(b, i+1)
			state = wantValue
		case afterValue:
			i = skipSpace(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			obj := inObject[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			switch c := b[i]; {
			case c == ',':
				i = skipSpace(b, i+1)
				if obj {
					state = wantKey
				} else {
					state = wantValue
				}
			case obj && c == '}', !obj && c == ']':
				i++
				depth--
			default:
				return false
			}
		}
	}
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// validString returns the index after the valid JSON string that starts at b[i] == '"'.
func validString(b []byte, i int) (int, bool) {
	for i++; i < len(b); {
		if len(b)-i >= 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			m := quoteOrBackslash(x) | controlByte(x)
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8 // the first byte that ends the plain run
		}
		c := b[i]
		if !strByte[c] {
			i++
			continue
		}
		switch c {
		case '"':
			return i + 1, true
		case '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 {
					return i, false
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 6
			default:
				return i, false
			}
		default: // a control character
			return i, false
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validNumber returns the index after the JSON number that starts at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) (int, bool) {
	digits := func() bool {
		start := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		digits()
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return i, false
		}
	}
	return i, true
}
