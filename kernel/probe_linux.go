package kernel

import (
	"errors"
	"os"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"
)

// Address family and protocols of PPP over X sockets (include/uapi/linux/if_pppox.h).
const (
	afPPPoX      = 24 // AF_PPPOX
	pxProtoOE    = 0  // PX_PROTO_OE
	pxProtoOL2TP = 1  // PX_PROTO_OL2TP
	ipProtoL2TP  = 115
)

// Probe finds out what the running kernel offers by trying each feature: it opens and
// closes sockets and device files, and asks generic netlink for the "l2tp" family. It
// changes nothing.
func Probe() Capabilities {
	return Capabilities{
		L2TPNetlink: probeGenl("l2tp"),
		PPPoL2TP:    probeSocket(afPPPoX, unix.SOCK_DGRAM, pxProtoOL2TP),
		PPPoE:       probeSocket(afPPPoX, unix.SOCK_STREAM, pxProtoOE),
		L2TPIP:      probeSocket(unix.AF_INET, unix.SOCK_DGRAM, ipProtoL2TP),
		DevPPP:      probeDevice("/dev/ppp"),
		TUN:         probeDevice("/dev/net/tun"),
		Packet:      probeSocket(unix.AF_PACKET, unix.SOCK_RAW, 0),
	}
}

func probeGenl(family string) error {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.GetFamily(family)
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("family not registered (module not loaded)")
	}
	return err
}

func probeSocket(domain, typ, proto int) error {
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

func probeDevice(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	return f.Close()
}
