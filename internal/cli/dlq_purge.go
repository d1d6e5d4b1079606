package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/perfexworker/perfex-worker/internal/dlq"
)

type dlqPurgeCmd struct {
	natsFlags
	dlqFilterFlags

	Seqs   []uint64 `arg:"" optional:"" name:"seq" help:"Dead-letter sequences to delete."`
	All    bool     `name:"all" help:"Delete every dead letter."`
	Limit  int      `name:"limit" help:"With filters or --all, delete at most this many (the oldest first)."`
	Yes    bool     `name:"yes" short:"y" help:"Do not ask; required when not on a terminal."`
	DryRun bool     `name:"dry-run" help:"Print what would be deleted and delete nothing."`
}

func (c *dlqPurgeCmd) Help() string {
	return `Deletes the chosen dead letters for good, and prints each one it removed.
On a terminal it lists them and asks first; elsewhere it needs --yes.

Examples:
  perfex-worker dlq purge 42 43
  perfex-worker dlq purge --reason unknown_operation --until 720h --yes
  perfex-worker dlq purge --all --dry-run`
}

func (c *dlqPurgeCmd) Run(e *env) error {
	f, err := c.filter(time.Now())
	if err != nil {
		return err
	}
	sel := selection{seqs: c.Seqs, all: c.All, filter: f, limit: c.Limit}
	if err := sel.validate(false); err != nil {
		return err
	}
	interactive := isTerminal(stdin) && isTerminal(e.stdout)
	if !c.Yes && !c.DryRun && !interactive {
		return usagef("purge deletes for good: give --yes (or --dry-run to see what it would delete)")
	}

	s, err := openDLQ(e.ctx, &c.natsFlags, "dlq purge")
	if err != nil {
		return err
	}
	defer s.Close()
	letters, errs, err := sel.collect(e.ctx, s.browser, true)
	if err != nil {
		return err
	}
	for _, err := range errs {
		fmt.Fprintf(e.stdout, "%v\n", err)
	}
	if len(letters) == 0 {
		fmt.Fprintln(e.stdout, "no dead letters to delete")
		if len(errs) > 0 {
			return errors.New(plural(len(errs), "letter was", "letters were") + " not found")
		}
		return nil
	}

	if c.DryRun || (!c.Yes && interactive) {
		rows := make([]listRow, 0, len(letters))
		for _, l := range letters {
			rows = append(rows, newListRow(l))
		}
		writeTable(e.stdout, rows, terminalWidth(e.stdout))
	}
	if c.DryRun {
		fmt.Fprintf(e.stdout, "dry run: would delete %s; nothing was changed\n", plural(len(letters), "letter", "letters"))
		return nil
	}
	if !c.Yes {
		fmt.Fprintf(e.stdout, "Delete these %s for good? [y/N] ", plural(len(letters), "letter", "letters"))
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(e.stdout, "nothing deleted")
			return nil
		}
	}

	removed, failed := 0, len(errs)
	for _, l := range letters {
		if e.ctx.Err() != nil {
			break
		}
		if err := s.browser.Delete(e.ctx, l.Sequence); err != nil {
			failed++
			fmt.Fprintf(e.stdout, "%d: not deleted: %v\n", l.Sequence, err)
			continue
		}
		removed++
		fmt.Fprintf(e.stdout, "%d: deleted (%s, contact %d, command %s)\n",
			l.Sequence, l.Reason, dlq.ContactID(l.OriginalSubject), orDash(l.CommandID))
	}
	fmt.Fprintf(e.stdout, "deleted %d, failed %d\n", removed, failed)
	if e.ctx.Err() != nil {
		return errors.New("interrupted")
	}
	if failed > 0 {
		return errors.New(plural(failed, "letter was", "letters were") + " not deleted")
	}
	return nil
}
