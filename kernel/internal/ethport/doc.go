// Package ethport sends and receives Ethernet frames of chosen ethertypes on one
// interface through an AF_PACKET socket, with 802.1Q and QinQ (802.1ad) VLAN tags.
//
//	p, err := ethport.Open("eth1", 0x8863, 0x8864) // PPPoE discovery and session
//	if err != nil { ... }
//	defer p.Close()
//	buf := make([]byte, 1600)
//	for {
//		f, err := p.ReadFrame(buf) // f.Payload is a slice of buf
//		if errors.Is(err, net.ErrClosed) { return }
//		...
//	}
//
// Receiving VLAN frames: Linux removes the outermost VLAN tag of every received frame
// before packet sockets see it (__netif_receive_skb_core calls skb_vlan_untag, whether or
// not the NIC offloads it), and reports it in PACKET_AUXDATA (struct tpacket_auxdata:
// tp_vlan_tci, tp_vlan_tpid, TP_STATUS_VLAN_VALID). Further tags (the inner tag of QinQ)
// stay in the data, and so do tags on paths that do not strip. The Port reads both: the
// auxdata tag is the outermost, then the tags in the data. It binds to ETH_P_ALL (a socket
// bound to one ethertype never sees frames whose unstripped outer ethertype is 0x8100)
// with a classic BPF filter that keeps only frames whose ethertype, after up to two tags
// in the data, is one of the port's, and that drops frames the host sends
// (PACKET_OUTGOING), so a Port never reads its own or its neighbours' transmissions.
//
// Sending: WriteFrame writes the Ethernet header, the tags (0x88a8 service tag then
// 0x8100 customer tag for QinQ, 0x8100 alone for a VLAN) and the payload into a caller's
// scratch buffer, pads it to the 60-byte Ethernet minimum, and writes it in one call.
//
// In steady state ReadFrame and WriteFrame allocate nothing. The frame codec
// (ParseFrame, AppendFrame) does no I/O and is fuzzed.
package ethport
