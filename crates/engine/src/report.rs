//! The run report (format 1, "The run report (JSON)") and the fate of every record, computed
//! exactly as `scenario-format.md` defines it.

use crate::scenario::{Expect, PartitionExpect};
use crate::sim::{fmt_time, marker_name, RecStatus, Sim, MS};
use crate::vecmap::{VecMap, VecSet};
use serde::Serialize;

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct RecordReport {
    /// Ids and topic names are shared with the simulation and the words are static, so a
    /// report of a long run (rebuilt at every moment the lab shows) allocates little.
    pub id: std::rc::Rc<str>,
    pub topic: std::rc::Rc<str>,
    pub partition: u32,
    pub producer: &'static str,
    pub copies: u32,
    pub transaction: Option<&'static str>,
    pub processed: u32,
    pub sink_rows: u32,
    pub outputs: u32,
    pub fate: &'static str,
    pub why: Vec<String>,
    /// With several consumer groups: each group's own view of the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumers: Option<Vec<GroupFate>>,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupFate {
    pub group: String,
    pub processed: u32,
    pub sink_rows: u32,
    pub outputs: u32,
    pub fate: &'static str,
    pub members: VecMap<String, u32>,
    #[serde(skip)]
    pub effect: u32,
}

fn fate_rank(f: &str) -> &'static str {
    crate::scenario::FATES.iter().copied().find(|x| *x == f).unwrap_or("pending")
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ReplicaReport {
    pub broker: String,
    pub alive: bool,
    pub leader_epoch: i32,
    /// Ids are shared with the simulation, so a report of a long run stays cheap to build.
    pub log: Vec<std::rc::Rc<str>>,
    /// The offset of `log[0]`: 0, but for a report built for a view of the newest offsets only
    /// ([`Report::build_view`]).
    #[serde(skip)]
    pub log_start: usize,
    pub log_end_offset: u64,
    pub high_watermark: u64,
    pub last_stable_offset: u64,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct PartitionReport {
    pub topic: String,
    pub partition: u32,
    pub leader: Option<String>,
    pub leader_epoch: i32,
    pub isr: Vec<String>,
    pub replicas: Vec<ReplicaReport>,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ErrorReport {
    pub at_ms: u64,
    pub client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    pub error: String,
    pub retried: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raised: bool,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub format: u32,
    pub title: String,
    pub kafka: String,
    pub seed: u64,
    pub end_ms: String,
    pub stop: String,
    pub events: u64,
    pub notes: Vec<String>,
    pub records: Vec<RecordReport>,
    pub partitions: Vec<PartitionReport>,
    pub errors: Vec<ErrorReport>,
}

impl Report {
    pub fn build(sim: &Sim) -> Report {
        Report::build_with(sim, None)
    }

    /// The report with only one record's why-chain (and none with `Some(None)`): a lab that
    /// rebuilds the report at every moment it shows needs the chain of the record selected,
    /// and every other chain is work thrown away.
    pub fn build_with(sim: &Sim, why_only: Option<Option<&str>>) -> Report {
        Report::build_inner(sim, why_only, None)
    }

    /// The report a view of one moment needs: one record's why-chain (if any), and of each
    /// replica's log only the newest `log_window` offsets of the partition. A long run's
    /// logs hold tens of thousands of entries, and copying them all at every moment the lab
    /// shows cost more than the rest of the report.
    pub fn build_view(sim: &Sim, why_for: Option<&str>, log_window: usize) -> Report {
        Report::build_inner(sim, Some(why_for), Some(log_window))
    }

    fn build_inner(sim: &Sim, why_only: Option<Option<&str>>, log_window: Option<usize>) -> Report {
        let sc = &sim.sc;
        let n = sim.recs.len();
        // Per partition: the final log below its HW, the leader's log above it.
        let mut copies: Dense<u32> = Dense::new(n);
        // The highest offset of a copy below the HW: whether any copy is past a committed offset.
        let mut last_offset: Dense<u64> = Dense::new(n);
        let mut first_offset: Dense<u64> = Dense::new(n);
        let mut above_hw: Dense<bool> = Dense::new(n);
        let mut effective: Dense<u32> = Dense::new(n);
        let mut aborted_copies: Dense<u32> = Dense::new(n);
        let mut open_copies: Dense<u32> = Dense::new(n);
        // A record's `transaction`: its first committed copy's status, else its last copy's.
        let mut txn_status: Dense<(&str, bool)> = Dense::new(n);
        // `reordered`: a record given to the same producer later has its first committed copy
        // at a lower offset in the same partition. The log is walked in offset order, so it
        // is a record whose send order is below the highest one already placed by its
        // producer in this partition.
        let mut reordered: Dense<bool> = Dense::new(n);
        for p in 0..sim.parts.len() {
            let mut max_order: VecMap<usize, u64> = VecMap::new();
            let (_, log) = sim.final_log(p);
            // Each transactional copy's outcome is the first marker of its producer id after
            // it and below the HW, found in one backward pass.
            let hw = (log.hw as usize).min(log.entries.len());
            let mut outcome: Vec<Option<crate::log::Control>> = vec![None; hw];
            let mut next_marker: VecMap<i64, crate::log::Control> = VecMap::new();
            for off in (0..hw).rev() {
                let e = &log.entries[off];
                match e.control {
                    Some(c) => {
                        next_marker.insert(e.pid, c);
                    }
                    None if e.txn => outcome[off] = next_marker.get(&e.pid).copied(),
                    None => {}
                }
            }
            for (off, e) in log.entries.iter().enumerate() {
                let Some(r) = e.rec else { continue };
                if (off as u64) < log.hw {
                    *copies.or_default(r) += 1;
                    let lo = last_offset.or_default(r);
                    *lo = (*lo).max(off as u64);
                    // Transaction status of the copy: the first marker of its producer id after it.
                    let status = if !e.txn {
                        None
                    } else {
                        match outcome[off] {
                            Some(crate::log::Control::Commit) => Some("committed"),
                            Some(crate::log::Control::Abort) => Some("aborted"),
                            None => Some("open"),
                        }
                    };
                    match status {
                        None | Some("committed") => {
                            *effective.or_default(r) += 1;
                            if first_offset.get(&r).is_none() {
                                first_offset.insert(r, off as u64);
                                let rec = &sim.recs[r as usize];
                                if let (true, Some(order)) = (rec.part == p, rec.send_order) {
                                    let max = max_order.entry(rec.producer).or_default();
                                    if order < *max {
                                        reordered.insert(r, true);
                                    }
                                    *max = (*max).max(order);
                                }
                            }
                        }
                        Some("aborted") => *aborted_copies.or_default(r) += 1,
                        _ => *open_copies.or_default(r) += 1,
                    }
                    if let Some(st) = status {
                        if st == "committed" {
                            txn_status.or_insert(r, ("committed", true));
                        }
                        let e = txn_status.or_insert(r, (st, false));
                        if !e.1 {
                            *e = (st, false);
                        }
                    }
                } else if sim.ctrl.parts[p].leader.is_some() {
                    above_hw.insert(r, true);
                }
            }
        }
        let mut records = Vec::with_capacity(n);
        let topics: Vec<std::rc::Rc<str>> = sc.topics.iter().map(|t| t.name.as_str().into()).collect();
        // Fate sentences repeat: each distinct one is written once.
        let mut sentences: VecMap<(&str, u32, &str, u8), String> = VecMap::new();
        for (i, r) in sim.recs.iter().enumerate() {
            if r.output_of.is_some() {
                // Read-process-write outputs are counted on their input record.
                continue;
            }
            let id = i as u32;
            let part = &sim.parts[r.part];
            let pr = &sim.producers[r.producer];
            let c = copies.get(&id).copied().unwrap_or(0);
            let producer: &'static str = match &r.status {
                RecStatus::NotSent => "not-sent",
                RecStatus::InFlight => "in-flight",
                RecStatus::Acked(_) => "acked",
                RecStatus::Failed(e) => e,
                RecStatus::NoAnswer => "no-answer",
            };
            // Before the run ends, a record the application has not sent yet is still to come.
            let still_sending =
                (r.status == RecStatus::InFlight && pr.alive) || (r.status == RecStatus::NotSent && (pr.crashed || !sim.finished));
            let failed = matches!(r.status, RecStatus::Failed(_)) || r.status == RecStatus::NotSent;
            let open = open_copies.get(&id).copied().unwrap_or(0) > 0;
            let base_pending = still_sending || open || above_hw.get(&id).copied().unwrap_or(false);
            let eff = effective.get(&id).copied().unwrap_or(0);
            let aborted_any = aborted_copies.get(&id).copied().unwrap_or(0) > 0 || r.txn_aborted;
            // "aborted": its transaction aborted and it has no copy in the final log, or all its
            // copies are in aborted transactions (a copy in an open one is pending instead).
            let all_aborted = eff == 0 && ((c == 0 && r.txn_aborted) || (c > 0 && aborted_copies.get(&id).copied().unwrap_or(0) == c));
            let fate_for = |effect: u32, pending: bool, processed: u32| -> &'static str {
                if aborted_any && processed > 0 {
                    "aborted-read"
                } else if all_aborted && processed == 0 && !still_sending {
                    "aborted"
                } else if pending {
                    "pending"
                } else if effect > 1 {
                    "duplicated"
                } else if effect == 0 && failed {
                    "rejected"
                } else if effect == 0 {
                    "lost"
                } else if reordered.contains_key(&id) {
                    "reordered"
                } else {
                    "committed"
                }
            };
            // The groups that subscribe to this record's topic take part in its fate.
            let mut per_group = Vec::new();
            let mut stages = Vec::new();
            for (gi, g) in sim.groups.iter().enumerate() {
                let subscribed = sim.consumers.iter().enumerate().any(|(ci, cs)| cs.group == gi && sim.consumer_subscribes(ci, part.topic));
                if !subscribed {
                    continue;
                }
                let processed = g.processed.get(&id).copied().unwrap_or(0);
                let sink_rows = match g.sink.as_str() {
                    "insert" => g.rows.get(&id).copied().unwrap_or(0),
                    "upsert" => u32::from(g.upserts.values().any(|&x| x == id)),
                    _ => 0,
                };
                // With output_topic the effect is the output's committed copies; a copy still in
                // an open transaction (or above the high watermark) is pending.
                let output = sim.output_for(gi, id);
                let outputs = output.map(|o| effective.get(&o).copied().unwrap_or(0)).unwrap_or(0);
                let output_pending = output
                    .map(|o| {
                        let oi = &sim.recs[o as usize];
                        open_copies.get(&o).copied().unwrap_or(0) > 0
                            || above_hw.get(&o).copied().unwrap_or(false)
                            || (oi.status == RecStatus::InFlight && sim.producers[oi.producer].alive)
                    })
                    .unwrap_or(false);
                let effect = if output.is_some() {
                    outputs
                } else if g.sink == "none" {
                    processed
                } else {
                    sink_rows
                };
                let committed_offset = if sim.consumers.iter().any(|cs| cs.group == gi && cs.cfg.commit == "in-sink") {
                    g.sink_offsets.get(&r.part).copied().unwrap_or(0)
                } else {
                    g.committed.get(&r.part).copied().unwrap_or(0)
                };
                let unread = processed == 0 && last_offset.get(&id).map(|&o| o >= committed_offset).unwrap_or(false);
                let fate = fate_for(effect, base_pending || unread || output_pending, processed);
                let members = sim
                    .consumers
                    .iter()
                    .filter(|cs| cs.group == gi)
                    .map(|cs| (cs.cfg.name.clone(), sim.processed_by(cs, id)))
                    .collect::<VecMap<String, u32>>();
                stages.push(if output.is_some() {
                    Stage::Output
                } else if g.sink != "none" {
                    Stage::Sink
                } else {
                    Stage::Processed
                });
                per_group.push(GroupFate { group: g.name.clone(), processed, sink_rows, outputs, fate, members, effect });
            }
            let (fate, effect, stage) = match per_group
                .iter()
                .enumerate()
                .min_by_key(|(_, g)| crate::scenario::FATES.iter().position(|f| *f == g.fate).unwrap_or(99))
            {
                Some((i, g)) => (fate_rank(g.fate), g.effect, stages[i]),
                None => (fate_for(eff, base_pending, 0), eff, Stage::Log),
            };
            let processed: u32 = per_group.iter().map(|g| g.processed).sum();
            let sink_rows: u32 = per_group.iter().map(|g| g.sink_rows).sum();
            let outputs: u32 = per_group.iter().map(|g| g.outputs).sum();
            let wanted = why_only.map(|only| only == Some(&*r.id)).unwrap_or(true);
            let mut why = Vec::new();
            if wanted {
                why = sim.why_chain(r);
                let sentence =
                    sentences.entry((fate, effect, producer, stage as u8)).or_insert_with(|| fate_sentence(fate, effect, producer, stage));
                why.push(sentence.clone());
            }
            records.push(RecordReport {
                id: r.id.clone(),
                topic: topics[part.topic].clone(),
                partition: part.index,
                producer,
                copies: c,
                transaction: txn_status.get(&id).map(|(st, _)| *st),
                processed,
                sink_rows,
                outputs,
                fate,
                why,
                consumers: if per_group.len() > 1 { Some(per_group) } else { None },
            });
        }
        // `__transaction_state` is internal: the report lists the scenario's topics only.
        let partitions =
            (0..sim.parts.len()).filter(|&p| sim.parts[p].internal.is_none()).map(|p| partition_report(sim, p, log_window)).collect();
        let errors = sim
            .errors
            .iter()
            .map(|e| ErrorReport {
                at_ms: e.at / MS,
                client: e.client.clone(),
                record: e.record.clone(),
                error: e.error.clone(),
                retried: e.retried,
                raised: e.raised,
            })
            .collect();
        Report {
            format: 1,
            title: sc.title.clone(),
            kafka: sc.kafka.clone(),
            seed: sc.seed,
            end_ms: fmt_time(sim.now),
            stop: sim.stop_reason.clone(),
            events: sim.events,
            notes: sim.notes.clone(),
            records,
            partitions,
            errors,
        }
    }

    pub fn to_json(&self) -> String {
        // Writing plain structs into a String cannot fail; the error's text is not shown, as
        // displaying it would put serde_json's I/O error names into the page.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| r#"{"error": "the report could not be written as JSON"}"#.into())
    }

    /// Checks `[[expect]]` entries. Returns one sentence per failed expectation.
    pub fn check(&self, sim: &Sim) -> Vec<String> {
        let mut failed = Vec::new();
        for (i, ex) in sim.sc.expects.iter().enumerate() {
            match ex {
                Expect::Fate { record, consumer, fate } => {
                    let rec = self.records.iter().find(|r| *r.id == **record);
                    let got = match (rec, consumer) {
                        (Some(r), Some(cn)) => {
                            // A consumer's fate is its group's.
                            let group = sim.consumers.iter().find(|c| &c.cfg.name == cn).map(|c| sim.groups[c.group].name.clone());
                            match (&r.consumers, group) {
                                (Some(gs), Some(g)) => gs.iter().find(|x| x.group == g).map(|x| x.fate).unwrap_or("(not subscribed)"),
                                (None, Some(_)) => r.fate,
                                _ => "(no such consumer)",
                            }
                        }
                        (Some(r), None) => r.fate,
                        (None, _) => "(no such record)",
                    };
                    if got != fate {
                        failed.push(format!("expect[{i}]: record {record} should be {fate}, but it is {got}"));
                    }
                }
                Expect::Partition { topic, partition, field } => {
                    let pr = self.partitions.iter().find(|p| p.topic == sim.sc.topics[*topic].name && p.partition == *partition);
                    let Some(pr) = pr else { continue };
                    let pname = format!("{}/{}", pr.topic, pr.partition);
                    let p = sim.parts.iter().position(|x| x.topic == *topic && x.index == *partition).unwrap_or(0);
                    let (_, log) = sim.final_log(p);
                    match field {
                        PartitionExpect::Leader(l) => {
                            if &pr.leader != l {
                                failed.push(format!(
                                    "expect[{i}]: {pname} leader should be {}, but it is {}",
                                    l.as_deref().unwrap_or("none"),
                                    pr.leader.as_deref().unwrap_or("none")
                                ));
                            }
                        }
                        PartitionExpect::Isr(isr) => {
                            // Compared as sets: the ISR has no order.
                            let a: VecSet<&String> = isr.iter().collect();
                            let b: VecSet<&String> = pr.isr.iter().collect();
                            if a != b {
                                failed.push(format!(
                                    "expect[{i}]: {pname} ISR should be [{}], but it is [{}]",
                                    isr.join(", "),
                                    pr.isr.join(", ")
                                ));
                            }
                        }
                        PartitionExpect::HighWatermark(hw) => {
                            if log.hw != *hw {
                                failed.push(format!("expect[{i}]: {pname} high watermark should be {hw}, but it is {}", log.hw));
                            }
                        }
                        PartitionExpect::LastStableOffset(lso) => {
                            if log.lso() != *lso {
                                failed.push(format!("expect[{i}]: {pname} last stable offset should be {lso}, but it is {}", log.lso()));
                            }
                        }
                        PartitionExpect::Log(want) => {
                            let got: Vec<String> = log
                                .entries
                                .range(0, log.hw as usize)
                                .map(|e| {
                                    e.rec
                                        .map(|r| sim.recs[r as usize].id.to_string())
                                        .unwrap_or_else(|| e.control.map(marker_name).unwrap_or("?").to_string())
                                })
                                .collect();
                            if &got != want {
                                failed.push(format!(
                                    "expect[{i}]: {pname} log should be [{}], but it is [{}]",
                                    want.join(", "),
                                    got.join(", ")
                                ));
                            }
                        }
                    }
                }
                Expect::Error { error } => {
                    if !self.errors.iter().any(|e| &e.error == error) {
                        failed.push(format!("expect[{i}]: some client should have received {error}, but none did"));
                    }
                }
            }
        }
        failed
    }
}

