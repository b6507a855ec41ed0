package detectors

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// datacenterList is the shipped list of hosting and cloud address ranges (source and date
// in its header; scripts/update-datacenter-ranges refreshes it).
//
//go:embed datacenter/ranges.txt
var datacenterList []byte

// Datacenters finds the hosting provider whose published range holds an address.
type Datacenters struct {
	v4 []v4Range // sorted by lo, not overlapping
	v6 []namedPrefix
}

type v4Range struct {
	lo, hi   uint32
	provider string
}

type namedPrefix struct {
	p        netip.Prefix
	provider string
}

// defaultDatacenters is the shipped list, read once.
var defaultDatacenters = func() *Datacenters {
	d, err := ParseDatacenters(datacenterList)
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return d
}()

// DefaultDatacenters returns the ranges shipped with affwatch.
func DefaultDatacenters() *Datacenters { return defaultDatacenters }

// ParseDatacenters reads a range list: "CIDR provider" per line, '#' comments.
func ParseDatacenters(b []byte) (*Datacenters, error) {
	d := &Datacenters{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"CIDR provider\"", line)
		}
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		p = p.Masked()
		if p.Addr().Is4() {
			a := p.Addr().As4()
			lo := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
			hi := lo | (1<<(32-p.Bits()) - 1)
			d.v4 = append(d.v4, v4Range{lo, hi, f[1]})
		} else {
			d.v6 = append(d.v6, namedPrefix{p, f[1]})
		}
	}
	sort.Slice(d.v4, func(i, j int) bool { return d.v4[i].lo < d.v4[j].lo })
	for i := 1; i < len(d.v4); i++ {
		if d.v4[i].lo <= d.v4[i-1].hi {
			return nil, fmt.Errorf("ranges overlap: %s and %s", d.v4[i-1].provider, d.v4[i].provider)
		}
	}
	return d, nil
}

// Len is the number of ranges.
func (d *Datacenters) Len() int { return len(d.v4) + len(d.v6) }

// Provider returns the provider whose range holds ip ("" when none does, or ip is not an
// address: a pseudonymised number).
func (d *Datacenters) Provider(ip string) string {
	if d == nil || ip == "" {
		return ""
	}
	var a netip.Addr
	if dottedQuad(ip) {
		var x uint32
		var oct uint32
		for i := 0; i < len(ip); i++ {
			if ip[i] == '.' {
				x, oct = x<<8|oct, 0
				continue
			}
			oct = oct*10 + uint32(ip[i]-'0')
		}
		return d.provider4(x<<8 | oct)
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return d.provider4(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
	}
	for _, p := range d.v6 {
		if p.p.Contains(a) {
			return p.provider
		}
	}
	return ""
}

func (d *Datacenters) provider4(x uint32) string {
	i := sort.Search(len(d.v4), func(i int) bool { return d.v4[i].hi >= x })
	if i < len(d.v4) && d.v4[i].lo <= x {
		return d.v4[i].provider
	}
	return ""
}
