package recommend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestLexicalEmbedder(t *testing.T) {
	corpus := []Document{
		{Title: "Best Gravel Bikes of 2025", Topics: []string{"gravel", "gear-reviews"}},
		{Title: "Gravel Tyres Tested", Topics: []string{"gravel"}},
		{Title: "A 12-Week Marathon Plan", Topics: []string{"marathon", "training-plans"}},
		{Title: "Road Cycling Climbs", Topics: []string{"road-cycling"}},
	}
	e := NewLexicalEmbedder(0, corpus)
	if e.Dim() != LexicalDim || e.Version() != "lexical-v1-768d-n4" {
		t.Fatalf("Dim %d, Version %q", e.Dim(), e.Version())
	}
	vecs, err := e.Embed(context.Background(), corpus)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if n := math.Sqrt(dot(v, v)); math.Abs(n-1) > 1e-5 {
			t.Errorf("doc %d: norm %v, want 1", i, n)
		}
	}
	// Deterministic: a second embedder fitted on the same corpus agrees.
	again := NewLexicalEmbedder(0, corpus).EmbedOne(corpus[0])
	for i := range again {
		if again[i] != vecs[0][i] {
			t.Fatal("the same document embeds differently")
		}
	}
	gravelGravel, gravelMarathon := dot(vecs[0], vecs[1]), dot(vecs[0], vecs[2])
	if gravelGravel <= gravelMarathon+0.1 {
		t.Errorf("gravel·gravel = %.3f is not well above gravel·marathon = %.3f", gravelGravel, gravelMarathon)
	}
	// Topic-slug words link related topics: road-cycling is nearer cycling
	// than marathon is.
	cyc := e.EmbedOne(Document{Topics: []string{"cycling"}})
	if dot(cyc, vecs[3]) <= dot(cyc, vecs[2]) {
		t.Error("cycling is not nearer road-cycling than marathon")
	}
	if z := e.EmbedOne(Document{Title: "the of 2024"}); dot(z, z) != 0 {
		t.Error("a document of stop words and numbers is not the zero vector")
	}
}

func TestDocumentText(t *testing.T) {
	for _, tc := range []struct {
		doc  Document
		want string
	}{
		{Document{Title: " Gravel "}, "Gravel"},
		{Document{Title: "Gravel", Topics: []string{"gear-reviews", "gravel"}}, "Gravel (topics: gear reviews, gravel)"},
		{Document{Topics: []string{"ski-touring"}}, "ski touring"},
	} {
		if got := tc.doc.Text(); got != tc.want {
			t.Errorf("Text() = %q, want %q", got, tc.want)
		}
	}
}

// embedServer is an OpenAI-compatible /v1/embeddings endpoint. fail, when
// set, decides per call (1-based) whether to answer with an error status.
type embedServer struct {
	calls   atomic.Int32
	mu      sync.Mutex
	batches []int
	auth    string
	fail    func(call int, w http.ResponseWriter) bool
	dim     int
}