/// A partition's replicas as the report shows them; a `__transaction_state` entry is written
/// as "<transactional.id> <state> epoch <e>". With a window, only the partition's newest
/// `window` offsets (those below the longest replica's log end) are listed.
fn partition_report(sim: &Sim, p: usize, window: Option<usize>) -> PartitionReport {
    let info = &sim.parts[p];
    let longest = info.replicas.iter().map(|&b| sim.brokers[b].logs[&p].entries.len()).max().unwrap_or(0);
    let start = window.map(|w| longest.saturating_sub(w)).unwrap_or(0);
    let st = &sim.ctrl.parts[p];
    let commit: std::rc::Rc<str> = marker_name(crate::log::Control::Commit).into();
    let abort: std::rc::Rc<str> = marker_name(crate::log::Control::Abort).into();
    let (topic, partition) = match info.internal {
        Some(tp) => ("__transaction_state".to_string(), tp),
        None => (sim.sc.topics[info.topic].name.clone(), info.index),
    };
    PartitionReport {
        topic,
        partition,
        leader: st.leader.map(|b| Sim::bname(b).to_string()),
        leader_epoch: st.epoch,
        isr: st.isr.iter().map(|&b| Sim::bname(b).to_string()).collect(),
        replicas: info
            .replicas
            .iter()
            .map(|&b| {
                let br = &sim.brokers[b];
                let log = &br.logs[&p];
                ReplicaReport {
                    broker: Sim::bname(b).to_string(),
                    alive: br.alive,
                    leader_epoch: br.meta[p].as_ref().map(|m| m.epoch).or(log.latest_epoch()).unwrap_or(0),
                    log_start: start,
                    log: (start.min(log.entries.len())..log.entries.len())
                        .map(|i| &log.entries[i])
                        .map(|e| match (e.rec, e.control, e.state_rec) {
                            (Some(r), _, _) => sim.recs[r as usize].id.clone(),
                            (None, Some(crate::log::Control::Commit), _) => commit.clone(),
                            (None, Some(crate::log::Control::Abort), _) => abort.clone(),
                            (None, None, Some(i)) => {
                                let (id, m) = &*sim.txn_log_recs[i as usize];
                                format!("{id} {} epoch {}", m.state.name(), m.epoch).into()
                            }
                            (None, None, None) => std::rc::Rc::from("?"),
                        })
                        .collect(),
                    log_end_offset: log.leo(),
                    high_watermark: log.hw,
                    last_stable_offset: log.lso(),
                }
            })
            .collect(),
    }
}

