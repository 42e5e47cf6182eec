package write

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/problem"
)

// FailedEventsHandler serves GET /api/v1/admin/failed-events: the dead
// letters, newest first. Parameters: limit (1-500, default 100) and before
// (an id from the previous page: records older than it).
type FailedEventsHandler struct {
	Pool *pgxpool.Pool
	Log  *slog.Logger
}

type failedEventView struct {
	ID        int64     `json:"id"`
	Source    string    `json:"source"`
	Reason    string    `json:"reason"`
	EventID   *string   `json:"event_id"`
	Payload   string    `json:"payload"`
	CreatedAt time.Time `json:"created_at"`
}

func (h *FailedEventsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	limit, before := int64(100), int64(0)
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > 500 {
			problem.Write(w, problem.New(http.StatusBadRequest, "limit must be an integer from 1 to 500"))
			return
		}
		limit = n
	}
	if s := r.URL.Query().Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			problem.Write(w, problem.New(http.StatusBadRequest, "before must be a failed event id"))
			return
		}
		before = n
	}
	rows, err := db.New(h.Pool).FailedEventList(r.Context(), db.FailedEventListParams{BeforeID: before, MaxRows: int32(limit)})
	if err != nil {
		problem.WriteError(w, r, h.Log, err)
		return
	}
	out := make([]failedEventView, len(rows))
	for i, f := range rows {
		out[i] = failedEventView{ID: f.ID, Source: f.Source, Reason: f.Reason, Payload: f.Payload, CreatedAt: f.CreatedAt.UTC()}
		if f.EventID.Valid {
			out[i].EventID = &f.EventID.String
		}
	}
	problem.JSON(w, http.StatusOK, out)
}
