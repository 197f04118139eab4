package netdev

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
)

// Handle is one rtnetlink connection. It lives in the network namespace of the thread
// that called Open, whichever thread later uses it. It is safe for concurrent use:
// requests are serialised.
type Handle struct {
	mu sync.Mutex // serialises requests on c; guards c
	c  *netlink.Conn
}

// Open opens an rtnetlink connection in the calling thread's network namespace.
func Open() (*Handle, error) {
	c, err := netlink.Dial(familyRoute, nil)
	if err != nil {
		return nil, opError("open rtnetlink", "", err)
	}
	// Extended acks put the kernel's reason into errors ("Unknown device type"); older
	// kernels lack them, which only makes errors terser.
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	return newHandle(c), nil
}

// newHandle wraps an existing connection (tests pass an nltest connection).
func newHandle(c *netlink.Conn) *Handle { return &Handle{c: c} }

// Close closes the connection. It is idempotent.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c == nil {
		return nil
	}
	err := h.c.Close()
	h.c = nil
	return err
}

// execute sends one request and returns the replies. Requests that change something ask
// for an acknowledgement; dumps are multi-part.
func (h *Handle) execute(typ netlink.HeaderType, flags netlink.HeaderFlags, data []byte) ([]netlink.Message, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c == nil {
		return nil, errHandleClosed
	}
	return h.c.Execute(netlink.Message{
		Header: netlink.Header{Type: typ, Flags: netlink.Request | flags},
		Data:   data,
	})
}

var errHandleClosed = errors.New("netdev: handle closed")

// kernelError is an errno with the kernel's extended-ack message.
type kernelError struct {
	err error
	msg string
}

func (e *kernelError) Error() string { return e.err.Error() + " (" + e.msg + ")" }
func (e *kernelError) Unwrap() error { return e.err }

// opError wraps err in a *kernel.OpError, unwrapping netlink's own OpError so that the
// errno (and the kernel's message, if any) is what remains.
func opError(op, object string, err error) error {
	var oe *netlink.OpError
	if errors.As(err, &oe) {
		if oe.Message != "" {
			err = &kernelError{err: oe.Err, msg: oe.Message}
		} else {
			err = oe.Err
		}
	}
	return &kernel.OpError{Op: op, Object: object, Err: err}
}

// notExist is opError for an errno that means the object is absent.
func notExist(op, object string, err error) error {
	e := opError(op, object, err).(*kernel.OpError)
	e.Err = errNotExist{e.Err}
	return e
}

func linkObject(idx int) string { return fmt.Sprintf("link %d", idx) }

// LinkByName returns the link called name. If there is none, the error wraps
// os.ErrNotExist (and unix.ENODEV).
func (h *Handle) LinkByName(name string) (Link, error) {
	const op = "get link"
	if err := checkIfName(name); err != nil {
		return Link{}, &kernel.OpError{Op: op, Object: name, Err: err}
	}
	ae := netlink.NewAttributeEncoder()
	ae.String(iflaIfname, name)
	return h.getLink(op, name, ifInfoMsg{}, ae)
}

// LinkByIndex returns the link with index idx. If there is none, the error wraps
// os.ErrNotExist (and unix.ENODEV).
func (h *Handle) LinkByIndex(idx int) (Link, error) {
	return h.getLink("get link", linkObject(idx), ifInfoMsg{Index: int32(idx)}, nil)
}

func (h *Handle) getLink(op, object string, hdr ifInfoMsg, ae *netlink.AttributeEncoder) (Link, error) {
	b := hdr.append(nil)
	if ae != nil {
		attrs, err := ae.Encode()
		if err != nil {
			return Link{}, &kernel.OpError{Op: op, Object: object, Err: err}
		}
		b = append(b, attrs...)
	}
	msgs, err := h.execute(rtmGetLink, 0, b)
	if err != nil {
		if errors.Is(err, unix.ENODEV) {
			return Link{}, notExist(op, object, err)
		}
		return Link{}, opError(op, object, err)
	}
	for _, m := range msgs {
		if m.Header.Type != rtmNewLink {
			continue
		}
		l, err := parseLink(m.Data)
		if err != nil {
			return Link{}, &kernel.OpError{Op: op, Object: object, Err: err}
		}
		return l, nil
	}
	return Link{}, &kernel.OpError{Op: op, Object: object, Err: errNotExist{unix.ENODEV}}
}

