//go:build linux

package linux

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// PPPoX sockets (drivers/net/ppp/pppox.c, pppoe.c, net/l2tp/l2tp_ppp.c). A connected
// PPPoX socket is a PPP channel: PPPIOCGCHAN on it gives the channel index to attach
// /dev/ppp to. The socket must stay open as long as the channel is used: closing it
// unregisters the channel and, for PPPoL2TP, deletes the L2TP session
// (pppol2tp_release → l2tp_session_delete).

// openPPPoL2TP creates a PPPoL2TP socket and connects it to the session a names. For
// L2TPv2 the connect creates the kernel session when it does not exist yet
// (pppol2tp_connect → l2tp_session_create, which needs no CONFIG_L2TP_V3); for L2TPv3 the
// data plane creates the session first with SESSION_CREATE, because only that request
// carries cookies and the L2-Specific Sublayer, and the connect then takes the existing,
// not yet connected, session.
func (d *Dataplane) openPPPoL2TP(a pppol2tpAddr) (*pollFD, error) {
	sa, err := pppol2tpSockaddr(a)
	if err != nil {
		return nil, err
	}
	fd, err := d.openSocket(afPPPoX, unix.SOCK_DGRAM, pxProtoOL2TP)
	if err != nil {
		return nil, os.NewSyscallError("socket AF_PPPOX PX_PROTO_OL2TP", err)
	}
	if err := rawConnect(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect PPPoL2TP socket to session %d/%d: %w", a.Tunnel, a.Session, err)
	}
	return newPollFD(fd, "pppol2tp")
}

// openPPPoE creates a PPPoE session socket: session sid with the peer remote, on device
// dev, which must be up (pppoe_connect). The kernel then handles the session's frames
// (ether type 0x8864) that arrive on dev from remote.
func (d *Dataplane) openPPPoE(sid uint16, remote [6]byte, dev string) (*pollFD, error) {
	sa, err := pppoeSockaddr(sid, remote, dev)
	if err != nil {
		return nil, err
	}
	fd, err := d.openSocket(afPPPoX, unix.SOCK_STREAM, pxProtoOE)
	if err != nil {
		return nil, os.NewSyscallError("socket AF_PPPOX PX_PROTO_OE", err)
	}
	if err := rawConnect(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect PPPoE socket to session %#04x on %s: %w", sid, dev, err)
	}
	return newPollFD(fd, "pppoe")
}
