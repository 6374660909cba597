package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/dsl"
)

// snapshot is the immutable running state. A new one replaces the old one
// atomically; handlers load it once per request and use it throughout.
type snapshot struct {
	set      *compiler.Set
	ix       *bitmaps.Index
	ev       *compiler.Evaluator
	loadedAt time.Time
}

// Server is the cohortd HTTP API. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	app     *fiber.App
	snap    atomic.Pointer[snapshot]
	reload  sync.Mutex // serialises Reload and SetIndex (writers); readers never lock
	metrics *metrics
	// fileStamp is the cohorts file's last seen modification (for WatchFile).
	fileStamp atomic.Value // fileStamp
	// mounted holds the handlers other modules plug into pluggable routes
	// (path → fiber.Handler); see Mount.
	mounted sync.Map
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// ErrReloadInProgress is returned by Reload when another reload is running.
var ErrReloadInProgress = errors.New("a reload is already in progress")

// CohortsError is returned by Reload when the cohorts file cannot be read or
// is invalid. Errs holds the positioned errors when there are any.
type CohortsError struct {
	Path string
	Errs dsl.ErrorList
	Err  error
}

func (e *CohortsError) Error() string {
	return fmt.Sprintf("cannot load cohorts from %q: %v", e.Path, e.Err)
}

func (e *CohortsError) Unwrap() error { return e.Err }

// IndexError is returned by Reload when the index for a new schema cannot
// be built.
type IndexError struct{ Err error }

func (e *IndexError) Error() string { return fmt.Sprintf("cannot build the index: %v", e.Err) }
func (e *IndexError) Unwrap() error { return e.Err }

// New checks cfg and builds a Server. It does not listen; call Run.
func New(cfg Config) (*Server, error) {
	if cfg.CohortsPath == "" {
		return nil, errors.New("no cohorts file configured")
	}
	if cfg.LoadIndex == nil {
		return nil, errors.New("no index loader configured")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if len(cfg.Keys) == 0 && !isLoopback(cfg.Listen) {
		return nil, fmt.Errorf("%w: %q (configure api_keys with --config, or listen on 127.0.0.1)", ErrInsecureListen, cfg.Listen)
	}
	if err := checkKeys(cfg.Keys); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxExprBytes <= 0 {
		cfg.MaxExprBytes = DefaultMaxExprBytes
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.WatchInterval <= 0 {
		cfg.WatchInterval = DefaultWatchInterval
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.metrics = newMetrics(s)
	s.app = s.newApp()
	return s, nil
}

// Handler returns the Fiber app (for app.Test in tests, or to mount).
func (s *Server) Handler() *fiber.App { return s.app }

// Registry is the server's Prometheus registry (served on /metrics); other
// components (ingest, refresh) may register their collectors on it.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// Ready reports whether cohorts are compiled and the index is loaded.
func (s *Server) Ready() bool { return s.snap.Load() != nil }

// Run listens on cfg.Listen and serves until ctx is done; see Serve.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %q: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then shuts down gracefully (in-flight
// requests drain for up to cfg.ShutdownTimeout). It answers /healthz at once
// and /readyz 503 until the cohorts are compiled and the index is loaded in
// the background. A failure of that first load stops the server and is
// returned.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if len(s.cfg.Keys) == 0 && !isLoopback(ln.Addr().String()) {
		ln.Close()
		return fmt.Errorf("%w: %q", ErrInsecureListen, ln.Addr())
	}
	s.log.Info("listening", "addr", ln.Addr().String(), "auth", len(s.cfg.Keys) > 0)
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.app.Listener(ln) }()

	loadCtx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	loadErr := make(chan error, 1)
	go func() { loadErr <- s.initialLoad(loadCtx) }()

	var err error
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case err = <-serveErr:
			if err != nil {
				err = fmt.Errorf("cannot serve on %q: %w", ln.Addr(), err)
			}
			cancelLoad()
			return err
		case err = <-loadErr:
			loadErr = nil // received once; a nil channel blocks from now on
			if err != nil {
				done = true
			} else if s.cfg.WatchFile {
				go s.watch(ctx)
			}
		}
	}
	cancelLoad()
	s.log.Info("shutting down", "drain_timeout", s.cfg.ShutdownTimeout.String())
	if shutErr := s.app.ShutdownWithTimeout(s.cfg.ShutdownTimeout); shutErr != nil && err == nil {
		err = fmt.Errorf("cannot shut down cleanly: %w", shutErr)
	}
	// Shutdown only closes a listener the server has started accepting on;
	// close it ourselves in case the first load failed before that.
	ln.Close()
	<-serveErr
	return err
}