func (s *embedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := int(s.calls.Add(1))
	if r.URL.Path != "/v1/embeddings" || r.Method != http.MethodPost {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if s.fail != nil && s.fail(call, w) {
		return
	}
	var req embedRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "test-model" {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.batches = append(s.batches, len(req.Input))
	s.auth = r.Header.Get("Authorization")
	s.mu.Unlock()
	type item struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	var resp struct {
		Data []item `json:"data"`
	}
	// Answer in reverse order: the client must place vectors by index.
	for i := len(req.Input) - 1; i >= 0; i-- {
		v := make([]float32, s.dim)
		v[len(req.Input[i])%s.dim] = 3 // not normalised: the client must
		resp.Data = append(resp.Data, item{Index: i, Embedding: v})
	}
	json.NewEncoder(w).Encode(resp)
}

func newTestEmbedder(t *testing.T, s *embedServer, cfg HTTPEmbedderConfig) *HTTPEmbedder {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL + "/v1"
	cfg.Model = "test-model"
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	e, err := NewHTTPEmbedder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func docs(n int) []Document {
	out := make([]Document, n)
	for i := range out {
		out[i] = Document{Title: strings.Repeat("x", i+1)}
	}
	return out
}

func TestHTTPEmbedderBatchesAndNormalises(t *testing.T) {
	s := &embedServer{dim: 8}
	e := newTestEmbedder(t, s, HTTPEmbedderConfig{BatchSize: 4, APIKey: "sk-test"})
	if e.Dim() != 0 {
		t.Fatalf("Dim before any call = %d", e.Dim())
	}
	vecs, err := e.Embed(context.Background(), docs(10))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(s.batches) != "[4 4 2]" || s.auth != "Bearer sk-test" {
		t.Errorf("batches %v, auth %q", s.batches, s.auth)
	}
	if len(vecs) != 10 || e.Dim() != 8 {
		t.Fatalf("%d vectors, Dim %d", len(vecs), e.Dim())
	}
	for i, v := range vecs {
		if v[(i+1)%8] != 1 {
			t.Errorf("vector %d = %v: wrong order or not normalised", i, v)
		}
	}
	if e.Version() != "http:test-model" {
		t.Errorf("Version = %q", e.Version())
	}
}

func TestHTTPEmbedderRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      func(call int, w http.ResponseWriter) bool
		timeout   time.Duration
		retries   int
		wantErr   string
		wantCalls int32
	}{
		{
			name: "429 with Retry-After, then ok",
			fail: func(call int, w http.ResponseWriter) bool {
				if call <= 2 {
					w.Header().Set("Retry-After", "0")
					http.Error(w, "slow down", http.StatusTooManyRequests)
					return true
				}
				return false
			},
			wantCalls: 3,
		},
		{
			name: "503 then ok",
			fail: func(call int, w http.ResponseWriter) bool {
				if call == 1 {
					http.Error(w, "overloaded", http.StatusServiceUnavailable)
					return true
				}
				return false
			},
			wantCalls: 2,
		},
		{
			name: "429 for ever: gives up after the retries",
			fail: func(_ int, w http.ResponseWriter) bool {
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return true
			},
			retries: 3, wantErr: "answered 429", wantCalls: 4,
		},
		{
			name: "400 is not retried",
			fail: func(_ int, w http.ResponseWriter) bool {
				http.Error(w, `{"error":"model not found"}`, http.StatusBadRequest)
				return true
			},
			wantErr: "model not found", wantCalls: 1,
		},
		{
			name: "a request over its timeout is retried",
			fail: func(call int, _ http.ResponseWriter) bool {
				if call == 1 {
					time.Sleep(300 * time.Millisecond)
				}
				return false
			},
			timeout: 50 * time.Millisecond, wantCalls: 2,
		},
		{
			name: "always too slow: fails after the retries",
			fail: func(_ int, _ http.ResponseWriter) bool {
				time.Sleep(200 * time.Millisecond)
				return false
			},
			timeout: 30 * time.Millisecond, retries: 2, wantErr: "deadline exceeded", wantCalls: 3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &embedServer{dim: 4, fail: tc.fail}
			e := newTestEmbedder(t, s, HTTPEmbedderConfig{Timeout: tc.timeout, MaxRetries: tc.retries})
			start := time.Now()
			_, err := e.Embed(context.Background(), docs(3))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
			// Sleeping handlers may still be counted after the client gave up.
			time.Sleep(20 * time.Millisecond)
			if got := s.calls.Load(); got != tc.wantCalls {
				t.Errorf("%d calls, want %d", got, tc.wantCalls)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func TestHTTPEmbedderStopsWithTheContext(t *testing.T) {
	s := &embedServer{dim: 4, fail: func(_ int, w http.ResponseWriter) bool {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return true
	}}
	e := newTestEmbedder(t, s, HTTPEmbedderConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Embed(ctx, docs(1))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v; want the context's deadline, promptly", err, time.Since(start))
	}
}

func TestHTTPEmbedderRejectsBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"too few vectors", `{"data":[{"index":0,"embedding":[1,0]}]}`, "1 vectors for 2 texts"},
		{"repeated index", `{"data":[{"index":0,"embedding":[1,0]},{"index":0,"embedding":[0,1]}]}`, "repeated index"},
		{"dimensions differ", `{"data":[{"index":0,"embedding":[1,0]},{"index":1,"embedding":[0,1,0]}]}`, "dimension"},
		{"not JSON", `<html>`, "not the expected JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, tc.body) }))
			defer srv.Close()
			e, err := NewHTTPEmbedder(HTTPEmbedderConfig{URL: srv.URL + "/embeddings", Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Embed(context.Background(), docs(2)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NewHTTPEmbedder(HTTPEmbedderConfig{URL: "localhost:11434", Model: "m"}); err == nil {
		t.Error("a URL without scheme was accepted")
	}
	if _, err := NewHTTPEmbedder(HTTPEmbedderConfig{URL: "http://x"}); err == nil {
		t.Error("a missing model was accepted")
	}
}
