package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

type dlqStatsCmd struct {
	natsFlags

	Output string `name:"output" short:"o" default:"text" enum:"text,json" help:"text or json."`
}

func (c *dlqStatsCmd) Help() string {
	return `Counts the dead letters by reason, by Perfex's HTTP status, by age and by
replay count, and compares the stream with its limits (MaxAge, MaxMsgs,
MaxBytes). It warns when the oldest letter has passed 80% of MaxAge or the
stream 80% of a size limit: past the limit the server removes the oldest
letters without a word. Reads headers only; changes nothing.

Examples:
  perfex-worker dlq stats
  perfex-worker dlq stats --output json | jq .warnings`
}

func (c *dlqStatsCmd) Run(e *env) error {
	s, err := openDLQ(e.ctx, &c.natsFlags, "dlq stats")
	if err != nil {
		return err
	}
	defer s.Close()
	info, err := s.browser.Info(e.ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	st := dlq.NewStats(info)
	err = s.browser.Scan(e.ctx, dlq.Filter{}, dlq.ScanOptions{HeadersOnly: true}, func(l dlq.Letter, perr error) bool {
		if perr != nil {
			st.Invalid++
			return true
		}
		st.Add(l, now)
		return true
	})
	if err != nil {
		return err
	}
	st.Finish(now)

	if c.Output == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	writeStats(e.stdout, info.Config.Name, st)
	return nil
}

func writeStats(w io.Writer, stream string, st *dlq.Stats) {
	fmt.Fprintf(w, "%s: %d dead letters", stream, st.Total)
	if st.Invalid > 0 {
		fmt.Fprintf(w, " (and %d messages that are not dead letters)", st.Invalid)
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "By reason:")
	for _, r := range reason.DeadLetterReasons {
		if n := st.ByReason[string(r)]; n > 0 {
			fmt.Fprintf(w, "  %-18s %6d  %s\n", r, n, r.Message(reason.English))
		}
	}
	for _, k := range sortedKeys(st.ByReason) {
		if !slices.Contains(reason.DeadLetterReasons, reason.Code(k)) {
			fmt.Fprintf(w, "  %-18s %6d\n", k, st.ByReason[k])
		}
	}
	fmt.Fprintln(w, "By HTTP status:")
	for _, k := range sortedKeys(st.ByStatus) {
		fmt.Fprintf(w, "  %-18s %6d\n", k, st.ByStatus[k])
	}
	fmt.Fprintln(w, "By age:")
	for _, k := range dlq.AgeLabels {
		fmt.Fprintf(w, "  %-18s %6d\n", k, st.ByAge[k])
	}
	fmt.Fprintln(w, "By replay count:")
	counts := make([]int, 0, len(st.ByReplay))
	for k := range st.ByReplay {
		counts = append(counts, k)
	}
	slices.Sort(counts)
	for _, k := range counts {
		fmt.Fprintf(w, "  %-18d %6d\n", k, st.ByReplay[k])
	}

	f := st.Fill
	fmt.Fprintln(w, "Stream limits:")
	fmt.Fprintf(w, "  messages           %d of %s\n", f.Msgs, limit(f.MaxMsgs))
	fmt.Fprintf(w, "  bytes              %d of %s\n", f.Bytes, limit(f.MaxBytes))
	maxAge := "unlimited"
	if f.MaxAge > 0 {
		maxAge = f.MaxAge.String()
	}
	fmt.Fprintf(w, "  oldest letter      %s old, MaxAge %s\n", f.OldestAge, maxAge)
	for _, warn := range st.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
}

func limit(n int64) string {
	if n <= 0 {
		return "unlimited"
	}
	return strconv.FormatInt(n, 10)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
