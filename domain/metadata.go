package domain

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// sanitizeMetadata sanitizes the JSON text raw in one pass over its bytes and returns the
// result encoded without HTML escaping. raw must be valid JSON and valid UTF-8 (callers have
// checked the whole body); like the scanners of scan.go it does not validate again, but it
// fails rather than panics on text it cannot follow.
//
// The output is byte for byte what decoding raw with encoding/json (UseNumber) into an any,
// SanitizeValue and encodeJSON produce (sanitize_metadata_test.go checks this against that
// reference, by tests and by fuzzing):
//   - object members are written in the order of their cleaned keys (encoding/json sorts the
//     keys of a map); of members with the same key the last one counts (the decoder overwrites);
//     of keys that become equal when cleaned, the one whose decoded key sorts first wins
//     (SanitizeValue);
//   - numbers, true, false and null are copied verbatim (json.Number keeps big numbers exact);
//   - strings are decoded only when they hold escapes or characters that cleaning removes or the
//     encoder escapes; others are copied through as they are.
func sanitizeMetadata(raw []byte) (json.RawMessage, error) {
	st := metaPool.Get().(*metaState)
	defer st.release()
	st.raw = raw
	i := skipSpace(raw, 0)
	if _, ok := st.value(i); !ok {
		return nil, errMetadataSyntax
	}
	return json.RawMessage(bytes.Clone(st.out)), nil
}

var errMetadataSyntax = errors.New("metadata is not valid JSON")

// metaState is the scratch space of one sanitizeMetadata call; it is pooled.
type metaState struct {
	raw     []byte
	out     []byte
	members []metaMember // members of the objects being written, innermost last
	keys    []byte       // keys that are not as they are in raw: decoded or cleaned
	dec     []byte       // a string being decoded
	clean   []byte       // a string with control characters removed
	tmp     []byte       // an object being reordered
	order   []int        // its members in order
}

// metaMember is one member of an object: its decoded and cleaned key and where it is written:
// out[keyOut:valOut] is the key and ':', out[valOut:end] the value. It holds no pointers, so
// that sorting members costs no write barriers.
type metaMember struct {
	key, ckey           textRef
	keyOut, valOut, end int
	prefix              uint64 // keyPrefix(key), while reordering
}

// textRef is the text raw[off:off+n], or keys[off:off+n] when inKeys.
type textRef struct {
	off, n int
	inKeys bool
}

func (st *metaState) text(r textRef) []byte {
	if r.inKeys {
		return st.keys[r.off : r.off+r.n]
	}
	return st.raw[r.off : r.off+r.n]
}

var metaPool = sync.Pool{New: func() any { return new(metaState) }}

// maxPooledBuf bounds the buffers a pooled metaState keeps.
const maxPooledBuf = 64 << 10

func (st *metaState) release() {
	st.raw = nil
	st.members = st.members[:0]
	if max(cap(st.out), cap(st.keys), cap(st.dec), cap(st.clean), cap(st.tmp)) > maxPooledBuf {
		return
	}
	st.out, st.keys, st.dec, st.clean, st.tmp = st.out[:0], st.keys[:0], st.dec[:0], st.clean[:0], st.tmp[:0]
	metaPool.Put(st)
}

// value writes the sanitized value that starts at raw[i] and returns the index after it.
func (st *metaState) value(i int) (int, bool) {
	raw := st.raw
	if i >= len(raw) {
		return i, false
	}
	switch raw[i] {
	case '{':
		return st.object(i)
	case '[':
		return st.array(i)
	case '"':
		end := skipString(raw, i)
		if end-i < 2 || raw[end-1] != '"' {
			return i, false
		}
		st.writeString(raw[i:end])
		return end, true
	default: // number, true, false, null
		end := skipValue(raw, i)
		if end == i {
			return i, false
		}
		st.out = append(st.out, raw[i:end]...)
		return end, true
	}
}

func (st *metaState) array(i int) (int, bool) {
	raw := st.raw
	st.out = append(st.out, '[')
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		st.out = append(st.out, ']')
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = st.value(i); !ok {
			return i, false
		}
		i = skipSpace(raw, i)
		switch {
		case i >= len(raw):
			return i, false
		case raw[i] == ']':
			st.out = append(st.out, ']')
			return i + 1, true
		case raw[i] != ',':
			return i, false
		}
		st.out = append(st.out, ',')
		i = skipSpace(raw, i+1)
	}
}