func (s *Server) initialLoad(ctx context.Context) error {
	start := time.Now()
	if err := s.Reload(ctx); err != nil {
		s.log.Error("cannot start", "err", err)
		return err
	}
	snap := s.snap.Load()
	s.log.Info("ready", "cohorts", len(snap.set.Cohorts()), "users", snap.ix.Len(),
		"took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// Reload re-reads and compiles the cohorts file. An invalid file returns a
// *CohortsError and leaves the running set untouched. When the new set's
// schema differs from the running one, the index is rebuilt with LoadIndex
// off to the side before the swap. Concurrent calls get ErrReloadInProgress.
func (s *Server) Reload(ctx context.Context) (err error) {
	if !s.reload.TryLock() {
		return ErrReloadInProgress
	}
	defer s.reload.Unlock()
	defer func() { s.metrics.reload(err) }()

	stamp, _ := statFile(s.cfg.CohortsPath)
	set, err := s.compileFile()
	if err != nil {
		return err
	}
	old := s.snap.Load()
	var ix *bitmaps.Index
	if old != nil && sameSchema(old.set, set) {
		ix = old.ix
	} else {
		ix, err = s.loadIndex(ctx, set)
		if err == nil && ix == nil {
			err = errors.New("the index loader returned no index")
		}
		if err != nil {
			return &IndexError{Err: err}
		}
	}
	s.swap(set, ix)
	s.fileStamp.Store(stamp)
	if old != nil {
		s.log.Info("cohorts reloaded", "path", s.cfg.CohortsPath, "cohorts", len(set.Cohorts()), "index_rebuilt", ix != old.ix)
	}
	return nil
}

// loadIndex runs Config.LoadIndex, turning a panic of the loader into an
// error: a reload must never take the running server down.
func (s *Server) loadIndex(ctx context.Context, set *compiler.Set) (ix *bitmaps.Index, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("the index loader panicked", "panic", p, "stack", string(debug.Stack()))
			ix, err = nil, fmt.Errorf("the index loader failed unexpectedly (%v); this is a bug, please report it", p)
		}
	}()
	return s.cfg.LoadIndex(ctx, set)
}

func (s *Server) compileFile() (*compiler.Set, error) {
	set, err := compiler.Load(s.cfg.CohortsPath)
	if err != nil {
		return nil, &CohortsError{Path: s.cfg.CohortsPath, Errs: dslErrors(err), Err: err}
	}
	return set, nil
}

func sameSchema(a, b *compiler.Set) bool {
	return a.Key() == b.Key() && slices.Equal(a.Schema(), b.Schema())
}

func (s *Server) swap(set *compiler.Set, ix *bitmaps.Index) {
	s.snap.Store(&snapshot{set: set, ix: ix, ev: compiler.NewEvaluator(set, ix), loadedAt: time.Now()})
	if s.cfg.OnSwap != nil {
		s.cfg.OnSwap(set, ix)
	}
}

// Mount plugs h into one of the pluggable routes (RouteEvents,
// RouteRecommendations, ...): modules the server does not import, such as
// the event pipeline and the recommender, serve them. Until a handler is
// mounted the route answers 501 not_implemented. Safe to call at any time.
func (s *Server) Mount(path string, h fiber.Handler) error {
	for _, r := range s.routes() {
		if r.path == path && r.pluggable {
			s.mounted.Store(path, h)
			return nil
		}
	}
	return fmt.Errorf("%q is not a pluggable route", path)
}

// pluggable serves the handler mounted on path, or 501 until there is one.
func (s *Server) pluggable(path, what string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if h, ok := s.mounted.Load(path); ok {
			return h.(fiber.Handler)(c)
		}
		return newError(http.StatusNotImplemented, "not_implemented", "%s is not enabled on this server", what)
	}
}

// SetIndex swaps in a new index for the running cohort set (e.g. after a
// ClickHouse refresh). The index must have been built for the set's schema;
// before the first load completes, or with another schema, it is refused.
func (s *Server) SetIndex(ix *bitmaps.Index) error {
	if ix == nil {
		return errors.New("no index")
	}
	s.reload.Lock()
	defer s.reload.Unlock()
	cur := s.snap.Load()
	if cur == nil {
		return errors.New("cannot set the index before the cohorts are loaded")
	}
	if !slices.Equal(cur.set.Schema(), ix.Schema()) {
		return errors.New("the index schema differs from the cohort set's schema")
	}
	s.swap(cur.set, ix)
	return nil
}

// watch polls the cohorts file and reloads when its modification time or
// size changes. Errors are logged; the running set keeps serving.
func (s *Server) watch(ctx context.Context) {
	t := time.NewTicker(s.cfg.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := statFile(s.cfg.CohortsPath)
		if err != nil {
			continue
		}
		if prev, _ := s.fileStamp.Load().(fileStamp); prev == st {
			continue
		}
		s.log.Info("cohorts file changed; reloading", "path", s.cfg.CohortsPath)
		if err := s.Reload(ctx); err != nil {
			s.fileStamp.Store(st) // do not retry the same broken file every tick
			s.log.Error("reload failed; the running cohorts keep serving", "err", err)
		}
	}
}

func statFile(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}
