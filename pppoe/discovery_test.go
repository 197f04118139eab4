package pppoe

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/kerneltest"
	"github.com/probox/probox/ppp"
)

// discBed is an AC and raw stations on one segment: AC host 1 (eth1), station host 2.
type discBed struct {
	n    *kerneltest.Network
	acDP *kerneltest.Fake
	stDP *kerneltest.Fake
	ac   *box
	acHW kernel.FrameInfo // unicast envelope to the AC, untagged
}

func newDiscBed(t *testing.T, acDoc string) *discBed {
	n := kerneltest.NewNetwork()
	b := &discBed{n: n, acDP: n.Dataplane("ac"), stDP: n.Dataplane("station")}
	seg := n.Ethernet("lan").Join(b.acDP, "eth1")
	for _, ifc := range []string{"s0", "s1", "s2"} {
		seg.Join(b.stDP, ifc)
	}
	b.ac = startBox(t, b.acDP, parseConfig(t, acDoc, acSecrets), nil, 1)
	b.acHW = kernel.FrameInfo{Dst: b.acDP.HardwareAddr("eth1")}
	synctest.Wait() // the AC's interface is open
	return b
}

func padi(service string, hu string) Packet {
	return Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{service}, HostUniq: []byte(hu)}}
}

func padr(service, hu string, cookie []byte) Packet {
	return Packet{Code: CodePADR, Tags: Tags{ServiceNames: []string{service}, HostUniq: []byte(hu), ACCookie: cookie}}
}

// offer sends a PADI for service and returns the PADO.
func (b *discBed) offer(t *testing.T, st *station, v VLANs, service, hu string) Packet {
	t.Helper()
	st.send(padi(service, hu), bcast(v))
	synctest.Wait()
	f := st.recvOne()
	if f.pkt.Code != CodePADO {
		t.Fatalf("got %v, want PADO", f.pkt.Code)
	}
	return f.pkt
}

// establishRaw runs discovery by hand and returns the PADS.
func (b *discBed) establishRaw(t *testing.T, st *station, v VLANs, service, hu string) Packet {
	t.Helper()
	pado := b.offer(t, st, v, service, hu)
	to := b.acHW
	to.VLAN, to.OuterVLAN = frameTo(MAC{}, v).VLAN, frameTo(MAC{}, v).OuterVLAN
	st.send(padr(service, hu, pado.Tags.ACCookie), to)
	synctest.Wait()
	f := st.recvOne()
	if f.pkt.Code != CodePADS {
		t.Fatalf("got %v, want PADS", f.pkt.Code)
	}
	return f.pkt
}

const discDoc = pppBase + `
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth1]
[pppoe.service.internet]
`

