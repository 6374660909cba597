package milvus

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/golang/protobuf/proto"
	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/grpc"
)

// fakeMilvus is an in-memory Milvus: the MilvusService calls the adapter
// makes, answered with real request and response messages over gRPC, with
// brute-force COSINE search and the subset of Milvus's expression language
// the adapter writes (id [not] in [...], published_at >=/<= N, joined by
// &&). An expression outside it is an error, as Milvus would give.
type fakeMilvus struct {
	milvuspb.UnimplementedMilvusServiceServer

	mu       sync.Mutex
	colls    map[string]*fakeColl
	nextID   int64
	calls    []string
	exprs    []string // filter expressions received by Search
	indexKVs map[string]map[string]string
}

type fakeColl struct {
	id     int64
	schema *schemapb.CollectionSchema
	dim    int
	rows   map[string]fakeRow
	loaded bool
}

type fakeRow struct {
	vec []float32
	pub int64
}

// startFake serves a fakeMilvus on a loopback port for the test's life.
func startFake(t *testing.T) (*fakeMilvus, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeMilvus{colls: map[string]*fakeColl{}, indexKVs: map[string]map[string]string{}}
	srv := grpc.NewServer()
	milvuspb.RegisterMilvusServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return f, lis.Addr().String()
}

func ok() *commonpb.Status { return &commonpb.Status{ErrorCode: commonpb.ErrorCode_Success} }

func fail(code commonpb.ErrorCode, format string, args ...any) *commonpb.Status {
	return &commonpb.Status{ErrorCode: code, Reason: fmt.Sprintf(format, args...), Code: 1}
}

func (f *fakeMilvus) called(name string) {
	f.calls = append(f.calls, name)
}

func (f *fakeMilvus) Connect(_ context.Context, _ *milvuspb.ConnectRequest) (*milvuspb.ConnectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("Connect")
	return &milvuspb.ConnectResponse{Status: ok(), Identifier: 1, ServerInfo: &commonpb.ServerInfo{BuildTags: "fake"}}, nil
}

func (f *fakeMilvus) HasCollection(_ context.Context, req *milvuspb.HasCollectionRequest) (*milvuspb.BoolResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("HasCollection")
	_, has := f.colls[req.GetCollectionName()]
	return &milvuspb.BoolResponse{Status: ok(), Value: has}, nil
}

func (f *fakeMilvus) CreateCollection(_ context.Context, req *milvuspb.CreateCollectionRequest) (*commonpb.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("CreateCollection")
	if _, dup := f.colls[req.GetCollectionName()]; dup {
		return fail(commonpb.ErrorCode_UnexpectedError, "collection %s exists", req.GetCollectionName()), nil
	}
	var s schemapb.CollectionSchema
	if err := proto.Unmarshal(req.GetSchema(), &s); err != nil {
		return fail(commonpb.ErrorCode_IllegalArgument, "bad schema: %v", err), nil
	}
	c := &fakeColl{schema: &s, rows: map[string]fakeRow{}}
	var pk bool
	for _, fld := range s.GetFields() {
		if fld.GetIsPrimaryKey() {
			pk = fld.GetDataType() == schemapb.DataType_VarChar
		}
		if fld.GetDataType() == schemapb.DataType_FloatVector {
			for _, kv := range fld.GetTypeParams() {
				if kv.GetKey() == "dim" {
					c.dim, _ = strconv.Atoi(kv.GetValue())
				}
			}
		}
	}
	if !pk || c.dim <= 0 {
		return fail(commonpb.ErrorCode_IllegalArgument, "schema needs a varchar primary key and a float vector with dim"), nil
	}
	f.nextID++
	c.id = f.nextID
	f.colls[req.GetCollectionName()] = c
	return ok(), nil
}

func (f *fakeMilvus) coll(name string) (*fakeColl, *commonpb.Status) {
	c := f.colls[name]
	if c == nil {
		return nil, fail(commonpb.ErrorCode_CollectionNotExists, "collection %s not found", name)
	}
	return c, nil
}

