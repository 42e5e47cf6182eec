package activity

import (
	"net"
	"net/http"
	"net/netip"
	"unicode/utf8"
)

// maxUserAgent is the server's limit on user_agent; longer values would get
// the whole event rejected, so RequestContext cuts them.
const maxUserAgent = 512

// RequestContext returns the client address and User-Agent of an incoming
// request, ready for Event.IPAddress and Event.UserAgent.
//
// The address is the host part of r.RemoteAddr, with IPv4-mapped IPv6
// addresses unmapped and zones removed; it is empty when RemoteAddr holds no
// IP. X-Forwarded-For and similar headers are NOT trusted: anyone can send
// them. A service behind a reverse proxy it trusts should take the address
// from that proxy's header itself and set Event.IPAddress.
//
// The User-Agent is cut to 512 bytes on a UTF-8 boundary.
func RequestContext(r *http.Request) (ip, userAgent string) {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		ip = addr.WithZone("").Unmap().String()
	}
	return ip, truncateUTF8(r.UserAgent(), maxUserAgent)
}

// FromRequest fills e.IPAddress and e.UserAgent from r, as RequestContext
// describes, leaving fields that are already set untouched.
func (e *Event) FromRequest(r *http.Request) {
	ip, ua := RequestContext(r)
	if e.IPAddress == "" {
		e.IPAddress = ip
	}
	if e.UserAgent == "" {
		e.UserAgent = ua
	}
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
