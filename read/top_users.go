package read

import (
	"cmp"
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/internal/db"
)

// topListSize is how many users each rollup row's top list holds at first;
// it grows eightfold once when the lists cannot settle the answer.
var topListSize int32 = 32

// maxTopListSize is where growing stops and every user's sum is taken:
// lists that long that still do not settle it mean activity is spread so
// evenly that summing every user is about as cheap.
const maxTopListSize = 256

// topUsers returns the n users with the most events in community over the
// pieces of pl, most first, then by id, exactly.
//
// A community's users over a long range are too many to sum on every read.
// Instead (the threshold algorithm of Fagin et al.): every user_counts row
// the plan covers has its own top list (the partial index
// user_counts_top_idx), and the users on any list are the candidates. A
// candidate's count in a row whose list names it is known; in a row whose
// full list leaves it out it is at most the list's smallest count, and in a
// row whose list is not full, zero. (Where the plan takes only part of a
// day row, the row's count is only a bound.) So every candidate has a lower
// and an upper bound, and a user on no list has at most the sum of the
// smallest counts of the full lists. The candidates whose upper bound
// reaches the n-th largest lower bound are made exact by reading only the
// rows their lists left unknown; when the n-th of those exact counts is
// above every bound left, it is the answer. Otherwise the lists grow once,
// and then every user is summed.
func topUsers(ctx context.Context, q *db.Queries, pl plan, community uuid.UUID, n int) ([]userCountView, error) {
	units := pl.dayUnits()
	c := pl.dayColumns()
	unitOf := make(map[unitKey]int, len(units))
	for i, u := range units {
		unitOf[unitKey{u.res, u.bucket.Unix()}] = i
	}
	if len(unitOf) == len(units) { // else a row is cut in two: sum every user
		for size := topListSize; size <= max(maxTopListSize, topListSize); size *= 8 {
			lists, err := q.UserCountsTopLists(ctx, db.UserCountsTopListsParams{
				Res: c.res, Buckets: c.buckets, CommunityID: community, PerBucket: size,
			})
			if err != nil {
				return nil, err
			}
			top, settled, err := settleTopUsers(ctx, q, units, unitOf, lists, size, community, n)
			if err != nil || settled {
				return top, err
			}
		}
	}
	all, err := q.UserCountsTopUsers(ctx, db.UserCountsTopUsersParams{
		Res: c.res, Buckets: c.buckets, Qlo: c.qlo, Qhi: c.qhi, CommunityID: community, MaxRows: int32(n),
	})
	if err != nil {
		return nil, err
	}
	top := make([]userCountView, len(all))
	for i, u := range all {
		top[i] = userCountView{UserID: u.UserID, Events: u.Events}
	}
	return top, nil
}

// unitKey names a user_counts row of one community: its tier and bucket.
type unitKey struct {
	res    string
	bucket int64
}

// candidate is a user named by at least one top list.
type candidate struct {
	id     uuid.UUID
	known  int64         // the sum of its counts in wholly selected rows whose lists name it
	listed map[int]int64 // unit → its count on that unit's list
	upper  int64         // known plus the most it can have in the other rows
}

// settleTopUsers tries to answer topUsers from top lists of size per unit;
// settled is false when they cannot tell the top n apart from users on no
// list.
func settleTopUsers(ctx context.Context, q *db.Queries, units []dayUnit, unitOf map[unitKey]int,
	lists []db.UserCountsTopListsRow, size int32, community uuid.UUID, n int) ([]userCountView, bool, error) {
	length := make([]int32, len(units))
	last := make([]int64, len(units)) // the smallest count on each list
	byID := map[uuid.UUID]*candidate{}
	var cands []*candidate
	for _, l := range lists {
		i, ok := unitOf[unitKey{l.Res, l.Bucket.Unix()}]
		if !ok {
			continue
		}
		length[i]++
		last[i] = l.Events // the rows of a list come most first
		cd := byID[l.UserID]
		if cd == nil {
			cd = &candidate{id: l.UserID, listed: map[int]int64{}}
			byID[l.UserID] = cd
			cands = append(cands, cd)
		}
		cd.listed[i] = l.Events
	}
	var unlisted int64 // the most any user on no list can have
	for i := range units {
		if length[i] == size {
			unlisted += last[i]
		}
	}
	// Bounds: a listed count is exact for a whole row and a bound for part
	// of one; a full list that leaves a candidate out bounds it by its last.
	for _, cd := range cands {
		cd.upper = unlisted
		for i, e := range cd.listed {
			if units[i].whole() {
				cd.known += e
			}
			cd.upper += e
			if length[i] == size {
				cd.upper -= last[i] // counted in unlisted, but its own count is known
			}
		}
	}
	// Every candidate that might be in the top n is made exact.
	lows := make([]int64, len(cands))
	for i, cd := range cands {
		lows[i] = cd.known
	}
	slices.SortFunc(lows, func(a, b int64) int { return cmp.Compare(b, a) })
	var threshold int64 // the n-th largest lower bound: no one below it is in the top n
	if len(lows) >= n {
		threshold = lows[n-1]
	}
	var open []*candidate
	var pairs db.UserCountsPairsParams
	for _, cd := range cands {
		if cd.upper < threshold {
			continue
		}
		open = append(open, cd)
		for i, u := range units {
			_, ok := cd.listed[i]
			switch {
			case ok && u.whole():
				continue // known
			case !ok && length[i] < size:
				continue // left out of a list that names everyone: none there
			}
			pairs.UserIds = append(pairs.UserIds, cd.id)
			pairs.Res = append(pairs.Res, u.res)
			pairs.Buckets = append(pairs.Buckets, u.bucket)
			pairs.Qlo = append(pairs.Qlo, u.qlo)
			pairs.Qhi = append(pairs.Qhi, u.qhi)
		}
	}
	exact := map[uuid.UUID]int64{}
	if len(pairs.UserIds) > 0 {
		pairs.CommunityID = community
		sums, err := q.UserCountsPairs(ctx, pairs)
		if err != nil {
			return nil, false, err
		}
		for _, s := range sums {
			exact[s.UserID] = s.Events
		}
	}
	top := make([]userCountView, 0, len(open))
	for _, cd := range open {
		if e := cd.known + exact[cd.id]; e > 0 {
			top = append(top, userCountView{UserID: cd.id, Events: e})
		}
	}
	slices.SortFunc(top, func(a, b userCountView) int {
		if c := cmp.Compare(b.Events, a.Events); c != 0 {
			return c
		}
		return slices.Compare(a.UserID[:], b.UserID[:])
	})
	switch {
	case unlisted == 0:
		// No list was full: every user of the range is a candidate, and
		// every one left out is below the threshold.
		return top[:min(n, len(top))], true, nil
	case len(top) >= n && top[n-1].Events > unlisted:
		// Left out: users on no list (at most unlisted) and candidates whose
		// upper bound is below the threshold, which is at most top[n-1].
		return top[:n], true, nil
	}
	return nil, false, nil
}