// TestDiscoveryErrors drives every way the AC declines a discovery frame through the
// engine, checking the answer on the wire and the drop counter.
func TestDiscoveryErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extra  string // configuration added to [pppoe] (before the interface)
		run    func(t *testing.T, b *discBed, st, st2 *station)
		reason string
		count  float64 // drops counted; 0 means 1
	}{
		{
			name: "unknown service in PADI",
			run: func(t *testing.T, b *discBed, st, _ *station) {
				st.send(padi("nope", "h1"), bcast(VLANs{}))
				synctest.Wait()
				if got := st.recv(); len(got) != 0 {
					t.Errorf("got %d frames, want none", len(got))
				}
			},
			reason: "unknown_service",
		},
		{
			name: "unknown service in PADR",
			run: func(t *testing.T, b *discBed, st, _ *station) {
				pado := b.offer(t, st, VLANs{}, "", "h1")
				st.send(padr("nope", "h1", pado.Tags.ACCookie), b.acHW)
				synctest.Wait()
				f := st.recvOne()
				e, _ := f.pkt.Tags.FirstError()
				if f.pkt.Code != CodePADS || f.pkt.SessionID != 0 || e.Type != TagServiceNameError {
					t.Errorf("got %v session %d error %v, want a PADS refusal with Service-Name-Error", f.pkt.Code, f.pkt.SessionID, e)
				}
			},
			reason: "unknown_service",
		},
		{
			name: "forged cookie",
			run: func(t *testing.T, b *discBed, st, _ *station) {
				st.send(padr("internet", "h1", make([]byte, CookieLen)), b.acHW)
				synctest.Wait()
				if got := st.recv(); len(got) != 0 {
					t.Errorf("got %d frames, want none", len(got))
				}
			},
			reason: "cookie_invalid",
		},
		{
			name: "another host's cookie",
			run: func(t *testing.T, b *discBed, st, st2 *station) {
				pado := b.offer(t, st, VLANs{}, "internet", "h1")
				st2.send(padr("internet", "h1", pado.Tags.ACCookie), b.acHW)
				synctest.Wait()
				if got := st2.recv(); len(got) != 0 {
					t.Errorf("got %d frames, want none", len(got))
				}
			},
			reason: "cookie_invalid",
		},
		{
			name: "no cookie",
			run: func(t *testing.T, b *discBed, st, _ *station) {
				st.send(padr("internet", "h1", nil), b.acHW)
				synctest.Wait()
				if got := st.recv(); len(got) != 0 {
					t.Errorf("got %d frames, want none", len(got))
				}
			},
			reason: "cookie_missing",
		},
		{
			name:  "sessions per MAC",
			extra: "max_sessions_per_mac = 1\n",
			run: func(t *testing.T, b *discBed, st, _ *station) {
				pado := b.offer(t, st, VLANs{}, "internet", "h1")
				b.establishRaw(t, st, VLANs{}, "internet", "h0")
				// A PADI finds the limit full: no PADO (RFC 2516 §5.2).
				st.send(padi("internet", "h2"), bcast(VLANs{}))
				synctest.Wait()
				if got := st.recv(); len(got) != 0 {
					t.Errorf("PADI: got %d frames, want none", len(got))
				}
				// A PADR with a valid cookie is refused with AC-System-Error.
				st.send(padr("internet", "h1", pado.Tags.ACCookie), b.acHW)
				synctest.Wait()
				f := st.recvOne()
				if e, _ := f.pkt.Tags.FirstError(); f.pkt.Code != CodePADS || e.Type != TagACSystemError {
					t.Errorf("PADR: got %v %v, want a PADS with AC-System-Error", f.pkt.Code, e)
				}
			},
			reason: "limit_mac",
			count:  2, // the PADI and the PADR
		},
		{
			name:  "sessions in total",
			extra: "max_sessions = 1\n",
			run: func(t *testing.T, b *discBed, st, st2 *station) {
				b.establishRaw(t, st, VLANs{}, "internet", "h0")
				st2.send(padi("internet", "h2"), bcast(VLANs{}))
				synctest.Wait()
				if got := st2.recv(); len(got) != 0 {
					t.Errorf("PADI: got %d frames, want none", len(got))
				}
			},
			reason: "limit_total",
		},
		{
			name:  "sessions on the interface",
			extra: "[pppoe.interface.eth1]\nmax_sessions = 1\n",
			run: func(t *testing.T, b *discBed, st, st2 *station) {
				b.establishRaw(t, st, VLANs{}, "internet", "h0")
				st2.send(padi("internet", "h2"), bcast(VLANs{}))
				synctest.Wait()
				if got := st2.recv(); len(got) != 0 {
					t.Errorf("PADI: got %d frames, want none", len(got))
				}
			},
			reason: "limit_interface",
		},
		{
			name:  "PADI rate",
			extra: "padi_rate = 1\n",
			run: func(t *testing.T, b *discBed, st, _ *station) {
				st.send(padi("internet", "h1"), bcast(VLANs{}))
				st.send(padi("internet", "h1"), bcast(VLANs{}))
				synctest.Wait()
				if got := st.recv(); len(got) != 1 {
					t.Errorf("got %d frames, want one PADO", len(got))
				}
			},
			reason: "rate_limited",
		},
		{
			name: "PADT for no session",
			run: func(t *testing.T, b *discBed, st, st2 *station) {
				pads := b.establishRaw(t, st, VLANs{}, "internet", "h0")
				// Another host cannot end st's session.
				st2.send(Packet{Code: CodePADT, SessionID: pads.SessionID}, b.acHW)
				synctest.Wait()
				if n := len(b.acDP.State()); n == 0 {
					t.Error("AC lost its state")
				}
				list := must(b.ac.e.Sessions(context.Background()))
				if len(list) != 1 {
					t.Errorf("%d sessions after a foreign PADT, want 1", len(list))
				}
			},
			reason: "unknown_session",
		},
		{
			name: "malformed",
			run: func(t *testing.T, b *discBed, st, _ *station) {
				if err := st.port.WriteDiscovery([]byte{0x11, 0x09, 0, 0, 0, 9, 1}, bcast(VLANs{})); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
			},
			reason: "malformed",
		},
		{
			name: "PADO sent to the AC",
			run: func(t *testing.T, b *discBed, st, _ *station) {
				st.send(Packet{Code: CodePADO, Tags: Tags{ServiceNames: []string{""}, HasACName: true, ACName: "rogue"}}, b.acHW)
				synctest.Wait()
			},
			reason: "unexpected_code",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				doc := pppBase + "\n[pppoe]\nac_name = \"bras1\"\n" + tc.extra + `
[pppoe.interface.eth1]
[pppoe.service.internet]
`
				if tc.extra != "" && tc.extra[0] == '[' {
					doc = pppBase + "\n[pppoe]\nac_name = \"bras1\"\n" + tc.extra + "[pppoe.service.internet]\n"
				}
				b := newDiscBed(t, doc)
				st := newStation(t, b.stDP, "s0")
				st2 := newStation(t, b.stDP, "s1")
				synctest.Wait()
				tc.run(t, b, st, st2)
				want := max(tc.count, 1)
				if got := b.ac.metric("probox_pppoe_discovery_drops_total", "reason", tc.reason); got != want {
					t.Errorf("drops{reason=%s} = %v, want %v", tc.reason, got, want)
				}
				stats := must(b.ac.e.Stats(context.Background()))
				if float64(stats.Drops[tc.reason]) != want {
					t.Errorf("Stats().Drops = %v, want %s: %v", stats.Drops, tc.reason, want)
				}
			})
		})
	}
}

