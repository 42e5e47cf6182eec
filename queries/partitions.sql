-- The partitions of the rollups partitioned by version (migration 00007).
-- Creating, attaching and dropping them is DDL on names built from the
-- projection and the version (projections/partitions.go), which sqlc
-- cannot express.

-- name: PartitionList :many
-- The partitions of @parent, with whether a detach of each is pending
-- (a DETACH ... CONCURRENTLY that was interrupted).
SELECT c.relname::text AS name, i.inhdetachpending AS detach_pending
FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass(@parent::text)
ORDER BY c.relname;

-- name: TableExists :one
SELECT (to_regclass(@name::text) IS NOT NULL)::bool AS exists;

-- name: TableAnalyzed :one
-- Whether @name was analyzed and less than a tenth of its rows changed
-- since (a version filled in bulk is analyzed as it is written).
SELECT COALESCE((SELECT (s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL)
                        AND s.n_mod_since_analyze <= s.n_live_tup / 10
                 FROM pg_catalog.pg_stat_user_tables s WHERE s.relid = to_regclass(@name::text)), false)::bool AS analyzed;

-- name: PartitionIndexDefs :many
-- The indexes of @parent, each as CREATE INDEX and, for the index of a
-- primary key or unique constraint, the constraint (which a partition must
-- have as a constraint, not only as an index, to be attached).
SELECT pg_get_indexdef(i.indexrelid)::text AS index_def,
       COALESCE(pg_get_constraintdef(c.oid), '')::text AS constraint_def
FROM pg_catalog.pg_index i
LEFT JOIN pg_catalog.pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('p', 'u')
WHERE i.indrelid = to_regclass(@parent::text)
ORDER BY i.indexrelid;

-- name: FillTableList :many
-- Tables a bulk fill of @parent made and did not attach (fill tables are
-- named <parent>_fill_v<version>).
SELECT c.relname::text AS name
FROM pg_catalog.pg_class c
WHERE c.relkind = 'r' AND starts_with(c.relname::text, @parent::text || '_fill_v')
ORDER BY c.relname;
