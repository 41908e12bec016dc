package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
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
		if addr, ok := shorthandIPv4(host); ok {
			return forbiddenAddr(addr)
		}
		return nil
	}
	return forbiddenAddr(addr)
}

// shorthandIPv4 reads a host the way browsers and C resolvers (inet_aton) do
// when its last label is a number: "127.1", "0x7f.0.0.1", "2130706433" and
// "017700000001" all name 127.0.0.1 (the WHATWG URL standard's IPv4 parser).
// A host ending in a number that is no such address is not a name either, so
// it is refused as the unspecified address.
func shorthandIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(strings.TrimSuffix(host, "."), ".")
	if _, err := parseIPv4Number(parts[len(parts)-1]); err != nil {
		return netip.Addr{}, false // a name, checked when it connects
	}
	if len(parts) > 4 {
		return netip.IPv4Unspecified(), true
	}
	var n uint64
	for i, part := range parts {
		v, err := parseIPv4Number(part)
		last := i == len(parts)-1
		if err != nil || !last && v > 255 || last && v >= 1<<(8*(5-len(parts))) {
			return netip.IPv4Unspecified(), true
		}
		if last {
			n += v
		} else {
			n += v << (8 * (3 - i))
		}
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// parseIPv4Number reads one label of a shorthand IPv4 address: decimal, 0x
// hexadecimal or 0-prefixed octal.
func parseIPv4Number(s string) (uint64, error) {
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
		if s == "" {
			return 0, nil
		}
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	return strconv.ParseUint(s, base, 32)
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
