package hooks

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/control/event"
)

var testTime = time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)

func TestEnviron(t *testing.T) {
	tests := []struct {
		name string
		ev   event.Event
		want []string
	}{
		{
			name: "tunnel up, every tunnel field",
			ev: event.Event{
				Seq: 7, Time: testTime, Type: event.TunnelUp, Engine: "l2tp",
				Tunnel: &event.Tunnel{
					ID: 10, PeerID: 77, Name: "lac1", Profile: "default", Version: 2, Encap: "udp",
					Local: "192.0.2.1:1701", Peer: "192.0.2.2:1701", PeerHost: "lac.example", Created: true,
				},
				Message: "hello",
			},
			want: []string{
				"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				"PROBOX_EVENT=tunnel-up",
				"PROBOX_ENGINE=l2tp",
				"PROBOX_SEQ=7",
				"PROBOX_TIME=2026-11-25T12:00:30Z",
				"PROBOX_MESSAGE=hello",
				"PROBOX_TUNNEL_ID=10",
				"PROBOX_PEER_TUNNEL_ID=77",
				"PROBOX_TUNNEL_NAME=lac1",
				"PROBOX_TUNNEL_PROFILE=default",
				"PROBOX_L2TP_VERSION=2",
				"PROBOX_ENCAP=udp",
				"PROBOX_LOCAL_ADDR=192.0.2.1:1701",
				"PROBOX_PEER_ADDR=192.0.2.2:1701",
				"PROBOX_PEER_HOSTNAME=lac.example",
				"PROBOX_NETWORK_INITIATED=1",
			},
		},
		{
			name: "session down with PPP, counters and result",
			ev: event.Event{
				Seq: 9, Time: testTime, Type: event.SessionDown, Engine: "l2tp",
				Session: &event.Session{
					ID: 5, PeerID: 6, TunnelID: 10, PeerTunnelID: 77, Name: "s1", Profile: "sp", PWType: "ppp",
					Interface: "ppp3", User: "ignored@isp", CallingMAC: "02:00:00:00:00:01", Service: "internet",
					CircuitID: "eth 1/1/1:100", RemoteID: "cpe-42",
				},
				PPP: &event.PPP{
					Instance: "session-12", Phase: "terminate", Role: "server", Carrier: "l2tp", User: "alice@isp",
					Auth: "chap-md5", Interface: "ppp3", LocalIP: "10.0.0.1", PeerIP: "10.0.0.2",
					LocalIPv6: "fe80::1", PeerIPv6: "fe80::2", DNS: []string{"192.0.2.53", "192.0.2.54"},
					Started: testTime.Add(-90*time.Second - 400*time.Millisecond),
					Stats:   &event.Counters{RxPackets: 1, RxBytes: 2, TxPackets: 3, TxBytes: 4},
				},
				Result: &event.Result{Code: 3, Error: 6, Message: "admin", Reason: "prol2tp delete"},
			},
			want: []string{
				"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				"PROBOX_EVENT=session-down",
				"PROBOX_ENGINE=l2tp",
				"PROBOX_SEQ=9",
				"PROBOX_TIME=2026-11-25T12:00:30Z",
				"PROBOX_TUNNEL_ID=10",
				"PROBOX_PEER_TUNNEL_ID=77",
				"PROBOX_SESSION_ID=5",
				"PROBOX_PEER_SESSION_ID=6",
				"PROBOX_SESSION_NAME=s1",
				"PROBOX_SESSION_PROFILE=sp",
				"PROBOX_PW_TYPE=ppp",
				"PROBOX_INTERFACE=ppp3",
				"PROBOX_USER=alice@isp",
				"PROBOX_CALLING_MAC=02:00:00:00:00:01",
				"PROBOX_SERVICE=internet",
				"PROBOX_CIRCUIT_ID=eth 1/1/1:100",
				"PROBOX_REMOTE_ID=cpe-42",
				"PROBOX_PPP_INSTANCE=session-12",
				"PROBOX_PPP_PHASE=terminate",
				"PROBOX_PPP_ROLE=server",
				"PROBOX_PPP_CARRIER=l2tp",
				"PROBOX_AUTH=chap-md5",
				"PROBOX_LOCAL_IP=10.0.0.1",
				"PROBOX_PEER_IP=10.0.0.2",
				"PROBOX_LOCAL_IPV6=fe80::1",
				"PROBOX_PEER_IPV6=fe80::2",
				"PROBOX_DNS=192.0.2.53 192.0.2.54",
				"PROBOX_SESSION_START=2026-11-25T11:58:59Z",
				"PROBOX_SESSION_DURATION=90",
				"PROBOX_RX_PACKETS=1",
				"PROBOX_RX_BYTES=2",
				"PROBOX_TX_PACKETS=3",
				"PROBOX_TX_BYTES=4",
				"PROBOX_RESULT_CODE=3",
				"PROBOX_ERROR_CODE=6",
				"PROBOX_RESULT_MESSAGE=admin",
				"PROBOX_REASON=prol2tp delete",
			},
		},
		{
			name: "pppoe session: own interface kept apart from the PPP unit, zero counters kept",
			ev: event.Event{
				Seq: 1, Time: testTime, Type: event.SessionDeleted, Engine: "pppoe",
				Session: &event.Session{ID: 0x1234, Interface: "eth1", User: "bob", CallingMAC: "02:00:00:00:00:02"},
				PPP:     &event.PPP{Interface: "ppp7", Stats: &event.Counters{}},
				Result:  &event.Result{Reason: "PADT"},
			},
			want: []string{
				"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				"PROBOX_EVENT=session-deleted",
				"PROBOX_ENGINE=pppoe",
				"PROBOX_SEQ=1",
				"PROBOX_TIME=2026-11-25T12:00:30Z",
				"PROBOX_SESSION_ID=4660",
				"PROBOX_INTERFACE=ppp7",
				"PROBOX_SESSION_INTERFACE=eth1",
				"PROBOX_USER=bob",
				"PROBOX_CALLING_MAC=02:00:00:00:00:02",
				"PROBOX_RX_PACKETS=0",
				"PROBOX_RX_BYTES=0",
				"PROBOX_TX_PACKETS=0",
				"PROBOX_TX_BYTES=0",
				"PROBOX_REASON=PADT",
			},
		},
		{
			name: "session in a tunnel given by the Tunnel part; start after the event clamps to 0",
			ev: event.Event{
				Seq: 2, Time: testTime, Type: event.SessionUp, Engine: "l2tp",
				Tunnel:  &event.Tunnel{ID: 3, PeerID: 4},
				Session: &event.Session{ID: 8, TunnelID: 99, PeerTunnelID: 98, PWType: "ethernet", Interface: "l2tpeth0"},
				PPP:     &event.PPP{Started: testTime.Add(time.Hour)},
			},
			want: []string{
				"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				"PROBOX_EVENT=session-up",
				"PROBOX_ENGINE=l2tp",
				"PROBOX_SEQ=2",
				"PROBOX_TIME=2026-11-25T12:00:30Z",
				"PROBOX_TUNNEL_ID=3",
				"PROBOX_PEER_TUNNEL_ID=4",
				"PROBOX_SESSION_ID=8",
				"PROBOX_PW_TYPE=ethernet",
				"PROBOX_INTERFACE=l2tpeth0",
				"PROBOX_SESSION_START=2026-11-25T13:00:30Z",
				"PROBOX_SESSION_DURATION=0",
			},
		},
		{
			name: "bare event: empty values left out",
			ev:   event.Event{Type: event.TunnelCreated, Tunnel: &event.Tunnel{}, Result: &event.Result{}},
			want: []string{
				"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				"PROBOX_EVENT=tunnel-created",
				"PROBOX_SEQ=0",
			},
		},
		{
			name: "peer-supplied values are sanitised",
			ev: event.Event{
				Seq: 3, Type: event.TunnelUp, Engine: "l2tp",
				Tunnel:  &event.Tunnel{ID: 1, PeerHost: "evil\nPROBOX_USER=root\x00\r\x1b[2J"},
				Session: &event.Session{User: "a\tb\xffc"},
			},
			want: []string{
				"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				"PROBOX_EVENT=tunnel-up",
				"PROBOX_ENGINE=l2tp",
				"PROBOX_SEQ=3",
				"PROBOX_TUNNEL_ID=1",
				"PROBOX_PEER_HOSTNAME=evil PROBOX_USER=root  [2J",
				"PROBOX_USER=a b\uFFFDc",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := environ(&tt.ev)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("environ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	long := strings.Repeat("é", maxValueLen) // 2 bytes each
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain", in: "alice@isp.example", want: "alice@isp.example"},
		{name: "shell metacharacters kept", in: `a'b"c$(d)`, want: `a'b"c$(d)`},
		{name: "NUL removed", in: "a\x00b", want: "ab"},
		{name: "newlines become spaces", in: "a\r\nb\n", want: "a  b "},
		{name: "C1 control", in: "a\u0085b", want: "a b"},
		{name: "DEL", in: "a\x7fb", want: "a b"},
		{name: "invalid UTF-8", in: "a\xc3", want: "a\uFFFD"},
		{name: "UTF-8 kept", in: "Zürich", want: "Zürich"},
		{name: "cut on a character boundary", in: long, want: long[:maxValueLen]},
		{name: "ASCII cut", in: strings.Repeat("x", 2000), want: strings.Repeat("x", maxValueLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, sanitize(tt.in)); diff != "" {
				t.Errorf("sanitize(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// FuzzSanitize checks sanitizeN's guarantees on any input. The limit is small and part
// of the input, so that short inputs reach the cutting code (long inputs make the
// fuzzer's minimisation crawl).
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "alice", "evil\nX=1\x00", "\xff\xfe", "Zürich\u0085", "ééééé"} {
		f.Add(s, uint8(7))
	}
	f.Fuzz(func(t *testing.T, s string, limit uint8) {
		got := sanitizeN(s, int(limit))
		if len(got) > int(limit) {
			t.Fatalf("len %d > %d", len(got), limit)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("control character %U in %q", r, got)
			}
		}
		if again := sanitizeN(got, int(limit)); again != got {
			t.Fatalf("not idempotent: %q -> %q", got, again)
		}
		if clean := sanitizeN(s, len(s)*3); !strings.HasPrefix(clean, got) {
			t.Fatalf("cut value %q is not a prefix of the whole %q", got, clean)
		}
	})
}

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name          string
		writes        []string
		want          string
		wantTruncated bool
	}{
		{name: "fits", writes: []string{"ab", "cd\n"}, want: "abcd"},
		{name: "exactly full", writes: []string{"abcdefgh"}, want: "abcdefgh"},
		{name: "rolls over", writes: []string{"abcdef", "ghij"}, want: "cdefghij", wantTruncated: true},
		{name: "one big write", writes: []string{"0123456789"}, want: "23456789", wantTruncated: true},
		{name: "big write after small", writes: []string{"x", "01234567"}, want: "01234567", wantTruncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &tailBuffer{max: 8}
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("String (-want +got):\n%s", diff)
			}
			if b.truncated != tt.wantTruncated {
				t.Errorf("truncated = %v, want %v", b.truncated, tt.wantTruncated)
			}
		})
	}
}

// TestEnvironDocumented checks that doc.go and deploy/hooks.md name exactly the
// variables environ can set.
func TestEnvironDocumented(t *testing.T) {
	full := event.Event{
		Seq: 1, Time: testTime, Type: event.SessionDown, Engine: "l2tp", Message: "m",
		Tunnel: &event.Tunnel{ID: 1, PeerID: 2, Name: "n", Profile: "p", Version: 2, Encap: "udp",
			Local: "l", Peer: "p", PeerHost: "h", Created: true},
		Session: &event.Session{ID: 1, PeerID: 2, TunnelID: 1, PeerTunnelID: 2, Name: "n", Profile: "p",
			PWType: "ppp", Interface: "eth0", User: "u", CallingMAC: "m", Service: "s", CircuitID: "c", RemoteID: "r"},
		PPP: &event.PPP{Instance: "i", Phase: "p", Role: "r", Carrier: "c", User: "u", Auth: "a", Interface: "ppp0",
			LocalIP: "l", PeerIP: "p", LocalIPv6: "l", PeerIPv6: "p", DNS: []string{"d"},
			Started: testTime.Add(-time.Second), Stats: &event.Counters{}},
		Result: &event.Result{Code: 1, Error: 2, Message: "m", Reason: "r"},
	}
	set := map[string]bool{}
	for _, kv := range environ(&full) {
		name, _, _ := strings.Cut(kv, "=")
		set[name] = true
	}
	docName := regexp.MustCompile(`\bPROBOX_[A-Z0-9_]+[A-Z0-9]\b`)
	for _, file := range []string{"doc.go", "../../deploy/hooks.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		documented := map[string]bool{}
		for _, n := range docName.FindAllString(string(b), -1) {
			documented[n] = true
		}
		for n := range set {
			if n != "PATH" && !documented[n] {
				t.Errorf("%s does not document %s", file, n)
			}
		}
		for n := range documented {
			if !set[n] {
				t.Errorf("%s documents %s, which environ never sets", file, n)
			}
		}
	}
}
