// Package sketch implements a mergeable distinct-count sketch for user ids.
//
// A [Sketch] counts the distinct 64-bit hashes added to it, normally the
// [Hash] of a user id. It has two forms:
//
//   - The explicit form is a sorted list of the distinct hashes themselves.
//     It is used while the set holds at most [MaxExplicit] hashes, and its
//     count is exact (barring 64-bit hash collisions, which are negligible
//     at these sizes).
//   - The dense form is a HyperLogLog with precision 12: 4096 one-byte
//     registers. A sketch switches to it as soon as its set outgrows
//     [MaxExplicit], and stays in it until [Sketch.Reset]. Its count is an estimate whose relative error
//     stays within [ErrorBound] with high probability, and its size is fixed
//     however large the set grows.
//
// Most sets are small, so most counts are exact and cheap to store, while
// large sets cost a constant 4 KiB with a bounded error.
//
// Sketches combine by union: [Sketch.Merge] and [Sketch.MergeBytes] turn a
// sketch into the sketch of the union of its set and another. Merging is
// commutative, associative and idempotent: the result depends only on the
// set of sketches merged, not on their order or on how often each was
// merged. In particular, the sketch of a union is byte for byte the same
// whether it was built by adding every hash or by merging partial sketches.
//
// # Serialization
//
// [Sketch.Bytes] encodes a sketch as a kind byte followed by its payload:
//
//   - kind 1, explicit: the hashes as 8-byte little-endian integers in
//     strictly ascending order. An empty sketch encodes as the single byte 1.
//   - kind 2, dense: the 4096 registers, one byte each, in index order. Each
//     register holds a value from 0 to 53.
//
// The encoding, like [Hash], is persisted and will not change.
package sketch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// MaxExplicit is the largest number of hashes a sketch holds in explicit
// form. A sketch whose set grows beyond it switches to the dense form.
const MaxExplicit = 256

// ErrorBound is the relative error bound reported by the API for dense
// estimates. It is three standard errors of a HyperLogLog with 4096
// registers, 3 × 1.04/√4096 = 0.04875, rounded up to 0.05. Explicit
// estimates are exact.
const ErrorBound = 0.05

// ErrMalformed is the error, possibly wrapped, that [Sketch.MergeBytes]
// returns for input that is not a serialized sketch.
var ErrMalformed = errors.New("sketch: malformed serialized sketch")

const (
	precision    = 12
	numRegisters = 1 << precision
	maxRank      = 64 - precision + 1 // 53

	kindExplicit = 1
	kindDense    = 2

	// q is the number of hash bits that determine a rank: ranks run from 1
	// to q+1 = maxRank, and a register of 0 is one no hash has touched.
	q = 64 - precision // 52

	// alphaInf is the limit of the HyperLogLog bias correction as the
	// number of registers grows, 1/(2 ln 2).
	alphaInf = 1 / (2 * math.Ln2)

	lo7 = 0x7f7f7f7f7f7f7f7f
	hi1 = 0x8080808080808080
)

// Hash returns a 64-bit hash of the 16 bytes of a UUID: FNV-1a 64 over the
// bytes in order, followed by the MurmurHash3 fmix64 finalizer so that every
// bit of the result depends on every bit of the input.
//
// Hashes are persisted in serialized sketches, so Hash is stable: it returns
// the same value for the same id in every version of this package.
func Hash(id [16]byte) uint64 {
	h := uint64(14695981039346656037) // FNV-1a 64 offset basis
	for _, c := range id {
		h ^= uint64(c)
		h *= 1099511628211 // FNV-1a 64 prime
	}
	return fmix64(h)
}

// fmix64 is the MurmurHash3 64-bit finalizer.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// A Sketch estimates the number of distinct hashes added to it. It is exact
// for up to [MaxExplicit] hashes and approximate, within [ErrorBound], beyond.
//
// The zero value is an empty sketch ready to use. A Sketch must not be
// copied after first use, and is not safe for concurrent use.
type Sketch struct {
	// dense reports whether the sketch is in dense form. Once set it stays
	// set until Reset. A dense sketch always has a nonzero register.
	dense bool
	// regs holds the registers in dense form. It is kept across Reset so
	// that a reused sketch does not allocate it again.
	regs *[numRegisters]uint8
	// list holds the hashes in explicit form, ascending and distinct.
	list []uint64
	// buf is scratch space for merges; it trades places with list.
	buf []uint64
}