func (f *fakeMilvus) DescribeCollection(_ context.Context, req *milvuspb.DescribeCollectionRequest) (*milvuspb.DescribeCollectionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("DescribeCollection")
	c, st := f.coll(req.GetCollectionName())
	if st != nil {
		return &milvuspb.DescribeCollectionResponse{Status: st}, nil
	}
	return &milvuspb.DescribeCollectionResponse{Status: ok(), Schema: c.schema, CollectionID: c.id, CollectionName: req.GetCollectionName(), ShardsNum: 1}, nil
}

func (f *fakeMilvus) CreateIndex(_ context.Context, req *milvuspb.CreateIndexRequest) (*commonpb.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("CreateIndex")
	if _, st := f.coll(req.GetCollectionName()); st != nil {
		return st, nil
	}
	kv := map[string]string{"field": req.GetFieldName()}
	for _, p := range req.GetExtraParams() {
		kv[p.GetKey()] = p.GetValue()
	}
	f.indexKVs[req.GetCollectionName()] = kv
	return ok(), nil
}

func (f *fakeMilvus) DescribeIndex(_ context.Context, req *milvuspb.DescribeIndexRequest) (*milvuspb.DescribeIndexResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("DescribeIndex")
	kv, okIdx := f.indexKVs[req.GetCollectionName()]
	if !okIdx {
		return &milvuspb.DescribeIndexResponse{Status: fail(commonpb.ErrorCode_IndexNotExist, "no index")}, nil
	}
	return &milvuspb.DescribeIndexResponse{Status: ok(), IndexDescriptions: []*milvuspb.IndexDescription{{
		IndexName: "_default_idx", FieldName: kv["field"], State: commonpb.IndexState_Finished,
	}}}, nil
}

func (f *fakeMilvus) LoadCollection(_ context.Context, req *milvuspb.LoadCollectionRequest) (*commonpb.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("LoadCollection")
	c, st := f.coll(req.GetCollectionName())
	if st != nil {
		return st, nil
	}
	if _, indexed := f.indexKVs[req.GetCollectionName()]; !indexed {
		return fail(commonpb.ErrorCode_IndexNotExist, "index not found, cannot load"), nil
	}
	c.loaded = true
	return ok(), nil
}

func (f *fakeMilvus) GetLoadingProgress(_ context.Context, req *milvuspb.GetLoadingProgressRequest) (*milvuspb.GetLoadingProgressResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("GetLoadingProgress")
	c, st := f.coll(req.GetCollectionName())
	if st != nil {
		return &milvuspb.GetLoadingProgressResponse{Status: st}, nil
	}
	p := int64(0)
	if c.loaded {
		p = 100
	}
	return &milvuspb.GetLoadingProgressResponse{Status: ok(), Progress: p}, nil
}

func (f *fakeMilvus) GetCollectionStatistics(_ context.Context, req *milvuspb.GetCollectionStatisticsRequest) (*milvuspb.GetCollectionStatisticsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("GetCollectionStatistics")
	c, st := f.coll(req.GetCollectionName())
	if st != nil {
		return &milvuspb.GetCollectionStatisticsResponse{Status: st}, nil
	}
	return &milvuspb.GetCollectionStatisticsResponse{Status: ok(), Stats: []*commonpb.KeyValuePair{{Key: "row_count", Value: strconv.Itoa(len(c.rows))}}}, nil
}

