package clock

import (
	"strconv"

	"github.com/nats-io/nats.go"
)

// OriginalSequenceHeader carries, on a replayed dead letter, the stream
// sequence the command had when it was first published. The worker ranks
// the replay there, so it never overwrites what newer commands set.
const OriginalSequenceHeader = "Perfex-Original-Sequence"

// Rank is the position a message takes in its contact's order: the
// sequence in OriginalSequenceHeader when it names an earlier message than
// this one, else the message's own stream sequence. A header naming this
// message or a later one is ignored (ok is false), so a publisher cannot
// rank a command ahead of commands not yet published.
func Rank(streamSeq uint64, h nats.Header) (rank uint64, ok bool) {
	v := h.Get(OriginalSequenceHeader)
	if v == "" {
		return streamSeq, true
	}
	orig, err := strconv.ParseUint(v, 10, 64)
	if err != nil || orig == 0 || orig >= streamSeq {
		return streamSeq, false
	}
	return orig, true
}
