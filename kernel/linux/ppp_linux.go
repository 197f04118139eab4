//go:build linux

package linux

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// /dev/ppp (drivers/net/ppp/ppp_generic.c, include/uapi/linux/ppp-ioctl.h). An open
// /dev/ppp file is unattached until one of three ioctls turns it into:
//
//   - a channel file (PPPIOCATTCHAN with a channel index from PPPIOCGCHAN on a PPPoX
//     socket): reads return the frames the channel receives that no unit takes (all of
//     them before a unit is connected; afterwards LCP, authentication and the other
//     protocols ≥ 0xc000), writes send a frame on the channel as is;
//   - a unit file (PPPIOCNEWUNIT): it owns the pppN interface, which is unregistered when
//     the file is closed; reads return the frames the unit receives that are not
//     network-layer data (the NCPs: IPCP, IPv6CP, CCP, ...);
//
// Frames read and written are the PPP protocol field (2 bytes; ppp_input decompresses a
// compressed one) and the information field, without HDLC address and control: the
// PPPoL2TP driver strips and adds FF 03 itself (pppol2tp_recv, pppol2tp_xmit), PPPoE never
// has them (RFC 2516 §7).

// The ioctl numbers come from golang.org/x/sys/unix, which has them per architecture (the
// direction bits of _IOW/_IOR differ on some); ppp_linux_test checks them against the
// _IOC encoding on amd64.
const (
	pppIocGChan         = unix.PPPIOCGCHAN        // _IOR('t', 55, int)
	pppIocAttChan       = unix.PPPIOCATTCHAN      // _IOW('t', 56, int)
	pppIocNewUnit       = unix.PPPIOCNEWUNIT      // _IOWR('t', 62, int)
	pppIocConnect       = unix.PPPIOCCONNECT      // _IOW('t', 58, int)
	pppIocDisconn       = unix.PPPIOCDISCONN      // _IO('t', 57)
	pppIocSMRU          = unix.PPPIOCSMRU         // _IOW('t', 82, int)
	pppIocSNPMode       = unix.PPPIOCSNPMODE      // _IOW('t', 75, struct npioctl)
	pppIocBridgeChan    = unix.PPPIOCBRIDGECHAN   // _IOW('t', 53, int), Linux 5.11
	pppIocUnbridgeChan  = unix.PPPIOCUNBRIDGECHAN // _IO('t', 52), Linux 5.11
	siocGPPPStats       = unix.SIOCGPPPSTATS      // SIOCDEVPRIVATE + 0
	npModePass          = 0                       // NPMODE_PASS (include/uapi/linux/ppp_defs.h)
	npModeDrop          = 1                       // NPMODE_DROP
	pppIPv4             = 0x0021                  // RFC 1332
	pppIPv6             = 0x0057                  // RFC 5072
	maxPPPFrame         = 1 << 16                 // larger than any MRU the channels allow
	sizeofPPPStats      = 76                      // struct ppp_stats: pppstat (11 × u32) + vjstat (8 × u32)
	offPPPStatsIBytes   = 4                       // pppstat.ppp_ibytes
	offPPPStatsIPackets = 12                      // pppstat.ppp_ipackets
	offPPPStatsIErrors  = 16                      // pppstat.ppp_ierrors
	offPPPStatsOBytes   = 24                      // pppstat.ppp_obytes
	offPPPStatsOPackets = 32                      // pppstat.ppp_opackets
	offPPPStatsOErrors  = 36                      // pppstat.ppp_oerrors
)

// openDevPPP opens /dev/ppp, turns it into a channel or unit file with the ioctl req
// (run in the data plane's namespace; arg is updated for PPPIOCNEWUNIT) and only then
// puts it on the poller. The order matters: epoll registers its wait queue when the file
// is added (through ppp_poll), and the poll of an unattached /dev/ppp file registers none,
// so a file added before the ioctl would never wake its reader.
func (d *Dataplane) openDevPPP(req uint, arg *int32) (*pollFD, error) {
	fd, err := unix.Open("/dev/ppp", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/dev/ppp", Err: err}
	}
	err = d.inNS(func() error { return ioctlPtr(fd, req, unsafe.Pointer(arg)) })
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return newPollFD(fd, "/dev/ppp")
}

// attachChannel opens /dev/ppp as the file of PPP channel index (PPPIOCATTCHAN).
func (d *Dataplane) attachChannel(index int) (*pollFD, error) {
	v := int32(index)
	f, err := d.openDevPPP(pppIocAttChan, &v)
	if err != nil {
		return nil, fmt.Errorf("attach /dev/ppp to channel %d: %w", index, err)
	}
	return f, nil
}

// newUnit opens /dev/ppp as the file of a new PPP unit (PPPIOCNEWUNIT; the interface is
// "ppp<unit>") and returns it with the unit number: unit want, or with want -1 the lowest
// free one. A unit number in use is an error wrapping unix.EEXIST (ppp_unit_register).
func (d *Dataplane) newUnit(want int32) (*pollFD, int, error) {
	unit := want
	f, err := d.openDevPPP(pppIocNewUnit, &unit)
	if err != nil {
		if want >= 0 {
			return nil, 0, fmt.Errorf("create PPP unit %d: %w", want, err)
		}
		return nil, 0, fmt.Errorf("create PPP unit: %w", err)
	}
	return f, int(unit), nil
}

