package crawler

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrForbiddenAddress is returned when a partner-supplied URL resolves to an address the
// crawler must not reach: loopback, private, link-local, cloud metadata and the like.
var ErrForbiddenAddress = errors.New("forbidden address")

// forbiddenPrefixes are ranges that net/netip's predicates do not name but that are not
// the public internet: shared address space (carrier NAT), benchmarking, and the
// documentation ranges.
var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// Forbidden reports whether a crawl of partner content must not connect to ip.
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ec2MetadataV6 is the IPv6 address of AWS's instance metadata service.
var ec2MetadataV6 = netip.MustParseAddr("fd00:ec2::254")

// Metadata reports whether ip is link-local, where clouds serve instance metadata and
// credentials (169.254.169.254, fd00:ec2::254). It is never reached, whatever
// allow_private_addresses says.
func Metadata(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLinkLocalUnicast() || ip == ec2MetadataV6
}

// CheckAddress says whether partner content may make a connection to ip: nil, or an error
// wrapping ErrForbiddenAddress that says why. With allowPrivate, loopback and private
// addresses pass; metadata addresses never do. The crawler's dialer and the browser's
// proxy (crawler/chrome) both decide with it, on the address they then dial.
func CheckAddress(ip netip.Addr, allowPrivate bool) error {
	switch {
	case Metadata(ip):
		return fmt.Errorf("%w: %s (a link-local or cloud metadata address is never reached, whatever crawl.allow_private_addresses says)",
			ErrForbiddenAddress, ip)
	case !allowPrivate && Forbidden(ip):
		return fmt.Errorf("%w: %s (partner URLs may not reach loopback or private addresses; for a local test site set crawl.allow_private_addresses: true)",
			ErrForbiddenAddress, ip)
	}
	return nil
}

// guardedDialer returns a dialer that checks every address after DNS resolution, so that
// neither a hostname pointing inside nor a redirect to an internal address gets through.
// With allowPrivate it still refuses the metadata addresses.
func guardedDialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{}
	d.Control = func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
		}
		return CheckAddress(ip, allowPrivate)
	}
	return d
}
