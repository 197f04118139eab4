package control

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/config"
)

func TestProfiles(t *testing.T) {
	f, err := config.Parse("t.toml", []byte("[ppp_profile.client]\nusername = \"bob\"\npassword = \"pw\"\n[tunnel_profile.lns]\nsecret = \"s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.Config
	tests := []struct {
		name, kind, profile string
		check               func(t *testing.T, r ProfileResult)
		argsErr, notFound   bool
	}{
		{name: "one ppp profile, password masked", kind: "ppp", profile: "client", check: func(t *testing.T, r ProfileResult) {
			p := r.Profiles["client"]
			got := map[string]any{"username": p["username"], "password": p["password"], "lcp_echo_interval": p["lcp_echo_interval"]}
			want := map[string]any{"username": "bob", "password": "********", "lcp_echo_interval": "30s"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{name: "all tunnel profiles, secret masked", kind: "tunnel", check: func(t *testing.T, r ProfileResult) {
			if len(r.Profiles) != 2 || r.Profiles["lns"]["secret"] != "********" || r.Profiles["default"]["secret"] != "" {
				t.Errorf("profiles %v", r.Profiles)
			}
		}},
		{name: "peer", kind: "peer", check: func(t *testing.T, r ProfileResult) {
			if r.Profiles["default"]["role"] != config.RoleAny {
				t.Errorf("default peer profile %v", r.Profiles["default"])
			}
		}},
		{name: "bad kind", kind: "pppoe", argsErr: true},
		{name: "unknown name", kind: "session", profile: "nope", notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Profiles(cfg, tt.kind, tt.profile)
			var ae *ArgsError
			switch {
			case tt.argsErr:
				if !errors.As(err, &ae) {
					t.Fatalf("error %v, want an ArgsError", err)
				}
			case tt.notFound:
				if err == nil {
					t.Fatal("no error for an unknown profile")
				}
			case err != nil:
				t.Fatal(err)
			default:
				tt.check(t, r)
			}
		})
	}
}
