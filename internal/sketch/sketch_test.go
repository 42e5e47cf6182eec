package sketch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// hashes returns n distinct hashes of pseudo-random ids, deterministic in
// seed.
func hashes(seed uint64, n int) []uint64 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	hs := make([]uint64, n)
	seen := make(map[uint64]bool, n)
	for i := range hs {
		for {
			var id [16]byte
			binary.LittleEndian.PutUint64(id[:8], r.Uint64())
			binary.LittleEndian.PutUint64(id[8:], r.Uint64())
			h := Hash(id)
			if !seen[h] {
				seen[h] = true
				hs[i] = h
				break
			}
		}
	}
	return hs
}

func reversed(hs []uint64) []uint64 {
	r := slices.Clone(hs)
	slices.Reverse(r)
	return r
}

func sketchOf(hs ...[]uint64) *Sketch {
	s := new(Sketch)
	for _, l := range hs {
		for _, h := range l {
			s.Add(h)
		}
	}
	return s
}

// fromBytes decodes b into a new sketch.
func fromBytes(t testing.TB, b []byte) *Sketch {
	t.Helper()
	s := new(Sketch)
	if err := s.MergeBytes(b); err != nil {
		t.Fatalf("MergeBytes: %v", err)
	}
	return s
}

func explicitBytes(hs ...uint64) []byte {
	b := []byte{kindExplicit}
	for _, h := range hs {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	return b
}

func TestHashStable(t *testing.T) {
	// These values are persisted; they must never change.
	var zero, seq [16]byte
	for i := range seq {
		seq[i] = byte(i)
	}
	ff := [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	for _, tt := range []struct {
		id   [16]byte
		want uint64
	}{
		{zero, 0xa5e0dba6c385580a},
		{seq, 0xf110b958da43f7e6},
		{ff, 0xb985182d97d9d96f},
	} {
		if got := Hash(tt.id); got != tt.want {
			t.Errorf("Hash(%x) = %#x, want %#x", tt.id, got, tt.want)
		}
	}
}

func TestZeroValue(t *testing.T) {
	var s Sketch
	if !s.Empty() {
		t.Error("zero Sketch is not Empty")
	}
	if n, exact := s.Estimate(); n != 0 || !exact {
		t.Errorf("zero Sketch Estimate = %d, %v; want 0, true", n, exact)
	}
	if b := s.Bytes(); !bytes.Equal(b, []byte{1}) {
		t.Errorf("zero Sketch Bytes = %x, want 01", b)
	}
}

func TestExact(t *testing.T) {
	for _, n := range []int{0, 1, 100, 255, 256} {
		hs := hashes(uint64(n), n)
		s := new(Sketch)
		// Add every hash twice, the second time in reverse order.
		for _, h := range hs {
			s.Add(h)
		}
		for _, h := range slices.Backward(hs) {
			s.Add(h)
		}
		got, exact := s.Estimate()
		if got != int64(n) || !exact {
			t.Errorf("n=%d: Estimate = %d, %v; want %d, true", n, got, exact, n)
		}
		if s.Empty() != (n == 0) {
			t.Errorf("n=%d: Empty = %v", n, s.Empty())
		}
		b := s.Bytes()
		if len(b) != 1+8*n || b[0] != kindExplicit {
			t.Fatalf("n=%d: Bytes has kind %d and length %d, want 1 and %d", n, b[0], len(b), 1+8*n)
		}
		sorted := slices.Sorted(slices.Values(hs))
		if !bytes.Equal(b, explicitBytes(sorted...)) {
			t.Errorf("n=%d: Bytes are not the ascending hashes", n)
		}
	}
}

func TestConvertToDense(t *testing.T) {
	hs := hashes(7, 1000)
	for _, n := range []int{257, 300, 1000} {
		s := sketchOf(hs[:n])
		got, exact := s.Estimate()
		if exact {
			t.Errorf("n=%d: exact = true, want false", n)
		}
		if rel := math.Abs(float64(got)-float64(n)) / float64(n); rel > ErrorBound {
			t.Errorf("n=%d: Estimate = %d, relative error %.4f", n, got, rel)
		}
		if b := s.Bytes(); len(b) != 1+numRegisters || b[0] != kindDense {
			t.Errorf("n=%d: Bytes has kind %d and length %d, want dense", n, b[0], len(b))
		}
		if s.Empty() {
			t.Errorf("n=%d: Empty = true", n)
		}
		// Converting by adding hash by hash and converting in one merge
		// must agree.
		m := sketchOf(hs[:n/2])
		m.Merge(sketchOf(hs[n/2 : n]))
		if !bytes.Equal(m.Bytes(), s.Bytes()) {
			t.Errorf("n=%d: merged halves differ from sketch of all", n)
		}
	}
}

func TestAccuracy(t *testing.T) {
	for _, n := range []int{1_000, 10_000, 100_000, 1_000_000} {
		if testing.Short() && n > 100_000 {
			continue
		}
		r := rand.New(rand.NewPCG(uint64(n), 42))
		s := new(Sketch)
		for range n {
			var id [16]byte
			binary.LittleEndian.PutUint64(id[:8], r.Uint64())
			binary.LittleEndian.PutUint64(id[8:], r.Uint64())
			s.Add(Hash(id))
		}
		got, exact := s.Estimate()
		rel := math.Abs(float64(got)-float64(n)) / float64(n)
		t.Logf("n=%d: estimate %d, relative error %.4f", n, got, rel)
		if exact || rel > ErrorBound {
			t.Errorf("n=%d: Estimate = %d, %v (relative error %.4f); want within %v, inexact", n, got, exact, rel, ErrorBound)
		}
	}
}

func TestErrorBound(t *testing.T) {
	se := 1.04 / math.Sqrt(numRegisters)
	if 3*se > ErrorBound || ErrorBound-3*se > 0.005 {
		t.Errorf("ErrorBound = %v, three standard errors = %v", ErrorBound, 3*se)
	}
}

func TestMergeIsUnion(t *testing.T) {
	for _, tt := range []struct {
		name       string
		a, overlap int // |A| = |B| = a, |A ∩ B| = overlap
	}{
		{"empty", 0, 0},
		{"one", 1, 1},
		{"explicit", 100, 50},
		{"exactly max", 128, 0},
		{"crosses max", 200, 50},
		{"one dense", 300, 100},
		{"both dense", 5000, 2500},
		{"disjoint dense", 5000, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			all := hashes(11, 2*tt.a-tt.overlap)
			a := all[:tt.a]
			b := all[tt.a-tt.overlap:]
			want := sketchOf(all).Bytes()

			m := sketchOf(a)
			m.Merge(sketchOf(b))
			if !bytes.Equal(m.Bytes(), want) {
				t.Error("Merge differs from sketch of union")
			}

			mb := sketchOf(a)
			if err := mb.MergeBytes(sketchOf(b).Bytes()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mb.Bytes(), want) {
				t.Error("MergeBytes differs from sketch of union")
			}

			// Commutative.
			r := sketchOf(b)
			r.Merge(sketchOf(a))
			if !bytes.Equal(r.Bytes(), want) {
				t.Error("Merge is not commutative")
			}

			// Idempotent: merging either side again, or itself, changes
			// nothing.
			m.Merge(sketchOf(a))
			m.Merge(sketchOf(b))
			m.Merge(m)
			if err := m.MergeBytes(sketchOf(b).Bytes()); err != nil {
				t.Fatal(err)
			}
			if err := m.MergeBytes(m.Bytes()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Bytes(), want) {
				t.Error("Merge is not idempotent")
			}
		})
	}
}

// TestMergeAllIsUnion: merging many sketches at once, explicit and dense,
// into an empty, explicit or dense sketch, gives the sketch of the union
// byte for byte, as merging them one by one does.
func TestMergeAllIsUnion(t *testing.T) {
	all := hashes(5, 3000)
	for _, tt := range []struct {
		name  string
		into  []uint64
		parts [][]uint64
	}{
		{"nothing", nil, nil},
		{"empties", all[:10], [][]uint64{nil, {}}},
		{"explicit into empty", nil, [][]uint64{all[:40], all[30:90], all[85:100]}},
		{"explicit into explicit", all[:50], [][]uint64{all[40:120], all[:10]}},
		{"explicit exactly max", nil, [][]uint64{all[:200], all[100:MaxExplicit]}},
		{"explicit crosses max", all[:100], [][]uint64{all[50:200], all[150:260]}},
		{"dense part", all[:20], [][]uint64{all[10:30], all[:1000], all[990:1010]}},
		{"into dense", all[:2000], [][]uint64{all[1990:2010], all[2500:3000]}},
		{"itself", all[:30], nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var union []uint64
			union = append(union, tt.into...)
			s := sketchOf(tt.into)
			one := sketchOf(tt.into)
			var os []*Sketch
			for _, p := range tt.parts {
				union = append(union, p...)
				o := sketchOf(p)
				os = append(os, o, nil)
				one.Merge(o)
			}
			if tt.name == "itself" {
				os = append(os, s)
			}
			before := make([][]byte, len(os))
			for i, o := range os {
				if o != nil {
					before[i] = o.Bytes()
				}
			}
			s.MergeAll(os)
			if want := sketchOf(union).Bytes(); !bytes.Equal(s.Bytes(), want) {
				t.Errorf("MergeAll: %d bytes, want the union's %d", len(s.Bytes()), len(want))
			}
			if !bytes.Equal(s.Bytes(), one.Bytes()) {
				t.Error("MergeAll differs from merging one by one")
			}
			for i, o := range os {
				if o != nil && o != s && !bytes.Equal(o.Bytes(), before[i]) {
					t.Errorf("part %d was modified", i)
				}
			}
		})
	}
}

