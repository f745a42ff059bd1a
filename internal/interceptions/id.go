package interceptions

import (
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// maxV7Millis is the first millisecond a UUIDv7's 48-bit timestamp cannot
// hold (the year 10889).
const maxV7Millis = 1 << 48

// NewID returns the id of a request that started at startedAt: a UUIDv7
// (RFC 9562) whose timestamp is startedAt's millisecond and whose other 74
// bits are random. The id and started_at are one clock reading, so a row
// found by its id alone lies in the partition of started_at's day, and Get
// reads that one partition instead of probing every day kept. The ids sort
// by start, as the table does, to the millisecond; within a millisecond
// their order is random, which nothing relies on (the listing orders by
// started_at, id, and the primary key holds both). A time a UUIDv7 cannot
// hold (before 1970) gets one of the current time: Get still finds it, by
// the unbounded lookup.
func NewID(startedAt time.Time) uuid.UUID {
	ms := startedAt.UnixMilli()
	if ms < 0 || ms >= maxV7Millis {
		return uuid.Must(uuid.NewV7())
	}
	id := uuid.New() // version 4: random but for the version and variant
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(ms))
	copy(id[:6], ts[2:])
	id[6] = 0x70 | id[6]&0x0f // version 7; the variant stays RFC 9562's
	return id
}

// startedWindow is the range [lo, hi) that started_at lies in for a row
// whose id NewID made: its millisecond. ok is false for an id that is not a
// UUIDv7, which cannot have come from NewID. A UUIDv7 made otherwise (from
// another clock reading, by an older server, by a test) may lie outside
// it; Get then falls back to the lookup by id alone.
func startedWindow(id uuid.UUID) (lo, hi time.Time, ok bool) {
	if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
		return time.Time{}, time.Time{}, false
	}
	var ts [8]byte
	copy(ts[2:], id[:6])
	lo = time.UnixMilli(int64(binary.BigEndian.Uint64(ts[:]))).UTC()
	return lo, lo.Add(time.Millisecond), true
}