// Add adds the hash h to the sketch's set and reports whether the sketch
// changed. When it did not, adding h to a sketch of a superset of this
// sketch's set (one every hash added here was also added to) would not
// change that sketch either.
func (s *Sketch) Add(h uint64) bool {
	if s.dense {
		return s.addDense(h)
	}
	i, found := slices.BinarySearch(s.list, h)
	if found {
		return false
	}
	if len(s.list) == MaxExplicit {
		s.toDense(s.list)
		s.addDense(h)
		return true
	}
	s.list = slices.Insert(s.list, i, h)
	return true
}

// Merge replaces s with the sketch of the union of the sets of s and o.
// A nil o is an empty sketch. o is not modified.
func (s *Sketch) Merge(o *Sketch) {
	if o == nil || o == s {
		return
	}
	switch {
	case o.dense:
		if !s.dense {
			s.toDense(s.list)
		}
		maxRegisters(s.regs, o.regs[:])
	case s.dense:
		for _, h := range o.list {
			s.addDense(h)
		}
	case len(o.list) > 0:
		s.mergeList(o.list)
	}
}

// MergeAll replaces s with the sketch of the union of the sets of s and of
// every sketch in os (nil ones are empty), as merging them one by one
// would, but in one pass: the hashes of the explicit ones are gathered
// into s's list, sorted and deduplicated once, where merging one by one
// copies the growing list for each. The sketches in os are not modified.
func (s *Sketch) MergeAll(os []*Sketch) {
	for _, o := range os {
		if o != nil && o != s && o.dense {
			s.Merge(o)
		}
	}
	if s.dense {
		for _, o := range os {
			if o != nil && o != s && !o.dense {
				for _, h := range o.list {
					s.addDense(h)
				}
			}
		}
		return
	}
	n := len(s.list)
	for _, o := range os {
		if o != nil && o != s {
			n += len(o.list)
		}
	}
	if n == len(s.list) {
		return
	}
	list := slices.Grow(s.list, n-len(s.list))
	for _, o := range os {
		if o != nil && o != s {
			list = append(list, o.list...)
		}
	}
	slices.Sort(list)
	s.list = slices.Compact(list)
	if len(s.list) > MaxExplicit {
		s.toDense(s.list)
	}
}

// MergeBytes replaces s with the sketch of the union of the set of s and
// the set of the sketch serialized in b, as if by decoding b into a Sketch
// and passing it to [Sketch.Merge], but without building the intermediate
// sketch. b is not retained.
//
// MergeBytes returns an error wrapping [ErrMalformed], and leaves s
// unchanged, if b is empty, has an unknown kind byte, has an explicit
// payload whose length is not a multiple of 8, or has a dense payload that
// is not 4096 registers of at most 53 each. It accepts explicit payloads
// that are unsorted or contain duplicates, or that hold more than
// [MaxExplicit] hashes; their merge is just slower. A dense payload whose
// registers are all zero is the empty set and changes nothing.
func (s *Sketch) MergeBytes(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty input", ErrMalformed)
	}
	p := b[1:]
	switch b[0] {
	case kindExplicit:
		if len(p)%8 != 0 {
			return fmt.Errorf("%w: explicit payload of %d bytes is not a multiple of 8", ErrMalformed, len(p))
		}
		switch {
		case len(p) == 0:
		case s.dense:
			for i := 0; i+8 <= len(p); i += 8 {
				s.addDense(binary.LittleEndian.Uint64(p[i:]))
			}
		default:
			s.mergeEncoded(p)
		}
	case kindDense:
		if len(p) != numRegisters {
			return fmt.Errorf("%w: dense payload of %d bytes, want %d", ErrMalformed, len(p), numRegisters)
		}
		nonzero, ok := checkRegisters(p)
		if !ok {
			return fmt.Errorf("%w: dense register above %d", ErrMalformed, maxRank)
		}
		if !nonzero {
			// All registers zero: the empty set. Merging it must not
			// switch s to dense form, or the result would depend on it.
			return nil
		}
		if !s.dense {
			s.toDense(s.list)
		}
		maxRegisters(s.regs, p)
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrMalformed, b[0])
	}
	return nil
}

