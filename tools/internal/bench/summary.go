package bench

import (
	"slices"
	"time"
)

// Spread is one figure over several runs: its median and its range.
type Spread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
	// N is how many runs measured the figure.
	N int `json:"n"`
}

// spreadOf is the spread of the measured values among vs; a 0 is a figure
// the run did not measure, and is left out.
func spreadOf(vs []float64) Spread {
	vs = slices.DeleteFunc(slices.Clone(vs), func(v float64) bool { return v == 0 })
	if len(vs) == 0 {
		return Spread{}
	}
	slices.Sort(vs)
	median := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		median = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return Spread{Min: vs[0], Median: median, Max: vs[len(vs)-1], N: len(vs)}
}

// ScenarioSpread is one scenario over several runs. Its ratio is each
// run's figure over the same run's ceiling, so a machine that runs slower
// for one run moves both and the ratio less.
type ScenarioSpread struct {
	Name      string `json:"name"`
	Baseline  string `json:"baseline,omitempty"`
	PerSecond Spread `json:"per_second"`
	Ratio     Spread `json:"ratio"`
	// P50Ns and P99Ns are latencies, CPUOpNs the process's CPU time per
	// operation, all in nanoseconds.
	P50Ns    Spread `json:"p50_ns"`
	P99Ns    Spread `json:"p99_ns"`
	CPUOpNs  Spread `json:"cpu_per_op_ns"`
	AllocsOp Spread `json:"allocs_per_op"`
}

// TargetSpread is one target over the runs that judged it.
type TargetSpread struct {
	Name  string  `json:"name"`
	Want  float64 `json:"want"`
	Unit  string  `json:"unit"`
	Below bool    `json:"below,omitempty"`
	Got   Spread  `json:"got"`
	// Met counts the runs that met the target, of Got.N that judged it;
	// MedianMet says whether the median run's figure meets it.
	Met       int  `json:"met_runs"`
	MedianMet bool `json:"median_met"`
}

// Summary is several runs of the same scenarios, figure by figure.
type Summary struct {
	Runs      int              `json:"runs"`
	Scenarios []ScenarioSpread `json:"scenarios"`
	Targets   []TargetSpread   `json:"targets,omitempty"`
	// PeakRSS is the highest of the runs' peaks.
	PeakRSS int64 `json:"peak_rss_bytes"`
}

// Summarize reads reports, runs of the same scenarios one after another,
// as the median and range of each figure, scenarios and targets in the
// order the runs first measured them. A machine shared with other work
// moves single runs by a tenth or more; the median of a few is what to
// compare, and the range says how far one run can be trusted.
func Summarize(reports []Report) Summary {
	s := Summary{Runs: len(reports)}
	results := map[string][]Result{}
	targets := map[string][]Target{}
	var names, targetNames []string
	for _, rep := range reports {
		s.PeakRSS = max(s.PeakRSS, rep.PeakRSS)
		for _, r := range rep.Results {
			if _, seen := results[r.Name]; !seen {
				names = append(names, r.Name)
			}
			results[r.Name] = append(results[r.Name], r)
		}
		for _, t := range rep.Targets {
			if _, seen := targets[t.Name]; !seen {
				targetNames = append(targetNames, t.Name)
			}
			targets[t.Name] = append(targets[t.Name], t)
		}
	}
	for _, n := range names {
		s.Scenarios = append(s.Scenarios, scenarioSpread(results[n]))
	}
	for _, n := range targetNames {
		s.Targets = append(s.Targets, targetSpread(targets[n]))
	}
	return s
}

func scenarioSpread(rs []Result) ScenarioSpread {
	of := func(f func(Result) float64) Spread {
		vs := make([]float64, len(rs))
		for i, r := range rs {
			vs[i] = f(r)
		}
		return spreadOf(vs)
	}
	ns := func(d time.Duration) float64 { return float64(d) }
	return ScenarioSpread{
		Name:      rs[0].Name,
		Baseline:  rs[0].Baseline,
		PerSecond: of(func(r Result) float64 { return r.PerSecond }),
		Ratio:     of(func(r Result) float64 { return r.Ratio }),
		P50Ns:     of(func(r Result) float64 { return ns(r.P50) }),
		P99Ns:     of(func(r Result) float64 { return ns(r.P99) }),
		CPUOpNs:   of(func(r Result) float64 { return ns(r.CPUOp) }),
		AllocsOp:  of(func(r Result) float64 { return r.AllocsOp }),
	}
}

func targetSpread(ts []Target) TargetSpread {
	got := make([]float64, len(ts))
	met := 0
	for i, t := range ts {
		got[i] = t.Got
		if t.Met {
			met++
		}
	}
	first := ts[0]
	out := TargetSpread{Name: first.Name, Want: first.Want, Unit: first.Unit, Below: first.Below, Got: spreadOf(got), Met: met}
	out.MedianMet = first.judge(out.Got.Median)
	return out
}