func (st *metaState) object(i int) (int, bool) {
	raw := st.raw
	base, keysBase := len(st.members), len(st.keys)
	defer func() { st.members, st.keys = st.members[:base], st.keys[:keysBase] }()
	objStart := len(st.out)
	st.out = append(st.out, '{')
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		st.out = append(st.out, '}')
		return i + 1, true
	}
	// Members are written as they come, which is right when their keys are sorted, unique and
	// clean; when they are not, they are put in order afterwards.
	inOrder := true
	for {
		if i >= len(raw) || raw[i] != '"' {
			return i, false
		}
		kend := skipString(raw, i)
		if kend-i < 2 || raw[kend-1] != '"' {
			return i, false
		}
		m := metaMember{key: textRef{off: i + 1, n: kend - 1 - (i + 1)}}
		if s := raw[m.key.off : m.key.off+m.key.n]; bytes.IndexByte(s, '\\') >= 0 {
			off := len(st.keys)
			var ok bool
			if st.keys, ok = unescapeTo(st.keys, s); !ok {
				return i, false
			}
			m.key = textRef{off: off, n: len(st.keys) - off, inKeys: true}
		}
		m.ckey = st.cleanKey(m.key)
		if inOrder && (m.ckey.n != m.key.n || // cleaning only removes
			len(st.members) > base && bytes.Compare(st.text(st.members[len(st.members)-1].key), st.text(m.key)) >= 0) {
			inOrder = false
		}
		i = skipSpace(raw, kend)
		if i >= len(raw) || raw[i] != ':' {
			return i, false
		}
		i = skipSpace(raw, i+1)
		if i >= len(raw) {
			return i, false
		}

		if len(st.members) > base {
			st.out = append(st.out, ',')
		}
		m.keyOut = len(st.out)
		ckey := st.text(m.ckey)
		st.out = appendJSONString(st.out, ckey)
		st.out = append(st.out, ':')
		m.valOut = len(st.out)
		if isSecretKey(ckey) {
			st.out = append(st.out, `"`+redacted+`"`...)
			i = skipValue(raw, i)
		} else {
			var ok bool
			if i, ok = st.value(i); !ok {
				return i, false
			}
		}
		m.end = len(st.out)
		st.members = append(st.members, m) // after the value: nested objects use st.members

		i = skipSpace(raw, i)
		if i >= len(raw) {
			return i, false
		}
		if raw[i] == '}' {
			i++
			break
		}
		if raw[i] != ',' {
			return i, false
		}
		i = skipSpace(raw, i+1)
	}
	if !inOrder {
		st.reorder(base, objStart)
	}
	st.out = append(st.out, '}')
	return i, true
}

// reorder rewrites the members st.members[base:] of the object written at st.out[objStart:]
// in the order encoding/json writes them, without those it drops.
func (st *metaState) reorder(base, objStart int) {
	ms := st.members[base:]
	// Members are sorted by index, which is cheaper than moving them. The first eight bytes of
	// each key, big-endian, order most pairs of keys without comparing the keys themselves.
	order := st.order[:0]
	for j := range ms {
		ms[j].prefix = keyPrefix(st.text(ms[j].key))
		order = append(order, j)
	}
	byKey := func(a, b int) int {
		if pa, pb := ms[a].prefix, ms[b].prefix; pa != pb {
			return cmp.Compare(pa, pb)
		}
		return bytes.Compare(st.text(ms[a].key), st.text(ms[b].key))
	}
	// The decoder keeps the last of equal keys and SanitizeValue visits keys in sorted order.
	slices.SortStableFunc(order, byKey)
	w := 0
	for r := range order {
		if r+1 < len(order) && byKey(order[r], order[r+1]) == 0 {
			continue
		}
		order[w] = order[r]
		w++
	}
	order = order[:w]
	// Of keys that clean to the same one, the first in the order of the decoded keys wins; the
	// encoder writes the cleaned keys in order.
	byCleanKey := func(a, b int) int { return bytes.Compare(st.text(ms[a].ckey), st.text(ms[b].ckey)) }
	if !slices.IsSortedFunc(order, byCleanKey) {
		slices.SortStableFunc(order, byCleanKey)
	}
	w = 0
	for r := range order {
		if w > 0 && byCleanKey(order[w-1], order[r]) == 0 {
			continue
		}
		order[w] = order[r]
		w++
	}
	order = order[:w]
	st.order = order

	st.tmp = append(st.tmp[:0], st.out[objStart:]...)
	st.out = append(st.out[:objStart], '{')
	for j, o := range order {
		if j > 0 {
			st.out = append(st.out, ',')
		}
		m := &ms[o]
		st.out = append(st.out, st.tmp[m.keyOut-objStart:m.end-objStart]...)
	}
}

