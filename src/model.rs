//! The lab's model, independent of Yew: a finished run with checkpoints, and the state at any
//! moment of it, reached by deterministic replay from the nearest checkpoint.

use klab::{Report, RunError, Scenario, Sim};

/// How often (in events) a checkpoint of the whole simulation is kept for rewinding, at first.
const CHECKPOINT_EVERY: u64 = 256;
/// At most this many checkpoints: past it, every other one is dropped and the interval doubles.
/// Each checkpoint holds the state of a longer run, so a fixed interval made memory grow with
/// the square of the run: 3.5 GB for 100 000 records, past what a wasm page can hold. A run of
/// the 100 000-event size of the scrubbing budget keeps the 256-event interval.
const MAX_CHECKPOINTS: usize = 256;
/// The page refuses larger scenarios rather than run out of memory; the runner has no limit.
pub const MAX_UI_RECORDS: usize = 100_000;
/// A browser run stops here; the trace says so. Lessons are far smaller.
const MAX_UI_EVENTS: u64 = 2_000_000;

/// One moment the user can stop at: after `events` events, at simulated time `time_us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stop {
    pub events: u64,
    pub time_us: u64,
}

pub struct Run {
    /// The trace of the whole run, and for each line the event count when it was written.
    pub trace: Vec<String>,
    pub trace_at: Vec<u64>,
    /// The distinct moments where something visible happened, in order.
    pub stops: Vec<Stop>,
    /// Moments where a fault fired, for the marks on the time line.
    pub fault_stops: Vec<usize>,
    /// The report at the end, without why-chains: a chain is written out when it is shown
    /// (`final_why`), from the finished simulation.
    pub final_report: Report,
    final_sim: Sim,
    /// Each record's fate at the end, by id (looked up on every redraw).
    pub final_fates: klab::vecmap::VecMap<String, String>,
    pub total_events: u64,
    checkpoints: Vec<Sim>,
    /// The events between two checkpoints (`CHECKPOINT_EVERY`, doubled while thinning).
    every: u64,
}

/// A snapshot without the (large) trace and why-chains, which the finished run already
/// holds: the UI shows a record's why-chain from the final report, cut at the moment shown.
/// Logs and records are shared with the live simulation until it writes to them (`CowVec`).
fn snapshot(sim: &mut Sim) -> Sim {
    let t = sim.trace.take();
    let at = std::mem::take(&mut sim.trace_at);
    let why_text = std::mem::take(&mut sim.why_text);
    let mut why_steps = Vec::new();
    sim.swap_why_steps(&mut why_steps);
    let mut c = sim.clone();
    sim.why_text = why_text;
    sim.swap_why_steps(&mut why_steps);
    // Replays from a checkpoint need no why-chains either: formatting them is half the work.
    c.explain = false;
    sim.trace = t;
    sim.trace_at = at;
    c
}

impl Run {
    pub fn new(text: &str) -> Result<Run, RunError> {
        let sc = Scenario::parse(text).map_err(RunError::Scenario)?;
        let records: usize = sc.sends.iter().map(|s| s.records.len()).sum();
        if records > MAX_UI_RECORDS {
            return Err(RunError::Scenario(klab::ScenarioError {
                key: "send".into(),
                message: format!(
                    "this scenario sends {records} records; the lab in the browser runs at most {MAX_UI_RECORDS} (the kafka-lab runner has no limit)"
                ),
            }));
        }
        let mut sim = Sim::new(sc, true).map_err(RunError::Sim)?;
        sim.max_events = MAX_UI_EVENTS;
        let mut checkpoints = vec![snapshot(&mut sim)];
        let mut every = CHECKPOINT_EVERY;
        while sim.step().map_err(RunError::Sim)? {
            if sim.events % every == 0 {
                checkpoints.push(snapshot(&mut sim));
                if checkpoints.len() > MAX_CHECKPOINTS {
                    // Checkpoint i is at i × every events: keep the even ones.
                    let mut i = 0;
                    checkpoints.retain(|_| {
                        i += 1;
                        i % 2 == 1
                    });
                    every *= 2;
                }
            }
        }
        let final_report = Report::build_with(&sim, Some(None));
        let trace = sim.trace.take().unwrap_or_default();
        let trace_at = std::mem::take(&mut sim.trace_at);
        let mut stops = vec![Stop { events: 0, time_us: 0 }];
        let mut fault_stops = Vec::new();
        for (i, line) in trace.iter().enumerate() {
            let ev = trace_at[i];
            if stops.last().map(|s| s.events) != Some(ev) {
                stops.push(Stop { events: ev, time_us: line_time_us(line).unwrap_or(0) });
            }
            if line.contains(" fault[") {
                fault_stops.push(stops.len() - 1);
            }
        }
        // Sorted first: a VecMap is filled in key order in O(1) per record.
        let mut fates: Vec<(String, String)> = final_report.records.iter().map(|r| (r.id.to_string(), r.fate.to_string())).collect();
        fates.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let final_fates = fates.into_iter().collect();
        Ok(Run {
            trace,
            trace_at,
            stops,
            fault_stops,
            final_report,
            final_fates,
            total_events: sim.events,
            checkpoints,
            every,
            final_sim: sim,
        })
    }

