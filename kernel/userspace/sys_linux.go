//go:build linux

package userspace

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel/internal/ethport"
	"github.com/probox/probox/kernel/internal/netdev"
)

// osSystem is the Linux system: sockets, TUN/TAP devices and AF_PACKET ports created in
// the network namespace the data plane was opened in, whichever thread asks, and
// addresses and routes through one rtnetlink handle of that namespace.
type osSystem struct {
	cfg Config
	h   *netdev.Handle
	ns  *os.File // the data plane's network namespace
	ino uint64   // its inode, to tell whether a thread is in it
	dev uint64
}

func newOSSystem(cfg Config) (system, error) {
	ns, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &st); err != nil {
		ns.Close()
		return nil, os.NewSyscallError("fstat", err)
	}
	h, err := netdev.Open()
	if err != nil {
		ns.Close()
		return nil, err
	}
	return &osSystem{cfg: cfg, h: h, ns: ns, ino: st.Ino, dev: st.Dev}, nil
}

// inNS runs fn on a thread in the data plane's network namespace. The sockets and devices
// fn creates stay in that namespace.
func (s *osSystem) inNS(fn func() error) error {
	runtime.LockOSThread()
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		runtime.UnlockOSThread()
		return os.NewSyscallError("stat", err)
	}
	if st.Ino == s.ino && st.Dev == s.dev {
		defer runtime.UnlockOSThread()
		return fn()
	}
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := unix.Setns(int(s.ns.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return os.NewSyscallError("setns", err)
	}
	defer func() {
		// If the thread cannot go back it stays locked, and the runtime discards it when
		// this goroutine ends.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return fn()
}

func (s *osSystem) listenUDP(addr netip.AddrPort) (packetConn, error) {
	var c *sockConn
	err := s.inNS(func() (err error) {
		c, err = listenUDPSocket(addr)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *osSystem) dialUDP(local, peer netip.AddrPort, checksums, unconnected bool) (packetConn, error) {
	var c *sockConn
	err := s.inNS(func() (err error) {
		c, err = dialUDPSocket(local, peer, checksums, unconnected)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *osSystem) openIPEncap(v6 bool) (packetConn, error) {
	var c *sockConn
	err := s.inNS(func() (err error) {
		c, err = openIPEncapSocket(v6)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *osSystem) openTun(name string, tap bool, mtu int) (device, error) {
	var t *netdev.Tun
	err := s.inNS(func() (err error) {
		t, err = netdev.OpenTun(s.h, netdev.TunConfig{Name: name, TAP: tap, MTU: mtu, Group: s.cfg.InterfaceGroup})
		return err
	})
	if err != nil {
		return nil, err
	}
	return tunDevice{t}, nil
}

// tunDevice adapts a netdev.Tun.
type tunDevice struct{ t *netdev.Tun }

func (d tunDevice) name() string               { return d.t.Name() }
func (d tunDevice) index() int                 { return d.t.Index() }
func (d tunDevice) read(b []byte) (int, error) { return d.t.Read(b) }
func (d tunDevice) close() error               { return d.t.Close() }
func (d tunDevice) write(b []byte) error {
	_, err := d.t.Write(b)
	return err
}

func (s *osSystem) openEth(ifname string) (ethPort, error) {
	var p *ethport.Port
	err := s.inNS(func() (err error) {
		p, err = ethport.Open(ifname, etherTypeDiscovery, etherTypeSession)
		return err
	})
	if err != nil {
		return nil, err
	}
	e := &ethDevice{p: p}
	e.scratch.New = func() any {
		b := make([]byte, 0, p.MTU()+64)
		return &b
	}
	if hw := p.HardwareAddr(); len(hw) == 6 {
		e.mac = [6]byte(hw)
	} else {
		p.Close()
		return nil, fmt.Errorf("%s has no Ethernet address", ifname)
	}
	return e, nil
}

// ethDevice adapts an ethport.Port; writers take a scratch buffer from a pool.
type ethDevice struct {
	p       *ethport.Port
	mac     [6]byte
	scratch sync.Pool // *[]byte
}

func (e *ethDevice) readFrame(b []byte) (ethFrame, error) {
	f, err := e.p.ReadFrame(b)
	if err != nil {
		return ethFrame{}, err
	}
	return ethFrame{dst: f.Dst, src: f.Src, vlan: f.VLAN, outerVLAN: f.OuterVLAN, etherType: f.EtherType, payload: f.Payload}, nil
}

func (e *ethDevice) writeFrame(f ethFrame) error {
	bp := e.scratch.Get().(*[]byte)
	err := e.p.WriteFrame(ethport.Frame{Dst: f.dst, Src: f.src, VLAN: f.vlan, OuterVLAN: f.outerVLAN, EtherType: f.etherType, Payload: f.payload}, *bp)
	e.scratch.Put(bp)
	return err
}

func (e *ethDevice) addUnicast(mac [6]byte) error { return e.p.AddUnicast(net.HardwareAddr(mac[:])) }
func (e *ethDevice) hardwareAddr() [6]byte        { return e.mac }
func (e *ethDevice) mtu() int                     { return e.p.MTU() }
func (e *ethDevice) close() error                 { return e.p.Close() }

func (s *osSystem) setMTU(dev, mtu int) error { return s.h.SetMTU(dev, mtu) }

func (s *osSystem) addAddr(dev int, local netip.Prefix, peer netip.Addr) error {
	return s.h.AddAddr(dev, netdev.Addr{Local: local, Peer: peer})
}

func (s *osSystem) delAddr(dev int, local netip.Prefix, peer netip.Addr) error {
	return s.h.DelAddr(dev, netdev.Addr{Local: local, Peer: peer})
}

func (s *osSystem) replaceRoute(dst netip.Prefix, dev int, src netip.Addr, mtu int) error {
	return s.h.ReplaceRoute(netdev.Route{Dst: dst, Dev: dev, Src: src, MTU: uint32(mtu)})
}

func (s *osSystem) delRoute(dst netip.Prefix, dev int) error {
	return s.h.DelRoute(netdev.Route{Dst: dst, Dev: dev})
}

func (s *osSystem) close() error {
	err := s.h.Close()
	s.ns.Close()
	return err
}