// Links returns every link of the namespace.
func (h *Handle) Links() ([]Link, error) {
	const op = "list links"
	msgs, err := h.execute(rtmGetLink, netlink.Dump, ifInfoMsg{}.append(nil))
	if err != nil {
		return nil, opError(op, "", err)
	}
	links := make([]Link, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != rtmNewLink {
			continue
		}
		l, err := parseLink(m.Data)
		if err != nil {
			return nil, &kernel.OpError{Op: op, Err: err}
		}
		links = append(links, l)
	}
	return links, nil
}

// setLink sends RTM_SETLINK for idx with the given flag change and attributes.
func (h *Handle) setLink(op string, idx int, flags, change uint32, ae *netlink.AttributeEncoder) error {
	object := linkObject(idx)
	b := ifInfoMsg{Index: int32(idx), Flags: flags, Change: change}.append(nil)
	if ae != nil {
		attrs, err := ae.Encode()
		if err != nil {
			return &kernel.OpError{Op: op, Object: object, Err: err}
		}
		b = append(b, attrs...)
	}
	if _, err := h.execute(rtmSetLink, netlink.Acknowledge, b); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return notExist(op, object, err)
		}
		return opError(op, object, err)
	}
	return nil
}

// SetUp brings link idx administratively up or down.
func (h *Handle) SetUp(idx int, up bool) error {
	var flags uint32
	op := "set link down"
	if up {
		flags, op = iffUp, "set link up"
	}
	return h.setLink(op, idx, flags, iffUp, nil)
}

// SetMTU sets the MTU of link idx.
func (h *Handle) SetMTU(idx int, mtu int) error {
	if mtu <= 0 {
		return &kernel.OpError{Op: "set mtu", Object: linkObject(idx), Err: unix.EINVAL}
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(iflaMTU, uint32(mtu))
	return h.setLink("set mtu", idx, 0, 0, ae)
}

// SetGroup puts link idx into interface group group (IFLA_GROUP), which probox uses to
// mark its own interfaces so that a restart can find what a crashed run left.
func (h *Handle) SetGroup(idx int, group uint32) error {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(iflaGroup, group)
	return h.setLink("set group", idx, 0, 0, ae)
}

// DeleteLink deletes link idx. Deleting an absent link returns nil.
func (h *Handle) DeleteLink(idx int) error {
	const op = "delete link"
	b := ifInfoMsg{Index: int32(idx)}.append(nil)
	if _, err := h.execute(rtmDelLink, netlink.Acknowledge, b); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return nil
		}
		return opError(op, linkObject(idx), err)
	}
	return nil
}

// AddVLAN creates the 802.1Q subinterface name with VLAN ID id on link parent, and
// returns it. If a VLAN link of that name with the same parent, protocol and ID exists,
// AddVLAN returns it; a different link of that name is an error wrapping unix.EEXIST. On
// a kernel without 802.1Q support the error wraps unix.EOPNOTSUPP.
func (h *Handle) AddVLAN(parent int, name string, id uint16) (Link, error) {
	return h.AddVLANProto(parent, name, id, VLAN8021Q)
}

// AddVLANProto is AddVLAN with the tag protocol proto: VLAN8021Q, or VLAN8021AD for the
// service (outer) tag of QinQ, on which 802.1Q subinterfaces can then be stacked.
func (h *Handle) AddVLANProto(parent int, name string, id, proto uint16) (Link, error) {
	const op = "add vlan"
	if err := checkIfName(name); err != nil {
		return Link{}, &kernel.OpError{Op: op, Object: name, Err: err}
	}
	if id == 0 || id > maxVLANID {
		return Link{}, &kernel.OpError{Op: op, Object: name, Err: fmt.Errorf("netdev: bad VLAN ID %d", id)}
	}
	if proto != VLAN8021Q && proto != VLAN8021AD {
		return Link{}, &kernel.OpError{Op: op, Object: name, Err: fmt.Errorf("netdev: bad VLAN protocol %#04x", proto)}
	}
	ae := netlink.NewAttributeEncoder()
	ae.String(iflaIfname, name)
	ae.Uint32(iflaLink, uint32(parent))
	ae.Nested(iflaLinkinfo, func(nae *netlink.AttributeEncoder) error {
		nae.String(iflaInfoKind, "vlan")
		nae.Nested(iflaInfoData, func(dae *netlink.AttributeEncoder) error {
			dae.Uint16(iflaVLANID, id)
			if proto != VLAN8021Q {
				// 802.1Q is the kernel's default; left out, the request is the one
				// kernels before 3.10 (which had no protocol) take.
				dae.Bytes(iflaVLANProt, binary.BigEndian.AppendUint16(nil, proto))
			}
			return nil
		})
		return nil
	})
	err := h.newLink(op, name, ae)
	if errors.Is(err, unix.EEXIST) {
		l, lerr := h.LinkByName(name)
		if lerr == nil && l.Kind == "vlan" && l.ParentIndex == parent && l.VLANID == id && l.VLANProtocol == proto {
			return l, nil
		}
		return Link{}, err
	}
	if err != nil {
		return Link{}, err
	}
	return h.LinkByName(name)
}

