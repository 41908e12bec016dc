package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is the error of a webhook delivery whose URL led to an
// address deliveries may not reach.
var ErrForbiddenAddress = errors.New("webhook URLs may not reach loopback, private, link-local or metadata addresses")

// forbiddenPrefixes are the ranges net/netip has no predicate for: "this
// network", carrier-grade NAT, IETF protocol assignments, benchmarking,
// reserved, and NAT64 (which embeds an IPv4 address).
var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// forbiddenAddr reports whether a delivery may not connect to addr: loopback,
// private (RFC 1918, unique-local fc00::/7), link-local (169.254.0.0/16 with
// the cloud metadata service 169.254.169.254, fe80::/10), multicast,
// unspecified, and the ranges above.
func forbiddenAddr(addr netip.Addr) bool {
	addr = addr.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() || !addr.IsValid() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// guardedDialer dials only the addresses deliveries may reach, unless
// allowPrivate. The check runs in the dialer's Control hook, on the address
// each connection is actually made to after DNS resolution, so a name that
// resolves to a public address when saved and a private one later (DNS
// rebinding) is refused all the same.
func guardedDialer(allowPrivate bool, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if allowPrivate {
		return d
	}
	d.Control = func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
		}
		if forbiddenAddr(ap.Addr()) {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
		}
		return nil
	}
	return d
}
