package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// ErrForbiddenAddress is the error of a webhook delivery whose URL led to an
// address deliveries may not reach.
var ErrForbiddenAddress = errors.New("webhook URLs may not reach special-purpose (loopback, private, link-local, documentation …) or this host's own addresses")

// guardian refuses every address of the IANA special-purpose registries
// (IPv4, and IPv6 outside global unicast or special within it: loopback,
// private, link-local, the metadata service, documentation, 6to4, NAT64,
// IPv4-compatible and -mapped forms …), on any port.
var guardian = ssrf.New(ssrf.WithAnyPort())

// forbiddenAddr reports why a delivery may not connect to addr, or nil: an
// address of the special-purpose registries, or one of this host's own (a
// public address of the host reaches its services as loopback would).
func forbiddenAddr(addr netip.Addr) error {
	if !addr.IsValid() {
		return ErrForbiddenAddress
	}
	if err := guardian.SafeAddr(addr.WithZone("")); err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, addr)
	}
	own, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("%w: this host's addresses are unknown (%v)", ErrForbiddenAddress, err)
	}
	for _, a := range own {
		if p, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(p.IP); ok && ip.Unmap() == addr.Unmap() {
				return fmt.Errorf("%w: %s is this host's", ErrForbiddenAddress, addr)
			}
		}
	}
	return nil
}

// literalForbidden reports why a URL's host, when it is an address rather
// than a name, may not receive deliveries, or nil. A name is checked when
// each delivery connects, as it may resolve elsewhere then.
func literalForbidden(host string) error {
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	return forbiddenAddr(addr)
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
		return forbiddenAddr(ap.Addr())
	}
	return d
}
