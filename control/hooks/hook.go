package hooks

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/probox/probox/control/event"
)

// outputLimit is how much of a script's output (stdout and stderr together) is kept for
// the log: the last outputLimit bytes.
const outputLimit = 4 << 10

// errRefused is wrapped by the error explaining why a script was not run.
var errRefused = errors.New("refused")

// outcome is what became of one started script.
type outcome struct {
	result    string        // resultOK, resultFailed or resultTimeout
	status    string        // "exit status 3", "signal: killed", or the start error
	duration  time.Duration // from start to the end of its output
	output    string        // the tail of stdout+stderr
	truncated bool          // output lost its beginning
	started   bool          // the process was started
}

// runHook runs the script for e (if there is one) under cfg and accounts for it.
func (r *Runner) runHook(e *event.Event, cfg Config) {
	hook := e.Type.String()
	log := r.log.With(eventFields(e)...)
	if cfg.Dir == "" {
		return
	}
	path := filepath.Join(cfg.Dir, hook)
	if err := checkScript(cfg.Dir, path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			log.Debug("no hook script", zap.String("path", path))
			return
		}
		r.m.runs.WithLabelValues(hook, resultRefused).Inc()
		if r.warnNow("refused " + path) {
			log.Warn("hook script refused", zap.String("path", path), zap.Error(err))
		} else {
			log.Debug("hook script refused", zap.String("path", path), zap.Error(err))
		}
		return
	}

	o := runScript(path, cfg.Dir, environ(e), cfg.Timeout, func(delta float64) { r.m.running.Add(delta) })
	r.m.runs.WithLabelValues(hook, o.result).Inc()
	if o.started {
		r.m.duration.WithLabelValues(hook).Observe(o.duration.Seconds())
	}
	fields := []zap.Field{
		zap.String("path", path),
		zap.String("result", o.result),
		zap.String("status", o.status),
		zap.Duration("duration", o.duration),
	}
	if o.output != "" {
		fields = append(fields, zap.String("output", o.output))
		if o.truncated {
			fields = append(fields, zap.Bool("output_truncated", true))
		}
	}
	if o.result == resultOK {
		log.Info("hook script ran", fields...)
	} else {
		log.Warn("hook script failed", fields...)
	}
}

// eventFields are the log fields that name e's object, in the house key vocabulary.
func eventFields(e *event.Event) []zap.Field {
	f := []zap.Field{zap.Stringer("event", e.Type), zap.String("engine", e.Engine), zap.Uint64("seq", e.Seq)}
	k := keyOf(e)
	if k.tunnel != 0 {
		f = append(f, zap.Uint32("tunnel_id", k.tunnel))
	}
	if k.session {
		f = append(f, zap.Uint32("session_id", k.id))
	}
	return f
}

// warnNow reports whether a warning named what may be logged now, at most once per
// warnEvery.
func (r *Runner) warnNow(what string) bool {
	r.warnMu.Lock()
	defer r.warnMu.Unlock()
	now := time.Now()
	if t, ok := r.lastWarn[what]; ok && now.Sub(t) < warnEvery {
		return false
	}
	if len(r.lastWarn) > 256 { // a bounded memory of what was said
		clear(r.lastWarn)
	}
	r.lastWarn[what] = now
	return true
}

// tailBuffer is an io.Writer that keeps the last max bytes written to it.
type tailBuffer struct {
	buf       []byte
	max       int
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.truncated = t.truncated || len(t.buf) > 0 || len(p) > t.max
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.truncated = true
		t.buf = t.buf[:copy(t.buf, t.buf[over:])]
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String is the kept output as valid UTF-8 without its final newline.
func (t *tailBuffer) String() string {
	return strings.TrimRight(strings.ToValidUTF8(string(t.buf), "\uFFFD"), "\n")
}