/// The `__transaction_state` partitions in use, for a UI that shows the coordinators' logs
/// (the run report leaves them out).
pub fn transaction_log_partitions(sim: &Sim) -> Vec<PartitionReport> {
    (0..sim.parts.len()).filter(|&p| sim.parts[p].internal.is_some()).map(|p| partition_report(sim, p, None)).collect()
}

/// The last line of every why-chain: the fate, in a sentence a learner can read.
/// What a record's effect count counts, at the furthest stage the scenario has.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Log,
    Processed,
    Sink,
    Output,
}

impl Stage {
    fn name(self, n: u32) -> String {
        match self {
            Stage::Log => format!("{n} cop{} below the high watermark of the final log", if n == 1 { "y" } else { "ies" }),
            Stage::Processed => format!("processed {n} time{}", if n == 1 { "" } else { "s" }),
            Stage::Sink => format!("{n} row{} in the sink", if n == 1 { "" } else { "s" }),
            Stage::Output => format!("{n} committed output record{}", if n == 1 { "" } else { "s" }),
        }
    }
}

fn fate_sentence(fate: &str, effect: u32, producer: &str, stage: Stage) -> String {
    match fate {
        "pending" => "fate: pending — Kafka has not finished with it yet".into(),
        "aborted" => "fate: aborted — its transaction aborted, and no consumer processed it".into(),
        "aborted-read" => "fate: aborted-read — its transaction aborted, yet a consumer processed it".into(),
        "duplicated" => format!("fate: duplicated — {}", stage.name(effect)),
        "rejected" => format!("fate: rejected — no effect survived ({}) and the producer reported {producer}", stage.name(0)),
        "lost" => {
            if producer == "acked" {
                format!("fate: lost — the producer was told it was written, yet it has {}", stage.name(0))
            } else {
                format!("fate: lost — {}", stage.name(0))
            }
        }
        "reordered" => "fate: reordered — a record sent after it sits at a lower offset".into(),
        _ => format!("fate: committed — exactly once: {}", stage.name(1)),
    }
}

