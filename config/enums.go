package config

import (
	"fmt"
	"slices"
	"strings"
)

// The enumerated string types of the configuration. Each decodes only from one of its
// listed values (UnmarshalText), so a typo is reported at load time with the allowed
// values; Values lists them for the reference documentation.
type (
	// LogLevel is a minimum log level.
	LogLevel string
	// LogFormat is the format of log lines.
	LogFormat string
	// DataplaneMode selects the data plane implementation.
	DataplaneMode string
	// PeerRole says what an L2TP peer may do.
	PeerRole string
	// Encap is an L2TP encapsulation.
	Encap string
	// Digest is an L2TPv3 control message authentication algorithm.
	Digest string
	// PWType is a pseudowire type.
	PWType string
	// L2Spec is an L2TPv3 L2-Specific Sublayer.
	L2Spec string
	// AuthMethod is a PPP authentication method.
	AuthMethod string
	// AuthBackend is where PPP secrets come from.
	AuthBackend string
	// ProxyLCP is what an LNS does with proxy LCP from a LAC.
	ProxyLCP string
	// UnitMode selects dedicated or shared PPP network interfaces.
	UnitMode string
	// RouteKind is where a PPPoE service's sessions go.
	RouteKind string
)

// Values of the enumerated types.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"

	FormatText LogFormat = "text"
	FormatJSON LogFormat = "json"

	DataplaneAuto      DataplaneMode = "auto"
	DataplaneKernel    DataplaneMode = "kernel"
	DataplaneUserspace DataplaneMode = "userspace"

	RoleLAC PeerRole = "lac"
	RoleLNS PeerRole = "lns"
	RoleAny PeerRole = "any"

	EncapUDP Encap = "udp"
	EncapIP  Encap = "ip"

	DigestNone Digest = "none"
	DigestMD5  Digest = "md5"
	DigestSHA1 Digest = "sha1"

	PWPPP      PWType = "ppp"
	PWEthernet PWType = "ethernet"

	L2SpecNone    L2Spec = "none"
	L2SpecDefault L2Spec = "default"

	AuthPAP      AuthMethod = "pap"
	AuthCHAPMD5  AuthMethod = "chap-md5"
	AuthMSCHAPv2 AuthMethod = "mschapv2"

	BackendLocal  AuthBackend = "local"
	BackendRADIUS AuthBackend = "radius"

	ProxyLCPAccept      ProxyLCP = "accept"
	ProxyLCPRenegotiate ProxyLCP = "renegotiate"

	UnitShared    UnitMode = "shared"
	UnitDedicated UnitMode = "dedicated"

	RouteLocal RouteKind = "local"
	RouteLAC   RouteKind = "lac"
	RouteRealm RouteKind = "realm"
)

func (LogLevel) Values() []string      { return []string{"debug", "info", "warn", "error"} }
func (LogFormat) Values() []string     { return []string{"text", "json"} }
func (DataplaneMode) Values() []string { return []string{"auto", "kernel", "userspace"} }
func (PeerRole) Values() []string      { return []string{"lac", "lns", "any"} }
func (Encap) Values() []string         { return []string{"udp", "ip"} }
func (Digest) Values() []string        { return []string{"none", "md5", "sha1"} }
func (PWType) Values() []string        { return []string{"ppp", "ethernet"} }
func (L2Spec) Values() []string        { return []string{"none", "default"} }
func (AuthMethod) Values() []string    { return []string{"pap", "chap-md5", "mschapv2"} }
func (AuthBackend) Values() []string   { return []string{"local", "radius"} }
func (ProxyLCP) Values() []string      { return []string{"accept", "renegotiate"} }
func (UnitMode) Values() []string      { return []string{"shared", "dedicated"} }
func (RouteKind) Values() []string     { return []string{"local", "lac", "realm"} }

func (v *LogLevel) UnmarshalText(b []byte) error      { return setEnum(v, b) }
func (v *LogFormat) UnmarshalText(b []byte) error     { return setEnum(v, b) }
func (v *DataplaneMode) UnmarshalText(b []byte) error { return setEnum(v, b) }
func (v *PeerRole) UnmarshalText(b []byte) error      { return setEnum(v, b) }
func (v *Encap) UnmarshalText(b []byte) error         { return setEnum(v, b) }
func (v *Digest) UnmarshalText(b []byte) error        { return setEnum(v, b) }
func (v *PWType) UnmarshalText(b []byte) error        { return setEnum(v, b) }
func (v *L2Spec) UnmarshalText(b []byte) error        { return setEnum(v, b) }
func (v *AuthMethod) UnmarshalText(b []byte) error    { return setEnum(v, b) }
func (v *AuthBackend) UnmarshalText(b []byte) error   { return setEnum(v, b) }
func (v *ProxyLCP) UnmarshalText(b []byte) error      { return setEnum(v, b) }
func (v *UnitMode) UnmarshalText(b []byte) error      { return setEnum(v, b) }
func (v *RouteKind) UnmarshalText(b []byte) error     { return setEnum(v, b) }

// enum is implemented by the enumerated types.
type enum interface{ Values() []string }

func setEnum[T interface {
	~string
	enum
}](dst *T, b []byte) error {
	s := string(b)
	allowed := (*dst).Values()
	if !slices.Contains(allowed, s) {
		return fmt.Errorf("must be one of %s, got %q", strings.Join(allowed, ", "), s)
	}
	*dst = T(s)
	return nil
}