    /// A record's why-chain at the end of the run (empty for an unknown id).
    pub fn final_why(&self, id: &str) -> Vec<String> {
        match self.final_sim.recs.iter().find(|r| &*r.id == id) {
            Some(r) => self.final_sim.why_chain(r),
            None => Vec::new(),
        }
    }

    /// The run report at the end, with every why-chain (for export).
    pub fn full_report(&self) -> Report {
        Report::build(&self.final_sim)
    }

    /// The simulation after `events` events: `prev` stepped forward when it is a little before
    /// that moment (playing, stepping, a short scrub), else a replay from the nearest
    /// checkpoint. `prev` must come from this run.
    pub fn advance(&self, prev: Option<Sim>, events: u64) -> Sim {
        let events = events.min(self.total_events);
        match prev {
            Some(mut sim) if sim.events <= events && events - sim.events <= 2 * self.every => {
                while sim.events < events {
                    match sim.step() {
                        Ok(true) => {}
                        _ => break,
                    }
                }
                sim
            }
            other => {
                // Freed first: two copies of a long run at once would grow the wasm memory.
                drop(other);
                self.at(events)
            }
        }
    }

    /// The simulation after `events` events (replayed from the nearest checkpoint).
    pub fn at(&self, events: u64) -> Sim {
        let events = events.min(self.total_events);
        let idx = ((events / self.every) as usize).min(self.checkpoints.len() - 1);
        let mut sim = self.checkpoints[idx].clone();
        while sim.events < events {
            match sim.step() {
                Ok(true) => {}
                _ => break,
            }
        }
        sim
    }

    /// The stop index at or just before a simulated time.
    pub fn stop_at_time(&self, time_us: u64) -> usize {
        match self.stops.iter().position(|s| s.time_us >= time_us) {
            Some(i) => i,
            None => self.stops.len() - 1,
        }
    }
}

/// Reads "t=12.345" at the start of a trace line or "t=12.345ms" at the start of a why line.
pub fn line_time_us(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("t=")?;
    let num: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let (ms, frac) = match num.split_once('.') {
        Some((a, b)) => (a, b),
        None => (num.as_str(), ""),
    };
    let ms: u64 = ms.parse().ok()?;
    let mut f = frac.to_string();
    f.truncate(3);
    while f.len() < 3 {
        f.push('0');
    }
    Some(ms * 1000 + f.parse::<u64>().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn reads_times() {
        assert_eq!(line_time_us("t=12.345 b1 ..."), Some(12345));
        assert_eq!(line_time_us("t=9001.7ms x"), Some(9001700));
        assert_eq!(line_time_us("t=0 x"), Some(0));
        assert_eq!(line_time_us("x"), None);
    }

    fn long_run(records: u32) -> String {
        format!("format = 1\nseed = 7\n[[topic]]\nname = \"orders\"\npartitions = 3\n[[send]]\ncount = {records}\nevery_ms = 1\n[[fault]]\nat_ms = 900\ndo = \"kill-broker\"\ntarget = \"b1\"\n")
    }

    #[test]
    fn a_long_run_keeps_few_checkpoints_and_every_moment_replays_exactly() {
        let text = long_run(16000);
        let run = Run::new(&text).unwrap();
        assert!(run.total_events > (CHECKPOINT_EVERY * MAX_CHECKPOINTS as u64), "{} events is too short a run to thin", run.total_events);
        assert!(run.checkpoints.len() <= MAX_CHECKPOINTS);
        assert!(run.every > CHECKPOINT_EVERY);
        // The same moments reached by stepping one simulation from the start.
        let mut straight = Sim::new(Scenario::parse(&text).unwrap(), false).unwrap();
        for e in [0, 1, CHECKPOINT_EVERY * 3 + 5, run.every * 7 + 1, run.total_events / 2, run.total_events] {
            while straight.events < e && straight.step().unwrap() {}
            let at = run.at(e);
            assert_eq!((at.events, at.now), (straight.events, straight.now), "at {e} events");
            assert_eq!(Report::build_view(&at, None, 12), Report::build_view(&straight, None, 12), "at {e} events");
        }
    }

    #[test]
    fn the_page_refuses_more_records_than_it_can_hold() {
        let err = Run::new(&long_run(MAX_UI_RECORDS as u32 + 1)).err().expect("refused");
        assert!(err.to_string().contains("the lab in the browser runs at most 100000"), "{err}");
    }
}
