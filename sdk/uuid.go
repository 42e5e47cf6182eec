package activity

import (
	"crypto/rand"
	"sync"
	"time"
)

// randSource hands out bytes from crypto/rand, refilled in chunks so that
// generating an event id costs neither a system call nor an allocation.
type randSource struct {
	mu  sync.Mutex
	off int
	buf [4096]byte
}

func newRandSource() *randSource {
	r := &randSource{}
	r.off = len(r.buf)
	return r
}

func (r *randSource) read(p []byte) {
	r.mu.Lock()
	if r.off+len(p) > len(r.buf) {
		rand.Read(r.buf[:]) // never fails since Go 1.24
		r.off = 0
	}
	copy(p, r.buf[r.off:])
	r.off += len(p)
	r.mu.Unlock()
}

const hexDigits = "0123456789abcdef"

// uuidV7 returns a UUIDv7 (RFC 9562 §5.7) for now in its canonical text
// form: 48 bits of Unix milliseconds, version 7, 74 random bits, variant 10.
// The string is its only allocation.
func (r *randSource) uuidV7(now time.Time) string {
	var u [16]byte
	r.read(u[6:])
	ms := uint64(now.UnixMilli())
	u[0] = byte(ms >> 40)
	u[1] = byte(ms >> 32)
	u[2] = byte(ms >> 24)
	u[3] = byte(ms >> 16)
	u[4] = byte(ms >> 8)
	u[5] = byte(ms)
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f

	var s [36]byte
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j] = hexDigits[b>>4]
		s[j+1] = hexDigits[b&0x0f]
		j += 2
	}
	return string(s[:])
}
