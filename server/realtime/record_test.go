package realtime

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cohortd/cohortd/compiler"
)

// TestChangeRecordIsJSONMarshal: the hand-written encoding of a change
// record is byte for byte what json.Marshal writes.
func TestChangeRecordIsJSONMarshal(t *testing.T) {
	ts := time.Date(2026, 1, 13, 8, 2, 11, 123_400_000, time.FixedZone("x", 3600))
	tests := []struct {
		name    string
		userID  string
		cohort  string
		entered bool
		eventID string
	}{
		{name: "plain", userID: "u-000123", cohort: "champion", entered: true, eventID: "pv-1"},
		{name: "no event id (sweep)", userID: "u1", cohort: "dormant"},
		{name: "quotes and backslashes", userID: `a"b\c`, cohort: "c", eventID: `e"1`},
		{name: "html characters", userID: "<u&1>", cohort: "x", entered: true},
		{name: "unicode and control", userID: "日本\u2028\t", cohort: "é", eventID: "\x01"},
		{name: "empty user", userID: "", cohort: "c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compiler.Change{Cohort: tt.cohort, Entered: tt.entered}
			got := changeRecord(tt.userID, c, ts, tt.eventID)
			want, err := json.Marshal(ChangeRecord{UserID: tt.userID, Cohort: tt.cohort, Change: c.Kind(),
				TS: ts.UTC().Format(time.RFC3339Nano), EventID: tt.eventID})
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Value) != string(want) {
				t.Errorf("record\n got  %s\n want %s", got.Value, want)
			}
			if string(got.Key) != tt.userID {
				t.Errorf("key %q, want %q", got.Key, tt.userID)
			}
			// The value is the contract's four fields; the event travels in
			// a header.
			var fields map[string]any
			if err := json.Unmarshal(got.Value, &fields); err != nil || len(fields) != 4 {
				t.Errorf("value %s: want exactly user_id, cohort, change, ts (%v)", got.Value, err)
			}
			var hdr []string
			for _, h := range got.Headers {
				hdr = append(hdr, h.Key+"="+string(h.Value))
			}
			if want := EventIDHeader + "=" + tt.eventID; (tt.eventID == "" && len(hdr) != 0) || (tt.eventID != "" && (len(hdr) != 1 || hdr[0] != want)) {
				t.Errorf("headers %q, want %q", hdr, want)
			}
		})
	}
}