// AddMacvlan creates the macvlan interface name on link parent with the MAC address mac,
// in bridge mode, in interface group group (0: the default group), and returns it. It is
// down; bring it up with SetUp, which fails with an error wrapping unix.EADDRINUSE when
// the parent or another of its macvlans already has the address (macvlan_open). If a
// macvlan of that name with the same parent and address exists, AddMacvlan returns it; a
// different link of that name is an error wrapping unix.EEXIST. On a kernel without
// macvlan support the error wraps unix.EOPNOTSUPP.
func (h *Handle) AddMacvlan(parent int, name string, mac net.HardwareAddr, group uint32) (Link, error) {
	const op = "add macvlan"
	if err := checkIfName(name); err != nil {
		return Link{}, &kernel.OpError{Op: op, Object: name, Err: err}
	}
	if len(mac) != 6 || mac[0]&1 != 0 {
		return Link{}, &kernel.OpError{Op: op, Object: name, Err: fmt.Errorf("netdev: %v is not a unicast MAC address", mac)}
	}
	ae := netlink.NewAttributeEncoder()
	ae.String(iflaIfname, name)
	ae.Uint32(iflaLink, uint32(parent))
	ae.Bytes(iflaAddress, mac)
	if group != 0 {
		// Set at creation (rtnl_create_link), so that the link is never outside the
		// group, even if probox dies right after.
		ae.Uint32(iflaGroup, group)
	}
	ae.Nested(iflaLinkinfo, func(nae *netlink.AttributeEncoder) error {
		nae.String(iflaInfoKind, "macvlan")
		nae.Nested(iflaInfoData, func(dae *netlink.AttributeEncoder) error {
			dae.Uint32(iflaMacvlanMode, macvlanModeBridge)
			return nil
		})
		return nil
	})
	err := h.newLink(op, name, ae)
	if errors.Is(err, unix.EEXIST) {
		l, lerr := h.LinkByName(name)
		if lerr == nil && l.Kind == "macvlan" && l.ParentIndex == parent && bytes.Equal(l.HardwareAddr, mac) {
			return l, nil
		}
		return Link{}, err
	}
	if err != nil {
		return Link{}, err
	}
	return h.LinkByName(name)
}

// AddVeth creates a veth pair name <-> peer in the handle's namespace and returns the
// link called name. Tests use it to build topologies.
func (h *Handle) AddVeth(name, peer string) (Link, error) {
	const op = "add veth"
	for _, n := range []string{name, peer} {
		if err := checkIfName(n); err != nil {
			return Link{}, &kernel.OpError{Op: op, Object: n, Err: err}
		}
	}
	ae := netlink.NewAttributeEncoder()
	ae.String(iflaIfname, name)
	ae.Nested(iflaLinkinfo, func(nae *netlink.AttributeEncoder) error {
		nae.String(iflaInfoKind, "veth")
		nae.Nested(iflaInfoData, func(dae *netlink.AttributeEncoder) error {
			// VETH_INFO_PEER holds a struct ifinfomsg followed by the peer's
			// attributes (include/uapi/linux/veth.h).
			dae.Do(vethInfoPeer, func() ([]byte, error) {
				pae := netlink.NewAttributeEncoder()
				pae.String(iflaIfname, peer)
				attrs, err := pae.Encode()
				if err != nil {
					return nil, err
				}
				return append(ifInfoMsg{}.append(nil), attrs...), nil
			})
			return nil
		})
		return nil
	})
	if err := h.newLink(op, name, ae); err != nil {
		return Link{}, err
	}
	return h.LinkByName(name)
}

// newLink sends RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL.
func (h *Handle) newLink(op, object string, ae *netlink.AttributeEncoder) error {
	attrs, err := ae.Encode()
	if err != nil {
		return &kernel.OpError{Op: op, Object: object, Err: err}
	}
	b := append(ifInfoMsg{}.append(nil), attrs...)
	if _, err := h.execute(rtmNewLink, netlink.Acknowledge|netlink.Create|netlink.Excl, b); err != nil {
		return opError(op, object, err)
	}
	return nil
}

func addrObject(idx int, a Addr) string {
	if a.Peer.IsValid() {
		return fmt.Sprintf("%v peer %v dev %d", a.Local, a.Peer, idx)
	}
	return fmt.Sprintf("%v dev %d", a.Local, idx)
}