// TestDiscoveryCounters checks the packet counters of a successful exchange.
func TestDiscoveryCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newDiscBed(t, discDoc)
		st := newStation(t, b.stDP, "s0")
		pads := b.establishRaw(t, st, VLANs{}, "internet", "h0")
		if pads.SessionID == 0 || !pads.Tags.HasServiceName("internet") || pads.Tags.ACName != "bras1" || string(pads.Tags.HostUniq) != "h0" {
			t.Errorf("PADS %+v", pads)
		}
		for _, c := range []struct {
			code, dir string
			want      float64
		}{{"PADI", "rx", 1}, {"PADO", "tx", 1}, {"PADR", "rx", 1}, {"PADS", "tx", 1}, {"PADT", "tx", 0}} {
			if got := b.ac.metric("probox_pppoe_discovery_packets_total", "code", c.code, "dir", c.dir); got != c.want {
				t.Errorf("discovery_packets_total{%s,%s} = %v, want %v", c.code, c.dir, got, c.want)
			}
		}
		b.ac.stop()
		synctest.Wait()
		// The PADT of the shutdown.
		f := st.recvOne()
		if e, _ := f.pkt.Tags.FirstError(); f.pkt.Code != CodePADT || f.pkt.SessionID != pads.SessionID || e.Message != "AC shutting down" {
			t.Errorf("got %v session %d %v, want PADT with Generic-Error \"AC shutting down\"", f.pkt.Code, f.pkt.SessionID, e)
		}
	})
}

const vlanDoc = pppBase + `
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth1]
vlans = [100]
qinq = ["10.200-299"]
[pppoe.service.internet]
`

