// Package read serves the analytics API and the activities feed of the HTTP
// contract (the "Read" section of the API document).
//
// Analytics come only from the rollup tables (event_counts, user_sketches,
// user_counts, user_stats, community_stats) at the current version of each
// projection. The counting rollups are tiered (UTC months, days, hours with
// their quarters); plan.go covers each slot of a series with the coarsest
// rows that fit, so a query's cost depends on the range asked for, never on
// the length of the log. The feed reads the log itself through its
// indexes, newest first, with an opaque signed keyset cursor.
//
// Every handler reads in one read-only REPEATABLE READ transaction, so the
// figures of one answer agree with each other even while projectors write.
//
// The queries (queries/read.sql) share these parameters:
//   - Scope: all_communities, or only rows whose community_id is in
//     communities; keys names the same rows by the community keys of the tiered rollups
//     (the all-communities key for an unscoped reader). Events without a
//     community count only under the all-communities key (and the nil UUID
//     in user_counts), which a scoped key never reads.
//   - Plan: parallel arrays (res, lo, hi, qlo, qhi) of pieces of rollup rows
//     (plan.go), or for user_counts, which has no hour tier, (res, bucket,
//     qlo, qhi) rows with a range of quarters of the day.
//   - Series: bounds holds the ascending start of every slot of a series
//     (the first instant of each local day, or UTC hours); a rollup row
//     belongs to slot width_bucket(start of its selected part, bounds).
//   - event_type: empty for the all-types rows, "*" for one row per type, else
//     that type.
package read
