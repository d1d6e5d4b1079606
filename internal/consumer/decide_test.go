package consumer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	up := situation{perfex: verdictUp}
	tests := []struct {
		name string
		c    class
		s    situation
		want action
	}{
		{"invalid", classInvalid, situation{}, actDeadLetter},
		{"applied", classApplied, situation{}, actAck},
		{"applied_while_stopping", classApplied, situation{stopping: true}, actAck},
		{"permanent", classPermanent, situation{}, actDeadLetter},
		{"store_failed", classStoreFailed, situation{}, actNak},
		{"rate_limited", classRateLimited, up, actWaitRateLimit},
		{"held", classHeld, situation{}, actPark},
		{"transient_down", classTransient, situation{perfex: verdictDown, atLimit: true}, actPark},
		{"transient_held", classTransient, situation{perfex: verdictHeld}, actPark},
		{"transient_local", classTransient, situation{perfex: verdictUp, localLeft: true, atLimit: true}, actRetryLocal},
		{"transient_nak", classTransient, up, actNak},
		{"transient_limit", classTransient, situation{perfex: verdictUp, atLimit: true}, actDeadLetter},
		{"transient_stopping", classTransient, situation{perfex: verdictUp, stopping: true}, actNakShort},
		{"transient_probe_stopped", classTransient, situation{perfex: verdictStopped}, actNakShort},
		{"held_stopping", classHeld, situation{stopping: true}, actNakShort},
		{"stopped", classStopped, situation{}, actNakShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(tt.c, tt.s); got != tt.want {
				t.Errorf("decide(%v, %+v) = %v, want %v", tt.c, tt.s, got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	live := context.Background()
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		err  error
		work context.Context
		want class
	}{
		{"nil", nil, live, classApplied},
		{"permanent", &crm.PermanentError{Reason: reason.NotFound}, live, classPermanent},
		{"wrapped_permanent", fmt.Errorf("x: %w", &crm.PermanentError{}), live, classPermanent},
		{"held", &crm.HeldError{Reason: reason.WrongEndpoint}, live, classHeld},
		{"rate_limited", &crm.TransientError{Reason: reason.RateLimited}, live, classRateLimited},
		{"transient", &crm.TransientError{Reason: reason.Connection}, live, classTransient},
		{"untyped", errors.New("boom"), live, classTransient},
		{"cut_by_drain", &crm.TransientError{Reason: reason.Connection, Err: context.Canceled}, dead, classStopped},
		{"permanent_during_drain", &crm.PermanentError{}, dead, classPermanent},
		{"not_started", errStopped, live, classStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err, tt.work); got != tt.want {
				t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestBackoffIsCapped(t *testing.T) {
	t.Parallel()
	c := &Consumer{cfg: Config{RetryInitial: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, RetryMultiplier: 2}}
	for n := range 20 {
		d := c.backoff(n)
		if d <= 0 || d > 50*time.Millisecond {
			t.Errorf("backoff(%d) = %s", n, d)
		}
	}
	if d := c.backoff(0); d < 5*time.Millisecond || d > 15*time.Millisecond {
		t.Errorf("first backoff %s is not RetryInitial with ±50%% jitter", d)
	}
}

func TestReadableID(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"id":"c1","type":5}`: "c1",
		`{"id":7}`:             "",
		`{"id":"  "}`:          "",
		`not json`:             "",
		`[1,2]`:                "",
	} {
		if got := readableID([]byte(body)); got != want {
			t.Errorf("readableID(%s) = %q, want %q", body, got, want)
		}
	}
}