// TestVLANs runs sessions on a single-tagged and a double-tagged (QinQ) VLAN of an
// access interface, with the real PPP engine on the host side, and checks that frames
// of other VLANs (and of a served customer tag in another service tag) are not served.
func TestVLANs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newDiscBed(t, vlanDoc)
		single := newStation(t, b.stDP, "s0", 100)
		qinq := newStationFor(t, b.stDP, kernel.PPPoEConfig{Interface: "s1", QinQ: []kernel.QinQ{{Outer: 10, InnerFirst: 200, InnerLast: 200}}})
		other := newStationFor(t, b.stDP, kernel.PPPoEConfig{Interface: "s2", VLANs: []uint16{300, 200}, QinQ: []kernel.QinQ{{Outer: 11, InnerFirst: 200, InnerLast: 200}}})
		hostPPP, stopHost := startPPP(t, b.stDP, parseConfig(t, clientBase, ""), 9)

		for _, v := range []VLANs{{Outer: 300}, {Outer: 200}, {Outer: 11, Inner: 200}} {
			other.send(padi("internet", "h9"), bcast(v))
			synctest.Wait()
			if got := other.recv(); len(got) != 0 {
				t.Errorf("%v: got %d frames, want none", v, len(got))
			}
		}

		acMAC, _ := macOf(b.acDP.HardwareAddr("eth1"))
		var (
			handles []*ppp.Handle
			chans   []kernel.Channel
		)
		for _, h := range []struct {
			st *station
			v  VLANs
		}{{single, VLANs{Outer: 100}}, {qinq, VLANs{Outer: 10, Inner: 200}}} {
			pads := b.establishRaw(t, h.st, h.v, "internet", "h0")
			ch := must(h.st.port.OpenSession(pads.SessionID, frameTo(acMAC, h.v), 1492))
			chans = append(chans, ch)
			handles = append(handles, must(hostPPP.Start(ppp.StartRequest{Channel: ch, Role: ppp.RoleClient,
				Carrier: ppp.CarrierPPPoE, Profile: "alice", MaxMRU: 1492})))
		}
		settle()
		want := joinLines(
			"channel pppoe eth1/S vlan 10.200 peer 02:00:00:00:02:02 mtu 1492",
			"channel pppoe eth1/S vlan 100 peer 02:00:00:00:02:01 mtu 1492",
			"pppoe eth1 vlans 100,10.200-299",
			"unit ppp0 shared on pppoe eth1/S mtu 1492 ipv4 10.64.0.1 -> 10.64.0.2 ipv6 - routes -",
			"unit ppp0 shared on pppoe eth1/S mtu 1492 ipv4 10.64.0.1 -> 10.64.0.3 ipv6 - routes -",
		)
		checkState(t, "AC", b.acDP, want)
		list := must(b.ac.e.Sessions(context.Background()))
		var vl []string
		for _, s := range list {
			vl = append(vl, s.VLANs+" "+s.State)
		}
		if diff := cmp.Diff([]string{"10.200 up", "100 up"}, sortedCopy(vl)); diff != "" {
			t.Errorf("sessions' VLANs (-want +got):\n%s", diff)
		}

		// A reload that drops the QinQ range and adds VLAN 300 changes the port in
		// place: the session on VLAN 100 goes on, the one on 10.200 ends with a PADT.
		qinq.recv()
		doc2 := strings.Replace(strings.Replace(vlanDoc, "vlans = [100]", "vlans = [300, 100]", 1), "qinq = [\"10.200-299\"]\n", "", 1)
		if err := b.ac.e.Reload(parseConfig(t, doc2, ""), nil); err != nil {
			t.Fatalf("Reload: %v", err)
		}
		// The PADT went first, so the AC's PPP sends nothing more (RFC 2516 §5.5): no
		// LCP Terminate-Request waiting for an Ack the port no longer reads.
		settle()
		list = must(b.ac.e.Sessions(context.Background()))
		if len(list) != 1 || list[0].VLANs != "100" || list[0].State != "up" {
			t.Errorf("after the reload: sessions %+v, want the one on VLAN 100, up", list)
		}
		var padts int
		for _, f := range qinq.recv() {
			if f.err == nil && f.pkt.Code == CodePADT {
				padts++
			}
		}
		if padts != 1 {
			t.Errorf("the QinQ host got %d PADTs, want 1", padts)
		}
		chans[1].Close() // the host takes the PADT as carrier loss, as a client does
		if st := b.acDP.State(); !strings.Contains(st, "pppoe eth1 vlans 100,300\n") || strings.Contains(st, "vlan 10.200") {
			t.Errorf("AC state after the reload:\n%s", st)
		}
		b.ac.stop()
		synctest.Wait()
		for _, h := range handles {
			<-h.Done()
		}
		stopHost()
	})
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
