package ppp

import (
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testLCP returns an LCP negotiator whose first Magic-Number is 0x10000001 and whose
// later random draws are 0x10000002, 0x10000003, ...
func testLCP(cfg LCPConfig) *lcp {
	cfg.Rand = &countRand{}
	return newLCP(cfg)
}

var pppoeLCP = LCPConfig{MaxMRU: 1492}

var l2tpLCP = LCPConfig{AcceptACCM: true, AcceptPFC: true, AcceptACFC: true}

func TestLCPRequest(t *testing.T) {
	tests := []struct {
		name string
		cfg  LCPConfig
		want []byte
	}{
		{"default: magic only", LCPConfig{}, ohex("05 06 10 00 00 01")},
		{"PPPoE MRU and CHAP", LCPConfig{MaxMRU: 1492, Auth: []AuthMethod{AuthCHAPMD5}}, ohex("01 04 05 d4 03 05 c2 23 05 05 06 10 00 00 01")},
		{"RFC 4638 payload, MS-CHAPv2", LCPConfig{MaxMRU: 1500, Auth: []AuthMethod{AuthMSCHAPv2, AuthPAP}}, ohex("03 05 c2 23 81 05 06 10 00 00 01")},
		{"smaller MRU than the carrier, PAP", LCPConfig{MRU: 1400, MaxMRU: 1460, Auth: []AuthMethod{AuthPAP}}, ohex("01 04 05 78 03 04 c0 23 05 06 10 00 00 01")},
		{"nothing", LCPConfig{NoMagic: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := testLCP(tt.cfg).appendRequest(nil)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestLCPJudge covers every option on the ack, nak and reject paths, with golden bytes.
func TestLCPJudge(t *testing.T) {
	tests := []struct {
		name       string
		cfg        LCPConfig
		req        string
		rejectNaks bool
		wantCode   Code
		wantReply  string // "" with Ack means the request itself
		want       func(*LCPResult)
	}{
		// Maximum-Receive-Unit, RFC 1661 §6.1.
		{name: "MRU ack", req: "01 04 05 dc", wantCode: CodeConfigureAck, want: func(r *LCPResult) { r.PeerMRU = 1500 }},
		{name: "MRU smaller ack", req: "01 04 05 78", wantCode: CodeConfigureAck, want: func(r *LCPResult) { r.PeerMRU = 1400 }},
		{name: "MRU above PPPoE limit nak", cfg: pppoeLCP, req: "01 04 05 dc", wantCode: CodeConfigureNak, wantReply: "01 04 05 d4"},
		{name: "MRU at PPPoE limit ack", cfg: pppoeLCP, req: "01 04 05 d4", wantCode: CodeConfigureAck, want: func(r *LCPResult) { r.PeerMRU = 1492 }},
		{name: "MRU too small nak", req: "01 04 00 40", wantCode: CodeConfigureNak, wantReply: "01 04 00 80"},
		{name: "MRU bad length reject", req: "01 03 05", wantCode: CodeConfigureReject, wantReply: "01 03 05"},
		{name: "MRU nak turned reject at Max-Failure", cfg: pppoeLCP, req: "01 04 05 dc", rejectNaks: true, wantCode: CodeConfigureReject, wantReply: "01 04 05 dc"},
		// Async-Control-Character-Map, RFC 1662 §7.1.
		{name: "ACCM ack on L2TP", cfg: l2tpLCP, req: "02 06 00 0a 00 00", wantCode: CodeConfigureAck, want: func(r *LCPResult) { r.PeerACCM = 0x000a0000 }},
		{name: "ACCM reject on PPPoE", cfg: pppoeLCP, req: "02 06 00 00 00 00", wantCode: CodeConfigureReject, wantReply: "02 06 00 00 00 00"},
		{name: "ACCM bad length reject", cfg: l2tpLCP, req: "02 04 00 00", wantCode: CodeConfigureReject, wantReply: "02 04 00 00"},
		// Authentication-Protocol, RFC 1661 §6.2 (peer role).
		{name: "auth PAP ack", cfg: LCPConfig{AllowAuth: []AuthMethod{AuthPAP}}, req: "03 04 c0 23", wantCode: CodeConfigureAck, want: func(r *LCPResult) { r.LocalAuth = AuthPAP }},
		{name: "auth CHAP-MD5 ack", cfg: LCPConfig{AllowAuth: []AuthMethod{AuthPAP, AuthCHAPMD5}}, req: "03 05 c2 23 05", wantCode: CodeConfigureAck, want: func(r *LCPResult) { r.LocalAuth = AuthCHAPMD5 }},
		{name: "auth MS-CHAPv2 ack", cfg: LCPConfig{AllowAuth: []AuthMethod{AuthMSCHAPv2}}, req: "03 05 c2 23 81", wantCode: CodeConfigureAck, want: func(r *LCPResult) { r.LocalAuth = AuthMSCHAPv2 }},
		{name: "auth CHAP not allowed nak PAP", cfg: LCPConfig{AllowAuth: []AuthMethod{AuthPAP}}, req: "03 05 c2 23 05", wantCode: CodeConfigureNak, wantReply: "03 04 c0 23"},
		{name: "auth EAP nak CHAP-MD5", cfg: LCPConfig{AllowAuth: []AuthMethod{AuthCHAPMD5}}, req: "03 04 c2 27", wantCode: CodeConfigureNak, wantReply: "03 05 c2 23 05"},
		{name: "auth MS-CHAPv1 nak MS-CHAPv2", cfg: LCPConfig{AllowAuth: []AuthMethod{AuthMSCHAPv2}}, req: "03 05 c2 23 80", wantCode: CodeConfigureNak, wantReply: "03 05 c2 23 81"},
		{name: "auth malformed nak", cfg: LCPConfig{AllowAuth: []AuthMethod{AuthPAP}}, req: "03 02", wantCode: CodeConfigureNak, wantReply: "03 04 c0 23"},
		{name: "auth when not allowing any reject", req: "03 04 c0 23", wantCode: CodeConfigureReject, wantReply: "03 04 c0 23"},
		// Quality-Protocol, RFC 1661 §6.3.
		{name: "quality protocol reject", req: "04 08 c0 25 00 00 00 0a", wantCode: CodeConfigureReject, wantReply: "04 08 c0 25 00 00 00 0a"},
		// Magic-Number, RFC 1661 §6.4.
		{name: "magic ack", req: "05 06 aa bb cc dd", wantCode: CodeConfigureAck, want: func(r *LCPResult) { r.PeerMagic = 0xaabbccdd }},
		{name: "magic zero nak", req: "05 06 00 00 00 00", wantCode: CodeConfigureNak, wantReply: "05 06 10 00 00 02"},
		{name: "magic equal to ours nak", req: "05 06 10 00 00 01", wantCode: CodeConfigureNak, wantReply: "05 06 10 00 00 02"},
		{name: "magic bad length reject", req: "05 04 00 01", wantCode: CodeConfigureReject, wantReply: "05 04 00 01"},
		{name: "magic disabled reject", cfg: LCPConfig{NoMagic: true}, req: "05 06 aa bb cc dd", wantCode: CodeConfigureReject, wantReply: "05 06 aa bb cc dd"},
		// Protocol-Field-Compression and Address-and-Control-Field-Compression, §6.5–6.6.
		{name: "PFC ack", cfg: l2tpLCP, req: "07 02", wantCode: CodeConfigureAck, want: func(r *LCPResult) { r.PeerPFC = true }},
		{name: "PFC reject", req: "07 02", wantCode: CodeConfigureReject, wantReply: "07 02"},
		{name: "PFC bad length reject", cfg: l2tpLCP, req: "07 03 00", wantCode: CodeConfigureReject, wantReply: "07 03 00"},
		{name: "ACFC ack on L2TP", cfg: l2tpLCP, req: "08 02", wantCode: CodeConfigureAck, want: func(r *LCPResult) { r.PeerACFC = true }},
		{name: "ACFC reject on PPPoE", cfg: pppoeLCP, req: "08 02", wantCode: CodeConfigureReject, wantReply: "08 02"},
		// Options never accepted.
		{name: "FCS-Alternatives reject", req: "09 03 02", wantCode: CodeConfigureReject, wantReply: "09 03 02"},
		{name: "callback reject", req: "0d 03 06", wantCode: CodeConfigureReject, wantReply: "0d 03 06"},
		{name: "MRRU reject", req: "11 04 05 dc", wantCode: CodeConfigureReject, wantReply: "11 04 05 dc"},
		{name: "short sequence reject", req: "12 02", wantCode: CodeConfigureReject, wantReply: "12 02"},
		{name: "memEnd discriminator reject", req: "13 03 00", wantCode: CodeConfigureReject, wantReply: "13 03 00"},
		{name: "unknown option reject", req: "7f 02", wantCode: CodeConfigureReject, wantReply: "7f 02"},
		// Combinations.
		{name: "empty request ack", req: "", wantCode: CodeConfigureAck},
		{name: "typical Windows request", cfg: l2tpLCP, req: "01 04 05 78 05 06 01 02 03 04 07 02 08 02 0d 03 06", wantCode: CodeConfigureReject, wantReply: "0d 03 06"},
		{name: "reject wins over nak", cfg: pppoeLCP, req: "01 04 05 dc 05 06 00 00 00 00 0d 03 06", wantCode: CodeConfigureReject, wantReply: "0d 03 06"},
		{name: "naks in request order", cfg: pppoeLCP, req: "01 04 05 dc 05 06 00 00 00 00", wantCode: CodeConfigureNak, wantReply: "01 04 05 d4 05 06 10 00 00 02"},
		{name: "repeated option reject", req: "01 04 05 dc 01 04 05 78", wantCode: CodeConfigureReject, wantReply: "01 04 05 78"},
		{
			name: "full L2TP request ack", cfg: LCPConfig{AcceptACCM: true, AcceptPFC: true, AcceptACFC: true, AllowAuth: []AuthMethod{AuthCHAPMD5}},
			req:      "01 04 05 78 02 06 00 00 00 00 03 05 c2 23 05 05 06 aa bb cc dd 07 02 08 02",
			wantCode: CodeConfigureAck,
			want: func(r *LCPResult) {
				r.PeerMRU, r.PeerACCM, r.LocalAuth, r.PeerMagic, r.PeerPFC, r.PeerACFC = 1400, 0, AuthCHAPMD5, 0xaabbccdd, true, true
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testLCP(tt.cfg)
			req := ohex(tt.req)
			code, reply, err := l.judgeRequest(nil, req, tt.rejectNaks)
			if err != nil {
				t.Fatalf("judgeRequest: %v", err)
			}
			wantReply := ohex(tt.wantReply)
			if tt.wantCode == CodeConfigureAck {
				wantReply = req
			}
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d", code, tt.wantCode)
			}
			if diff := cmp.Diff(wantReply, reply, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
			want := defaultLCPResult(l.cfg.MaxMRU)
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(want, l.result()); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLCPJudgeErrors(t *testing.T) {
	t.Run("malformed options", func(t *testing.T) {
		_, _, err := testLCP(LCPConfig{}).judgeRequest(nil, ohex("01"), false)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("loopback after MaxLoopback", func(t *testing.T) {
		l := testLCP(LCPConfig{MaxLoopback: 3})
		var codes []Code
		var err error
		for range 4 {
			var c Code
			c, _, err = l.judgeRequest(nil, l.appendRequest(nil), false)
			codes = append(codes, c)
		}
		if diff := cmp.Diff([]Code{CodeConfigureNak, CodeConfigureNak, CodeConfigureNak, 0}, codes); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if !errors.Is(err, ErrLoopback) {
			t.Errorf("err = %v, want ErrLoopback", err)
		}
	})
	t.Run("different magic resets the loopback count", func(t *testing.T) {
		l := testLCP(LCPConfig{MaxLoopback: 1})
		own := l.appendRequest(nil)
		for _, req := range [][]byte{own, ohex("05 06 aa bb cc dd"), own} {
			if _, _, err := l.judgeRequest(nil, req, false); err != nil {
				t.Fatalf("err = %v", err)
			}
		}
	})
}

// TestLCPReplies checks how Naks and Rejects change our next request.
func TestLCPReplies(t *testing.T) {
	authAll := LCPConfig{Auth: []AuthMethod{AuthMSCHAPv2, AuthCHAPMD5, AuthPAP}, NoMagic: true}
	type reply struct {
		code          Code
		opts          string
		treatAsReject bool
	}
	tests := []struct {
		name    string
		cfg     LCPConfig
		replies []reply
		want    string // next request
		wantErr error
		wantRes func(*LCPResult) // after an Ack of the next request
	}{
		{
			name: "auth nak adopts listed suggestion", cfg: authAll,
			replies: []reply{{CodeConfigureNak, "03 04 c0 23", false}},
			want:    "03 04 c0 23", wantRes: func(r *LCPResult) { r.PeerAuth = AuthPAP },
		},
		{
			name: "auth nak with unknown method moves to next", cfg: authAll,
			replies: []reply{{CodeConfigureNak, "03 04 c2 27", false}},
			want:    "03 05 c2 23 05", wantRes: func(r *LCPResult) { r.PeerAuth = AuthCHAPMD5 },
		},
		{
			name: "auth nak with a tried method moves to next", cfg: authAll,
			replies: []reply{{CodeConfigureNak, "03 05 c2 23 05", false}, {CodeConfigureNak, "03 05 c2 23 81", false}},
			want:    "03 04 c0 23",
		},
		{
			name: "auth naks exhaust the list", cfg: authAll,
			replies: []reply{{CodeConfigureNak, "03 04 c2 27", false}, {CodeConfigureNak, "03 04 c2 27", false}, {CodeConfigureNak, "03 04 c2 27", false}},
			wantErr: ErrNotConverging,
		},
		{
			name: "auth nak treated as reject", cfg: authAll,
			replies: []reply{{CodeConfigureNak, "03 04 c0 23", true}},
			wantErr: ErrNotConverging,
		},
		{
			name: "auth reject fails", cfg: authAll,
			replies: []reply{{CodeConfigureReject, "03 05 c2 23 81", false}},
			wantErr: ErrNotConverging,
		},
		{
			name: "auth nak when not authenticating is ignored", cfg: LCPConfig{NoMagic: true},
			replies: []reply{{CodeConfigureNak, "03 04 c0 23", false}},
			want:    "",
		},
		{
			name: "MRU nak adopts an acceptable value", cfg: pppoeLCP,
			replies: []reply{{CodeConfigureNak, "01 04 05 78", false}},
			want:    "01 04 05 78 05 06 10 00 00 01", wantRes: func(r *LCPResult) { r.LocalMRU, r.LocalMagic = 1400, 0x10000001 },
		},
		{
			name: "MRU nak above the carrier limit keeps ours", cfg: pppoeLCP,
			replies: []reply{{CodeConfigureNak, "01 04 23 28", false}},
			want:    "01 04 05 d4 05 06 10 00 00 01",
		},
		{
			name: "MRU hint makes us request one", cfg: LCPConfig{},
			replies: []reply{{CodeConfigureNak, "01 04 05 d4", false}},
			want:    "01 04 05 d4 05 06 10 00 00 01",
		},
		{
			name: "MRU nak treated as reject", cfg: pppoeLCP,
			replies: []reply{{CodeConfigureNak, "01 04 05 78", true}},
			want:    "05 06 10 00 00 01",
		},
		{
			name: "MRU reject", cfg: pppoeLCP,
			replies: []reply{{CodeConfigureReject, "01 04 05 d4", false}},
			want:    "05 06 10 00 00 01", wantRes: func(r *LCPResult) { r.LocalMagic = 0x10000001 },
		},
		{
			name: "magic nak draws a new one", cfg: LCPConfig{},
			replies: []reply{{CodeConfigureNak, "05 06 77 77 77 77", false}},
			want:    "05 06 10 00 00 02", wantRes: func(r *LCPResult) { r.LocalMagic = 0x10000002 },
		},
		{
			name: "magic reject", cfg: LCPConfig{},
			replies: []reply{{CodeConfigureReject, "05 06 10 00 00 01", false}},
			want:    "",
		},
		{
			name: "magic nak treated as reject", cfg: LCPConfig{},
			replies: []reply{{CodeConfigureNak, "05 06 77 77 77 77", true}},
			want:    "",
		},
		{
			name: "hints for options we never request are ignored", cfg: LCPConfig{},
			replies: []reply{{CodeConfigureNak, "02 06 00 00 00 00 07 02 08 02", false}},
			want:    "05 06 10 00 00 01",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testLCP(tt.cfg)
			var err error
			for _, r := range tt.replies {
				if r.code == CodeConfigureNak {
					err = l.gotNak(ohex(r.opts), r.treatAsReject)
				} else {
					err = l.gotReject(ohex(r.opts))
				}
				if err != nil {
					break
				}
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			got := l.appendRequest(nil)
			if diff := cmp.Diff(ohex(tt.want), got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("next request (-want +got):\n%s", diff)
			}
			if tt.wantRes != nil {
				l.gotAck(got)
				want := defaultLCPResult(l.cfg.MaxMRU)
				tt.wantRes(&want)
				if diff := cmp.Diff(want, l.result()); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestLCPConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     LCPConfig
		wantErr bool
	}{
		{"zero", LCPConfig{}, false},
		{"PPPoE", LCPConfig{MaxMRU: 1492, Auth: []AuthMethod{AuthMSCHAPv2, AuthCHAPMD5, AuthPAP}}, false},
		{"MRU above MaxMRU", LCPConfig{MRU: 1500, MaxMRU: 1492}, true},
		{"MRU above default", LCPConfig{MRU: 1600}, true},
		{"MRU too small", LCPConfig{MRU: 64}, true},
		{"MaxMRU too small", LCPConfig{MaxMRU: 100}, true},
		{"jumbo", LCPConfig{MRU: 9000, MaxMRU: 9000}, false},
		{"negative loopback", LCPConfig{MaxLoopback: -1}, true},
		{"auth none", LCPConfig{Auth: []AuthMethod{AuthNone}}, true},
		{"auth twice", LCPConfig{Auth: []AuthMethod{AuthPAP, AuthPAP}}, true},
		{"allow proxy", LCPConfig{AllowAuth: []AuthMethod{AuthProxy}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// lcpPair opens LCP between a server and a client over the in-memory link.
func lcpPair(t *testing.T, server, client LCPConfig) (*fsm, *fsm, *lcp, *lcp, *memEnd, *memEnd) {
	t.Helper()
	l, a, b := memPair(t)
	server.Rand, client.Rand = &countRand{n: 0x100}, &countRand{n: 0x200}
	ls, lc := newLCP(server), newLCP(client)
	fs, fc := a.add(FSMConfig{}, ls), b.add(FSMConfig{}, lc)
	fs.Open()
	fc.Open()
	fs.Up()
	fc.Up()
	l.run(a, b)
	return fs, fc, ls, lc, a, b
}

func TestLCPBackToBack(t *testing.T) {
	tests := []struct {
		name           string
		server, client LCPConfig
		wantS, wantC   State
		wantErrS       error
		wantResS       LCPResult
		wantAuth       AuthMethod
	}{
		{
			name:   "PPPoE, peer prefers PAP",
			server: LCPConfig{MaxMRU: 1492, Auth: []AuthMethod{AuthMSCHAPv2, AuthCHAPMD5, AuthPAP}},
			client: LCPConfig{AllowAuth: []AuthMethod{AuthPAP, AuthCHAPMD5}},
			wantS:  StateOpened, wantC: StateOpened,
			wantResS: LCPResult{
				LocalMRU: 1492, PeerMRU: 1492, LocalACCM: defaultACCM, PeerACCM: defaultACCM,
				PeerAuth: AuthPAP, LocalMagic: 0x10000102, PeerMagic: 0x10000202,
			},
			wantAuth: AuthPAP,
		},
		{
			name:   "L2TP, MS-CHAPv2 agreed at once",
			server: LCPConfig{AcceptACCM: true, AcceptPFC: true, AcceptACFC: true, Auth: []AuthMethod{AuthMSCHAPv2}},
			client: LCPConfig{AllowAuth: []AuthMethod{AuthPAP, AuthMSCHAPv2}},
			wantS:  StateOpened, wantC: StateOpened,
			wantResS: LCPResult{
				LocalMRU: 1500, PeerMRU: 1500, LocalACCM: defaultACCM, PeerACCM: defaultACCM,
				PeerAuth: AuthMSCHAPv2, LocalMagic: 0x10000102, PeerMagic: 0x10000202,
			},
			wantAuth: AuthMSCHAPv2,
		},
		{
			name:   "no common authentication method",
			server: LCPConfig{Auth: []AuthMethod{AuthMSCHAPv2}},
			client: LCPConfig{AllowAuth: []AuthMethod{AuthPAP}},
			wantS:  StateClosed, wantC: StateStopped,
			wantErrS: ErrNotConverging,
		},
		{
			name:   "peer refuses to authenticate",
			server: LCPConfig{Auth: []AuthMethod{AuthCHAPMD5}},
			client: LCPConfig{},
			wantS:  StateClosed, wantC: StateStopped,
			wantErrS: ErrNotConverging,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, fc, ls, lc, _, _ := lcpPair(t, tt.server, tt.client)
			if fs.State() != tt.wantS || fc.State() != tt.wantC {
				t.Fatalf("states %v/%v, want %v/%v", fs.State(), fc.State(), tt.wantS, tt.wantC)
			}
			if !errors.Is(fs.Err(), tt.wantErrS) || (tt.wantErrS == nil && fs.Err() != nil) {
				t.Errorf("server Err() = %v, want %v", fs.Err(), tt.wantErrS)
			}
			if tt.wantS != StateOpened {
				return
			}
			if diff := cmp.Diff(tt.wantResS, ls.result()); diff != "" {
				t.Errorf("server result (-want +got):\n%s", diff)
			}
			rs, rc := ls.result(), lc.result()
			if rc.LocalAuth != tt.wantAuth || rs.PeerAuth != tt.wantAuth {
				t.Errorf("auth server %v client %v, want %v", rs.PeerAuth, rc.LocalAuth, tt.wantAuth)
			}
			if rs.LocalMagic != rc.PeerMagic || rs.PeerMagic != rc.LocalMagic || rs.LocalMRU != rc.PeerMRU {
				t.Errorf("results disagree: server %+v client %+v", rs, rc)
			}
		})
	}
}

// TestLCPLoopback connects an automaton to itself: RFC 1661 §6.4 detection ends it.
func TestLCPLoopback(t *testing.T) {
	l := &memLink{t: t}
	e := newMemEnd("loop", l)
	e.peer = e
	f := e.add(FSMConfig{}, newLCP(LCPConfig{Rand: &countRand{}}))
	f.Open()
	f.Up()
	l.run(e)
	if !errors.Is(f.Err(), ErrLoopback) {
		t.Errorf("Err() = %v, want ErrLoopback", f.Err())
	}
	if f.State() != StateClosed {
		t.Errorf("state %v, want Closed", f.State())
	}
	if diff := cmp.Diff([]string{"LCP started", "LCP finished"}, e.log); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestProxyLCP(t *testing.T) {
	lns := LCPConfig{MaxMRU: 1460, AcceptACCM: true, AcceptPFC: true, AcceptACFC: true, Auth: []AuthMethod{AuthCHAPMD5, AuthPAP}}
	lastSent := "01 04 05 b4 03 05 c2 23 05 05 06 11 22 33 44"
	lastRecv := "01 04 05 b4 02 06 00 00 00 00 05 06 55 66 77 88 07 02 08 02"
	tests := []struct {
		name                    string
		cfg                     LCPConfig
		initial, sent, received string
		want                    LCPResult
		wantErr                 error
	}{
		{
			name: "accepted", cfg: lns, initial: lastRecv, sent: lastSent, received: lastRecv,
			want: LCPResult{
				LocalMRU: 1460, PeerMRU: 1460, LocalACCM: defaultACCM, PeerACCM: 0,
				PeerAuth: AuthCHAPMD5, LocalMagic: 0x11223344, PeerMagic: 0x55667788,
				PeerPFC: true, PeerACFC: true,
			},
		},
		{
			name: "LAC compressed and mapped towards itself", cfg: lns,
			sent: "01 04 05 b4 02 06 00 00 00 00 03 04 c0 23 07 02 08 02", received: "",
			want: LCPResult{
				LocalMRU: 1460, PeerMRU: 1460, LocalACCM: 0, PeerACCM: defaultACCM,
				PeerAuth: AuthPAP, LocalPFC: true, LocalACFC: true,
			},
		},
		{name: "no authentication by the LAC", cfg: lns, sent: "05 06 11 22 33 44", received: "", wantErr: ErrRenegotiate},
		{name: "authentication not configured here", cfg: lns, sent: "03 05 c2 23 81", received: "", wantErr: ErrRenegotiate},
		{name: "no authentication wanted", cfg: LCPConfig{}, sent: "03 05 c2 23 81", received: "", want: LCPResult{LocalMRU: 1500, PeerMRU: 1500, LocalACCM: defaultACCM, PeerACCM: defaultACCM, PeerAuth: AuthMSCHAPv2}},
		{name: "our MRU above the limit", cfg: lns, sent: "01 04 05 dc 03 04 c0 23", received: "", wantErr: ErrRenegotiate},
		{name: "our MRU left at the default above the limit", cfg: lns, sent: "03 04 c0 23", received: "", wantErr: ErrRenegotiate},
		{name: "peer MRU above the limit", cfg: lns, sent: lastSent, received: "01 04 05 dc", wantErr: ErrRenegotiate},
		{name: "zero magic", cfg: lns, sent: "03 04 c0 23 05 06 00 00 00 00", received: "", wantErr: ErrRenegotiate},
		{name: "same magic both ways", cfg: lns, sent: lastSent, received: "05 06 11 22 33 44", wantErr: ErrRenegotiate},
		{name: "PPPoE-style config refuses ACCM", cfg: LCPConfig{Auth: []AuthMethod{AuthPAP}}, sent: "03 04 c0 23", received: "02 06 00 00 00 00", wantErr: ErrRenegotiate},
		{name: "LAC requested callback", cfg: lns, sent: lastSent + " 0d 03 06", received: "", wantErr: ErrRenegotiate},
		{name: "malformed initial", cfg: lns, initial: "01 04 05", sent: lastSent, received: lastRecv, wantErr: io.ErrUnexpectedEOF},
		{name: "malformed last sent", cfg: lns, sent: "01", received: lastRecv, wantErr: ErrRenegotiate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.ProxyLCP(ohex(tt.initial), ohex(tt.sent), ohex(tt.received))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrRenegotiate) {
					t.Errorf("err = %v does not wrap ErrRenegotiate", err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := (LCPConfig{MRU: 10}).ProxyLCP(nil, nil, nil); err == nil || errors.Is(err, ErrRenegotiate) {
		t.Errorf("invalid config: err = %v", err)
	}
}

// TestProxyLCPOpen starts the LCP automaton in Opened from a proxy result.
func TestProxyLCPOpen(t *testing.T) {
	cfg := LCPConfig{Auth: []AuthMethod{AuthPAP}}
	res, err := cfg.ProxyLCP(nil, ohex("03 04 c0 23 05 06 11 22 33 44"), ohex("05 06 55 66 77 88"))
	if err != nil {
		t.Fatal(err)
	}
	o := &recOwner{}
	l := newLCP(cfg)
	f := newFSM(FSMConfig{}, l, o)
	l.applyProxy(res)
	f.openByProxy()
	f.openByProxy() // a second call does nothing
	if f.State() != StateOpened || len(o.calls) != 1 || o.calls[0] != "tlu" {
		t.Fatalf("state %v calls %q", f.State(), o.calls)
	}
	f.Input(CodeEchoRequest, 5, ohex("55 66 77 88 01"))
	want := sentPacket{CodeEchoReply, 5, ohex("11 22 33 44 01")}
	if diff := cmp.Diff(want, o.last(), cmp.AllowUnexported(sentPacket{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(res, l.result()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLCPPacketData(t *testing.T) {
	t.Run("magic data", func(t *testing.T) {
		b := AppendMagicData(nil, 0x11223344, []byte("hi"))
		if diff := cmp.Diff(ohex("11 22 33 44 68 69"), b); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		m, d, err := ParseMagicData(b)
		if err != nil || m != 0x11223344 || string(d) != "hi" {
			t.Errorf("ParseMagicData = %#x %q %v", m, d, err)
		}
		if _, _, err := ParseMagicData(ohex("11 22 33")); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("short: %v", err)
		}
	})
	t.Run("time remaining", func(t *testing.T) {
		b := AppendTimeRemaining(nil, 0x11223344, 3600, []byte("x"))
		if diff := cmp.Diff(ohex("11 22 33 44 00 00 0e 10 78"), b); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		m, s, msg, err := ParseTimeRemaining(b)
		if err != nil || m != 0x11223344 || s != 3600 || string(msg) != "x" {
			t.Errorf("ParseTimeRemaining = %#x %d %q %v", m, s, msg, err)
		}
		if _, _, _, err := ParseTimeRemaining(ohex("11 22 33 44 00 00 0e")); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("short: %v", err)
		}
	})
	t.Run("protocol reject", func(t *testing.T) {
		info := make([]byte, 200)
		b := AppendProtocolReject(nil, 0x8057, info, 128)
		if len(b) != 128-4 || b[0] != 0x80 || b[1] != 0x57 {
			t.Errorf("len %d head %x", len(b), b[:2])
		}
		p, rest, err := ParseProtocolReject(b)
		if err != nil || p != ProtoIPv6CP || len(rest) != 122 {
			t.Errorf("ParseProtocolReject = %v %d %v", p, len(rest), err)
		}
		if diff := cmp.Diff(ohex("80 21 01 02"), AppendProtocolReject(nil, ProtoIPCP, ohex("01 02"), 1500)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if _, _, err := ParseProtocolReject(ohex("80")); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("short: %v", err)
		}
	})
	t.Run("code reject", func(t *testing.T) {
		c, id, err := ParseCodeReject(ohex("0e 07 00 10"))
		if err != nil || c != 14 || id != 7 {
			t.Errorf("ParseCodeReject = %d %d %v", c, id, err)
		}
		if _, _, err := ParseCodeReject(ohex("0e")); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("short: %v", err)
		}
	})
}

func TestEntropy(t *testing.T) {
	t.Run("failing reader falls back", func(t *testing.T) {
		e := entropy{r: brokenRand{}}
		a, b := e.nonzero32(), e.nonzero32()
		if a == 0 || b == 0 || a == b {
			t.Errorf("fallback values %#x %#x", a, b)
		}
	})
	t.Run("constant reader still avoids", func(t *testing.T) {
		e := entropy{r: zeroRand{}}
		if v := e.nonzero32(1, 2); v != 3 {
			t.Errorf("nonzero32 = %d, want 3", v)
		}
		if v := e.nonzero64(^uint64(0), 1); v != 2 {
			t.Errorf("nonzero64 = %d, want 2", v)
		}
	})
}

type brokenRand struct{}

func (brokenRand) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

type zeroRand struct{}

func (zeroRand) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestSendProtocolReject(t *testing.T) {
	f, _, o := openedLCP(t, LCPConfig{})
	f.setPeerMRU(200)
	if !f.sendProtocolReject(0x8281, make([]byte, 500)) {
		t.Fatal("not sent in Opened")
	}
	got := o.last()
	if got.code != CodeProtocolReject || len(got.data) != 200-4 || got.data[0] != 0x82 || got.data[1] != 0x81 {
		t.Errorf("sent code %d, %d octets, head %x", got.code, len(got.data), got.data[:2])
	}
	f.Close("x")
	if f.sendProtocolReject(0x8281, nil) {
		t.Error("sent outside Opened")
	}
	ipcp := newFSM(FSMConfig{}, newIPCP(IPCPConfig{}), o)
	if ipcp.sendProtocolReject(0x8281, nil) {
		t.Error("sent by an NCP")
	}
}
