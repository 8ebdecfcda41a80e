package bench

import (
	"fmt"
	"time"
)

// Target is one of gtmhub's performance targets, judged on the figures of
// one run, beside the figure of the same run that bounds what it can reach.
type Target struct {
	// Name says what is measured and against what.
	Name string `json:"name"`
	// Want is the target and Got the run's figure, both in Unit; Below
	// marks a target that is an upper bound (a latency).
	Want  float64 `json:"want"`
	Got   float64 `json:"got"`
	Unit  string  `json:"unit"`
	Below bool    `json:"below,omitempty"`
	Met   bool    `json:"met"`
	// Bound is what the same run's ceilings allow, when they say more than
	// the target alone: the bare handler's own tail, the most a feed that
	// republishes can reach, the CPU per lead the target leaves.
	Bound string `json:"bound,omitempty"`
}

// The targets' figures (2 cores, file storage, R1, 1 KiB events).
const (
	ingestShare    = 0.7
	ingestTail     = 10 * time.Millisecond
	pipelineShare  = 0.15
	pipelineTail   = 100 * time.Millisecond
	pipelineTailAt = 1000 // leads/s offered
	replayShare    = 0.5
)

// Targets judges the targets whose figures results hold; cores is the
// number of CPUs the run had.
func Targets(results []Result, cores int) []Target {
	by := make(map[string]Result, len(results))
	for _, r := range results {
		by[r.Name] = r
	}
	var ts []Target
	if r, ok := by["ingest"]; ok && r.Ratio > 0 {
		var bound string
		if hj := by["ceiling/http+jetstream"]; r.CPUOp > 0 && hj.CPUOp > 0 {
			bound = fmt.Sprintf("CPU per request: %s, HJ's %s", usText(r.CPUOp), usText(hj.CPUOp))
		}
		ts = append(ts, atLeast("ingest rate", ingestShare, r.Ratio, "× HJ", bound))
	}
	// Without its peak measured first, ingest's latency run offers
	// --rate, not half the peak.
	if r, ok := by["ingest/latency"]; ok && r.P99 > 0 && by["ingest"].PerSecond > 0 {
		var bound string
		if hj, ok := by["ceiling/http+jetstream/latency"]; ok && hj.P99 > 0 && by["ceiling/http+jetstream"].PerSecond > 0 {
			bound = fmt.Sprintf("HJ's own p99 at half its peak: %s", msText(hj.P99))
		}
		ts = append(ts, below("ingest p99 at half its peak", ingestTail, r.P99, bound))
	}
	if r, ok := by["pipeline"]; ok && r.Ratio > 0 {
		ts = append(ts, atLeast("pipeline rate", pipelineShare, r.Ratio, "× HJ", pipelineBudget(r, by, cores)))
	}
	// The latency run offers --rate; below the target's load it proves
	// nothing about it.
	if r, ok := by["pipeline/latency"]; ok && r.P99 > 0 && r.PerSecond >= pipelineTailAt {
		var bound string
		if peak := by["pipeline"].PerSecond; peak > 0 {
			bound = fmt.Sprintf("%.0f%% of the pipeline's peak in this run (%.0f leads/s)", 100*r.PerSecond/peak, peak)
		}
		ts = append(ts, below(fmt.Sprintf("pipeline p99 at %.0f leads/s offered", r.PerSecond), pipelineTail, r.P99, bound))
	}
	if r, ok := by["replay"]; ok && r.Ratio > 0 {
		var bound string
		if p, c := by["ceiling/jetstream-publish"], by["ceiling/jetstream-consume"]; p.PerSecond > 0 && c.PerSecond > 0 {
			// One consume and one publish per event on the same cores:
			// 1/(1/p + 1/c) events/s, as a share of c.
			bound = fmt.Sprintf("a feed that stores each event again reaches at most %.2f× J consume here", p.PerSecond/(p.PerSecond+c.PerSecond))
		}
		ts = append(ts, atLeast("replay feed", replayShare, r.Ratio, "× J consume", bound))
	}
	return ts
}

// pipelineBudget is the CPU per lead the pipeline target leaves on cores,
// beside what the pipeline and the store alone took in the run.
func pipelineBudget(r Result, by map[string]Result, cores int) string {
	hj := by["ceiling/http+jetstream"]
	if r.CPUOp <= 0 || hj.PerSecond <= 0 || cores <= 0 {
		return ""
	}
	budget := time.Duration(float64(cores) * float64(time.Second) / (pipelineShare * hj.PerSecond))
	s := fmt.Sprintf("%.2f× HJ leaves %s of CPU per lead on %d cores; the pipeline took %s",
		pipelineShare, usText(budget), cores, usText(r.CPUOp))
	if st, ok := by["store"]; ok && st.CPUOp > 0 {
		s += fmt.Sprintf(", the store alone %s", usText(st.CPUOp))
	}
	return s
}

func atLeast(name string, want, got float64, unit, bound string) Target {
	t := Target{Name: name, Want: want, Got: got, Unit: unit, Bound: bound}
	t.Met = t.judge(got)
	return t
}

func below(name string, want, got time.Duration, bound string) Target {
	t := Target{Name: name, Want: want.Seconds() * 1e3, Got: got.Seconds() * 1e3, Unit: "ms", Below: true, Bound: bound}
	t.Met = t.judge(t.Got)
	return t
}

// judge tells whether the figure v meets t: at least Want, or below it
// for an upper bound.
func (t Target) judge(v float64) bool {
	if t.Below {
		return v < t.Want
	}
	return v >= t.Want
}

func msText(d time.Duration) string { return fmt.Sprintf("%.1f ms", d.Seconds()*1e3) }

func usText(d time.Duration) string {
	return fmt.Sprintf("%d µs", d.Round(time.Microsecond).Microseconds())
}
