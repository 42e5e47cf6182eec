package pguuid_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/activity-dev/activity/internal/pguuid"
)

func newMap() *pgtype.Map {
	m := pgtype.NewMap()
	pguuid.Register(m)
	return m
}

// TestRegister_EncodesTheSixteenBytes: UUIDs, null and valid NullUUIDs and
// arrays of them encode to PostgreSQL's binary uuid (the 16 bytes) without
// their driver.Valuer, and scan back.
func TestRegister_EncodesTheSixteenBytes(t *testing.T) {
	m := newMap()
	u := uuid.MustParse("3f3ac64b-2ffc-55f8-8d28-f8b5ee96e5a6")

	buf, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, u, nil)
	if err != nil || !bytes.Equal(buf, u[:]) {
		t.Fatalf("encode %s: %x, %v; want %x", u, buf, err, u[:])
	}
	if plan := m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, u); fmt.Sprintf("%T", plan) != "*pguuid.encodeUUID" {
		t.Errorf("a uuid.UUID is encoded by %T, want this package's plan", plan)
	}
	var got uuid.UUID
	if err := m.Scan(pgtype.UUIDOID, pgtype.BinaryFormatCode, u[:], &got); err != nil || got != u {
		t.Fatalf("scan: %s, %v; want %s", got, err, u)
	}

	for _, n := range []uuid.NullUUID{{UUID: u, Valid: true}, {}} {
		if plan := m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, n); fmt.Sprintf("%T", plan) != "*pguuid.encodeNullUUID" {
			t.Errorf("a uuid.NullUUID is encoded by %T, want this package's plan", plan)
		}
		buf, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, n, nil)
		if err != nil || (n.Valid && !bytes.Equal(buf, u[:])) || (!n.Valid && buf != nil) {
			t.Fatalf("encode %+v: %x, %v", n, buf, err)
		}
		var back uuid.NullUUID
		if err := m.Scan(pgtype.UUIDOID, pgtype.BinaryFormatCode, buf, &back); err != nil || back != n {
			t.Fatalf("scan %+v: %+v, %v", n, back, err)
		}
	}

	ids := []uuid.UUID{u, uuid.New(), uuid.Nil}
	buf, err = m.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	var back []uuid.UUID
	if err := m.Scan(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, buf, &back); err != nil || !slices.Equal(back, ids) {
		t.Fatalf("array: %v, %v; want %v", back, err, ids)
	}
	// The text format (simple protocol) goes on working.
	if buf, err := m.Encode(pgtype.UUIDOID, pgtype.TextFormatCode, u, nil); err != nil || string(buf) != u.String() {
		t.Errorf("text: %q, %v", buf, err)
	}
}

// BenchmarkEncodeUUIDArray: a batch's array of 2,000 community ids, as the
// projectors pass them, with and without Register.
func BenchmarkEncodeUUIDArray(b *testing.B) {
	ids := make([]uuid.UUID, 2000)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for _, c := range []struct {
		name string
		m    *pgtype.Map
	}{{"pgx default (driver.Valuer)", pgtype.NewMap()}, {"Register", newMap()}} {
		b.Run(c.name, func(b *testing.B) {
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = c.m.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, ids, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
