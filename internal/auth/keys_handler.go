package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/activity-dev/activity/internal/problem"
)

// KeysHandler serves /api/v1/admin/keys.
type KeysHandler struct {
	Store *Store
	Log   *slog.Logger
}

// Register mounts the handlers on r (which must already require admin).
func (h *KeysHandler) Register(r *mux.Router) {
	r.HandleFunc("/api/v1/admin/keys", h.create).Methods(http.MethodPost)
	r.HandleFunc("/api/v1/admin/keys", h.list).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/admin/keys/{id}", h.revoke).Methods(http.MethodDelete)
}

type createKeyRequest struct {
	Name        string   `json:"name"`
	Role        string   `json:"role"`
	Communities []string `json:"communities"`
}

type keyView struct {
	ID          uuid.UUID   `json:"id"`
	Name        string      `json:"name"`
	Role        string      `json:"role"`
	Communities []uuid.UUID `json:"communities"`
	CreatedAt   time.Time   `json:"created_at"`
	RevokedAt   *time.Time  `json:"revoked_at"`
}

func (h *KeysHandler) create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		problem.Write(w, problem.New(http.StatusBadRequest, "could not read the body"))
		return
	}
	if !utf8.Valid(body) {
		problem.Write(w, problem.New(http.StatusBadRequest, "body is not valid UTF-8"))
		return
	}
	var req createKeyRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(&req)
	if _, terr := dec.Token(); err == nil && terr != io.EOF {
		err = errors.New("there is more after the object")
	}
	if err != nil {
		problem.Write(w, problem.New(http.StatusBadRequest, "body must be one JSON object {\"name\", \"role\", \"communities\"}: "+err.Error()))
		return
	}
	var items []problem.Item
	switch {
	case req.Name == "" || len(req.Name) > 200:
		items = append(items, problem.Item{Field: "name", Message: "is required (1-200 characters)"})
	case strings.ContainsFunc(req.Name, unicode.IsControl):
		items = append(items, problem.Item{Field: "name", Message: "must not contain control characters"})
	}
	role, ok := ParseRole(req.Role)
	if !ok {
		items = append(items, problem.Item{Field: "role", Message: `must be one of "ingest", "read", "admin"`})
	}
	communities := make([]uuid.UUID, 0, len(req.Communities))
	for _, c := range req.Communities {
		id, err := uuid.Parse(c)
		if err != nil || len(c) != 36 {
			items = append(items, problem.Item{Field: "communities", Message: "must be a list of UUIDs; " + c + " is not one"})
			continue
		}
		communities = append(communities, id)
	}
	if len(items) > 0 {
		p := problem.New(http.StatusBadRequest, "the key request is invalid")
		p.Errors = items
		problem.Write(w, p)
		return
	}
	k, secret, err := h.Store.Create(r.Context(), req.Name, role, communities)
	if err != nil {
		problem.WriteError(w, r, h.Log, err)
		return
	}
	problem.JSON(w, http.StatusCreated, map[string]any{
		"id": k.ID, "key": secret, "name": k.Name, "role": k.Role, "communities": k.Communities,
	})
}

func (h *KeysHandler) list(w http.ResponseWriter, r *http.Request) {
	rows, err := h.Store.List(r.Context())
	if err != nil {
		problem.WriteError(w, r, h.Log, err)
		return
	}
	out := make([]keyView, 0, len(rows))
	for _, k := range rows {
		v := keyView{ID: k.ID, Name: k.Name, Role: k.Role, Communities: k.Communities, CreatedAt: k.CreatedAt.UTC()}
		if k.RevokedAt.Valid {
			t := k.RevokedAt.Time.UTC()
			v.RevokedAt = &t
		}
		out = append(out, v)
	}
	problem.JSON(w, http.StatusOK, out)
}

func (h *KeysHandler) revoke(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(mux.Vars(r)["id"])
	if err != nil {
		problem.Write(w, problem.New(http.StatusNotFound, "no API key has this id"))
		return
	}
	if err := h.Store.Revoke(r.Context(), id); err != nil {
		problem.WriteError(w, r, h.Log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