// AddAddr adds address a to link idx. Adding an address that is present returns nil (the
// kernel updates it in place). IPv6 addresses are added without duplicate address
// detection (IFA_F_NODAD).
func (h *Handle) AddAddr(idx int, a Addr) error {
	const op = "add address"
	b, err := encodeAddr(idx, a)
	if err != nil {
		return &kernel.OpError{Op: op, Object: addrObject(idx, a), Err: err}
	}
	// NLM_F_REPLACE without NLM_F_EXCL: an existing equal address is updated, not an
	// error (inet_rtm_newaddr, inet6_rtm_newaddr).
	if _, err := h.execute(rtmNewAddr, netlink.Acknowledge|netlink.Create|netlink.Replace, b); err != nil {
		return opError(op, addrObject(idx, a), err)
	}
	return nil
}

// DelAddr removes address a from link idx. Removing an absent address (or one of an
// absent link) returns nil.
func (h *Handle) DelAddr(idx int, a Addr) error {
	const op = "delete address"
	b, err := encodeAddr(idx, a)
	if err != nil {
		return &kernel.OpError{Op: op, Object: addrObject(idx, a), Err: err}
	}
	if _, err := h.execute(rtmDelAddr, netlink.Acknowledge, b); err != nil {
		if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) {
			return nil
		}
		return opError(op, addrObject(idx, a), err)
	}
	return nil
}

// Addrs returns the IPv4 and IPv6 addresses of link idx (0: of every link), including
// the ones the kernel added itself (IPv6 link-local).
func (h *Handle) Addrs(idx int) ([]Addr, error) {
	const op = "list addresses"
	msgs, err := h.execute(rtmGetAddr, netlink.Dump, ifAddrMsg{Family: afUnspec}.append(nil))
	if err != nil {
		return nil, opError(op, linkObject(idx), err)
	}
	var addrs []Addr
	for _, m := range msgs {
		if m.Header.Type != rtmNewAddr {
			continue
		}
		i, a, err := parseAddr(m.Data)
		if err != nil {
			return nil, &kernel.OpError{Op: op, Object: linkObject(idx), Err: err}
		}
		if idx == 0 || i == idx {
			addrs = append(addrs, a)
		}
	}
	return addrs, nil
}

func routeObject(r Route) string {
	s := r.Dst.String()
	if r.Gateway.IsValid() {
		s += " via " + r.Gateway.String()
	}
	if r.Dev != 0 {
		s += fmt.Sprintf(" dev %d", r.Dev)
	}
	if r.Table != 0 {
		s += fmt.Sprintf(" table %d", r.Table)
	}
	return s
}

// ReplaceRoute makes route r exist (NLM_F_CREATE|NLM_F_REPLACE), so that calling it
// again with the same route returns nil. A route to the same destination, table and
// metric is replaced.
func (h *Handle) ReplaceRoute(r Route) error {
	const op = "replace route"
	b, err := encodeRoute(r)
	if err != nil {
		return &kernel.OpError{Op: op, Object: routeObject(r), Err: err}
	}
	if _, err := h.execute(rtmNewRoute, netlink.Acknowledge|netlink.Create|netlink.Replace, b); err != nil {
		return opError(op, routeObject(r), err)
	}
	return nil
}

// DelRoute removes route r. Removing an absent route (or one through an absent link)
// returns nil.
func (h *Handle) DelRoute(r Route) error {
	const op = "delete route"
	b, err := encodeRoute(r)
	if err != nil {
		return &kernel.OpError{Op: op, Object: routeObject(r), Err: err}
	}
	if _, err := h.execute(rtmDelRoute, netlink.Acknowledge, b); err != nil {
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) {
			return nil
		}
		return opError(op, routeObject(r), err)
	}
	return nil
}

// Routes returns the IPv4 and IPv6 unicast routes through link dev (0: all of them) in
// every table.
func (h *Handle) Routes(dev int) ([]Route, error) {
	const op = "list routes"
	msgs, err := h.execute(rtmGetRoute, netlink.Dump, rtMsg{Family: afUnspec}.append(nil))
	if err != nil {
		return nil, opError(op, linkObject(dev), err)
	}
	var routes []Route
	for _, m := range msgs {
		if m.Header.Type != rtmNewRoute {
			continue
		}
		r, hdr, err := parseRoute(m.Data)
		if err != nil {
			return nil, &kernel.OpError{Op: op, Object: linkObject(dev), Err: err}
		}
		if hdr.Type != rtnUnicast || (hdr.Family != afInet && hdr.Family != afInet6) {
			continue
		}
		if dev == 0 || r.Dev == dev {
			routes = append(routes, r)
		}
	}
	return routes, nil
}
