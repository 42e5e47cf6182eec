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
// the plan covers (a part of a day row counts as the whole row) has its own
// top list (the partial index user_counts_top_idx);
// the users on any list are the candidates, summed exactly. A user on no
// list has at most the smallest count of each full list in every row, so
// when the n-th candidate has more than the sum of those, no one else can
// be in the top n. Otherwise the lists grow once, and then every user is
// summed.
func topUsers(ctx context.Context, q *db.Queries, pl plan, community uuid.UUID, n int) ([]userCountView, error) {
	c := pl.dayColumns()
	for size := topListSize; size <= max(maxTopListSize, topListSize); size *= 8 {
		lists, err := q.UserCountsTopLists(ctx, db.UserCountsTopListsParams{
			Res: c.res, Buckets: c.buckets, CommunityID: community, PerBucket: size,
		})
		if err != nil {
			return nil, err
		}
		type unit struct {
			res    string
			bucket int64
		}
		listed := map[unit]int32{}
		last := map[unit]int64{} // the smallest count on each list
		var candidates []uuid.UUID
		seen := map[uuid.UUID]bool{}
		for _, l := range lists {
			u := unit{l.Res, l.Bucket.Unix()}
			listed[u]++
			last[u] = l.Events // the rows of a list come most first
			if !seen[l.UserID] {
				seen[l.UserID] = true
				candidates = append(candidates, l.UserID)
			}
		}
		var bound int64 // the most any user on no list can have
		for u, k := range listed {
			if k == size {
				bound += last[u]
			}
		}
		sums, err := q.UserCountsInCommunity(ctx, db.UserCountsInCommunityParams{
			Res: c.res, Buckets: c.buckets, Qlo: c.qlo, Qhi: c.qhi, UserIds: candidates, CommunityID: community,
		})
		if err != nil {
			return nil, err
		}
		top := make([]userCountView, 0, len(sums))
		for _, s := range sums {
			if s.Events > 0 {
				top = append(top, userCountView{UserID: s.UserID, Events: s.Events})
			}
		}
		slices.SortFunc(top, func(a, b userCountView) int {
			if c := cmp.Compare(b.Events, a.Events); c != 0 {
				return c
			}
			return slices.Compare(a.UserID[:], b.UserID[:])
		})
		switch {
		case bound == 0:
			// Every list was short: every user of the range is a candidate.
			return top[:min(n, len(top))], nil
		case len(top) >= n && top[n-1].Events > bound:
			return top[:n], nil
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