func TestMergeAssociative(t *testing.T) {
	// Pieces of various sizes, so that the explicit and dense forms meet in
	// every combination.
	all := hashes(3, 2000)
	pieces := [][]uint64{all[:10], all[5:200], all[150:400], all[100:1900], {}, all[1990:]}
	want := sketchOf(all[:1900], all[1990:]).Bytes()

	// Merge in every rotation and in reverse, left to right and right to
	// left.
	for rot := range pieces {
		order := append(slices.Clone(pieces[rot:]), pieces[:rot]...)
		for _, o := range [][][]uint64{order, slices.Clone(order)} {
			left := new(Sketch)
			for _, p := range o {
				left.Merge(sketchOf(p))
			}
			if !bytes.Equal(left.Bytes(), want) {
				t.Errorf("rotation %d: left fold differs from sketch of union", rot)
			}
			right := new(Sketch)
			for _, p := range slices.Backward(o) {
				tmp := sketchOf(p)
				tmp.Merge(right)
				right = tmp
			}
			if !bytes.Equal(right.Bytes(), want) {
				t.Errorf("rotation %d: right fold differs from sketch of union", rot)
			}
			slices.Reverse(order)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	all := hashes(5, 3000)
	for _, n := range []int{0, 1, 2, 256, 257, 3000} {
		s := sketchOf(all[:n])
		b := s.Bytes()
		if got := fromBytes(t, b).Bytes(); !bytes.Equal(got, b) {
			t.Errorf("n=%d: round trip changed Bytes", n)
		}
		g1, e1 := s.Estimate()
		g2, e2 := fromBytes(t, b).Estimate()
		if g1 != g2 || e1 != e2 {
			t.Errorf("n=%d: round trip changed Estimate from %d, %v to %d, %v", n, g1, e1, g2, e2)
		}
	}
}

func TestMergeBytesTolerant(t *testing.T) {
	hs := hashes(9, 600)
	for _, tt := range []struct {
		name    string
		payload []uint64
		want    []uint64 // the set
	}{
		{"reversed", reversed(hs[:50]), hs[:50]},
		{"duplicates", append(slices.Clone(hs[:50]), hs[:50]...), hs[:50]},
		{"sorted with repeat", slices.Repeat(slices.Sorted(slices.Values(hs[:3])), 2), hs[:3]},
		{"long sorted", slices.Sorted(slices.Values(hs[:300])), hs[:300]},
		{"long unsorted", slices.Clone(hs[:600]), hs[:600]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := sketchOf(hs[:20], tt.want).Bytes()
			for _, start := range []*Sketch{new(Sketch), sketchOf(hs[:20])} {
				if err := start.MergeBytes(explicitBytes(tt.payload...)); err != nil {
					t.Fatal(err)
				}
				start.Merge(sketchOf(hs[:20]))
				if got := start.Bytes(); !bytes.Equal(got, want) {
					t.Errorf("got %d bytes, want %d bytes of sketch of set", len(got), len(want))
				}
			}
		})
	}
}

func TestMergeBytesZeroDense(t *testing.T) {
	// A dense payload with all registers zero is the empty set: merging it
	// must not switch an explicit sketch to dense form.
	zero := make([]byte, 1+numRegisters)
	zero[0] = kindDense
	s := sketchOf(hashes(1, 10))
	want := s.Bytes()
	if err := s.MergeBytes(zero); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Bytes(), want) {
		t.Error("merging an all-zero dense payload changed the sketch")
	}
}

