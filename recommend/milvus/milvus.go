package milvus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"google.golang.org/grpc"

	"github.com/cohortd/cohortd/recommend"
)

// Field names of a collection.
const (
	FieldID        = "id"
	FieldPublished = "published_at"
	FieldVector    = "vector"
)

// MaxIDLength bounds ids (the VARCHAR primary key's max_length).
const MaxIDLength = 512

// Config says where and how to keep vectors in Milvus.
type Config struct {
	Address  string // HOST:PORT
	Username string // optional
	Password string // optional (from the environment, never a flag)
	DBName   string // optional
	// Collection is the collection's name.
	Collection string
	// Dim is the vector dimension.
	Dim int
	// M and EfConstruction tune the HNSW index (defaults 16 and 200); Ef
	// is the search list (default 128, raised to k when smaller).
	M, EfConstruction, Ef int
	// BatchSize bounds the rows of one upsert (default 1000).
	BatchSize int
	// Timeout bounds each call (default 10 s).
	Timeout time.Duration
	// DialOptions are passed to gRPC (tests dial an in-process server).
	DialOptions []grpc.DialOption
}

// Index is a recommend.VectorIndex over one Milvus collection.
type Index struct {
	c   client.Client
	cfg Config
}

var _ recommend.VectorIndex = (*Index)(nil)

