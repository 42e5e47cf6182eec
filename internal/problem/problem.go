// Package problem writes RFC 9457 problem+json errors and maps the project's
// errors to HTTP statuses in one place.
package problem

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Item is one entry of a problem's "errors" list.
type Item struct {
	Index   *int   `json:"index,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem document. It is also an error, so handlers
// can return one and have it written as is.
type Problem struct {
	Type       string        `json:"type"`
	Title      string        `json:"title"`
	Status     int           `json:"status"`
	Detail     string        `json:"detail,omitempty"`
	Errors     []Item        `json:"errors,omitempty"`
	RetryAfter time.Duration `json:"-"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// New returns a problem with the standard title for status.
func New(status int, detail string) *Problem {
	return &Problem{Type: TypeFor(status), Title: http.StatusText(status), Status: status, Detail: detail}
}

// TypeFor names the problem type of a status.
func TypeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "https://activity.dev/problems/invalid-request"
	case http.StatusUnauthorized:
		return "https://activity.dev/problems/unauthorized"
	case http.StatusForbidden:
		return "https://activity.dev/problems/forbidden"
	case http.StatusNotFound:
		return "https://activity.dev/problems/not-found"
	case http.StatusRequestEntityTooLarge:
		return "https://activity.dev/problems/too-large"
	case http.StatusUnsupportedMediaType:
		return "https://activity.dev/problems/unsupported-media-type"
	case http.StatusTooManyRequests:
		return "https://activity.dev/problems/rate-limited"
	case http.StatusServiceUnavailable:
		return "https://activity.dev/problems/unavailable"
	case http.StatusMethodNotAllowed:
		return "https://activity.dev/problems/method-not-allowed"
	}
	return "about:blank"
}

// Errors the project's packages return; Write maps them to statuses.
var (
	ErrNotFound    = errors.New("not found")
	ErrUnavailable = errors.New("unavailable")
)

// Write writes p as application/problem+json.
func Write(w http.ResponseWriter, p *Problem) {
	if p.Type == "" {
		p.Type = TypeFor(p.Status)
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.RetryAfter > 0 {
		secs := int((p.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// WriteError writes err: a *Problem as is, ErrNotFound as 404,
// ErrUnavailable as 503, anything else as a 500 that leaks nothing (the
// error itself goes to the log).
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var p *Problem
	switch {
	case errors.As(err, &p):
		Write(w, p)
	case errors.Is(err, ErrNotFound):
		Write(w, New(http.StatusNotFound, err.Error()))
	case errors.Is(err, ErrUnavailable):
		q := New(http.StatusServiceUnavailable, "a backing service is unavailable; retry later")
		q.RetryAfter = 2 * time.Second
		Write(w, q)
	default:
		if log != nil {
			log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		Write(w, New(http.StatusInternalServerError, "internal error; it has been logged"))
	}
}

// JSON writes v as application/json with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
