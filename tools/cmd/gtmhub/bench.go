package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gtmhub/gtmhub/tools/internal/bench"
)

func newBenchCmd() *cobra.Command {
	cfg := bench.DefaultConfig()
	var (
		only, cpuProfile, traceFile string
		runs                        int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Args:  cobra.NoArgs,
		Short: "Measure gtmhub against raw HTTP and raw JetStream on this machine, in one run",
		Long: `bench starts its own NATS server (file storage), or runs on the scratch
server --nats-url names, which must hold no stream (the bench deletes every
stream on it when it ends), and measures, with the same load generator: a
bare HTTP handler (H), a bare handler publishing to JetStream (HJ), raw
JetStream publish and consume (J), then gtmhub's ingest, the whole pipeline
(webhook to notify decision), replay, and last the store on its own, on
SQLite and, given --postgres-url, on PostgreSQL in a scratch schema it drops
after. Latency is
measured open loop (each request timed from when it was due), after a second
of warm-up: HJ and ingest at half their own peak, the pipeline end to end at
--rate. gtmhub figures are shown as a ratio of their ceiling, beside the
CPU time and allocations each operation cost the process. --scale
10000,100000,1000000 then runs the pipeline with each of those numbers of
leads in turn, on the data of the steps before, and shows each step's rate
and cost per lead beside the first step's: whether the cost stays flat as
the stores grow. Last, the run judges gtmhub's performance targets on its
own figures, each beside what the same run's ceilings allow.

A machine shared with other work moves one run's figures by a tenth or
more. --runs 5 runs the same scenarios five times, each on a fresh server,
and prints each figure's median and range over the runs, and for each
target in how many runs it was met and whether its median meets it.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if only != "" {
				cfg.Only = strings.Split(only, ",")
			}
			if !cmd.Flags().Changed("postgres-url") {
				cfg.PostgresURL = os.Getenv("GTMHUB_BENCH_POSTGRES_URL")
			}
			if cmd.Flags().Changed("nats-url") {
				// Only when asked: the bench writes to the server's streams.
				cfg.NATSURL, _ = cmd.Flags().GetString("nats-url")
				cfg.NATSOptions = natsOptions(cmd.Flags())
			}
			if runs < 1 {
				return fmt.Errorf("--runs %d: run at least once", runs)
			}
			stop, err := startProfiles(cpuProfile, traceFile)
			if err != nil {
				return err
			}
			reps, err := runBench(cmd, cfg, runs)
			if err := stop(); err != nil {
				return err
			}
			if err != nil {
				return err
			}
			if runs == 1 {
				return printBench(cmd, reps[0])
			}
			return printRuns(cmd, reps)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Events, "events", cfg.Events, "events per throughput scenario")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the latency run")
	f.IntVar(&cfg.PayloadSize, "payload", cfg.PayloadSize, "lead size in bytes")
	f.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "concurrent keep-alive HTTP clients")
	f.Float64Var(&cfg.Rate, "rate", cfg.Rate, "offered load in leads/s for the latency run")
	f.StringVar(&only, "only", "", "scenarios to run, comma-separated (e.g. ceiling,ingest)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	f.StringVar(&traceFile, "trace", "", "write an execution trace of the whole run to this file (go tool trace): where requests waited, for the collector or a lock")
	f.StringVar(&cfg.HeapProfile, "memprofile", "", "write a heap profile, taken after the last scenario (with gtmhub still running unless the store scenarios ran), to this file")
	f.StringVar(&cfg.DataDir, "data-dir", "", "scratch directory (default: a temporary one, removed after)")
	f.BoolVar(&cfg.SyncAlways, "sync-always", false, "the embedded server syncs every write before acknowledging it (sync_interval: always)")
	f.StringVar(&cfg.PostgresURL, "postgres-url", "", "PostgreSQL database for the store/postgres scenario, which works in a scratch schema and drops it (env GTMHUB_BENCH_POSTGRES_URL)")
	f.IntSliceVar(&cfg.Scale, "scale", nil, "run the pipeline with each of these numbers of leads in turn (e.g. 10000,100000,1000000) and compare their cost per lead")
	f.DurationVar(&cfg.DedupWindow, "dedup-window", 0, "every stream's Nats-Msg-Id de-duplication window, at least 100ms (default: gtmhub's 2m)")
	f.IntVar(&runs, "runs", 1, "run the scenarios this many times and print each figure's median and range")
	return cmd
}

// runBench runs the scenarios of cfg runs times, one run after another,
// each on a server of its own.
func runBench(cmd *cobra.Command, cfg bench.Config, runs int) ([]bench.Report, error) {
	progress := benchProgress(cmd)
	reps := make([]bench.Report, 0, runs)
	for i := 1; i <= runs; i++ {
		c, p := cfg, progress
		if runs > 1 {
			if cfg.DataDir != "" {
				c.DataDir = filepath.Join(cfg.DataDir, fmt.Sprintf("run-%d", i))
			}
			p = func(s string, done, total int) { progress(fmt.Sprintf("%s (run %d/%d)", s, i, runs), done, total) }
		}
		rep, err := bench.Run(cmd.Context(), c, p)
		if err != nil {
			if runs > 1 {
				err = fmt.Errorf("run %d of %d: %w", i, runs, err)
			}
			return nil, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// startProfiles starts a CPU profile into cpuPath and an execution trace
// into tracePath, each only when its path is given, until the returned stop.
func startProfiles(cpuPath, tracePath string) (stop func() error, err error) {
	stopCPU, err := startRecording("cpu profile", cpuPath, pprof.StartCPUProfile, pprof.StopCPUProfile)
	if err != nil {
		return nil, err
	}
	stopTrace, err := startRecording("trace", tracePath, trace.Start, trace.Stop)
	if err != nil {
		return nil, errors.Join(err, stopCPU())
	}
	return func() error { return errors.Join(stopTrace(), stopCPU()) }, nil
}

// startRecording starts what records the process into the file at path
// (a CPU profile, an execution trace) until the returned stop; with no
// path it does nothing. what names it in errors.
func startRecording(what, path string, start func(io.Writer) error, end func()) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return func() error {
		end()
		return f.Close()
	}, nil
}

func benchProgress(cmd *cobra.Command) bench.Progress {
	w := cmd.ErrOrStderr()
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		var last string
		return func(s string, done, total int) {
			if s != last {
				fmt.Fprintf(w, "running %s\n", s)
				last = s
			}
		}
	}
	bars := map[string]*progressbar.ProgressBar{}
	return func(s string, done, total int) {
		bar, ok := bars[s]
		if !ok {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(fmt.Sprintf("%-26s", s)),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish())
			bars[s] = bar
		}
		_ = bar.Set(done)
	}
}

// ratioText is a result's ratio to its ceiling, with three decimals below
// 0.1 ("0.021×"), or what to run for one when the ceiling was not measured
// in the run.
func ratioText(r bench.Result) string {
	switch {
	case r.Baseline == "":
		return ""
	case r.Ratio == 0:
		return "(run " + r.Baseline + " too)"
	}
	return share(r.Ratio) + "× " + r.Baseline
}

func printBench(cmd *cobra.Command, rep bench.Report) error {
	p := newPrinter(cmd)
	if p.json {
		return p.print(rep, nil, nil)
	}
	var rows [][]string
	for _, r := range rep.Results {
		rows = append(rows, []string{r.Name, fmt.Sprint(r.Ops), fmt.Sprintf("%.0f/s", r.PerSecond), ms(r.P50), ms(r.P99), ms(r.P999),
			ratioText(r), micros(r.CPUOp), fmt.Sprintf("%.0f", r.AllocsOp)})
	}
	if err := p.print(nil, []string{"SCENARIO", "OPS", "RATE", "P50", "P99", "P99.9", "VS CEILING", "CPU/OP", "ALLOCS/OP"}, rows); err != nil {
		return err
	}
	if err := printScale(cmd, p, rep.Results); err != nil {
		return err
	}
	if err := printTargets(cmd, p, rep.Targets); err != nil {
		return err
	}
	printNotes(cmd, []bench.Report{rep}, rep.PeakRSS)
	return nil
}

// printNotes prints what reps, runs of the same scenarios, ran on and
// what each scenario measures, the webhooks resent, and the scenarios left
// out.
func printNotes(cmd *cobra.Command, reps []bench.Report, peakRSS int64) {
	first := reps[0]
	fmt.Fprintf(cmd.OutOrStdout(), "\npeak RSS %s, GOMAXPROCS %d, %d-byte leads, %d clients\n", mib(peakRSS), first.GoMax,
		first.Config.PayloadSize, first.Config.Concurrency)
	var (
		names   []string
		what    = map[string]string{}
		retried = map[string]int64{}
		width   int
	)
	for _, rep := range reps {
		for _, r := range rep.Results {
			if _, seen := what[r.Name]; !seen {
				names = append(names, r.Name)
				width = max(width, len(r.Name))
			}
			what[r.Name] = r.What
			retried[r.Name] += r.Retried
		}
	}
	for _, n := range names {
		fmt.Fprintf(cmd.OutOrStdout(), "  %-*s %s\n", width, n, what[n])
	}
	for _, n := range names {
		if retried[n] > 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d resends of webhooks answered \"retry later\"; their latency includes the wait\n", n, retried[n])
		}
	}
	for _, n := range first.NotRun {
		fmt.Fprintf(cmd.OutOrStdout(), "not run: %s, which needs %s\n", n.Name, n.Why)
	}
}

// printRuns prints several runs of the same scenarios as each figure's
// median and range, and each target's, or with --json every run and that
// summary.
func printRuns(cmd *cobra.Command, reps []bench.Report) error {
	sum := bench.Summarize(reps)
	p := newPrinter(cmd)
	if p.json {
		return p.print(struct {
			Runs    []bench.Report `json:"runs"`
			Summary bench.Summary  `json:"summary"`
		}{reps, sum}, nil, nil)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%d runs, each figure as its median (lowest–highest):\n", sum.Runs)
	if err := p.print(nil, []string{"SCENARIO", "RUNS", "RATE", "VS CEILING", "P50", "P99", "CPU/OP", "ALLOCS/OP"},
		spreadRows(sum.Scenarios)); err != nil {
		return err
	}
	if len(sum.Targets) > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "\ntargets (set for 2 cores and 1 KiB leads), judged on each run:\n")
		if err := p.print(nil, []string{"TARGET", "WANT", "MEDIAN", "LOWEST–HIGHEST", "MET IN", "MEDIAN MEETS IT"},
			targetSpreadRows(sum.Targets)); err != nil {
			return err
		}
	}
	printNotes(cmd, reps, sum.PeakRSS)
	return nil
}

// spreadRows are the table rows of scenarios measured over several runs.
func spreadRows(scenarios []bench.ScenarioSpread) [][]string {
	rate := func(v float64) string { return fmt.Sprintf("%.0f/s", v) }
	dur := func(f func(time.Duration) string) func(float64) string {
		return func(v float64) string { return f(time.Duration(v)) }
	}
	rows := make([][]string, 0, len(scenarios))
	for _, s := range scenarios {
		ratio := ""
		if s.Baseline != "" {
			ratio = "(run " + s.Baseline + " too)"
			if s.Ratio.N > 0 {
				ratio = spreadText(s.Ratio, func(v float64) string { return share(v) + "×" }) + " " + s.Baseline
			}
		}
		rows = append(rows, []string{s.Name, fmt.Sprint(s.PerSecond.N), spreadText(s.PerSecond, rate), ratio,
			spreadText(s.P50Ns, dur(ms)), spreadText(s.P99Ns, dur(ms)), spreadText(s.CPUOpNs, dur(micros)),
			spreadText(s.AllocsOp, func(v float64) string { return fmt.Sprintf("%.0f", v) })})
	}
	return rows
}

// targetSpreadRows are the table rows of targets judged on several runs.
func targetSpreadRows(targets []bench.TargetSpread) [][]string {
	rows := make([][]string, 0, len(targets))
	for _, t := range targets {
		want, figure := targetText(t.Want, t.Unit, t.Below)
		rows = append(rows, []string{t.Name, want, figure(t.Got.Median), figure(t.Got.Min) + " – " + figure(t.Got.Max),
			fmt.Sprintf("%d of %d runs", t.Met, t.Got.N), yesNo(t.MedianMet)})
	}
	return rows
}

// spreadText is a spread's median and, when the runs differ, its range:
// "1904/s (1600/s–2100/s)"; "-" when no run measured it.
func spreadText(s bench.Spread, f func(float64) string) string {
	switch {
	case s.N == 0:
		return "-"
	case s.Min == s.Max:
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

// share is a ratio with three decimals below 0.1 ("0.021"), two above.
func share(v float64) string {
	if v < 0.1 {
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// printScale prints the pipeline/scale steps, if the run had any: each
// step's rate and cost per lead beside the first step's.
func printScale(cmd *cobra.Command, p printer, results []bench.Result) error {
	rows := scaleRows(results)
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintf(cmd.OutOrStdout(), "\ncost per lead as the stores grow (each step adds its leads to what the scenarios before it stored):\n")
	return p.print(nil, []string{"LEADS", "STEPS' TOTAL", "RATE", "VS FIRST", "CPU/LEAD", "VS FIRST", "ALLOCS/LEAD", "VS FIRST", "RSS AFTER"}, rows)
}

// printTargets prints the targets the run could judge, each beside what
// the same run's ceilings allow.
func printTargets(cmd *cobra.Command, p printer, targets []bench.Target) error {
	if len(targets) == 0 {
		return nil
	}
	fmt.Fprintf(cmd.OutOrStdout(), "\ntargets (set for 2 cores and 1 KiB leads), judged on this run:\n")
	return p.print(nil, []string{"TARGET", "WANT", "MEASURED", "MET", "WHAT THIS RUN ALLOWS"}, targetRows(targets))
}

// targetRows are the table rows of targets.
func targetRows(targets []bench.Target) [][]string {
	rows := make([][]string, 0, len(targets))
	for _, t := range targets {
		want, figure := targetText(t.Want, t.Unit, t.Below)
		rows = append(rows, []string{t.Name, want, figure(t.Got), yesNo(t.Met), t.Bound})
	}
	return rows
}

// targetText writes a target's threshold ("≥ 0.15× HJ", "< 10 ms") and
// returns the function that writes a figure measured against it in its
// unit ("0.079× HJ", "66.4 ms").
func targetText(want float64, unit string, below bool) (string, func(float64) string) {
	if below {
		return fmt.Sprintf("< %.0f %s", want, unit), func(v float64) string { return fmt.Sprintf("%.1f %s", v, unit) }
	}
	return fmt.Sprintf("≥ %.2f%s", want, unit), func(v float64) string { return share(v) + unit }
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// scaleRows are the table rows of the pipeline/scale steps among results.
func scaleRows(results []bench.Result) [][]string {
	var (
		rows  [][]string
		first bench.Result
		held  int
	)
	for _, r := range results {
		if !strings.HasPrefix(r.Name, bench.ScalePrefix) {
			continue
		}
		if rows == nil {
			first = r
		}
		held += r.Ops
		rows = append(rows, []string{fmt.Sprint(r.Ops), fmt.Sprint(held), fmt.Sprintf("%.0f/s", r.PerSecond),
			times(r.PerSecond, first.PerSecond), micros(r.CPUOp), times(float64(r.CPUOp), float64(first.CPUOp)),
			fmt.Sprintf("%.0f", r.AllocsOp), times(r.AllocsOp, first.AllocsOp), mib(r.RSS)})
	}
	return rows
}

// times is v as a multiple of base ("1.12×"), or "-" without a base.
func times(v, base float64) string {
	if base <= 0 || v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", v/base)
}

// micros is d in microseconds, "-" when not measured.
func micros(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
}

// mib is n bytes in MiB, "-" when not measured.
func mib(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
