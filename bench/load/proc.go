package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is the worker or the lean reference running in its own process,
// so that its CPU time and RSS are its own: JetStream and the simulator
// stay in the orchestrator.
type child struct {
	cmd     *exec.Cmd
	logPath string // the child's stderr

	done    chan struct{} // closed when the process has exited
	waitErr error         // its exit error, once done is closed
}

// startChild starts this program again with args, its stderr going to
// the file logPath.
func startChild(logPath string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	c := &child{cmd: exec.Command(self, args...), logPath: logPath}
	c.cmd.Stdout = os.Stderr
	c.cmd.Stderr = logf
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	c.done = make(chan struct{})
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the child has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// waitUntil waits up to d for cond, and gives up at once, with what the
// child wrote to stderr, if the child ends first.
func (c *child) waitUntil(d time.Duration, cond func() bool) error {
	if !waitUntil(d, func() bool { return cond() || c.exited() }) {
		return fmt.Errorf("not within %s", d)
	}
	if cond() {
		return nil
	}
	return c.exitError()
}

// exitError says that the child ended, how, and what it wrote to stderr.
func (c *child) exitError() error {
	return fmt.Errorf("the child exited (%v): %s", c.waitErr, strings.TrimSpace(c.log()))
}

// log is what the child wrote to stderr so far.
func (c *child) log() string {
	b, _ := os.ReadFile(c.logPath)
	return string(b)
}

// stop ends the child with SIGTERM (the worker drains) and returns its
// exit error and what it wrote to stderr.
func (c *child) stop() (string, error) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.log(), c.waitErr
	case <-time.After(40 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return c.log(), fmt.Errorf("did not stop within 40s; killed")
	}
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every
// Linux this runs on.
const clockTick = 100

// cpu returns the child's user+system CPU time so far.
func (c *child) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc stat: %q", s)
	}
	return time.Duration(utime+stime) * time.Second / clockTick, nil
}

// memory returns the child's resident set now and its peak, in bytes.
func (c *child) memory() (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, sc.Err()
}

// selfCPU is this process's user+system CPU time: JetStream, the
// simulator and the bookkeeping of the run.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
