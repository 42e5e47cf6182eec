package domain

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// SegmentNamespace is the fixed UUIDv5 namespace in which non-UUID Segment ids (userId,
// anonymousId, groupId, properties.community_id) are mapped to UUIDs:
// d3e29bbb-ce27-4767-93b1-96ddfed83f79 (chosen at random once; it must never change, or the same
// Segment user would map to a different UUID).
var SegmentNamespace = [16]byte{
	0xd3, 0xe2, 0x9b, 0xbb, 0xce, 0x27, 0x47, 0x67,
	0x93, 0xb1, 0x96, 0xdd, 0xfe, 0xd8, 0x3f, 0x79,
}

// NewUUIDv7 returns a new RFC 9562 version 7 UUID for the time now. The 12 bits after the
// millisecond timestamp hold the sub-millisecond fraction of now (RFC 9562 §6.2 method 3), so
// ids made with increasing times sort in that order down to about 250 ns; the remaining 62 bits
// come from crypto/rand.
func NewUUIDv7(now time.Time) string {
	var u [16]byte
	if _, err := rand.Read(u[8:]); err != nil {
		panic("domain: crypto/rand failed: " + err.Error()) // crypto/rand.Read never fails on supported platforms
	}
	ns := now.UnixNano()
	if ns < 0 {
		ns = 0
	}
	ms := uint64(ns / int64(time.Millisecond))
	frac := uint64(ns%int64(time.Millisecond)) * 4096 / uint64(time.Millisecond)
	binary.BigEndian.PutUint64(u[0:8], ms<<16|0x7000|frac)
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

// UUIDv5 returns the RFC 9562 version 5 (SHA-1, name-based) UUID of name in namespace.
func UUIDv5(namespace [16]byte, name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

// ParseUUID accepts only the 36-character hyphenated form (any case, any version) and returns
// it in canonical lower case.
func ParseUUID(s string) (string, bool) {
	var b [36]byte
	if !parseUUID(&b, s) {
		return "", false
	}
	return string(b[:]), true
}

// parseUUID is ParseUUID writing the canonical form to b.
func parseUUID[T ~string | ~[]byte](b *[36]byte, s T) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			switch {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			case c >= 'A' && c <= 'F':
				c += 'a' - 'A'
			default:
				return false
			}
		}
		b[i] = c
	}
	return true
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