/// A map from record id to a value, as a vector: records are numbered densely, and a report
/// of a long run looks every record up several times.
struct Dense<T> {
    v: Vec<Option<T>>,
}

impl<T: Default> Dense<T> {
    fn new(n: usize) -> Self {
        Dense { v: (0..n).map(|_| None).collect() }
    }
    fn or_default(&mut self, r: u32) -> &mut T {
        self.v[r as usize].get_or_insert_with(T::default)
    }
    fn or_insert(&mut self, r: u32, x: T) -> &mut T {
        self.v[r as usize].get_or_insert(x)
    }
    fn insert(&mut self, r: u32, x: T) {
        self.v[r as usize] = Some(x);
    }
    fn get(&self, r: &u32) -> Option<&T> {
        self.v[*r as usize].as_ref()
    }
    fn contains_key(&self, r: &u32) -> bool {
        self.v[*r as usize].is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A view's report lists the newest offsets of each replica, the same ones the full
    /// report ends with, and says where they start.
    #[test]
    fn a_view_lists_the_newest_offsets_of_each_replica() {
        let text = "format = 1\nseed = 4\n[[topic]]\nname = \"orders\"\npartitions = 1\n\"replication.factor\" = 3\n[[send]]\ncount = 30\nevery_ms = 1\n";
        let (sim, full) = crate::run(text, false).expect("runs");
        let view = Report::build_view(&sim, None, 12);
        let (f, v) = (&full.partitions[0], &view.partitions[0]);
        assert_eq!(f.replicas.len(), 3);
        for (fr, vr) in f.replicas.iter().zip(&v.replicas) {
            assert_eq!(fr.log.len(), 30, "every record has a copy on {}", fr.broker);
            assert_eq!((vr.log_start, vr.log.len()), (18, 12));
            assert_eq!(vr.log[..], fr.log[18..]);
            assert_eq!(*vr.log[11], *"r30");
        }
        // The records themselves are the same in both.
        assert_eq!(view.records.iter().map(|r| r.fate).collect::<Vec<_>>(), full.records.iter().map(|r| r.fate).collect::<Vec<_>>());
    }
}
