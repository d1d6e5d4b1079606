package dlq

import (
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// AgeBuckets are the upper bounds of the age groups Stats counts; letters
// older than the last fall in a final group.
var AgeBuckets = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// fillWarning is the share of a stream limit past which Stats warns:
// eviction is still far enough to act on.
const fillWarning = 0.8

// Stats summarises the dead-letter stream.
type Stats struct {
	Total    int            `json:"total"`
	Invalid  int            `json:"invalid,omitempty"`
	ByReason map[string]int `json:"by_reason"`
	// ByStatus is keyed by HTTP status, "none" when no request was made.
	ByStatus map[string]int `json:"by_status"`
	// ByAge counts letters per AgeBuckets group, keyed "<1h", "1h-24h",
	// "1d-7d", "7d-30d", ">30d".
	ByAge    map[string]int `json:"by_age"`
	ByReplay map[int]int    `json:"by_replay_count"`
	Oldest   time.Time      `json:"oldest,omitzero"`
	Newest   time.Time      `json:"newest,omitzero"`
	Fill     Fill           `json:"fill"`
	Warnings []string       `json:"warnings,omitempty"`
}

// Fill is the stream's use of its limits; a zero limit means unlimited.
type Fill struct {
	Msgs     uint64        `json:"msgs"`
	MaxMsgs  int64         `json:"max_msgs"`
	Bytes    uint64        `json:"bytes"`
	MaxBytes int64         `json:"max_bytes"`
	MaxAge   time.Duration `json:"max_age"`
	// OldestAge is the oldest letter's age.
	OldestAge time.Duration `json:"oldest_age"`
}

// AgeLabels names the AgeBuckets groups in order.
var AgeLabels = []string{"<1h", "1h-24h", "1d-7d", "7d-30d", ">30d"}

// NewStats returns empty stats for a stream described by info.
func NewStats(info *jetstream.StreamInfo) *Stats {
	return &Stats{
		ByReason: map[string]int{}, ByStatus: map[string]int{}, ByAge: map[string]int{}, ByReplay: map[int]int{},
		Fill: Fill{
			Msgs: info.State.Msgs, MaxMsgs: info.Config.MaxMsgs,
			Bytes: info.State.Bytes, MaxBytes: info.Config.MaxBytes, MaxAge: info.Config.MaxAge,
		},
	}
}

// Add counts one letter at now.
func (s *Stats) Add(l Letter, now time.Time) {
	s.Total++
	s.ByReason[string(l.Reason)]++
	status := "none"
	if l.Status > 0 {
		status = itoa(l.Status)
	}
	s.ByStatus[status]++
	age := now.Sub(l.StoredAt)
	label := AgeLabels[len(AgeLabels)-1]
	for i, b := range AgeBuckets {
		if age < b {
			label = AgeLabels[i]
			break
		}
	}
	s.ByAge[label]++
	s.ByReplay[l.ReplayCount]++
	if s.Oldest.IsZero() || l.StoredAt.Before(s.Oldest) {
		s.Oldest = l.StoredAt
	}
	if l.StoredAt.After(s.Newest) {
		s.Newest = l.StoredAt
	}
}

// Finish computes the oldest age and the warnings.
func (s *Stats) Finish(now time.Time) {
	if !s.Oldest.IsZero() {
		s.Fill.OldestAge = now.Sub(s.Oldest).Truncate(time.Second)
	}
	f := s.Fill
	if f.MaxAge > 0 && f.OldestAge > time.Duration(float64(f.MaxAge)*fillWarning) {
		s.Warnings = append(s.Warnings, "the oldest letter is "+f.OldestAge.String()+" old: MaxAge ("+f.MaxAge.String()+
			") removes it in "+(f.MaxAge-f.OldestAge).Truncate(time.Second).String()+"; replay, export or purge it first")
	}
	if f.MaxMsgs > 0 && float64(f.Msgs) > float64(f.MaxMsgs)*fillWarning {
		s.Warnings = append(s.Warnings, "the stream holds "+utoa(f.Msgs)+" of at most "+itoa(int(f.MaxMsgs))+
			" letters: the oldest are removed when it is full")
	}
	if f.MaxBytes > 0 && float64(f.Bytes) > float64(f.MaxBytes)*fillWarning {
		s.Warnings = append(s.Warnings, "the stream holds "+utoa(f.Bytes)+" of at most "+itoa(int(f.MaxBytes))+
			" bytes: the oldest letters are removed when it is full")
	}
}

func itoa(n int) string    { return strconv.Itoa(n) }
func utoa(n uint64) string { return strconv.FormatUint(n, 10) }
