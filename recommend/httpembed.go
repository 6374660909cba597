package recommend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// HTTPEmbedderConfig configures an HTTPEmbedder.
type HTTPEmbedderConfig struct {
	// URL is the API base ("http://localhost:11434/v1",
	// "https://api.openai.com/v1") or the full ".../embeddings" endpoint.
	URL string
	// Model is sent as "model" (e.g. "text-embedding-3-small",
	// "nomic-embed-text").
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer APIKEY". cohortd
	// reads it from the environment (COHORTD_EMBEDDER_KEY), never from a
	// flag.
	APIKey string
	// Dimensions, when positive, is sent as "dimensions" (models that can
	// shorten their vectors) and every answer must have that length.
	Dimensions int
	// BatchSize is how many texts one request carries (default 64).
	BatchSize int
	// Timeout bounds each HTTP request (default 30 s).
	Timeout time.Duration
	// MaxRetries is how often a request answered 429 or 5xx, or failed on
	// the network, is retried (default 5; negative: never).
	MaxRetries int
	// Backoff is the first wait before a retry (default 500 ms); it doubles
	// each time up to MaxBackoff (default 30 s). A Retry-After header in
	// seconds overrides it (still capped by MaxBackoff).
	Backoff, MaxBackoff time.Duration
	// Client is the HTTP client (default: a new one with no global timeout).
	Client *http.Client
	// Logger logs retries (default slog.Default()).
	Logger *slog.Logger
}

// HTTPEmbedder embeds documents with an OpenAI-compatible /embeddings API
// (OpenAI, Ollama, vLLM, Hugging Face TEI, LocalAI ...). Texts are
// Document.Text(). Requests are batched; 429 and 5xx answers and network
// errors are retried with exponential backoff; each request has a timeout.
// Returned vectors are L2-normalised. It is safe for concurrent use.
type HTTPEmbedder struct {
	cfg      HTTPEmbedderConfig
	endpoint string
	dim      atomic.Int64
}

// NewHTTPEmbedder checks cfg and returns the embedder; it sends nothing.
func NewHTTPEmbedder(cfg HTTPEmbedderConfig) (*HTTPEmbedder, error) {
	if cfg.URL == "" || !(strings.HasPrefix(cfg.URL, "http://") || strings.HasPrefix(cfg.URL, "https://")) {
		return nil, fmt.Errorf("embedder url %q is not an http(s) URL", cfg.URL)
	}
	if cfg.Model == "" {
		return nil, errors.New("embedder model is not set")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	endpoint := strings.TrimRight(cfg.URL, "/")
	if !strings.HasSuffix(endpoint, "/embeddings") {
		endpoint += "/embeddings"
	}
	e := &HTTPEmbedder{cfg: cfg, endpoint: endpoint}
	e.dim.Store(int64(max(cfg.Dimensions, 0)))
	return e, nil
}

// Dim is Dimensions when set, else the length of the first vector received
// (0 before).
func (e *HTTPEmbedder) Dim() int { return int(e.dim.Load()) }

// Version is "http:<model>" (plus "@<dimensions>d" when set).
func (e *HTTPEmbedder) Version() string {
	if e.cfg.Dimensions > 0 {
		return fmt.Sprintf("http:%s@%dd", e.cfg.Model, e.cfg.Dimensions)
	}
	return "http:" + e.cfg.Model
}

// HTTPError is a non-retryable (or finally failed) answer of the embedding
// API.
type HTTPError struct {
	Status int
	Body   string // the start of the answer
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("embedding API answered %d: %s", e.Status, e.Body)
}

type embedRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

type embedResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// Embed embeds docs in batches of BatchSize.
func (e *HTTPEmbedder) Embed(ctx context.Context, docs []Document) ([][]float32, error) {
	out := make([][]float32, 0, len(docs))
	for from := 0; from < len(docs); from += e.cfg.BatchSize {
		batch := docs[from:min(from+e.cfg.BatchSize, len(docs))]
		texts := make([]string, len(batch))
		for i, d := range batch {
			texts[i] = d.Text()
			if texts[i] == "" {
				texts[i] = " " // some servers reject empty inputs
			}
		}
		vecs, err := e.embedBatch(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("cannot embed documents %d–%d: %w", from, from+len(batch)-1, err)
		}
		out = append(out, vecs...)
	}
	return out, nil
}

func (e *HTTPEmbedder) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(embedRequest{Model: e.cfg.Model, Input: texts, EncodingFormat: "float", Dimensions: e.cfg.Dimensions})
	if err != nil {
		return nil, err
	}
	wait := e.cfg.Backoff
	for attempt := 0; ; attempt++ {
		vecs, retryAfter, err := e.post(ctx, body, len(texts))
		if err == nil {
			return vecs, nil
		}
		if retryAfter < 0 || attempt >= e.cfg.MaxRetries || ctx.Err() != nil {
			return nil, err
		}
		d := wait
		if retryAfter > 0 {
			d = retryAfter
		}
		d = min(d, e.cfg.MaxBackoff)
		e.cfg.Logger.Warn("embedding request failed, retrying", "attempt", attempt+1, "wait", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (after %v)", ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, e.cfg.MaxBackoff)
	}
}

// post sends one request. retryAfter is negative when the error is final,
// 0 to retry after the backoff, positive to retry after that long.
func (e *HTTPEmbedder) post(ctx context.Context, body []byte, n int) (vecs [][]float32, retryAfter time.Duration, err error) {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, -1, err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.cfg.APIKey)
	}
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, -1, err
		}
		return nil, 0, err // network error or this request's timeout: retry
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read the embedding answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		herr := &HTTPError{Status: resp.StatusCode, Body: snippet(data)}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return nil, parseRetryAfter(resp.Header.Get("Retry-After")), herr
		}
		return nil, -1, herr
	}
	var er embedResponse
	if err := json.Unmarshal(data, &er); err != nil {
		return nil, -1, fmt.Errorf("embedding answer is not the expected JSON: %w", err)
	}
	if len(er.Data) != n {
		return nil, -1, fmt.Errorf("embedding answer has %d vectors for %d texts", len(er.Data), n)
	}
	vecs = make([][]float32, n)
	for _, d := range er.Data {
		if d.Index < 0 || d.Index >= n || vecs[d.Index] != nil {
			return nil, -1, fmt.Errorf("embedding answer has a bad or repeated index %d", d.Index)
		}
		if len(d.Embedding) == 0 {
			return nil, -1, fmt.Errorf("embedding answer has an empty vector at index %d", d.Index)
		}
		if err := checkFinite(d.Embedding); err != nil {
			return nil, -1, fmt.Errorf("embedding at index %d: %w", d.Index, err)
		}
		vecs[d.Index] = normalize(d.Embedding)
	}
	want := int(e.dim.Load())
	if want == 0 {
		e.dim.CompareAndSwap(0, int64(len(vecs[0])))
		want = int(e.dim.Load())
	}
	for i, v := range vecs {
		if len(v) != want {
			return nil, -1, fmt.Errorf("embedding at index %d: %w: got %d values, want %d", i, ErrDimension, len(v), want)
		}
	}
	return vecs, 0, nil
}

func parseRetryAfter(h string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