// Bytes returns the serialization of s described in the package
// documentation. The result is a new slice.
func (s *Sketch) Bytes() []byte {
	if s.dense {
		b := make([]byte, 1+numRegisters)
		b[0] = kindDense
		copy(b[1:], s.regs[:])
		return b
	}
	b := make([]byte, 1+8*len(s.list))
	b[0] = kindExplicit
	for i, h := range s.list {
		binary.LittleEndian.PutUint64(b[1+8*i:], h)
	}
	return b
}

// Estimate returns the number of distinct hashes in the sketch's set.
// exact is true if the sketch is in explicit form and n is the exact count;
// otherwise n is a HyperLogLog estimate whose relative error is within
// [ErrorBound] with high probability.
func (s *Sketch) Estimate() (n int64, exact bool) {
	if !s.dense {
		return int64(len(s.list)), true
	}
	// Count the registers of each value, in four interleaved histograms
	// so that runs of equal registers do not serialize on one counter.
	var hist [4][64]int32
	for i := 0; i < numRegisters; i += 4 {
		hist[0][s.regs[i]&63]++
		hist[1][s.regs[i+1]&63]++
		hist[2][s.regs[i+2]&63]++
		hist[3][s.regs[i+3]&63]++
	}
	var c [maxRank + 1]float64
	for r := range c {
		c[r] = float64(hist[0][r] + hist[1][r] + hist[2][r] + hist[3][r])
	}
	// This is the improved estimator of Ertl, "New cardinality estimation
	// algorithms for HyperLogLog sketches" (2017), with the register
	// histogram c[0..q+1]. It needs no empirical bias tables and no switch
	// to linear counting, and is nearly unbiased over the whole range:
	// sigma corrects for the registers still zero, tau for those that hit
	// the rank cap.
	const m = numRegisters
	z := m * tau(1-c[q+1]/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + c[k])
	}
	z += m * sigma(c[0]/m)
	e := alphaInf * m * m / z
	if !(e < math.MaxInt64/2) { // only a crafted payload (every register at the cap) gets here
		return math.MaxInt64 / 2, false
	}
	return int64(math.Round(e)), false
}

// sigma is the function σ(x) = x + Σ_{k≥1} x^(2^k)·2^(k-1) of Ertl's
// estimator, for 0 ≤ x ≤ 1; σ(1) = +Inf. The series is summed until adding
// a term no longer changes the sum.
func sigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y := 1.0
	z := x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

// tau is the function τ(x) = (1 - x - Σ_{k≥1} (1 - x^(2^-k))²·2^-k)/3 of
// Ertl's estimator, for 0 ≤ x ≤ 1; τ(0) = τ(1) = 0. The series is summed
// until subtracting a term no longer changes the sum.
func tau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y := 1.0
	z := 1 - x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}

// Empty reports whether the sketch's set is empty.
func (s *Sketch) Empty() bool {
	return !s.dense && len(s.list) == 0
}

// Reset empties the sketch, keeping its allocated memory for reuse.
func (s *Sketch) Reset() {
	s.dense = false
	s.list = s.list[:0]
}

// addDense adds h to the registers of a dense sketch. The register index is
// the top precision bits of h and the rank is one more than the number of
// leading zeros of the remaining 52 bits, capped at maxRank.
func (s *Sketch) addDense(h uint64) bool {
	i := h >> (64 - precision)
	r := uint8(bits.LeadingZeros64(h<<precision|1<<(precision-1))) + 1
	if r > s.regs[i] {
		s.regs[i] = r
		return true
	}
	return false
}

// toDense switches s to dense form holding the hashes in hs, which may
// alias s.list or s.buf.
func (s *Sketch) toDense(hs []uint64) {
	if s.regs == nil {
		s.regs = new([numRegisters]uint8)
	} else {
		clear(s.regs[:])
	}
	s.dense = true
	for _, h := range hs {
		s.addDense(h)
	}
	// The explicit buffers are not needed until Reset; let them go.
	s.list, s.buf = nil, nil
}