func TestMergeBytesMalformed(t *testing.T) {
	dense := func(n int, set byte) []byte {
		b := make([]byte, 1+n)
		b[0] = kindDense
		if n > 0 {
			b[n] = set
		}
		return b
	}
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"kind 0", []byte{0}},
		{"kind 3", []byte{3}},
		{"kind 255 with payload", append([]byte{255}, make([]byte, 8)...)},
		{"explicit 1 byte", []byte{1, 0}},
		{"explicit 7 bytes", append([]byte{1}, make([]byte, 7)...)},
		{"explicit 9 bytes", append([]byte{1}, make([]byte, 9)...)},
		{"dense empty", []byte{2}},
		{"dense short", dense(numRegisters-1, 1)},
		{"dense long", dense(numRegisters+1, 1)},
		{"dense explicit-sized", dense(16, 1)},
		{"dense register 54", dense(numRegisters, 54)},
		{"dense register 128", dense(numRegisters, 128)},
		{"dense register 255", dense(numRegisters, 255)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range []*Sketch{new(Sketch), sketchOf(hashes(2, 10)), sketchOf(hashes(2, 1000))} {
				before := s.Bytes()
				err := s.MergeBytes(tt.b)
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("MergeBytes(%.16x...) = %v, want ErrMalformed", tt.b, err)
				}
				if !bytes.Equal(s.Bytes(), before) {
					t.Error("failed MergeBytes changed the sketch")
				}
			}
		})
	}
	// The largest valid register is accepted.
	if err := new(Sketch).MergeBytes(dense(numRegisters, maxRank)); err != nil {
		t.Errorf("register %d: %v", maxRank, err)
	}
}

