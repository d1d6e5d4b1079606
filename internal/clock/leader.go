package clock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// errNoMessage is the server's error code for "no message found".
const errNoMessage = 10037

// readLeader reads the key's last entry through the stream leader's
// message-get API rather than a direct get. A direct get may be answered
// by a replica that has not yet seen the previous lease holder's record,
// and judging a command against an old record would let it overwrite a
// newer value (JETSTREAM.md section 5, "Consistency"). It returns no
// data and a zero revision when the key has no entry, and no data with
// the marker's revision when its last entry is a delete, so that the
// next record is written over the marker.
func (s *Store) readLeader(ctx context.Context, key string) ([]byte, uint64, error) {
	req, err := json.Marshal(map[string]string{"last_by_subj": "$KV." + s.bucket + "." + key})
	if err != nil {
		return nil, 0, err
	}
	reply, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+s.bucket, req)
	if err != nil {
		return nil, 0, err
	}

	var resp struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("decoding the server's answer: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == errNoMessage:
		return nil, 0, nil
	case resp.Error != nil:
		return nil, 0, fmt.Errorf("server error %d (%d): %s", resp.Error.Code, resp.Error.ErrCode, resp.Error.Description)
	case resp.Message == nil:
		return nil, 0, errors.New("the server answered without a message")
	}
	if isDelete(resp.Message.Hdrs) {
		return nil, resp.Message.Seq, nil
	}
	return resp.Message.Data, resp.Message.Seq, nil
}

// isDelete reports whether the raw headers mark a KV delete or purge.
func isDelete(hdrs []byte) bool {
	for line := range strings.SplitSeq(string(hdrs), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "KV-Operation") {
			continue
		}
		op := strings.TrimSpace(value)
		return op == "DEL" || op == "PURGE"
	}
	return false
}