// mergeList merges the ascending, distinct hashes in o into the explicit
// sketch s.
func (s *Sketch) mergeList(o []uint64) {
	a := s.list
	out := slices.Grow(s.buf[:0], len(a)+len(o))
	i := 0
	for _, y := range o {
		for i < len(a) && a[i] < y {
			out = append(out, a[i])
			i++
		}
		if i < len(a) && a[i] == y {
			i++
		}
		out = append(out, y)
	}
	out = append(out, a[i:]...)
	s.finishMerge(out)
}

// mergeEncoded merges the hashes of the explicit payload p, a nonzero
// multiple of 8 bytes long, into the explicit sketch s.
func (s *Sketch) mergeEncoded(p []byte) {
	a := s.list
	out := slices.Grow(s.buf[:0], len(a)+len(p)/8)
	i := 0
	var prev uint64
	for j := 0; j+8 <= len(p); j += 8 {
		y := binary.LittleEndian.Uint64(p[j:])
		if j > 0 && y <= prev {
			// Not strictly ascending. s.list is untouched so far; fall
			// back to adding the hashes one by one.
			s.buf = out[:0]
			for k := 0; k+8 <= len(p); k += 8 {
				s.Add(binary.LittleEndian.Uint64(p[k:]))
			}
			return
		}
		prev = y
		for i < len(a) && a[i] < y {
			out = append(out, a[i])
			i++
		}
		if i < len(a) && a[i] == y {
			i++
		}
		out = append(out, y)
	}
	out = append(out, a[i:]...)
	s.finishMerge(out)
}

// finishMerge installs out, the ascending and distinct result of a merge
// built in s.buf, as the sketch's list, switching to dense form if it has
// grown too long.
func (s *Sketch) finishMerge(out []uint64) {
	s.list, s.buf = out, s.list[:0]
	if len(out) > MaxExplicit {
		s.toDense(out)
	}
}

// checkRegisters reports whether the dense payload p, whose length is a
// multiple of 32, has a nonzero register, and whether all its registers are
// at most maxRank. It works on four words at a time.
func checkRegisters(p []byte) (nonzero, ok bool) {
	// A byte b is above 53 iff its top bit is set or b&0x7f + 74 reaches
	// 128; the addition cannot carry between bytes.
	const add = 0x4a4a4a4a4a4a4a4a
	var or, bad uint64
	for len(p) >= 32 {
		w0 := binary.LittleEndian.Uint64(p)
		w1 := binary.LittleEndian.Uint64(p[8:])
		w2 := binary.LittleEndian.Uint64(p[16:])
		w3 := binary.LittleEndian.Uint64(p[24:])
		or |= (w0 | w1) | (w2 | w3)
		bad |= ((w0 | (w0&lo7 + add)) | (w1 | (w1&lo7 + add))) |
			((w2 | (w2&lo7 + add)) | (w3 | (w3&lo7 + add)))
		p = p[32:]
	}
	return or != 0, bad&hi1 == 0
}

// maxRegisters sets each register of dst to the larger of itself and the
// corresponding byte of src, which holds numRegisters registers. All
// registers on both sides must be below 0x80.
func maxRegisters(dst *[numRegisters]uint8, src []byte) {
	src = src[:numRegisters]
	for i := 0; i < numRegisters; i += 8 {
		a := binary.LittleEndian.Uint64(dst[i : i+8])
		b := binary.LittleEndian.Uint64(src[i : i+8])
		binary.LittleEndian.PutUint64(dst[i:i+8], maxBytes(a, b))
	}
}

// maxBytes returns the bytewise maximum of a and b, whose bytes must all be
// below 0x80.
func maxBytes(a, b uint64) uint64 {
	// In each byte, (a|0x80) - b is at least 1, so no borrow crosses bytes,
	// and its top bit is set iff a >= b.
	ge := ((a | hi1) - b) & hi1
	mask := (ge >> 7) * 0xff
	return b ^ (a^b)&mask
}
