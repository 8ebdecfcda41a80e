package ingest

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// allowList is the networks a source takes requests from; empty takes any.
type allowList []netip.Prefix

// parseAllowList reads addresses ("192.0.2.7") and networks ("192.0.2.0/24",
// "2001:db8::/32"), reporting the first entry that is neither.
func parseAllowList(entries []string) (allowList, error) {
	out := make(allowList, 0, len(entries))
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("allow_from %q: not an address or a network such as 192.0.2.0/24", e)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// check answers 403 unless the request's peer is in the list. The peer is
// the connection's remote address: behind a proxy, that is the proxy's.
func (l allowList) check(r *http.Request, source string) error {
	if len(l) == 0 {
		return nil
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap().WithZone("")
		for _, p := range l {
			if p.Contains(a) {
				return nil
			}
		}
	}
	return &apiError{Status: http.StatusForbidden,
		Message: fmt.Sprintf("source %q does not take requests from %s: see its allow_from", source, host)}
}
