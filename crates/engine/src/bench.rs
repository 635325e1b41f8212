//! The standard benchmark workload, shared by the native `kafka-lab bench` and the wasm
//! benchmark page so that both measure the same run.

use crate::Report;

/// `n` records, 3 brokers, acks=all, idempotent, with broker faults spread over the run.
pub fn workload(n: u64) -> String {
    let span_ms = n.max(100);
    format!(
        r#"format = 1
title = "benchmark: {n} records, acks=all, idempotent, random faults"
seed = 7
kafka = "4.0"
[cluster]
brokers = 3
[[topic]]
name = "orders"
partitions = 3
"replication.factor" = 3
"min.insync.replicas" = 2
[producer]
acks = "all"
"enable.idempotence" = true
[[send]]
count = {n}
every_ms = 1

[[fault]]
at_ms = {a}
do = "kill-broker"
target = "b1"
[[fault]]
at_ms = {b}
do = "restart-broker"
target = "b1"
[[fault]]
at_ms = {c}
do = "slow-follower"
target = "b3"
duration_ms = 40000
"#,
        a = span_ms / 4,
        b = span_ms / 4 + 15000,
        c = span_ms / 2 + 20000,
    )
}

/// The transactional workload: `n` input records read by a read-process-write application
/// (read_committed, 100 records per poll and transaction) that writes one output each into a
/// second topic, while the transaction coordinator's broker is killed and restarted.
pub fn workload_rpw(n: u64) -> String {
    let span_ms = n.max(100);
    format!(
        r#"format = 1
title = "benchmark: read-process-write of {n} records, coordinator killed"
seed = 7
kafka = "4.0"
[cluster]
brokers = 3
[[topic]]
name = "orders"
partitions = 3
"replication.factor" = 3
"min.insync.replicas" = 2
[[topic]]
name = "invoices"
partitions = 3
"replication.factor" = 3
"min.insync.replicas" = 2
[producer]
acks = "all"
[[send]]
count = {n}
every_ms = 1
topic = "orders"
[consumer]
"group.id" = "billing"
"isolation.level" = "read_committed"
"enable.auto.commit" = false
"auto.offset.reset" = "earliest"
"max.poll.records" = 100
processing_ms = 0
commit = "transaction"
output_topic = "invoices"
"transactional.id" = "billing-1"

[[fault]]
at_ms = {a}
do = "kill-broker"
target = "coordinator"
[[fault]]
at_ms = {b}
do = "restart-broker"
target = "b1"
[[fault]]
at_ms = {b}
do = "restart-broker"
target = "b2"
[[fault]]
at_ms = {b}
do = "restart-broker"
target = "b3"
"#,
        a = span_ms / 3,
        b = span_ms / 3 + 15000,
    )
}

/// "committed 99990, duplicated 0, ..." for the bench line.
pub fn fate_counts(r: &Report) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for rec in &r.records {
        *counts.entry(rec.fate).or_default() += 1;
    }
    counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

/// The runs `kafka-lab bench` and the wasm benchmark page both make: (label, records,
/// scenario text, keep why-chains).
pub fn standard_runs(n: u64) -> [(&'static str, u64, String, bool); 3] {
    [
        ("", n, workload(n), true),
        ("without why-chains (as the lab replays), ", n, workload(n), false),
        ("read-process-write ", n / 10, workload_rpw(n / 10), true),
    ]
}

/// How many times each workload runs: the figure is the median run, so that a busy moment of
/// a shared machine (or the first run's page faults) does not decide it.
pub const REPEATS: usize = 5;

/// One benchmark measurement; the clock is passed in so the engine stays sans-IO.
pub struct Measure {
    pub events: u64,
    /// The median of the runs' times, and the fastest.
    pub run_secs: f64,
    pub best_secs: f64,
    pub runs: usize,
    pub report_secs: f64,
    pub end_ms: String,
    pub fates: String,
}

impl Measure {
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.run_secs.max(1e-9)
    }
    pub fn summary(&self) -> String {
        format!(
            "{} events in {:.3} s = {:.2} M events/s (median of {} runs; fastest {:.2} M events/s; report built in {:.3} s); simulated {} ms; fates {}",
            self.events,
            self.run_secs,
            self.events_per_sec() / 1e6,
            self.runs,
            self.events as f64 / self.best_secs.max(1e-9) / 1e6,
            self.report_secs,
            self.end_ms,
            self.fates
        )
    }
}

/// Runs `text` `runs` times and measures it. `explain` keeps why-chains (the runner's and a
/// first run's setting); without them is how the lab replays a finished run when it scrubs.
pub fn measure<I>(
    text: &str,
    explain: bool,
    runs: usize,
    now: impl Fn() -> I,
    secs_since: impl Fn(&I) -> f64,
) -> Result<Measure, crate::RunError> {
    let sc = crate::Scenario::parse(text).map_err(crate::RunError::Scenario)?;
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..runs.max(1) {
        let mut sim = crate::Sim::new(sc.clone(), false).map_err(crate::RunError::Sim)?;
        sim.explain = explain;
        let t0 = now();
        sim.run().map_err(crate::RunError::Sim)?;
        times.push(secs_since(&t0));
        let t1 = now();
        let report = Report::build(&sim);
        let report_secs = secs_since(&t1);
        out = Some((sim.events, report_secs, report.end_ms.clone(), fate_counts(&report)));
    }
    times.sort_by(f64::total_cmp);
    let (events, report_secs, end_ms, fates) = out.expect("at least one run");
    Ok(Measure { events, run_secs: times[times.len() / 2], best_secs: times[0], runs: times.len(), report_secs, end_ms, fates })
}