// Open connects and makes sure the collection exists with an HNSW/COSINE
// index and is loaded.
func Open(ctx context.Context, cfg Config) (*Index, error) {
	if cfg.Address == "" {
		return nil, errors.New("milvus address is empty")
	}
	if cfg.Collection == "" {
		return nil, errors.New("milvus collection name is empty")
	}
	if cfg.Dim <= 0 {
		return nil, fmt.Errorf("milvus vector dimension %d is not positive", cfg.Dim)
	}
	if cfg.M <= 0 {
		cfg.M = 16
	}
	if cfg.EfConstruction <= 0 {
		cfg.EfConstruction = 200
	}
	if cfg.Ef <= 0 {
		cfg.Ef = 128
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	c, err := client.NewClient(cctx, client.Config{
		Address: cfg.Address, Username: cfg.Username, Password: cfg.Password, DBName: cfg.DBName,
		DialOptions: cfg.DialOptions,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to milvus at %q: %w", cfg.Address, err)
	}
	x := &Index{c: c, cfg: cfg}
	if err := x.ensure(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return x, nil
}

// OpenPair opens the articles and users collections of cohortd:
// prefix+"_articles" and prefix+"_users" (prefix "cohortd" when empty).
func OpenPair(ctx context.Context, cfg Config, prefix string) (articles, users *Index, err error) {
	if prefix == "" {
		prefix = "cohortd"
	}
	a, u := cfg, cfg
	a.Collection, u.Collection = prefix+"_articles", prefix+"_users"
	if articles, err = Open(ctx, a); err != nil {
		return nil, nil, err
	}
	if users, err = Open(ctx, u); err != nil {
		articles.Close()
		return nil, nil, err
	}
	return articles, users, nil
}

// Close closes the connection.
func (x *Index) Close() error { return x.c.Close() }

func (x *Index) ensure(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 4*x.cfg.Timeout)
	defer cancel()
	name := x.cfg.Collection
	has, err := x.c.HasCollection(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot check milvus collection %q: %w", name, err)
	}
	if has {
		coll, err := x.c.DescribeCollection(ctx, name)
		if err != nil {
			return fmt.Errorf("cannot describe milvus collection %q: %w", name, err)
		}
		if err := checkSchema(coll.Schema, x.cfg.Dim); err != nil {
			return fmt.Errorf("milvus collection %q: %w", name, err)
		}
	} else {
		schema := entity.NewSchema().WithName(name).WithDescription("cohortd recommendation vectors").
			WithField(entity.NewField().WithName(FieldID).WithDataType(entity.FieldTypeVarChar).
				WithIsPrimaryKey(true).WithMaxLength(MaxIDLength)).
			WithField(entity.NewField().WithName(FieldPublished).WithDataType(entity.FieldTypeInt64)).
			WithField(entity.NewField().WithName(FieldVector).WithDataType(entity.FieldTypeFloatVector).
				WithDim(int64(x.cfg.Dim)))
		if err := x.c.CreateCollection(ctx, schema, 1); err != nil {
			return fmt.Errorf("cannot create milvus collection %q: %w", name, err)
		}
		idx, err := entity.NewIndexHNSW(entity.COSINE, x.cfg.M, x.cfg.EfConstruction)
		if err != nil {
			return fmt.Errorf("milvus index parameters: %w", err)
		}
		if err := x.c.CreateIndex(ctx, name, FieldVector, idx, false); err != nil {
			return fmt.Errorf("cannot index milvus collection %q: %w", name, err)
		}
	}
	if err := x.c.LoadCollection(ctx, name, false); err != nil {
		return fmt.Errorf("cannot load milvus collection %q: %w", name, err)
	}
	return nil
}

func checkSchema(s *entity.Schema, dim int) error {
	var found int
	for _, f := range s.Fields {
		switch f.Name {
		case FieldID, FieldPublished:
			found++
		case FieldVector:
			found++
			if d, _ := strconv.Atoi(f.TypeParams[entity.TypeParamDim]); d != dim {
				return fmt.Errorf("its vectors have %d dimensions, the embedder makes %d (drop the collection, or use another collection prefix)", d, dim)
			}
		}
	}
	if found != 3 {
		return fmt.Errorf("it lacks the fields %s, %s and %s", FieldID, FieldPublished, FieldVector)
	}
	return nil
}

// Len is the collection's row count as Milvus reports it (0 when it cannot
// be asked).
func (x *Index) Len() int {
	ctx, cancel := context.WithTimeout(context.Background(), x.cfg.Timeout)
	defer cancel()
	st, err := x.c.GetCollectionStatistics(ctx, x.cfg.Collection)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(st["row_count"])
	return n
}

// Upsert writes items in batches.
func (x *Index) Upsert(ctx context.Context, items ...recommend.Item) error {
	for from := 0; from < len(items); from += x.cfg.BatchSize {
		batch := items[from:min(from+x.cfg.BatchSize, len(items))]
		ids := make([]string, len(batch))
		pubs := make([]int64, len(batch))
		vecs := make([][]float32, len(batch))
		for i, it := range batch {
			if len(it.Vector) != x.cfg.Dim {
				return fmt.Errorf("cannot upsert %q: %w: got %d values, want %d", it.ID, recommend.ErrDimension, len(it.Vector), x.cfg.Dim)
			}
			if it.ID == "" || len(it.ID) > MaxIDLength {
				return fmt.Errorf("cannot upsert id %q: empty or longer than %d bytes", it.ID, MaxIDLength)
			}
			ids[i], vecs[i] = it.ID, it.Vector
			if !it.PublishedAt.IsZero() {
				pubs[i] = it.PublishedAt.Unix()
			}
		}
		cctx, cancel := context.WithTimeout(ctx, x.cfg.Timeout)
		_, err := x.c.Upsert(cctx, x.cfg.Collection, "",
			entity.NewColumnVarChar(FieldID, ids),
			entity.NewColumnInt64(FieldPublished, pubs),
			entity.NewColumnFloatVector(FieldVector, x.cfg.Dim, vecs))
		cancel()
		if err != nil {
			return fmt.Errorf("cannot upsert into milvus collection %q: %w", x.cfg.Collection, err)
		}
	}
	return nil
}

// Delete removes ids (`id in [...]`).
func (x *Index) Delete(ctx context.Context, ids ...string) error {
	for from := 0; from < len(ids); from += x.cfg.BatchSize {
		batch := ids[from:min(from+x.cfg.BatchSize, len(ids))]
		cctx, cancel := context.WithTimeout(ctx, x.cfg.Timeout)
		err := x.c.Delete(cctx, x.cfg.Collection, "", FieldID+" in "+stringList(batch))
		cancel()
		if err != nil {
			return fmt.Errorf("cannot delete from milvus collection %q: %w", x.cfg.Collection, err)
		}
	}
	return nil
}

// Search asks Milvus for the k most similar rows passing f.
func (x *Index) Search(ctx context.Context, query []float32, k int, f recommend.Filter) ([]recommend.Hit, error) {
	if len(query) != x.cfg.Dim {
		return nil, fmt.Errorf("cannot search: %w: got %d values, want %d", recommend.ErrDimension, len(query), x.cfg.Dim)
	}
	if k <= 0 {
		return nil, nil
	}
	sp, err := entity.NewIndexHNSWSearchParam(max(x.cfg.Ef, k))
	if err != nil {
		return nil, fmt.Errorf("cannot search: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, x.cfg.Timeout)
	defer cancel()
	res, err := x.c.Search(cctx, x.cfg.Collection, nil, FilterExpr(f), nil,
		[]entity.Vector{entity.FloatVector(query)}, FieldVector, entity.COSINE, k, sp)
	if err != nil {
		return nil, fmt.Errorf("cannot search milvus collection %q: %w", x.cfg.Collection, err)
	}
	if len(res) == 0 {
		return nil, nil
	}
	r := res[0]
	if r.Err != nil {
		return nil, fmt.Errorf("cannot read milvus search results: %w", r.Err)
	}
	ids, ok := r.IDs.(*entity.ColumnVarChar)
	if !ok {
		return nil, fmt.Errorf("milvus returned ids of type %T, want varchar", r.IDs)
	}
	hits := make([]recommend.Hit, 0, r.ResultCount)
	for i := 0; i < r.ResultCount && i < len(r.Scores); i++ {
		id, err := ids.ValueByIdx(i)
		if err != nil {
			return nil, fmt.Errorf("cannot read milvus search results: %w", err)
		}
		hits = append(hits, recommend.Hit{ID: id, Score: r.Scores[i]})
	}
	return hits, nil
}

// FilterExpr is the Milvus boolean expression of a filter ("" for none):
// `id not in ["a", "b"] && published_at >= 1700000000 && published_at <= 1800000000`.
func FilterExpr(f recommend.Filter) string {
	var parts []string
	if len(f.Exclude) > 0 {
		parts = append(parts, FieldID+" not in "+stringList(f.Exclude))
	}
	if !f.PublishedAfter.IsZero() {
		parts = append(parts, fmt.Sprintf("%s >= %d", FieldPublished, f.PublishedAfter.Unix()))
	}
	if !f.PublishedBefore.IsZero() {
		parts = append(parts, fmt.Sprintf("%s <= %d", FieldPublished, f.PublishedBefore.Unix()))
	}
	return strings.Join(parts, " && ")
}

// stringList is a Milvus list of string literals: ["a", "b\"c"].
func stringList(ids []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('"')
		for _, r := range id {
			switch r {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case '\n':
				b.WriteString(`\n`)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}