func TestReset(t *testing.T) {
	hs := hashes(4, 1000)
	s := sketchOf(hs)
	s.Reset()
	if !s.Empty() || !bytes.Equal(s.Bytes(), []byte{1}) {
		t.Fatal("Reset did not empty the sketch")
	}
	// A reset sketch reuses its registers; they must start from zero.
	s.Merge(sketchOf(hs[:300]))
	if !bytes.Equal(s.Bytes(), sketchOf(hs[:300]).Bytes()) {
		t.Error("sketch reused after Reset differs from a new one")
	}
	s.Reset()
	for _, h := range hs[:500] {
		s.Add(h)
	}
	if !bytes.Equal(s.Bytes(), sketchOf(hs[:500]).Bytes()) {
		t.Error("sketch reused after Reset differs from a new one")
	}
}

func TestRankRange(t *testing.T) {
	for _, tt := range []struct {
		h    uint64
		want uint8
	}{
		{0, maxRank},
		{0xfff0000000000000, maxRank},
		{1, 52},
		{0xfff, 41},
		{1 << 51, 1},
		{1<<52 - 1, 1},
		{1 << 50, 2},
		{0xfff0000000000001, 52},
	} {
		var s Sketch
		s.toDense(nil)
		s.addDense(tt.h)
		i := tt.h >> (64 - precision)
		if got := s.regs[i]; got != tt.want {
			t.Errorf("rank of %#x = %d, want %d", tt.h, got, tt.want)
		}
	}
}

func TestMaxBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for range 10000 {
		a, b := r.Uint64()&lo7, r.Uint64()&lo7
		got := maxBytes(a, b)
		for k := 0; k < 64; k += 8 {
			x, y, g := byte(a>>k), byte(b>>k), byte(got>>k)
			if g != max(x, y) {
				t.Fatalf("maxBytes(%#x, %#x) byte %d = %d, want %d", a, b, k/8, g, max(x, y))
			}
		}
	}
}

func FuzzMergeBytes(f *testing.F) {
	hs := hashes(8, 1000)
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Add(explicitBytes(3, 1, 2, 2))
	f.Add(sketchOf(hs[:5]).Bytes())
	f.Add(sketchOf(hs[:256]).Bytes())
	f.Add(sketchOf(hs).Bytes())
	// Merge into an empty, a full explicit and a dense sketch.
	starts := [][]byte{{1}, sketchOf(hs[:256]).Bytes(), sketchOf(hs[500:]).Bytes()}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkMergeBytes(t, starts, b)
	})
}

// checkMergeBytes merges b into sketches decoded from each of starts and
// checks the results. It is the body of FuzzMergeBytes.
func checkMergeBytes(t testing.TB, starts [][]byte, b []byte) {
	t.Helper()
	parsed := new(Sketch)
	perr := parsed.MergeBytes(b)
	if perr == nil {
		// Round trip.
		pb := parsed.Bytes()
		if !bytes.Equal(fromBytes(t, pb).Bytes(), pb) {
			t.Fatal("round trip changed Bytes")
		}
	}
	for _, start := range starts {
		s := fromBytes(t, start)
		err := s.MergeBytes(b)
		if (err == nil) != (perr == nil) {
			t.Fatalf("MergeBytes error depends on the sketch: %v vs %v", err, perr)
		}
		got := s.Bytes()
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if !bytes.Equal(got, start) {
				t.Fatal("failed MergeBytes changed the sketch")
			}
			continue
		}
		checkValid(t, got)
		n, exact := s.Estimate()
		if n < 0 || exact != (got[0] == kindExplicit) {
			t.Fatalf("Estimate = %d, %v for kind %d", n, exact, got[0])
		}
		// Idempotent.
		if err := s.MergeBytes(b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.Bytes(), got) {
			t.Fatal("merging twice differs from merging once")
		}
		// MergeBytes agrees with Merge of the decoded sketch, from either
		// side.
		s = fromBytes(t, start)
		s.Merge(parsed)
		if !bytes.Equal(s.Bytes(), got) {
			t.Fatal("MergeBytes differs from Merge")
		}
		s = fromBytes(t, b)
		s.Merge(fromBytes(t, start))
		if !bytes.Equal(s.Bytes(), got) {
			t.Fatal("Merge is not commutative")
		}
	}
}

// checkValid checks that b is a canonical serialization.
func checkValid(t testing.TB, b []byte) {
	t.Helper()
	switch b[0] {
	case kindExplicit:
		p := b[1:]
		if len(p)%8 != 0 || len(p)/8 > MaxExplicit {
			t.Fatalf("explicit payload of %d bytes", len(p))
		}
		for i := 8; i < len(p); i += 8 {
			if binary.LittleEndian.Uint64(p[i-8:]) >= binary.LittleEndian.Uint64(p[i:]) {
				t.Fatal("explicit hashes not strictly ascending")
			}
		}
	case kindDense:
		p := b[1:]
		if len(p) != numRegisters {
			t.Fatalf("dense payload of %d bytes", len(p))
		}
		nonzero := false
		for _, r := range p {
			if r > maxRank {
				t.Fatalf("register %d", r)
			}
			nonzero = nonzero || r != 0
		}
		if !nonzero {
			t.Fatal("dense sketch with all registers zero")
		}
	default:
		t.Fatalf("kind %d", b[0])
	}
}

