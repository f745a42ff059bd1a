package httpserver

import (
	"context"
	"net"
	"net/http"
	"net/netip"
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