func (f *fakeMilvus) Upsert(_ context.Context, req *milvuspb.UpsertRequest) (*milvuspb.MutationResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("Upsert")
	c, st := f.coll(req.GetCollectionName())
	if st != nil {
		return &milvuspb.MutationResult{Status: st}, nil
	}
	var ids []string
	var pubs []int64
	var vecs []float32
	dim := 0
	for _, fd := range req.GetFieldsData() {
		switch fd.GetFieldName() {
		case FieldID:
			ids = fd.GetScalars().GetStringData().GetData()
		case FieldPublished:
			pubs = fd.GetScalars().GetLongData().GetData()
		case FieldVector:
			vecs = fd.GetVectors().GetFloatVector().GetData()
			dim = int(fd.GetVectors().GetDim())
		default:
			return &milvuspb.MutationResult{Status: fail(commonpb.ErrorCode_IllegalArgument, "unknown field %s", fd.GetFieldName())}, nil
		}
	}
	n := int(req.GetNumRows())
	if len(ids) != n || len(pubs) != n || dim != c.dim || len(vecs) != n*dim {
		return &milvuspb.MutationResult{Status: fail(commonpb.ErrorCode_IllegalArgument, "columns do not match: %d rows, %d ids, %d times, dim %d/%d, %d floats", n, len(ids), len(pubs), dim, c.dim, len(vecs))}, nil
	}
	for i, id := range ids {
		c.rows[id] = fakeRow{vec: slices.Clone(vecs[i*dim : (i+1)*dim]), pub: pubs[i]}
	}
	return &milvuspb.MutationResult{Status: ok(), UpsertCnt: int64(n),
		IDs: &schemapb.IDs{IdField: &schemapb.IDs_StrId{StrId: &schemapb.StringArray{Data: ids}}}}, nil
}

func (f *fakeMilvus) Delete(_ context.Context, req *milvuspb.DeleteRequest) (*milvuspb.MutationResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("Delete")
	c, st := f.coll(req.GetCollectionName())
	if st != nil {
		return &milvuspb.MutationResult{Status: st}, nil
	}
	pred, err := parseExpr(req.GetExpr())
	if err != nil {
		return &milvuspb.MutationResult{Status: fail(commonpb.ErrorCode_IllegalArgument, "cannot parse expression: %v", err)}, nil
	}
	var n int64
	for id, r := range c.rows {
		if pred(id, r.pub) {
			delete(c.rows, id)
			n++
		}
	}
	return &milvuspb.MutationResult{Status: ok(), DeleteCnt: n}, nil
}

