//go:build linux

package ethport

import (
	"errors"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
)

const (
	ethPAll    = 0x0003 // ETH_P_ALL
	arphrdEter = 1      // ARPHRD_ETHER
	rcvBufSize = 4 << 20
	// oobWords holds one struct cmsghdr with a struct tpacket_auxdata, 8-byte aligned.
	oobWords = 8
	// sizeofAuxdata is sizeof(struct tpacket_auxdata).
	sizeofAuxdata = int(unsafe.Sizeof(unix.TpacketAuxdata{}))
)

// Port is an AF_PACKET socket on one Ethernet interface that receives the frames of a set
// of ethertypes, VLAN-tagged or not, and sends frames. ReadFrame, WriteFrame and Close may
// be called concurrently; concurrent ReadFrames (and concurrent WriteFrames) are
// serialised.
type Port struct {
	name   string
	index  int
	hw     net.HardwareAddr
	mtu    int
	types  []uint16
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
	once   sync.Once
	drops  atomic.Uint64

	// rmu serialises ReadFrame; it guards the fields up to wmu, which are the state of
	// the preallocated recvmsg call (so that a read allocates nothing).
	rmu    sync.Mutex
	readFn func(fd uintptr) bool // p.recv, bound once
	rbuf   []byte
	msg    unix.Msghdr
	iov    unix.Iovec
	from   unix.RawSockaddrLinklayer
	oob    [oobWords]uint64
	rn     int
	rerr   error

	// wmu serialises WriteFrame; it guards the fields below.
	wmu     sync.Mutex
	writeFn func(fd uintptr) bool // p.send, bound once
	wbuf    []byte
	werr    error
}

// Open opens a packet socket on interface ifname that receives the frames whose
// ethertype, after any VLAN tags, is one of ethertypes (every ethertype if none is
// given; at most 16), tagged or untagged, except the frames the host itself sends.
// It needs CAP_NET_RAW.
func Open(ifname string, ethertypes ...uint16) (*Port, error) {
	const op = "open packet socket"
	prog, err := filterProgram(ethertypes)
	if err != nil {
		return nil, &kernel.OpError{Op: op, Object: ifname, Err: err}
	}
	// Protocol 0: the socket receives nothing until bind, so no frame gets past before
	// the filter is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &kernel.OpError{Op: op, Object: ifname, Err: err}
	}
	p := &Port{name: ifname, types: slices.Clone(ethertypes)}
	if err := p.setup(fd, prog); err != nil {
		unix.Close(fd)
		return nil, &kernel.OpError{Op: op, Object: ifname, Err: err}
	}
	p.f = os.NewFile(uintptr(fd), "packet:"+ifname)
	rc, err := p.f.SyscallConn()
	if err != nil {
		p.f.Close()
		return nil, &kernel.OpError{Op: op, Object: ifname, Err: err}
	}
	p.rc = rc
	p.readFn = p.recv
	p.writeFn = p.send
	return p, nil
}

// setup configures the raw socket fd and binds it to the interface.
func (p *Port) setup(fd int, prog []sockFilter) error {
	ifr, err := unix.NewIfreq(p.name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return err
	}
	p.index = int(ifr.Uint32())
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFMTU, ifr); err != nil {
		return err
	}
	p.mtu = int(ifr.Uint32())
	if p.hw, err = hardwareAddr(fd, p.name); err != nil {
		return err
	}

	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return err
	}
	// Linux ≥ 4.20; the filter drops outgoing frames anyway.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	// A larger receive queue rides out bursts (PADI storms, session data). FORCE needs
	// CAP_NET_ADMIN; without it the kernel caps SO_RCVBUF at rmem_max.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBufSize) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufSize)
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Code, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return err
	}
	return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(ethPAll), Ifindex: p.index})
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ifreqHW is struct ifreq with the ifr_hwaddr member of its union (struct sockaddr).
type ifreqHW struct {
	Name   [unix.IFNAMSIZ]byte
	Family uint16
	Data   [14]byte
	_      [8]byte // the rest of the union
}

// hardwareAddr reads the MAC address of interface name (SIOCGIFHWADDR) and checks that it
// is an Ethernet interface.
func hardwareAddr(fd int, name string) (net.HardwareAddr, error) {
	var req ifreqHW
	copy(req.Name[:], name)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFHWADDR, uintptr(unsafe.Pointer(&req))); errno != 0 {
		return nil, errno
	}
	if req.Family != arphrdEter {
		return nil, errNotEthernet
	}
	return net.HardwareAddr(slices.Clone(req.Data[:6])), nil
}

var errNotEthernet = errors.New("ethport: not an Ethernet interface")

// recv runs one recvmsg into p.rbuf. It is called by the runtime poller through
// p.rc.Read with p.rmu held; it returns false to wait for the socket to be readable.
func (p *Port) recv(fd uintptr) bool {
	p.iov.Base = &p.rbuf[0]
	p.iov.SetLen(len(p.rbuf))
	p.msg.Name = (*byte)(unsafe.Pointer(&p.from))
	p.msg.Namelen = unix.SizeofSockaddrLinklayer
	p.msg.Iov = &p.iov
	p.msg.SetIovlen(1)
	p.msg.Control = (*byte)(unsafe.Pointer(&p.oob[0]))
	p.msg.SetControllen(oobWords * 8)
	p.msg.Flags = 0
	for {
		n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&p.msg)), 0)
		switch errno {
		case 0:
			p.rn, p.rerr = int(n), nil
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			p.rn, p.rerr = 0, errno
			return true
		}
	}
}

