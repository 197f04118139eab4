package daemon

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/probox/probox/config"
)

// TraceLevel is below zap's Debug: per-packet detail, enabled by a second -d.
const TraceLevel = zapcore.DebugLevel - 1

// LogOptions says where and how to log.
type LogOptions struct {
	Ident      string // syslog ident and the logger's name: the mode (prol2tpd, ...)
	Foreground bool   // -f: log to stderr instead of syslog
	File       string // -o FILE: log to this file (wins over both)
	Debug      int    // number of -d flags
	Config     config.Log
	Stderr     io.Writer // where "stderr" is (tests); nil means os.Stderr
}

// level is the minimum level: the configured one, lowered by each -d.
func (o LogOptions) level() zapcore.Level {
	var l zapcore.Level
	switch o.Config.Level {
	case config.LogDebug:
		l = zapcore.DebugLevel
	case config.LogWarn:
		l = zapcore.WarnLevel
	case config.LogError:
		l = zapcore.ErrorLevel
	default:
		l = zapcore.InfoLevel
	}
	switch {
	case o.Debug >= 2:
		return TraceLevel
	case o.Debug == 1:
		return min(l, zapcore.DebugLevel)
	}
	return l
}

// Logger is the daemon's logger and what it needs closed at exit.
type Logger struct {
	*zap.Logger
	Level  zap.AtomicLevel
	closer io.Closer
	// Where says where logs go, for the start-up line.
	Where string
}

// Close flushes and closes the log output.
func (l *Logger) Close() error {
	l.Sync()
	if l.closer != nil {
		return l.closer.Close()
	}
	return nil
}

// NewLogger builds the daemon's logger: to a file with -o, to stderr with -f, and to
// syslog (facility from the configuration, ident = the mode) otherwise. When syslog cannot
// be reached (no /dev/log, e.g. in a container), it logs to stderr and says so.
func NewLogger(o LogOptions) (*Logger, error) {
	lvl := zap.NewAtomicLevelAt(o.level())
	stderr := o.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "time"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeLevel = levelEncoder
	encCfg.EncodeDuration = zapcore.StringDurationEncoder
	newEnc := func(withTime bool) zapcore.Encoder {
		c := encCfg
		if !withTime {
			c.TimeKey = ""
		}
		if o.Config.Format == config.FormatJSON {
			return zapcore.NewJSONEncoder(c)
		}
		return zapcore.NewConsoleEncoder(c)
	}

	var (
		core   zapcore.Core
		closer io.Closer
		where  string
		note   string
	)
	switch {
	case o.File != "":
		f, err := os.OpenFile(o.File, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, fmt.Errorf("opening log file: %w", err)
		}
		core, closer, where = zapcore.NewCore(newEnc(true), zapcore.AddSync(f), lvl), f, "file "+o.File
	case o.Foreground:
		core, where = zapcore.NewCore(newEnc(true), zapcore.AddSync(stderr), lvl), "stderr"
	default:
		w, err := syslog.New(facility(o.Config.Facility)|syslog.LOG_INFO, o.Ident)
		if err != nil {
			core, where = zapcore.NewCore(newEnc(true), zapcore.AddSync(stderr), lvl), "stderr"
			note = "syslog unavailable (" + err.Error() + "), logging to stderr"
		} else {
			core = &syslogCore{LevelEnabler: lvl, enc: newEnc(false), w: w}
			closer, where = w, "syslog ("+o.Config.Facility+")"
		}
	}
	log := zap.New(core, zap.ErrorOutput(zapcore.AddSync(stderr))).Named(o.Ident)
	if note != "" {
		log.Warn(note)
	}
	return &Logger{Logger: log, Level: lvl, closer: closer, Where: where}, nil
}

func levelEncoder(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
	if l == TraceLevel {
		enc.AppendString("TRACE")
		return
	}
	enc.AppendString(l.CapitalString())
}

func facility(name string) syslog.Priority {
	if n, ok := strings.CutPrefix(name, "local"); ok && len(n) == 1 && n[0] >= '0' && n[0] <= '7' {
		return syslog.LOG_LOCAL0 + syslog.Priority(n[0]-'0')<<3
	}
	if name == "user" {
		return syslog.LOG_USER
	}
	return syslog.LOG_DAEMON
}

// syslogCore is a zap core that writes each entry to syslog with the priority of its
// level. syslog adds the time and the ident, so the encoder leaves them out.
type syslogCore struct {
	zapcore.LevelEnabler
	enc zapcore.Encoder
	w   *syslog.Writer
}

func (c *syslogCore) With(fields []zapcore.Field) zapcore.Core {
	clone := *c
	clone.enc = c.enc.Clone()
	for _, f := range fields {
		f.AddTo(clone.enc)
	}
	return &clone
}

func (c *syslogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *syslogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	buf, err := c.enc.EncodeEntry(e, fields)
	if err != nil {
		return err
	}
	msg := strings.TrimSuffix(buf.String(), "\n")
	buf.Free()
	switch {
	case e.Level >= zapcore.DPanicLevel:
		return c.w.Crit(msg)
	case e.Level >= zapcore.ErrorLevel:
		return c.w.Err(msg)
	case e.Level >= zapcore.WarnLevel:
		return c.w.Warning(msg)
	case e.Level >= zapcore.InfoLevel:
		return c.w.Info(msg)
	}
	return c.w.Debug(msg)
}

func (c *syslogCore) Sync() error { return nil }
