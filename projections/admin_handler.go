package projections

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/activity-dev/activity/internal/problem"
)

// AdminHandler serves the projection admin endpoints:
//
//	GET  /api/v1/admin/projections                → 200 [Status, ...]
//	POST /api/v1/admin/projections/{name}/rebuild → 202 RebuildStart
//
// A rebuild requested while one of the same projection runs is joined, not
// restarted: 202 with "started": false and the version being built. An
// unknown name is a 404 problem.
type AdminHandler struct {
	Runner *Runner
	Log    *slog.Logger
}

// Register mounts the handlers on r, which must already require the admin
// role.
func (h *AdminHandler) Register(r *mux.Router) {
	r.HandleFunc("/api/v1/admin/projections", h.list).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/admin/projections/{name}/rebuild", h.rebuild).Methods(http.MethodPost)
}

func (h *AdminHandler) list(w http.ResponseWriter, r *http.Request) {
	st, err := h.Runner.Status(r.Context())
	if err != nil {
		problem.WriteError(w, r, h.Log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	problem.JSON(w, http.StatusOK, st)
}

func (h *AdminHandler) rebuild(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	if _, err := Lookup(name); err != nil {
		problem.Write(w, problem.New(http.StatusNotFound, err.Error()))
		return
	}
	st, err := h.Runner.RebuildInBackground(r.Context(), name)
	if errors.Is(err, ErrUnknownProjection) {
		problem.Write(w, problem.New(http.StatusNotFound, err.Error()))
		return
	}
	if err != nil {
		problem.WriteError(w, r, h.Log, err)
		return
	}
	w.Header().Set("Location", "/api/v1/admin/projections")
	problem.JSON(w, http.StatusAccepted, st)
}
