package read

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// A feed cursor is base64url(version | created_at µs | id | mac), where mac
// is an HMAC-SHA-256 (cut to 16 bytes) of the position and of the query it
// continues: the filters and the key's scope. So a cursor cannot be edited,
// nor carried to another query or scope, nor made up.
const (
	cursorVersion = 1
	cursorMACLen  = 16
	cursorLen     = 1 + 8 + 8 + cursorMACLen
)

var errBadCursor = errors.New("bad cursor")

// position is a row of the feed: pages continue strictly after it.
type position struct {
	at time.Time
	id int64
}

func encodeCursor(secret []byte, query string, p position) string {
	b := make([]byte, 0, cursorLen)
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(p.at.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(p.id))
	b = append(b, cursorMAC(secret, query, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(secret []byte, query, s string) (position, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != cursorLen || b[0] != cursorVersion {
		return position{}, errBadCursor
	}
	body, mac := b[:cursorLen-cursorMACLen], b[cursorLen-cursorMACLen:]
	if !hmac.Equal(mac, cursorMAC(secret, query, body)) {
		return position{}, errBadCursor
	}
	return position{
		at: time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))).UTC(),
		id: int64(binary.BigEndian.Uint64(b[9:17])),
	}, nil
}

func cursorMAC(secret []byte, query string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	m.Write([]byte{0})
	m.Write([]byte(query))
	return m.Sum(nil)[:cursorMACLen]
}

// feedQuery is what a feed cursor is bound to.
type feedQuery struct {
	keyScope  scope // what the key may see
	scope     scope // what this query reads (the key's scope or one community)
	user      uuid.NullUUID
	eventType string
	from, to  *time.Time // created_at >= from, < to
}

// canonical is a stable text of q for cursorMAC.
func (q feedQuery) canonical() string {
	var b strings.Builder
	writeScope := func(s scope) {
		if s.all {
			b.WriteString("all")
			return
		}
		ids := make([]string, len(s.communities))
		for i, c := range s.communities {
			ids[i] = c.String()
		}
		slices.Sort(ids)
		b.WriteString(strings.Join(ids, ","))
	}
	writeTime := func(t *time.Time) {
		if t == nil {
			b.WriteString("-")
			return
		}
		b.WriteString(strconv.FormatInt(t.UnixMicro(), 10))
	}
	b.WriteString("feed/v1|key:")
	writeScope(q.keyScope)
	b.WriteString("|scope:")
	writeScope(q.scope)
	b.WriteString("|user:")
	if q.user.Valid {
		b.WriteString(q.user.UUID.String())
	}
	b.WriteString("|type:" + q.eventType + "|from:")
	writeTime(q.from)
	b.WriteString("|to:")
	writeTime(q.to)
	return b.String()
}
