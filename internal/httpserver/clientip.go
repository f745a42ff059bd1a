package httpserver

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// ClientIP returns the IP address of the client a request came from, as the
// server decided it once for the request (see clientIP): audit entries, logs
// and the login throttle all use this one value. It is "" outside a request.
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey).(string)
	return ip
}

// clientIP is the request's client address. The TCP peer is the client
// unless it is a trusted proxy; then X-Forwarded-For is read from the right,
// each trusted proxy having appended the address it saw, and the first
// address that is not itself a trusted proxy is the client. Entries left of
// it were written by the client and could be anything, so they are never
// used. Should the header end before an untrusted address, or hold one that
// is not an address, the last proxy reached is the best that is known.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	client := peer
	if !isTrusted(peer, trusted) {
		return client.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			addr, ok := parseAddr(strings.TrimSpace(entries[j]))
			if !ok {
				return client.String()
			}
			client = addr
			if !isTrusted(addr, trusted) {
				return client.String()
			}
		}
	}
	return client.String()
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseAddr reads an address as a peer or a proxy writes it: "10.1.2.3",
// "2001:db8::1", with a port ("10.1.2.3:5678", "[2001:db8::1]:5678") as
// some proxies add, IPv4 in IPv6 as a dual-stack socket reports it.
func parseAddr(s string) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		addr = ap.Addr()
	}
	return addr.WithZone("").Unmap(), true
}

// PublicURL returns the scheme and host ("https://aigate.example.com") the
// client reached this server at, as the server decided it once for the
// request (see publicURL): the base of the URLs the API tells people to put
// in their tools. It lives in the context, not the request, because the
// dashboard calls the API in process with a request of its own making,
// whose Host is not the one the browser used. It is "" outside a request.
func PublicURL(ctx context.Context) string {
	u, _ := ctx.Value(publicURLKey).(string)
	return u
}

// publicURL is the request's public scheme://host. The scheme is https when
// the connection is TLS, or when a trusted proxy says with
// X-Forwarded-Proto that its client's was. The host is a trusted proxy's
// X-Forwarded-Host, else the Host the client sent, else (HTTP/1.0 without
// one, or one that is not a host) the address the connection reached. Of
// several forwarded values the right-most is taken, the one the nearest
// proxy wrote, as with X-Forwarded-For; a value that is not a plain host
// and port is ignored, so what a header says can never turn the URL into
// another one (a path, userinfo, spaces).
func publicURL(r *http.Request, trusted []netip.Prefix) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host, ok := cleanHost(r.Host)
	if peer, isAddr := parseAddr(r.RemoteAddr); isAddr && isTrusted(peer, trusted) {
		if strings.EqualFold(lastForwarded(r.Header.Values("X-Forwarded-Proto")), "https") {
			scheme = "https"
		}
		if h, fwdOK := cleanHost(lastForwarded(r.Header.Values("X-Forwarded-Host"))); fwdOK {
			host, ok = h, true
		}
	}
	if !ok {
		if addr, isAddr := r.Context().Value(http.LocalAddrContextKey).(net.Addr); isAddr {
			host = addr.String()
		}
	}
	return scheme + "://" + host
}

// lastForwarded is the right-most entry of a forwarded header that proxies
// may append to, in one line or several.
func lastForwarded(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	line := lines[len(lines)-1]
	if i := strings.LastIndexByte(line, ','); i >= 0 {
		line = line[i+1:]
	}
	return strings.TrimSpace(line)
}

// maxHostLen is a DNS name's longest, plus a port.
const maxHostLen = 253 + len(":65535")

// cleanHost accepts a host as a URL may carry it: a DNS name (letters,
// digits, '-', '_' and dots between labels) or an IP address (IPv6 in
// brackets), then an optional port; it returns it in lower case. Anything
// else (userinfo, a path, a query, spaces, control characters, an IPv6
// zone, a port out of range) is refused, since the result is written into
// URLs that people copy into their tools.
func cleanHost(h string) (string, bool) {
	if h == "" || len(h) > maxHostLen {
		return "", false
	}
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", false
		}
		addr, err := netip.ParseAddr(h[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", false
		}
		name, port = "["+addr.String()+"]", h[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return "", false
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i:]
		if !validDNSName(name) {
			return "", false
		}
	} else if !validDNSName(name) {
		return "", false
	}
	if port != "" {
		n, err := strconv.Atoi(port[1:])
		if err != nil || n < 1 || n > 65535 || port[1] < '0' || port[1] > '9' {
			return "", false
		}
		port = ":" + strconv.Itoa(n)
	}
	return strings.ToLower(name) + port, true
}

func validDNSName(s string) bool {
	if s == "" {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return false
			}
		}
	}
	return true
}
