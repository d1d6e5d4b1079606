// Package cli is the perfex-worker command line: it parses flags and the
// environment, validates them, and wires the internal packages together.
// The binary in worker/ only calls Main.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kong"
)

// Exit statuses (CONTRACT.md, "Operators' command line").
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Version is the build's version, set with -ldflags "-X ...cli.Version=v1.2.3";
// when empty it comes from the module's build information.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

// root is the whole command tree.
type root struct {
	Version kong.VersionFlag `help:"Print the version and exit."`

	Run       runCmd       `cmd:"" help:"Run the worker: apply commands from JetStream to Perfex until SIGINT/SIGTERM."`
	Dev       devCmd       `cmd:"" help:"Run the worker with an embedded JetStream server and a Perfex simulator, for a first look."`
	Publish   publishCmd   `cmd:"" help:"Publish commands: one from flags, or JSON lines from a file or stdin."`
	Simulator simulatorCmd `cmd:"" hidden:"" help:"Serve the Perfex API simulator alone (for compose files and manual tests)."`
	Dlq       dlqCmd       `cmd:"" help:"Operate the dead-letter queue: list, show, replay, purge, stats, export."`
}

// usageError marks a problem with the command line or configuration: the
// process exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// env carries what commands need from the process.
type env struct {
	stdout, stderr io.Writer
	ctx            context.Context
}

// Main runs the command line with args (without the program name) and
// returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	var cli root
	exited := -1
	parser, err := kong.New(&cli,
		kong.Name("perfex-worker"),
		kong.Description("Applies contact updates from NATS JetStream to Perfex CRM, with retries and a dead-letter queue."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Vars{"version": version(), "log_format": "json"},
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exited = code; panic(exitPanic{}) }),
	)
	if err != nil {
		fmt.Fprintf(stderr, "perfex-worker: %v\n", err)
		return exitFailure
	}

	kctx, ok := parse(parser, args)
	if exited >= 0 {
		return exited
	}
	if !ok {
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	err = kctx.Run(&env{stdout: stdout, stderr: stderr, ctx: ctx})
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "perfex-worker: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

type exitPanic struct{}

// parse runs kong's parser. Kong ends help and --version through the Exit
// option, which panics with exitPanic so that Main can return the status
// instead of the process exiting under a test.
func parse(parser *kong.Kong, args []string) (kctx *kong.Context, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, is := r.(exitPanic); !is {
				panic(r)
			}
			kctx, ok = nil, false
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		parser.Errorf("%s", err)
		var pe *kong.ParseError
		if errors.As(err, &pe) && pe.Context != nil {
			_ = pe.Context.PrintUsage(true)
		}
		return nil, false
	}
	return kctx, true
}
