// Package read serves the analytics API and the activities feed of the HTTP
// contract (the "Read" section of the API document).
//
// Analytics come only from the rollup tables (event_counts, user_buckets,
// user_stats, community_stats) at the current version of each projection, so
// their cost depends on the range asked for, never on the length of the log.
// The feed reads the log itself through its indexes, newest first, with an
// opaque signed keyset cursor.
//
// Every handler reads in one read-only REPEATABLE READ transaction, so the
// figures of one answer agree with each other even while projectors write.
//
// The queries (queries/read.sql) share these parameters:
//   - Scope: all_communities, or only rows whose community_id is in
//     communities. Events without a community are stored in the rollups under
//     the nil UUID, which is never in communities: a scoped key cannot see
//     them.
//   - Range: quarter-hour rollup buckets with start_at <= bucket < end_at,
//     where start_at is the first instant of the local day "from" in the
//     requested zone and end_at the first instant of the day after "to".
//   - Series: bounds holds the ascending start of every bucket of a series
//     (the first instant of each local day, or UTC hours), the first equal to
//     start_at; a rollup bucket belongs to series bucket
//     width_bucket(bucket, bounds). Every zone in use starts its days on a
//     quarter hour, so a rollup bucket never straddles two days and daily
//     figures are exact in every IANA zone.
//   - An empty event_type means every event type.
package read