func BenchmarkMergeBytesDense(b *testing.B) {
	hs := hashes(1, 20000)
	payload := sketchOf(hs[:10000]).Bytes()
	s := sketchOf(hs[10000:])
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.MergeBytes(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMergeBytesExplicit(b *testing.B) {
	hs := hashes(1, MaxExplicit)
	for _, bb := range []struct {
		name    string
		have    int // the sketch holds hs[:have]
		payload int // and merges hs[:payload] again
	}{
		{"256+128", 256, 128},
		{"32+16", 32, 16},
	} {
		b.Run(bb.name, func(b *testing.B) {
			// Merging a subset is idempotent, so every iteration does the
			// same full linear merge.
			payload := explicitBytes(slices.Sorted(slices.Values(hs[:bb.payload]))...)
			s := sketchOf(hs[:bb.have])
			want := s.Bytes()
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.MergeBytes(payload); err != nil {
					b.Fatal(err)
				}
			}
			if !bytes.Equal(s.Bytes(), want) {
				b.Fatal("wrong result")
			}
		})
	}
}

func BenchmarkAdd(b *testing.B) {
	hs := hashes(1, 1<<16)
	b.Run("explicit", func(b *testing.B) {
		s := new(Sketch)
		i := 0
		for b.Loop() {
			if i%MaxExplicit == 0 {
				s.Reset()
			}
			s.Add(hs[i%len(hs)])
			i++
		}
	})
	b.Run("dense", func(b *testing.B) {
		s := sketchOf(hs[:1000])
		i := 0
		for b.Loop() {
			s.Add(hs[i%len(hs)])
			i++
		}
	})
}

// TestAccuracyTrials checks the dense estimator over many independent sets
// at sizes that include the weak spot of the classic HyperLogLog estimator
// with a linear-counting switch at 2.5m, which ran about 1.5% high between
// 10,000 and 12,000 hashes. No estimate may be off by more than ErrorBound,
// and the estimates must be unbiased: their mean signed relative error must
// be below 1% in magnitude.
//
// The mean absolute relative error cannot be held below 1%: with a standard
// error of about 1.04/√4096 ≈ 1.6% it is about 1.1% to 1.3% for an unbiased
// estimator, so it is only checked against a looser 1.5%, which the classic
// estimator also failed at 10,000 and 11,000 hashes.
func TestAccuracyTrials(t *testing.T) {
	const trials = 200
	for _, n := range []int{5_000, 10_000, 11_000, 12_000, 20_000} {
		var sumSigned, sumAbs, maxAbs float64
		s := new(Sketch)
		for trial := range trials {
			r := rand.New(rand.NewPCG(uint64(n), uint64(trial)))
			s.Reset()
			for range n {
				s.Add(r.Uint64())
			}
			got, exact := s.Estimate()
			if exact {
				t.Fatalf("n=%d trial %d: exact = true, want false", n, trial)
			}
			rel := (float64(got) - float64(n)) / float64(n)
			if math.Abs(rel) > ErrorBound {
				t.Errorf("n=%d trial %d: Estimate = %d, relative error %+.4f; want within %v", n, trial, got, rel, ErrorBound)
			}
			sumSigned += rel
			sumAbs += math.Abs(rel)
			maxAbs = max(maxAbs, math.Abs(rel))
		}
		bias, meanAbs := sumSigned/trials, sumAbs/trials
		t.Logf("n=%d: mean relative error %+.4f, mean absolute relative error %.4f, largest %.4f", n, bias, meanAbs, maxAbs)
		if math.Abs(bias) >= 0.01 {
			t.Errorf("n=%d: mean relative error %+.4f, want within ±0.01", n, bias)
		}
		if meanAbs >= 0.015 {
			t.Errorf("n=%d: mean absolute relative error %.4f, want below 0.015", n, meanAbs)
		}
	}
}