func (f *fakeMilvus) Search(_ context.Context, req *milvuspb.SearchRequest) (*milvuspb.SearchResults, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called("Search")
	f.exprs = append(f.exprs, req.GetDsl())
	c, st := f.coll(req.GetCollectionName())
	if st != nil {
		return &milvuspb.SearchResults{Status: st}, nil
	}
	if !c.loaded {
		return &milvuspb.SearchResults{Status: fail(commonpb.ErrorCode_UnexpectedError, "collection not loaded")}, nil
	}
	params := map[string]string{}
	for _, kv := range req.GetSearchParams() {
		params[kv.GetKey()] = kv.GetValue()
	}
	topk, err := strconv.Atoi(params["topk"])
	if err != nil || topk <= 0 || params["metric_type"] != "COSINE" || params["anns_field"] != FieldVector {
		return &milvuspb.SearchResults{Status: fail(commonpb.ErrorCode_IllegalArgument, "bad search params %v", params)}, nil
	}
	var sp map[string]any
	if err := json.Unmarshal([]byte(params["params"]), &sp); err != nil || sp["ef"] == nil {
		return &milvuspb.SearchResults{Status: fail(commonpb.ErrorCode_IllegalArgument, "HNSW search needs ef: %q", params["params"])}, nil
	}
	var phg commonpb.PlaceholderGroup
	if err := proto.Unmarshal(req.GetPlaceholderGroup(), &phg); err != nil || len(phg.GetPlaceholders()) != 1 {
		return &milvuspb.SearchResults{Status: fail(commonpb.ErrorCode_IllegalArgument, "bad placeholder group")}, nil
	}
	pred, err := parseExpr(req.GetDsl())
	if err != nil {
		return &milvuspb.SearchResults{Status: fail(commonpb.ErrorCode_IllegalArgument, "cannot parse expression: %v", err)}, nil
	}
	res := &schemapb.SearchResultData{TopK: int64(topk)}
	var allIDs []string
	for _, raw := range phg.GetPlaceholders()[0].GetValues() {
		if len(raw) != 4*c.dim {
			return &milvuspb.SearchResults{Status: fail(commonpb.ErrorCode_IllegalArgument, "query has %d bytes, want %d", len(raw), 4*c.dim)}, nil
		}
		q := make([]float32, c.dim)
		for i := range q {
			q[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		type hit struct {
			id    string
			score float32
		}
		var hits []hit
		for id, r := range c.rows {
			if pred(id, r.pub) {
				hits = append(hits, hit{id, cosine(q, r.vec)})
			}
		}
		slices.SortFunc(hits, func(a, b hit) int {
			if a.score != b.score {
				if a.score > b.score {
					return -1
				}
				return 1
			}
			return strings.Compare(a.id, b.id)
		})
		hits = hits[:min(topk, len(hits))]
		for _, h := range hits {
			allIDs = append(allIDs, h.id)
			res.Scores = append(res.Scores, h.score)
		}
		res.Topks = append(res.Topks, int64(len(hits)))
		res.NumQueries++
	}
	res.Ids = &schemapb.IDs{IdField: &schemapb.IDs_StrId{StrId: &schemapb.StringArray{Data: allIDs}}}
	return &milvuspb.SearchResults{Status: ok(), Results: res, CollectionName: req.GetCollectionName()}, nil
}

func cosine(a, b []float32) float32 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return float32(dot / math.Sqrt(na*nb))
}

// parseExpr understands `id in [..]`, `id not in [..]`, `published_at >= N`
// and `published_at <= N`, joined by " && " ("" matches everything).
func parseExpr(expr string) (func(id string, pub int64) bool, error) {
	var preds []func(string, int64) bool
	if strings.TrimSpace(expr) == "" {
		return func(string, int64) bool { return true }, nil
	}
	for _, clause := range strings.Split(expr, " && ") {
		clause = strings.TrimSpace(clause)
		switch {
		case strings.HasPrefix(clause, FieldID+" not in "), strings.HasPrefix(clause, FieldID+" in "):
			neg := strings.HasPrefix(clause, FieldID+" not in ")
			list := clause[strings.Index(clause, " in ")+4:]
			set, err := parseList(list)
			if err != nil {
				return nil, err
			}
			preds = append(preds, func(id string, _ int64) bool { return set[id] != neg })
		case strings.HasPrefix(clause, FieldPublished+" >= "), strings.HasPrefix(clause, FieldPublished+" <= "):
			n, err := strconv.ParseInt(clause[len(FieldPublished)+4:], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad number in %q", clause)
			}
			if clause[len(FieldPublished)+1] == '>' {
				preds = append(preds, func(_ string, p int64) bool { return p >= n })
			} else {
				preds = append(preds, func(_ string, p int64) bool { return p <= n })
			}
		default:
			return nil, fmt.Errorf("unsupported clause %q", clause)
		}
	}
	return func(id string, pub int64) bool {
		for _, p := range preds {
			if !p(id, pub) {
				return false
			}
		}
		return true
	}, nil
}

// parseList reads ["a", "b\"c"].
func parseList(s string) (map[string]bool, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, fmt.Errorf("not a list: %q", s)
	}
	out := map[string]bool{}
	rest := strings.TrimSpace(s[1 : len(s)-1])
	for rest != "" {
		if rest[0] != '"' {
			return nil, fmt.Errorf("expected a string at %q", rest)
		}
		end := 1
		for end < len(rest) && rest[end] != '"' {
			if rest[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(rest) {
			return nil, fmt.Errorf("unterminated string in %q", s)
		}
		v, err := strconv.Unquote(rest[:end+1])
		if err != nil {
			return nil, fmt.Errorf("bad string %q: %v", rest[:end+1], err)
		}
		out[v] = true
		rest = strings.TrimSpace(rest[end+1:])
		if strings.HasPrefix(rest, ",") {
			rest = strings.TrimSpace(rest[1:])
		}
	}
	return out, nil
}