// setNPMode sets what the unit f does with network-layer protocol proto: NPMODE_PASS or
// NPMODE_DROP (struct npioctl { int protocol; enum NPmode mode; }).
func setNPMode(f *pollFD, proto uint16, mode int32) error {
	npi := [2]int32{int32(proto), mode}
	return f.ioctlPtr(pppIocSNPMode, unsafe.Pointer(&npi))
}

// channelIndex asks a connected PPPoX socket for its PPP channel index. It also marks the
// socket bound (PPPOX_BOUND), after which the driver passes received frames to the PPP
// channel instead of queueing them on the socket.
func channelIndex(px *pollFD) (int, error) {
	idx, err := px.ioctlInt(pppIocGChan, 0)
	if err != nil {
		return 0, fmt.Errorf("get PPP channel index: %w", err)
	}
	return int(idx), nil
}

// frameBufs holds the buffers frames are read into: a /dev/ppp read fails (EOVERFLOW, and
// the frame is lost) when the buffer is shorter than the frame, so each read needs room
// for the largest; the buffer is taken only for the read itself, so an idle channel holds
// none.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, maxPPPFrame); return &b }}

// readFrame reads the next frame of a /dev/ppp channel or unit file. It returns nil and
// no error at end of file: the channel went away, or the unit has no channel.
func readFrame(f *pollFD) ([]byte, error) {
	var (
		frame []byte
		errno error
	)
	err := f.rc.Read(func(fd uintptr) bool {
		bp := frameBufs.Get().(*[]byte)
		defer frameBufs.Put(bp)
		for {
			n, err := unix.Read(int(fd), *bp)
			switch err {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			case nil:
				if n > 0 {
					frame = append([]byte(nil), (*bp)[:n]...)
				}
			}
			errno = err
			return true
		}
	})
	if err == nil {
		err = errno
	}
	if err != nil {
		return nil, f.fdErr(err)
	}
	return frame, nil
}

// normalizeFrame returns frame without HDLC address and control fields and with an
// uncompressed protocol field (RFC 1661 §6.5: a protocol field whose first octet is odd
// is one octet long), or nil if what is left holds no protocol field.
func normalizeFrame(f []byte) []byte {
	if len(f) >= 2 && f[0] == 0xff && f[1] == 0x03 {
		f = f[2:]
	}
	if len(f) > 0 && f[0]&1 != 0 {
		f = append([]byte{0}, f...)
	}
	if len(f) < 2 {
		return nil
	}
	return f
}

// ifreqName is struct ifreq with the ifr_newname member of its union (SIOCSIFNAME).
type ifreqName struct {
	name    [unix.IFNAMSIZ]byte
	newname [unix.IFNAMSIZ]byte
	_       [8]byte
}

// ifreqData is struct ifreq with the ifr_data member of its union.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte
}

func checkIfName(name string) error {
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return fmt.Errorf("%w: interface name %q", unix.EINVAL, name)
	}
	return nil
}

// renameLink renames interface old to name (SIOCSIFNAME; a name with %d makes the kernel
// pick the lowest free number, as for IFLA_IFNAME: both end in dev_change_name). The
// interface must be down.
func (d *Dataplane) renameLink(old, name string) error {
	if err := checkIfName(old); err != nil {
		return err
	}
	if err := checkIfName(name); err != nil {
		return err
	}
	r := new(ifreqName)
	copy(r.name[:], old)
	copy(r.newname[:], name)
	if err := d.ioc.ioctlPtr(unix.SIOCSIFNAME, unsafe.Pointer(r)); err != nil {
		return fmt.Errorf("rename %s to %s: %w", old, name, err)
	}
	return nil
}

// pppStats are the counters SIOCGPPPSTATS reports for a unit (32 bits wide; see
// unitCounters).
type pppStats struct {
	iBytes, iPackets, iErrors uint32
	oBytes, oPackets, oErrors uint32
}

// readPPPStats reads the counters of PPP unit interface name: ppp_net_siocdevprivate
// copies a struct ppp_stats to the address in ifr_data.
func (d *Dataplane) readPPPStats(name string) (pppStats, error) {
	if err := checkIfName(name); err != nil {
		return pppStats{}, err
	}
	st := new([sizeofPPPStats]byte)
	r := &ifreqData{data: unsafe.Pointer(st)}
	copy(r.name[:], name)
	if err := d.ioc.ioctlPtr(siocGPPPStats, unsafe.Pointer(r)); err != nil {
		return pppStats{}, err
	}
	return decodePPPStats(st[:]), nil
}

func decodePPPStats(b []byte) pppStats {
	u := func(off int) uint32 { return ne.Uint32(b[off:]) }
	return pppStats{
		iBytes: u(offPPPStatsIBytes), iPackets: u(offPPPStatsIPackets), iErrors: u(offPPPStatsIErrors),
		oBytes: u(offPPPStatsOBytes), oPackets: u(offPPPStatsOPackets), oErrors: u(offPPPStatsOErrors),
	}
}
