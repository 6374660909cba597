package realtime

import (
	"context"
	"testing"
	"time"

	"github.com/cohortd/cohortd/store/events"
)

// TestHTTPEventsDoneWhenAnswered: while Run runs, the read history and the
// hooks run on a goroutine of their own; a POSTed batch must still have
// every effect done when ApplyNDJSON returns (the history itself is read
// here, not through Pipeline.History, which would wait for it).
func TestHTTPEventsDoneWhenAnswered(t *testing.T) {
	hist := events.NewMemHistory(0)
	deleted := make(chan string, 10)
	p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog(), SweepInterval: -1,
		Events: events.Options{History: hist, Hooks: events.Hooks{UserDeleted: func(u string) { deleted <- u }}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.LoadIndex(context.Background(), loadSet(t), oneUser(nil)); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, nil) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for i := range 50 {
		res := p.ApplyNDJSON([]byte(`{"type":"page_view","user_id":"u000","ts":"2026-01-12T10:00:00Z","article_id":"a-`+string(rune('a'+i%26))+`"}`+"\n"+
			`{"type":"page_view","user_id":"u001","ts":"2026-01-12T10:00:00Z","article_id":"a-1"}`), time.Now())
		if res.Accepted != 2 {
			t.Fatalf("round %d: %+v", i, res)
		}
		if !hist.HasRead("u000", "a-"+string(rune('a'+i%26))) || !hist.HasRead("u001", "a-1") {
			t.Fatalf("round %d: the reads of an answered POST are not in the history yet", i)
		}
	}
	res := p.ApplyNDJSON([]byte(`{"type":"user_deleted","user_id":"u001","ts":"2026-01-12T11:00:00Z"}`), time.Now())
	if res.Accepted != 1 || hist.HasRead("u001", "a-1") {
		t.Fatalf("erasure answered (%+v) but the history still holds the user", res)
	}
	select {
	case u := <-deleted:
		if u != "u001" {
			t.Fatalf("UserDeleted(%q)", u)
		}
	default:
		t.Fatalf("erasure answered before the UserDeleted hook ran")
	}
}
