package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

type replayFixture struct {
	js jetstream.JetStream
	b  *dlq.Browser
	r  *dlq.Replayer
}

func setupReplay(t testing.TB) *replayFixture {
	t.Helper()
	s := brokertest.StartServer(t)
	_, js := brokertest.Connect(t, s)
	if err := broker.Provision(context.Background(), js, broker.Settings{}); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	b, err := dlq.NewBrowser(context.Background(), js, broker.Names{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := dlq.NewReplayer(context.Background(), js, b, dlq.ReplayConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return &replayFixture{js: js, b: b, r: r}
}

func letterMsg(contact int, reasonCode string, body string) *nats.Msg {
	c := strconv.Itoa(contact)
	msg := nats.NewMsg("perfex.dlq.contact.update." + c)
	msg.Data = []byte(body)
	msg.Header.Set(dlq.HeaderReason, reasonCode)
	msg.Header.Set(dlq.HeaderSubject, "perfex.cmd.contact.update."+c)
	msg.Header.Set(dlq.HeaderStream, "PERFEX_COMMANDS")
	msg.Header.Set(dlq.HeaderSequence, "7")
	msg.Header.Set(dlq.HeaderCommandID, "c-"+c)
	return msg
}

func (f *replayFixture) letter(t *testing.T, contact int, body string) dlq.Letter {
	t.Helper()
	ack, err := f.js.PublishMsg(t.Context(), letterMsg(contact, "not_found", body))
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.b.Get(t.Context(), ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func body(contact int, title string) string {
	return fmt.Sprintf(`{"id":"c-%d","type":"contact.update","contact_id":%d,"data":{"title":%q,"password":"pw-secret-1"}}`, contact, contact, title)
}

func TestReplayDuplicates(t *testing.T) {
	t.Parallel()
	f := setupReplay(t)

	t.Run("earlier_run_stored_it", func(t *testing.T) {
		l := f.letter(t, 1, body(1, "A"))
		rp, err := f.r.Prepare(l, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.js.PublishMsg(t.Context(), rp.Msg); err != nil {
			t.Fatal(err)
		}
		res, err := f.r.Send(t.Context(), rp)
		if err != nil || !res.AlreadySent || !res.Verified {
			t.Fatalf("Send = %+v, %v", res, err)
		}
		if _, err := f.b.Get(t.Context(), l.Sequence); !errors.Is(err, dlq.ErrNoLetter) {
			t.Errorf("the letter is still there: %v", err)
		}
	})

	t.Run("different_body_fails", func(t *testing.T) {
		l := f.letter(t, 2, body(2, "A"))
		rp, err := f.r.Prepare(l, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.js.PublishMsg(t.Context(), rp.Msg); err != nil {
			t.Fatal(err)
		}
		edited, err := f.r.Prepare(l, nil, []dlq.Edit{{Path: "data.title", Value: []byte(`"B"`)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.r.Send(t.Context(), edited); !errors.Is(err, dlq.ErrDuplicate) || !strings.Contains(err.Error(), "different body") {
			t.Fatalf("Send = %v, want ErrDuplicate", err)
		}
		if _, err := f.b.Get(t.Context(), l.Sequence); err != nil {
			t.Errorf("the letter is gone: %v", err)
		}
	})

	t.Run("consumed_by_the_worker", func(t *testing.T) {
		l := f.letter(t, 3, body(3, "A"))
		rp, err := f.r.Prepare(l, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ack, err := f.js.PublishMsg(t.Context(), rp.Msg)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.js.Stream(t.Context(), "PERFEX_COMMANDS")
		if err := st.DeleteMsg(t.Context(), ack.Sequence); err != nil {
			t.Fatal(err)
		}
		res, err := f.r.Send(t.Context(), rp)
		if err != nil || !res.AlreadySent || res.Verified {
			t.Fatalf("Send = %+v, %v", res, err)
		}
	})
}

func TestPrepare(t *testing.T) {
	t.Parallel()
	f := setupReplay(t)
	l := f.letter(t, 4, body(4, "A"))
	l.Headers.Set(dlq.HeaderReplayOf, "PERFEX_DLQ:1")
	l.Headers.Set(dlq.HeaderReplayEdited, "data.email")
	l.Headers.Set("traceparent", "tp")

	rp, err := f.r.Prepare(l, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := rp.Msg.Header
	if string(rp.Msg.Data) != string(l.Body) || h.Get(dlq.HeaderReplayEdited) != "" || h.Get("traceparent") != "tp" ||
		h.Get(dlq.HeaderReplayOf) != "PERFEX_DLQ:"+strconv.FormatUint(l.Sequence, 10) ||
		h.Get(dlq.HeaderOriginalSequence) != "7" || h.Get(jetstream.MsgIDHeader) != dlq.ReplayMsgID("PERFEX_DLQ", l) {
		t.Errorf("prepared %s with %v", rp.Msg.Data, h)
	}

	// An export line with the password masked and the title changed.
	file := []byte(strings.Replace(strings.Replace(body(4, "A"), "pw-secret-1", dlq.Masked, 1), `"A"`, `"B"`, 1))
	rp, err = f.r.Prepare(l, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rp.Msg.Data), "pw-secret-1") || fmt.Sprint(rp.Edited) != "[data.title]" {
		t.Errorf("from file: %s, edited %v", rp.Msg.Data, rp.Edited)
	}

	noPw := f.letter(t, 5, `{"id":"c-5","type":"contact.update","contact_id":5,"data":{"title":"A"}}`)
	masked := []byte(`{"id":"c-5","type":"contact.update","contact_id":5,"data":{"title":"A","password":"***"}}`)
	if _, err := f.r.Prepare(noPw, masked, nil); !errors.Is(err, dlq.ErrRefused) {
		t.Errorf("a masked password with none stored: %v, want ErrRefused", err)
	}
}

func TestMaskBody(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"data":{"password":"s3cret-pass"}}`,
		`{"data":{"password":12345678}}`,
		`{"data":{"Password" : "s3cret-pass"`,
		"not json password=s3cret-pass",
	} {
		if out := dlq.MaskBody([]byte(in)); strings.Contains(out, "s3cret-pass") || strings.Contains(out, "12345678") {
			t.Errorf("MaskBody(%q) = %q", in, out)
		}
	}
}

func TestStatsWarnings(t *testing.T) {
	t.Parallel()
	now := time.Now()
	info := &jetstream.StreamInfo{Config: jetstream.StreamConfig{MaxAge: 10 * time.Hour, MaxMsgs: 10}}
	info.State.Msgs = 9
	st := dlq.NewStats(info)
	st.Add(dlq.Letter{Reason: "not_found", Status: 404, StoredAt: now.Add(-9 * time.Hour)}, now)
	st.Finish(now)
	if len(st.Warnings) != 2 || !strings.Contains(st.Warnings[0], "MaxAge") || st.ByAge["1h-24h"] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// BenchmarkList measures listing the newest 50 of 100k dead letters, and
// listing one contact's letters among them.
func BenchmarkList(b *testing.B) {
	f := setupReplay(b)
	const n = 100_000
	ctx := context.Background()
	for i := range n {
		if _, err := f.js.PublishMsgAsync(letterMsg(i%1000+1, "not_found", body(i%1000+1, "T"))); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-f.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publishing timed out")
	}
	list := func(filter dlq.Filter, limit int) int {
		got := 0
		err := f.b.Scan(ctx, filter, dlq.ScanOptions{HeadersOnly: true}, func(dlq.Letter, error) bool {
			got++
			return limit == 0 || got < limit
		})
		if err != nil {
			b.Fatal(err)
		}
		return got
	}
	b.Run("newest_50", func(b *testing.B) {
		for b.Loop() {
			list(dlq.Filter{}, 50)
		}
	})
	b.Run("one_contact", func(b *testing.B) {
		for b.Loop() {
			if got := list(dlq.Filter{Contacts: []int64{7}}, 0); got != n/1000 {
				b.Fatalf("got %d letters", got)
			}
		}
	})
	b.Run("reason_all", func(b *testing.B) {
		for b.Loop() {
			if got := list(dlq.Filter{Reasons: []reason.Code{"not_found"}}, 0); got != n {
				b.Fatalf("got %d letters", got)
			}
		}
	})
}