// auxTag returns the VLAN tag the kernel reported in PACKET_AUXDATA for the last frame.
func (p *Port) auxTag() tag {
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&p.oob[0])), oobWords*8)
	n := min(int(p.msg.Controllen), len(oob))
	hdrLen := unix.CmsgLen(0)
	for off := 0; off+unix.SizeofCmsghdr <= n; {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[off]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || off+l > n {
			break
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && l-hdrLen >= sizeofAuxdata {
			aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&oob[off+hdrLen]))
			if aux.Status&unix.TP_STATUS_VLAN_VALID != 0 {
				return tag{present: true, tci: aux.Vlan_tci}
			}
			return tag{}
		}
		off += unix.CmsgSpace(l - hdrLen)
	}
	return tag{}
}

// ReadFrame reads the next frame into b and decodes it; the returned Payload is a slice
// of b. Frames that do not fit in b, that do not parse, or with more than two VLAN tags
// are dropped and counted (Dropped). When the interface goes down, it returns an error
// wrapping unix.ENETDOWN once; the Port keeps working when the interface comes back up.
// After Close it returns an error wrapping ErrClosed (which matches net.ErrClosed).
func (p *Port) ReadFrame(b []byte) (Frame, error) {
	if len(b) == 0 {
		return Frame{}, &kernel.OpError{Op: "read", Object: p.name, Err: unix.EINVAL}
	}
	p.rmu.Lock()
	defer p.rmu.Unlock()
	for {
		p.rbuf = b
		err := p.rc.Read(p.readFn)
		p.rbuf, p.iov.Base = nil, nil
		if err != nil || p.rerr != nil {
			if err == nil {
				err = p.rerr
			}
			return Frame{}, p.ioError("read", err)
		}
		if p.from.Pkttype == unix.PACKET_OUTGOING || p.msg.Flags&unix.MSG_TRUNC != 0 {
			if p.from.Pkttype != unix.PACKET_OUTGOING {
				p.drops.Add(1)
			}
			continue
		}
		f, err := parseFrame(b[:p.rn], p.auxTag())
		if err != nil || !p.wanted(f.EtherType) {
			p.drops.Add(1)
			continue
		}
		return f, nil
	}
}

func (p *Port) wanted(et uint16) bool {
	return len(p.types) == 0 || slices.Contains(p.types, et)
}

// send writes p.wbuf; it is called through p.rc.Write with p.wmu held.
func (p *Port) send(fd uintptr) bool {
	for {
		_, err := unix.Write(int(fd), p.wbuf)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		p.werr = err
		return true
	}
}

// WriteFrame sends f: it builds the frame (see AppendFrame) in scratch, which should have
// room for the headers (up to 22 bytes) and the payload so that nothing is allocated,
// and writes it to the interface. Src is sent as given: set it to HardwareAddr for
// frames from this host.
func (p *Port) WriteFrame(f Frame, scratch []byte) error {
	b, err := AppendFrame(scratch[:0], f)
	if err != nil {
		return &kernel.OpError{Op: "write", Object: p.name, Err: err}
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.wbuf, p.werr = b, nil
	err = p.rc.Write(p.writeFn)
	p.wbuf = nil
	if err == nil {
		err = p.werr
	}
	if err != nil {
		return p.ioError("write", err)
	}
	return nil
}

func (p *Port) ioError(op string, err error) error {
	if p.closed.Load() || errors.Is(err, os.ErrClosed) {
		err = ErrClosed
	}
	return &kernel.OpError{Op: op, Object: p.name, Err: err}
}

// AddUnicast makes the interface accept frames addressed to the unicast address mac as
// well as to its own, so that ReadFrame returns them. It joins mac as a PACKET_MR_UNICAST
// membership of the socket: the kernel adds mac to the device's unicast address filter
// (dev_uc_add), and an interface without such a filter goes into promiscuous mode while
// the list is not empty (__dev_set_rx_mode). The membership belongs to the socket and ends
// when the Port closes (packet_release), which undoes both. Adding an address again only
// counts it again.
func (p *Port) AddUnicast(mac net.HardwareAddr) error {
	const op = "add unicast address"
	if len(mac) != 6 || mac[0]&1 != 0 {
		return &kernel.OpError{Op: op, Object: p.name, Err: unix.EINVAL}
	}
	mreq := unix.PacketMreq{Ifindex: int32(p.index), Type: unix.PACKET_MR_UNICAST, Alen: 6}
	copy(mreq.Address[:], mac)
	var err error
	if cerr := p.rc.Control(func(fd uintptr) {
		err = unix.SetsockoptPacketMreq(int(fd), unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq)
	}); cerr != nil {
		err = cerr
	}
	if err != nil {
		return p.ioError(op, err)
	}
	return nil
}

// SetReadDeadline sets the deadline for ReadFrame; a ReadFrame past it returns an error
// wrapping os.ErrDeadlineExceeded. The zero time means none.
func (p *Port) SetReadDeadline(t time.Time) error { return p.f.SetReadDeadline(t) }

// HardwareAddr is the interface's MAC address (when the Port was opened).
func (p *Port) HardwareAddr() net.HardwareAddr { return slices.Clone(p.hw) }

// MTU is the interface's MTU (when the Port was opened).
func (p *Port) MTU() int { return p.mtu }

// Index is the interface index.
func (p *Port) Index() int { return p.index }

// Name is the interface name.
func (p *Port) Name() string { return p.name }

// Dropped counts the frames ReadFrame dropped: too large for the buffer, malformed, or
// with more than two VLAN tags.
func (p *Port) Dropped() uint64 { return p.drops.Load() }

// Close closes the socket; a blocked ReadFrame returns an error wrapping ErrClosed. It is
// idempotent.
func (p *Port) Close() error {
	var err error
	p.once.Do(func() {
		p.closed.Store(true)
		if cerr := p.f.Close(); cerr != nil {
			err = &kernel.OpError{Op: "close", Object: p.name, Err: cerr}
		}
	})
	return err
}