// keyPrefix returns the first eight bytes of k as a big-endian number, padded with zeros:
// keys whose prefixes differ sort as their prefixes do.
func keyPrefix(k []byte) uint64 {
	if len(k) >= 8 {
		return binary.BigEndian.Uint64(k)
	}
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// cleanKey is cleanString for the decoded key k.
func (st *metaState) cleanKey(k textRef) textRef {
	s := st.text(k)
	if hasControlBytes(s) {
		off := len(st.keys)
		st.keys = removeControlBytes(st.keys, s)
		k = textRef{off: off, n: len(st.keys) - off, inKeys: true}
		s = st.keys[off:]
	}
	k.n = len(cutRunesBytes(s, maxStringRunes))
	return k
}

// writeString writes the sanitized form of the JSON string literal lit (quotes included).
func (st *metaState) writeString(lit []byte) {
	s := lit[1 : len(lit)-1]
	if plainString(s) {
		// Nothing to decode, clean or escape: the literal is its own encoding.
		if isSensitiveBytes(s) {
			st.out = append(st.out, `"`+redacted+`"`...)
			return
		}
		if len(s) > maxStringRunes { // ASCII: one byte per character
			lit = lit[:1+maxStringRunes]
			st.out = append(st.out, lit...)
			st.out = append(st.out, '"')
			return
		}
		st.out = append(st.out, lit...)
		return
	}
	if bytes.IndexByte(s, '\\') >= 0 {
		var ok bool
		if st.dec, ok = unescapeTo(st.dec[:0], s); !ok {
			// Cannot happen for valid JSON; keep the output valid anyway.
			st.out = append(st.out, `""`...)
			return
		}
		s = st.dec
	}
	if hasControlBytes(s) {
		st.clean = removeControlBytes(st.clean[:0], s)
		s = st.clean
	}
	if isSensitiveBytes(s) {
		st.out = append(st.out, `"`+redacted+`"`...)
		return
	}
	st.out = appendJSONString(st.out, cutRunesBytes(s, maxStringRunes))
}

// plainByte[c] is true for the bytes a plain string holds: printable ASCII but '\\' (and '"',
// which a string literal holds only escaped).
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '\\' && c != '"'
	}
	return
}()

// plainString reports whether the contents s of a JSON string literal are printable ASCII
// without escapes: decoding, cleaning and encoding leave them unchanged.
func plainString(s []byte) bool {
	for _, c := range s {
		if !plainByte[c] {
			return false
		}
	}
	return true
}

// hasControlBytes reports whether the valid UTF-8 text s holds a character isControl removes:
// a C0 control other than tab and newline, DEL, or a C1 control (U+0080–U+009F, encoded as
// 0xC2 0x80–0x9F).
func hasControlBytes(s []byte) bool {
	for i, c := range s {
		switch {
		case c < 0x20:
			if c != '\t' && c != '\n' {
				return true
			}
		case c == 0x7f:
			return true
		case c == 0xC2:
			if i+1 < len(s) && s[i+1] <= 0x9f {
				return true
			}
		}
	}
	return false
}

// removeControlBytes appends s without the characters isControl reports to dst.
func removeControlBytes(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !isControl(rune(c)) {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if !isControl(r) {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// cutRunesBytes is cutRunes for valid UTF-8 bytes.
func cutRunesBytes(s []byte, n int) []byte {
	if len(s) <= n {
		return s
	}
	runes := 0
	for i, c := range s {
		if c&0xC0 != 0x80 { // the first byte of a character
			if runes == n {
				return s[:i]
			}
			runes++
		}
	}
	return s
}

// unescapeTo appends the decoded contents s of a JSON string literal to dst, as encoding/json
// decodes them: an invalid surrogate escape becomes U+FFFD, and so does invalid UTF-8.
func unescapeTo(dst, s []byte) ([]byte, bool) {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			if r >= len(s) {
				return dst, false
			}
			switch s[r] {
			case '"', '\\', '/', '\'':
				dst = append(dst, s[r])
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := getu4(s[r-1:])
				if rr < 0 {
					return dst, false
				}
				r += 5
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != utf8.RuneError {
						r += 6
						dst = utf8.AppendRune(dst, dec)
						continue
					}
					rr = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default:
				return dst, false
			}
			r++
		case c == '"', c < ' ':
			return dst, false
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			dst = utf8.AppendRune(dst, rr)
		}
	}
	return dst, true
}

// getu4 decodes \uXXXX from the beginning of s, returning the hex value, or -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// jsonSafe[c] is true for the ASCII bytes encoding/json writes as they are when it does not
// escape HTML.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string exactly as encoding/json encodes it with
// SetEscapeHTML(false).
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
