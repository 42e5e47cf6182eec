package projections

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/activity-dev/activity/domain"
)

// The rollups of few rows (without a Projection.table) a rebuild fills from
// the bulk fill's read instead of a pass of their own over the log: the
// read carries the event id and metadata of the activities that name
// something, and each builder keeps one entry per community or user trait.

const (
	eventCommunityCreated = "community.created"
	eventUserIdentify     = domain.SegmentIdentifyEventType
)

// laterNamed reports whether an activity at at naming n comes after the one
// at curAt naming cur (nil: none yet), by time, then event id (compared as
// bytes, as the statements do with COLLATE "C").
func laterNamed(at int64, n *bulkNamed, curAt int64, cur *bulkNamed) bool {
	return cur == nil || at > curAt || (at == curAt && n.eventID > cur.eventID)
}

// metadataObject decodes the metadata of an activity (a JSON object, as
// PostgreSQL prints jsonb) into its members' JSON texts.
func metadataObject(n *bulkNamed) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(n.metadata, &m); err != nil {
		return nil, fmt.Errorf("metadata of activity %q: %w", n.eventID, err)
	}
	return m, nil
}

// communityStatsBuild builds community_stats (CommunityStatsApply): per
// community, its first activity, its events, and the name of its latest
// community.created.
type communityStatsBuild struct {
	version int32
	comms   []csRow // by community (dictionary index); events 0: none seen
}

type csRow struct {
	first, events int64
	namedAt       int64
	named         *bulkNamed // the latest community.created, if any
}

func (b *communityStatsBuild) projection() string { return communityStats.Name }

func (b *communityStatsBuild) tables() []bulkTable { return nil }

func (b *communityStatsBuild) emit(context.Context, *bulkDict, map[string]*copyEncoder) error {
	return nil
}

func (b *communityStatsBuild) add(rows []bulkRow) {
	for i := range rows {
		r := &rows[i]
		if r.comm == commNone {
			continue
		}
		if int(r.comm) >= len(b.comms) {
			b.comms = append(b.comms, make([]csRow, int(r.comm)+1-len(b.comms))...)
		}
		c := &b.comms[r.comm]
		if c.events == 0 || r.at < c.first {
			c.first = r.at
		}
		c.events++
		if r.named != nil && !r.named.identify && laterNamed(r.at, r.named, c.namedAt, c.named) {
			c.named, c.namedAt = r.named, r.at
		}
	}
}

// insert writes the rows; a community's name is its latest
// community.created's metadata->>'name'.
func (b *communityStatsBuild) insert(ctx context.Context, tx pgx.Tx, d *bulkDict) error {
	rows := make([][]any, 0, len(b.comms))
	for comm, c := range b.comms {
		if c.events == 0 {
			continue
		}
		var name pgtype.Text
		var namedAt pgtype.Timestamptz
		var namedID pgtype.Text
		if c.named != nil {
			m, err := metadataObject(c.named)
			if err != nil {
				return err
			}
			if v, ok := m["name"]; ok && string(v) != "null" {
				name = pgtype.Text{String: string(v), Valid: true}
				if len(v) > 0 && v[0] == '"' { // a string: its text, as ->> gives it
					if err := json.Unmarshal(v, &name.String); err != nil {
						return fmt.Errorf("name of community.created %q: %w", c.named.eventID, err)
					}
				}
			}
			namedAt = pgtype.Timestamptz{Time: time.UnixMicro(c.namedAt), Valid: true}
			namedID = pgtype.Text{String: c.named.eventID, Valid: true}
		}
		rows = append(rows, []any{b.version, pgtype.UUID{Bytes: d.community(int32(comm)), Valid: true}, name, namedAt, namedID,
			time.UnixMicro(c.first), c.events})
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"community_stats"},
		[]string{"version", "community_id", "name", "named_at", "named_event_id", "first_seen", "events"}, pgx.CopyFromRows(rows))
	return err
}

// userTraitsBuild builds user_traits (UserTraitsApply): per user and
// trait, the value the user's latest user.identify setting it gave.
type userTraitsBuild struct {
	budget  *bulkBudget
	version int32
	traits  map[traitKey]traitValue
	err     error // the first metadata that did not decode (never: the log holds JSON objects)
}

type traitKey struct {
	user  [16]byte
	trait string
}

type traitValue struct {
	value json.RawMessage
	at    int64
	by    *bulkNamed
}

func (b *userTraitsBuild) projection() string { return userTraits.Name }

func (b *userTraitsBuild) tables() []bulkTable { return nil }

func (b *userTraitsBuild) emit(context.Context, *bulkDict, map[string]*copyEncoder) error { return nil }

// add keeps the latest value of each trait of each user.
func (b *userTraitsBuild) add(rows []bulkRow) {
	for i := range rows {
		r := &rows[i]
		if r.named == nil || !r.named.identify || !r.hasUser {
			continue
		}
		m, err := metadataObject(r.named)
		if err != nil {
			b.err = cmp.Or(b.err, err)
			continue
		}
		for trait, v := range m {
			k := traitKey{user: r.user, trait: trait}
			cur, ok := b.traits[k]
			if !ok {
				b.budget.add(int64(len(trait) + len(v) + 96))
			}
			if !ok || laterNamed(r.at, r.named, cur.at, cur.by) {
				b.traits[k] = traitValue{value: v, at: r.at, by: r.named}
			}
		}
	}
}

func (b *userTraitsBuild) insert(ctx context.Context, tx pgx.Tx, _ *bulkDict) error {
	if b.err != nil {
		return b.err
	}
	rows := make([][]any, 0, len(b.traits))
	for k, v := range b.traits {
		rows = append(rows, []any{b.version, pgtype.UUID{Bytes: k.user, Valid: true}, k.trait, string(v.value),
			time.UnixMicro(v.at), v.by.eventID})
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"user_traits"},
		[]string{"version", "user_id", "trait", "value", "set_at", "event_id"}, pgx.CopyFromRows(rows))
	return err
}
