//! Consumers, their group and their sink (kafka-rules.md 1.K, 1.L; format "The application").
//!
//! A consumer polls (fetching from each assigned partition's leader up to the high watermark:
//! without transactions the last stable offset equals it, so both isolation levels read the
//! same), processes each record (`processing_ms`, writing to its sink), and commits offsets as
//! its `commit` model says. The group coordinator is one always-available node that keeps the
//! committed offsets (the next offset to read, R-L1) and assigns partitions with the range
//! assignor when members join, leave, or miss `session.timeout.ms`.

use super::*;
use crate::scenario::ConsumerCfg;

/// Consumers poll again this long after an empty fetch (they long-poll up to
/// `fetch.max.wait.ms` = 500 ms in Kafka; 100 ms keeps lessons quick and changes no fate).
const EMPTY_POLL_BACKOFF: Time = 100 * MS;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CPhase {
    Idle,
    Fetching,
    /// poll() has returned its records; the commit before processing, or the processing,
    /// starts at the next `ConsumerStep`.
    Polled,
    /// The poll's last record is processed; the commit after processing, the sink's database
    /// transaction or the read-process-write transaction's end comes at the next `ConsumerStep`.
    BatchDone,
    CommitThenProcess,
    Processing,
    CommitThenPoll,
    /// Read-process-write: sendOffsetsToTransaction() and commitTransaction() (or the abort)
    /// have not returned yet.
    EndingTxn,
}

#[derive(Clone, Debug)]
pub struct Consumer {
    pub cfg: std::rc::Rc<ConsumerCfg>,
    pub alive: bool,
    pub crashed: bool,
    pub closed: bool,
    pub started: bool,
    pub inst: u32,
    pub group: usize,
    pub assigned: Vec<usize>,
    pub position: IdxMap<u64>,
    pub(crate) phase: CPhase,
    outstanding: VecSet<usize>,
    polled: Vec<(usize, u64, RecId)>,
    queue: VecDeque<(usize, u64, RecId)>,
    last_auto: Time,
    commit_pending: Option<u64>,
    /// Rows of the current poll, not yet written (in-sink: one database transaction per poll).
    uncommitted_rows: Vec<RecId>,
    /// Read-process-write: the application's transactional producer.
    pub producer: Option<usize>,
    /// The input records of the current read-process-write transaction.
    pub(crate) txn_inputs: Vec<(usize, u64, RecId)>,
    /// The group generation this member last joined, and whether it is still a member (it
    /// is removed when it misses max.poll.interval.ms).
    pub generation: u32,
    pub member: bool,
    commit_retried: bool,
    /// Records this member processed, and how often.
    pub processed: IdxMap<u32, RecId>,
    /// Newly assigned partitions whose committed offset is still to be fetched (OffsetFetch
    /// with requireStable, R-L4).
    fetch_needed: VecSet<usize>,
    last_poll: Time,
}

/// A consumer group: its committed offsets and the external database its members write to.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub name: String,
    pub members: Vec<usize>,
    pub generation: u32,
    pub committed: IdxMap<u64>,
    /// Insert sink: rows per record. Upsert sink: the record last written per key.
    pub rows: IdxMap<u32, RecId>,
    pub upserts: VecMap<String, RecId>,
    /// in-sink: offsets stored in the database's own transaction.
    pub sink_offsets: IdxMap<u64>,
    pub processed: IdxMap<u32, RecId>,
    pub sink: String,
    /// Transactional offset commits waiting for their transaction's marker, per producer id.
    pub pending: VecMap<i64, Vec<(usize, u64)>>,
}

/// The topics a consumer subscribes to: its `topics`, else every topic the sends write to
/// except the scenario's output topics.
pub(crate) fn subscription(sc: &Scenario, cfg: &ConsumerCfg) -> Vec<usize> {
    match &cfg.topics {
        Some(ts) => ts.iter().filter_map(|t| sc.topic_index(t)).collect(),
        None => {
            let outputs: Vec<&String> = sc.consumers.iter().filter_map(|c| c.output_topic.as_ref()).collect();
            let topics: VecSet<usize> = sc.sends.iter().flat_map(|s| s.records.iter().map(|r| r.topic)).collect();
            topics.into_iter().filter(|t| !outputs.contains(&&sc.topics[*t].name)).collect()
        }
    }
}

impl Sim {
    pub(crate) fn init_consumers(&mut self) {
        let cfgs: Vec<ConsumerCfg> = self.sc.consumers.clone();
        for (i, cfg) in cfgs.into_iter().enumerate() {
            let group = match self.groups.iter().position(|g| g.name == cfg.group_id) {
                Some(g) => g,
                None => {
                    self.groups.push(Group { name: cfg.group_id.clone(), sink: cfg.sink.clone(), ..Default::default() });
                    self.groups.len() - 1
                }
            };
            let at = cfg.at_ms.unwrap_or(0) * MS;
            let producer = self.producers.iter().position(|p| p.app_of == Some(i));
            self.consumers.push(Consumer {
                cfg: std::rc::Rc::new(cfg),
                alive: false,
                crashed: false,
                closed: false,
                started: false,
                inst: 0,
                group,
                assigned: Vec::new(),
                position: IdxMap::new(),
                phase: CPhase::Idle,
                outstanding: VecSet::new(),
                polled: Vec::new(),
                queue: VecDeque::new(),
                last_auto: at,
                commit_pending: None,
                uncommitted_rows: Vec::new(),
                producer,
                txn_inputs: Vec::new(),
                generation: 0,
                member: false,
                commit_retried: false,
                processed: IdxMap::new(),
                fetch_needed: VecSet::new(),
                last_poll: 0,
            });
            self.push(at, Ev::ConsumerStart { c: i });
        }
    }

    pub(crate) fn consumer_start(&mut self, c: usize) {
        let cs = &mut self.consumers[c];
        if cs.alive || cs.closed {
            return;
        }
        cs.alive = true;
        cs.crashed = false;
        cs.started = true;
        cs.phase = CPhase::Idle;
        cs.last_auto = self.now;
        cs.member = true;
        let g = cs.group;
        let name = cs.cfg.name.clone();
        tr!(self, "consumer {name} joins group {}", self.groups[g].name);
        if !self.groups[g].members.contains(&c) {
            self.groups[g].members.push(c);
        }
        self.rebalance(g, &format!("{name} joined"));
    }

    /// The range assignor: per topic, partitions split into contiguous ranges over the members
    /// sorted by name. A member's position starts at the group's committed offset (in-sink: the
    /// sink's), else at `auto.offset.reset`.
    fn rebalance(&mut self, g: usize, why: &str) {
        // R-L2: with auto-commit, a member commits its positions before it rejoins
        // (`onJoinPrepare`). Kafka rebalances inside poll(), after the last batch was processed;
        // here a member still processing a batch does not commit (its batch is not done).
        let members = self.groups[g].members.clone();
        for m in members {
            let cs = &self.consumers[m];
            if cs.alive && cs.cfg.commit == "auto" && matches!(cs.phase, CPhase::Idle | CPhase::Fetching) && cs.fetch_needed.is_empty() {
                let offsets: Vec<(usize, u64)> = cs.position.iter().map(|(p, &o)| (p, o)).collect();
                if offsets.iter().any(|(p, o)| self.groups[g].committed.get(p) != Some(o)) {
                    let name = cs.cfg.name.clone();
                    tr!(self, "consumer {name}: auto-commit before the rebalance: offsets {}", fmt_positions(self, &cs.position.clone()));
                    self.apply_committed(g, m, offsets, None);
                }
            }
        }
        self.groups[g].generation += 1;
        let mut members = self.groups[g].members.clone();
        members.sort_by(|a, b| self.consumers[*a].cfg.name.cmp(&self.consumers[*b].cfg.name));
        let mut assignment: VecMap<usize, Vec<usize>> = members.iter().map(|&m| (m, Vec::new())).collect();
        let topics: VecSet<usize> = members.iter().flat_map(|&m| self.consumer_topics[m].clone()).collect();
        for t in topics {
            let subs: Vec<usize> = members.iter().copied().filter(|&m| self.consumer_topics[m].contains(&t)).collect();
            let parts: Vec<usize> = (0..self.parts.len()).filter(|&p| self.parts[p].topic == t).collect();
            if subs.is_empty() {
                continue;
            }
            let per = parts.len() / subs.len();
            let extra = parts.len() % subs.len();
            let mut i = 0;
            for (k, &m) in subs.iter().enumerate() {
                let n = per + usize::from(k < extra);
                assignment.get_mut(&m).expect("member").extend_from_slice(&parts[i..i + n]);
                i += n;
            }
        }
        let gen = self.groups[g].generation;
        for (m, parts) in assignment {
            let name = self.consumers[m].cfg.name.clone();
            tr!(
                self,
                "group {} generation {gen} ({why}): {name} is assigned {}",
                self.groups[g].name,
                if parts.is_empty() {
                    "nothing".to_string()
                } else {
                    parts.iter().map(|&p| self.parts[p].name.clone()).collect::<Vec<_>>().join(", ")
                }
            );
            let mut pos = IdxMap::new();
            let mut fetch = VecSet::new();
            for &p in &parts {
                let kept = self.consumers[m].position.get(&p).copied().filter(|_| self.consumers[m].assigned.contains(&p));
                if kept.is_none() || self.consumers[m].fetch_needed.contains(&p) {
                    // The member fetches the committed offset before its next fetch.
                    fetch.insert(p);
                }
                pos.insert(p, kept.unwrap_or_else(|| self.start_offset(m, p)));
            }
            let cs = &mut self.consumers[m];
            cs.assigned = parts;
            cs.position = pos;
            cs.fetch_needed = fetch;
            cs.generation = gen;
            if cs.phase == CPhase::Idle {
                let inst = cs.inst;
                self.push(self.now, Ev::ConsumerPoll { c: m, inst });
            }
        }
    }

    fn start_offset(&self, c: usize, p: usize) -> u64 {
        let cs = &self.consumers[c];
        let g = &self.groups[cs.group];
        let stored = if cs.cfg.commit == "in-sink" { g.sink_offsets.get(&p) } else { g.committed.get(&p) };
        if let Some(&o) = stored {
            return o;
        }
        match cs.cfg.auto_offset_reset.as_str() {
            "earliest" => 0,
            // ListOffsets(LATEST) answers the HW, or for read_committed the LSO (R-K3): a
            // consumer that starts while a transaction is open reads it once it commits.
            _ => self.ctrl.parts[p]
                .leader
                .map(|l| {
                    let log = &self.brokers[l].logs[&p];
                    if cs.cfg.read_committed {
                        log.lso()
                    } else {
                        log.hw
                    }
                })
                .unwrap_or(0),
        }
    }

    pub(crate) fn consumer_poll(&mut self, c: usize, inst: u32) {
        let cs = &self.consumers[c];
        if !cs.alive || cs.inst != inst || cs.phase != CPhase::Idle {
            return;
        }
        // Read-process-write: initTransactions() returns before the first poll().
        if let Some(pp) = cs.producer {
            if self.producers[pp].init != Init::Ready {
                self.push(self.now + 10 * MS, Ev::ConsumerPoll { c, inst });
                return;
            }
        }
        let g = cs.group;
        if !cs.member {
            // Removed from the group (max.poll.interval.ms): poll() joins it again.
            let name = cs.cfg.name.clone();
            self.consumers[c].member = true;
            self.groups[g].members.push(c);
            self.rebalance(g, &format!("{name} rejoins"));
        }
        // OffsetFetch for newly assigned partitions (R-L4): the Java consumer asks for stable
        // offsets, so a partition with a pending transactional offset commit waits.
        let wanted: Vec<usize> = self.consumers[c].fetch_needed.iter().copied().collect();
        for p in wanted {
            if self.groups[g].pending.values().any(|v| v.iter().any(|&(q, _)| q == p)) {
                let name = self.consumers[c].cfg.name.clone();
                tr!(
                    self,
                    "consumer {name}: OffsetFetch for {}: UNSTABLE_OFFSET_COMMIT (a transaction holds pending offsets); retrying",
                    self.parts[p].name
                );
                self.client_error(Node::Consumer(c, inst), "UnstableOffsetCommitException", true);
                self.push(self.now + EMPTY_POLL_BACKOFF, Ev::ConsumerPoll { c, inst });
                return;
            }
            let start = self.start_offset(c, p);
            let cs = &mut self.consumers[c];
            cs.position.insert(p, start);
            cs.fetch_needed.remove(&p);
        }
        let cs = &self.consumers[c];
        // R-L2: auto-commit runs at the start of poll(), committing the positions reached by
        // earlier polls, once auto.commit.interval.ms has passed.
        if cs.cfg.commit == "auto" && self.now >= cs.last_auto + cs.cfg.auto_commit_interval_ms * MS && cs.commit_pending.is_none() {
            self.consumers[c].last_auto = self.now;
            self.send_commit(c, "auto-commit at the start of poll()");
        }
        let assigned = self.consumers[c].assigned.clone();
        let mut sent = VecSet::new();
        for p in assigned {
            let Some(leader) = self.ctrl.parts[p].leader else { continue };
            let offset = self.consumers[c].position[&p];
            let max = self.consumers[c].cfg.max_poll_records;
            self.send(Node::Consumer(c, inst), Node::Broker(leader), Body::CFetch { part: p, offset, max });
            sent.insert(p);
        }
        if sent.is_empty() {
            self.push(self.now + EMPTY_POLL_BACKOFF, Ev::ConsumerPoll { c, inst });
            return;
        }
        let cs = &mut self.consumers[c];
        cs.outstanding = sent;
        cs.polled.clear();
        cs.phase = CPhase::Fetching;
    }

    /// A broker answers a consumer fetch from its log up to the high watermark (R-E5).
    pub(crate) fn on_consumer_fetch(&mut self, b: usize, m: &Msg, part: usize, offset: u64, max: u32) {
        let res = if !self.brokers[b].leading.contains_key(&part) {
            Err(CFetchErr::NotLeader)
        } else {
            let log = &self.brokers[b].logs[&part];
            // read_committed reads up to the LSO and drops aborted transactions' data;
            // read_uncommitted reads up to the HW, aborted and open data included (R-K2).
            let rc = match m.from {
                Node::Consumer(ci, _) => self.consumers[ci].cfg.read_committed,
                _ => false,
            };
            let bound = if rc { log.lso() } else { log.hw };
            if offset > log.leo() {
                // The consumer's ListOffsets for its reset uses its isolation level too.
                Err(CFetchErr::OutOfRange { earliest: 0, latest: bound })
            } else {
                let end = bound.min(offset + max as u64).max(offset);
                let recs: Vec<(u64, RecId)> = (offset..end)
                    .filter(|&o| !(rc && log.is_aborted(o)))
                    .filter_map(|o| log.entries[o as usize].rec.map(|r| (o, r)))
                    .collect();
                Ok((recs, end))
            }
        };
        self.reply(m, Body::CFetchResp { part, res });
    }

    pub(crate) fn on_consumer_fetch_resp(&mut self, c: usize, part: usize, res: Result<(Vec<(u64, RecId)>, u64), CFetchErr>) {
        let cs = &mut self.consumers[c];
        if cs.phase != CPhase::Fetching || !cs.outstanding.remove(&part) {
            return;
        }
        // A rebalance while the fetch was out may have revoked the partition: Kafka's fetcher
        // drops records of a partition that is no longer assigned (it has no position).
        let revoked = !cs.position.contains_key(&part);
        match res {
            _ if revoked => {}
            Ok((recs, next)) => {
                // poll() returns at most max.poll.records; the position moves past what it
                // returns, and past the whole fetch (markers, aborted data) only when all of
                // the fetch was returned.
                let room = (cs.cfg.max_poll_records as usize).saturating_sub(cs.polled.len());
                let all = recs.len() <= room;
                let take: Vec<(u64, RecId)> = recs.into_iter().take(room).collect();
                let pos = cs.position[&part];
                let new_pos = if all { next.max(pos) } else { take.last().map(|&(o, _)| o + 1).unwrap_or(pos).max(pos) };
                cs.position.insert(part, new_pos);
                for (o, r) in take {
                    cs.polled.push((part, o, r));
                }
            }
            Err(CFetchErr::OutOfRange { earliest, latest }) => {
                let reset = if cs.cfg.auto_offset_reset == "earliest" { earliest } else { latest };
                let old = cs.position[&part];
                cs.position.insert(part, reset);
                let name = cs.cfg.name.clone();
                tr!(
                    self,
                    "consumer {name}: offset {old} is out of range on {} (the log was truncated); auto.offset.reset moves it to {reset}",
                    self.parts[part].name
                );
            }
            Err(CFetchErr::NotLeader) => {}
        }
        if !self.consumers[c].outstanding.is_empty() {
            return;
        }
        let inst = self.consumers[c].inst;
        let polled = std::mem::take(&mut self.consumers[c].polled);
        if polled.is_empty() {
            self.consumers[c].phase = CPhase::Idle;
            self.push(self.now + EMPTY_POLL_BACKOFF, Ev::ConsumerPoll { c, inst });
            return;
        }
        let name = self.consumers[c].cfg.name.clone();
        let ids: Vec<RecId> = polled.iter().map(|x| x.2).collect();
        tr!(self, "consumer {name}: poll() returns {}", rec_list(&self.recs, &ids));
        for &(p, o, r) in &polled {
            why!(self, r, "consumer {name} received it in poll() (offset {o})");
            self.hooks.push(HookEv { consumer: Some(c), ..HookEv::new(Hook::Poll, r, p) });
        }
        // max.poll.interval.ms: the member must poll again within it, or it leaves the group.
        self.consumers[c].last_poll = self.now;
        let iv = self.consumers[c].cfg.max_poll_interval_ms * MS;
        self.push(self.now + iv, Ev::PollIntervalCheck { c, inst, polled_at: self.now });
        if let Some(pp) = self.consumers[c].producer {
            // Read-process-write: one transaction per poll (beginTransaction()).
            self.consumers[c].txn_inputs = polled.clone();
            self.producers[pp].txn = Some(TxnRun::new(None));
            tr!(self, "{name}: beginTransaction()");
        }
        self.consumers[c].queue = polled.into_iter().collect();
        self.consumers[c].phase = CPhase::Polled;
        self.push(self.now, Ev::ConsumerStep { c, inst });
    }

    /// What the application does next once poll() has returned, or once the poll's last record
    /// is processed (see `Ev::ConsumerStep`).
    pub(crate) fn consumer_step(&mut self, c: usize, inst: u32) {
        let cs = &self.consumers[c];
        if !cs.alive || cs.inst != inst {
            return;
        }
        match cs.phase {
            CPhase::Polled if cs.cfg.commit == "before-processing" => {
                self.consumers[c].phase = CPhase::CommitThenProcess;
                self.send_commit(c, "commitSync() before processing");
            }
            CPhase::Polled => self.start_processing(c),
            CPhase::BatchDone => self.end_batch(c, inst),
            _ => {}
        }
    }

    fn start_processing(&mut self, c: usize) {
        let cs = &mut self.consumers[c];
        cs.phase = CPhase::Processing;
        let (inst, ms) = (cs.inst, cs.cfg.processing_ms * MS);
        self.push(self.now + ms, Ev::ConsumerProcess { c, inst });
    }

    pub(crate) fn consumer_process(&mut self, c: usize, inst: u32) {
        let cs = &mut self.consumers[c];
        if !cs.alive || cs.inst != inst || cs.phase != CPhase::Processing {
            return;
        }
        let Some((p, o, r)) = cs.queue.pop_front() else { return };
        *cs.processed.entry(r).or_default() += 1;
        let g = cs.group;
        let name = cs.cfg.name.clone();
        let in_sink = cs.cfg.commit == "in-sink";
        let group = &mut self.groups[g];
        let n = {
            let e = group.processed.entry(r).or_default();
            *e += 1;
            *e
        };
        let sink_note = match group.sink.as_str() {
            "insert" if in_sink => {
                self.consumers[c].uncommitted_rows.push(r);
                " and wrote a row (in the poll's database transaction)".to_string()
            }
            "insert" => {
                *group.rows.entry(r).or_default() += 1;
                format!(" and inserted a row (now {} for it)", group.rows[&r])
            }
            "upsert" => {
                if in_sink {
                    self.consumers[c].uncommitted_rows.push(r);
                } else {
                    let key =
                        self.sc.sends.iter().flat_map(|s| s.records.iter()).nth(r as usize).map(|x| x.key.clone()).unwrap_or_default();
                    group.upserts.insert(key, r);
                }
                " and upserted its row by key".to_string()
            }
            _ => String::new(),
        };
        tr!(self, "consumer {name} processed {} (offset {o}){sink_note}", self.recs[r as usize].id);
        why!(self, r, "consumer {name} processed it{}{sink_note}", if n > 1 { format!(" AGAIN (time {n})") } else { String::new() });
        if let (Some(pp), Some(ot)) =
            (self.consumers[c].producer, self.consumers[c].cfg.output_topic.as_ref().and_then(|t| self.sc.topic_index(t)))
        {
            // Read-process-write: one output record per input, in the poll's transaction.
            if let Some(&out) = self.out_rec.get(&(r, ot)) {
                why!(self, r, "consumer {name} produced its output {} in its transaction", self.recs[out as usize].id);
                self.producer_send(pp, out);
            }
        }
        self.hooks.push(HookEv { consumer: Some(c), ..HookEv::new(Hook::Process, r, p) });
        let cs = &self.consumers[c];
        if !cs.queue.is_empty() {
            let ms = cs.cfg.processing_ms * MS;
            self.push(self.now + ms, Ev::ConsumerProcess { c, inst });
            return;
        }
        self.consumers[c].phase = CPhase::BatchDone;
        self.push(self.now, Ev::ConsumerStep { c, inst });
    }

    /// The poll's records are all processed: commit offsets, end the sink's database
    /// transaction or the read-process-write transaction, or poll again.
    fn end_batch(&mut self, c: usize, inst: u32) {
        let g = self.consumers[c].group;
        let name = self.consumers[c].cfg.name.clone();
        match self.consumers[c].cfg.commit.as_str() {
            "transaction" => {
                // sendOffsetsToTransaction(positions, groupMetadata()), then commitTransaction().
                self.consumers[c].phase = CPhase::EndingTxn;
                if let Some(pp) = self.consumers[c].producer {
                    if let Some(tx) = self.producers[pp].txn.as_mut() {
                        tx.offsets = OffsetsStep::Want(0);
                    }
                    tr!(self, "{name}: sendOffsetsToTransaction({})", fmt_positions(self, &self.consumers[c].position.clone()));
                    self.producer_poll(pp);
                }
            }
            "after-processing" => {
                self.consumers[c].phase = CPhase::CommitThenPoll;
                self.send_commit(c, "commitSync() after processing");
            }
            "in-sink" => {
                // One database transaction: the rows and the offsets together.
                let rows = std::mem::take(&mut self.consumers[c].uncommitted_rows);
                let positions = self.consumers[c].position.clone();
                for r in rows {
                    self.write_row(g, r);
                }
                self.groups[g].sink_offsets.extend(positions.iter().map(|(p, &o)| (p, o)));
                tr!(self, "consumer {name}: database transaction commits the rows with the offsets {}", fmt_positions(self, &positions));
                self.consumers[c].phase = CPhase::Idle;
                self.push(self.now, Ev::ConsumerPoll { c, inst });
            }
            _ => {
                self.consumers[c].phase = CPhase::Idle;
                self.push(self.now, Ev::ConsumerPoll { c, inst });
            }
        }
    }

    fn write_row(&mut self, g: usize, r: RecId) {
        if self.groups[g].sink == "upsert" {
            let key = self.sc.sends.iter().flat_map(|s| s.records.iter()).nth(r as usize).map(|x| x.key.clone()).unwrap_or_default();
            self.groups[g].upserts.insert(key, r);
        } else {
            *self.groups[g].rows.entry(r).or_default() += 1;
        }
    }

    /// commitSync() / auto-commit of the current positions to the group coordinator.
    fn send_commit(&mut self, c: usize, why: &str) {
        let cs = &mut self.consumers[c];
        let offsets: Vec<(usize, u64)> = cs.position.iter().map(|(p, &o)| (p, o)).collect();
        let req = self.next_id + 1;
        self.next_id += 1;
        let cs = &mut self.consumers[c];
        cs.commit_pending = Some(req);
        let (inst, g, name, generation) = (cs.inst, cs.group, cs.cfg.name.clone(), cs.generation);
        // Auto-commit resends unchanged offsets every interval, as Kafka does; only a commit
        // that moves an offset is worth a trace line.
        let moves = offsets.iter().any(|(p, o)| self.groups[g].committed.get(p) != Some(o));
        if moves {
            tr!(
                self,
                "consumer {name}: {why}: offsets {}",
                offsets.iter().map(|(p, o)| format!("{}={o}", self.parts[*p].name)).collect::<Vec<_>>().join(", ")
            );
        }

        let key =
            self.send(Node::Consumer(c, inst), Node::Group, Body::OffsetCommit { req, group: g, generation, offsets: offsets.clone() });
        // A wire action on the `offset-commit` hook acts on this request (or its response), so
        // it is raised for the records the commit would move past when the request leaves;
        // every other action waits for the offset to move (`apply_committed`). Only a scenario
        // that arms one pays for finding those records at every commit.
        let armed = self.sc.faults.iter().any(|f| matches!(f.when, When::On(Hook::OffsetCommit)) && f.action.is_wire());
        for (p, o) in offsets.into_iter().filter(|_| armed) {
            let old = self.groups[g].committed.get(&p).copied().unwrap_or(0);
            for (_, r) in self.recs_between(p, old, o) {
                self.hooks.push(HookEv {
                    consumer: Some(c),
                    msg: key,
                    msg_is_request: true,
                    wire: Some(true),
                    ..HookEv::new(Hook::OffsetCommit, r, p)
                });
            }
        }
        // No answer within request.timeout.ms: the commit fails with a TimeoutException.
        self.push(self.now + 30_000 * MS, Ev::CommitTimeout { c, inst, req });
    }

    /// commitSync() retries a request that got no answer within request.timeout.ms until
    /// default.api.timeout.ms (60 s) is spent: one more attempt, then TimeoutException.
    pub(crate) fn commit_timeout(&mut self, c: usize, inst: u32, req: u64) {
        let cs = &mut self.consumers[c];
        if cs.inst != inst || !cs.alive || cs.commit_pending != Some(req) {
            return;
        }
        let sync = matches!(cs.phase, CPhase::CommitThenProcess | CPhase::CommitThenPoll);
        if sync && !cs.commit_retried {
            cs.commit_retried = true;
            let name = cs.cfg.name.clone();
            tr!(self, "consumer {name}: no answer to the offset commit within request.timeout.ms: commitSync() sends it again");
            self.send_commit(c, "commitSync() retry");
            return;
        }
        self.on_offset_commit_resp(c, req, Err("TIMEOUT"));
    }

    /// The group coordinator's check of a commit's member and generation (R-L5, R-L6).
    pub(crate) fn validate_commit(&self, g: usize, c: usize, generation: u32) -> Result<(), &'static str> {
        if !self.groups[g].members.contains(&c) {
            Err("UNKNOWN_MEMBER_ID")
        } else if generation != self.groups[g].generation {
            Err("ILLEGAL_GENERATION")
        } else {
            Ok(())
        }
    }

    /// The group coordinator stores committed offsets: the next offset to read (R-L1).
    pub(crate) fn on_offset_commit(&mut self, m: &Msg, req: u64, g: usize, generation: u32, offsets: Vec<(usize, u64)>) {
        let Node::Consumer(c, _) = m.from else { return };
        if let Err(e) = self.validate_commit(g, c, generation) {
            tr!(self, "group {}: offset commit of generation {generation} refused: {e}", self.groups[g].name);
            self.client_error(
                m.from,
                if e == "ILLEGAL_GENERATION" { "IllegalGenerationException" } else { "UnknownMemberIdException" },
                false,
            );
            self.reply(m, Body::OffsetCommitResp { req, res: Err(e) });
            return;
        }
        let first_hook = self.hooks.len();
        self.apply_committed(g, c, offsets, None);
        let key = self.reply(m, Body::OffsetCommitResp { req, res: Ok(()) });
        // Wire faults on the `offset-commit` hook act on this commit's response.
        for h in &mut self.hooks[first_hook..] {
            h.msg = key;
        }
    }

    /// The records at offsets `from..to` of a partition's leader log (none without a leader).
    fn recs_between(&self, p: usize, from: u64, to: u64) -> Vec<(u64, RecId)> {
        let Some(l) = self.ctrl.parts[p].leader else { return Vec::new() };
        let log = &self.brokers[l].logs[&p];
        (from..to.min(log.leo())).filter_map(|x| log.entries[x as usize].rec.map(|r| (x, r))).collect()
    }

    /// Committed offsets move forward; records they pass get a why line and an
    /// `offset-commit` hook. `txn` names the transaction whose marker made them committed.
    pub(crate) fn apply_committed(&mut self, g: usize, c: usize, offsets: Vec<(usize, u64)>, txn: Option<&str>) {
        for (p, o) in offsets {
            let old = self.groups[g].committed.get(&p).copied().unwrap_or(0);
            self.groups[g].committed.insert(p, o);
            if o > old {
                for (x, r) in self.recs_between(p, old, o) {
                    let how = match txn {
                        Some(t) => format!(" with the COMMIT of transaction {t}"),
                        None => String::new(),
                    };
                    if self.explain {
                        self.why(
                            r,
                            format!("group {} committed offset {o}{how}: the group will not read offset {x} again", self.groups[g].name),
                        )
                    };
                    self.hooks.push(HookEv { consumer: Some(c), wire: Some(false), ..HookEv::new(Hook::OffsetCommit, r, p) });
                }
            }
        }
    }

    pub(crate) fn on_offset_commit_resp(&mut self, c: usize, req: u64, res: Result<(), &'static str>) {
        let cs = &mut self.consumers[c];
        if cs.commit_pending != Some(req) {
            return;
        }
        cs.commit_pending = None;
        cs.commit_retried = false;
        let inst = cs.inst;
        if let Err(e) = res {
            // commitSync() throws CommitFailedException: the group rebalanced without this
            // member. A careful application does not process a batch it may no longer own; it
            // polls again, which rejoins the group.
            let name = cs.cfg.name.clone();
            let auto = cs.phase != CPhase::CommitThenProcess && cs.phase != CPhase::CommitThenPoll;
            let exception = if e == "TIMEOUT" { "TimeoutException" } else { "CommitFailedException" };
            self.errors.push(ClientError {
                at: self.now,
                client: name.clone(),
                record: None,
                error: exception.into(),
                retried: false,
                raised: !auto,
            });
            if e == "TIMEOUT" {
                tr!(self, "consumer {name}: no answer to the offset commit within request.timeout.ms: TimeoutException (it may or may not have been stored)");
            } else {
                tr!(
                    self,
                    "consumer {name}: offset commit failed ({e}): CommitFailedException; the partitions may belong to another member now"
                );
            }
            let cs = &mut self.consumers[c];
            if !auto {
                cs.queue.clear();
                cs.phase = CPhase::Idle;
                self.push(self.now, Ev::ConsumerPoll { c, inst });
            }
            return;
        }
        match cs.phase {
            CPhase::CommitThenProcess => self.start_processing(c),
            CPhase::CommitThenPoll => {
                self.consumers[c].phase = CPhase::Idle;
                self.push(self.now, Ev::ConsumerPoll { c, inst });
            }
            _ => {}
        }
    }

    pub(crate) fn consumer_crash(&mut self, c: usize) {
        let cs = &mut self.consumers[c];
        if !cs.alive {
            return;
        }
        cs.alive = false;
        cs.crashed = true;
        cs.inst += 1;
        cs.phase = CPhase::Idle;
        cs.queue.clear();
        cs.polled.clear();
        cs.outstanding.clear();
        cs.commit_pending = None;
        cs.txn_inputs.clear();
        let rpw = cs.producer;
        let lost_rows = std::mem::take(&mut cs.uncommitted_rows);
        let name = cs.cfg.name.clone();
        let session = cs.cfg.session_timeout_ms * MS;
        let inst = cs.inst;
        tr!(
            self,
            "consumer {name} crashes{}",
            if lost_rows.is_empty() {
                String::new()
            } else {
                format!("; its open database transaction rolls back {} row(s)", lost_rows.len())
            }
        );
        // A read-process-write application is one process: its producer dies with it, and
        // its open transaction waits for the coordinator (timeout or a new instance).
        if let Some(pp) = rpw {
            self.producer_crash(pp);
        }
        // The coordinator notices only when the session times out.
        self.push(self.now + session, Ev::ConsumerSessionExpire { c, inst });
    }

    /// R-L6: a member that has not polled within max.poll.interval.ms is removed from the
    /// group (its heartbeat thread leaves); its partitions go to the others.
    pub(crate) fn poll_interval_check(&mut self, c: usize, inst: u32, polled_at: Time) {
        let cs = &self.consumers[c];
        if !cs.alive || cs.inst != inst || cs.last_poll != polled_at || !cs.member || matches!(cs.phase, CPhase::Idle | CPhase::Fetching) {
            return;
        }
        let (g, name, iv) = (cs.group, cs.cfg.name.clone(), cs.cfg.max_poll_interval_ms);
        self.consumers[c].member = false;
        self.groups[g].members.retain(|&m| m != c);
        tr!(self, "consumer {name} has not called poll() for max.poll.interval.ms ({iv} ms): it leaves the group");
        self.rebalance(g, &format!("{name} exceeded max.poll.interval.ms"));
    }

    pub(crate) fn consumer_session_expire(&mut self, c: usize, inst: u32) {
        if self.consumers[c].inst != inst || self.consumers[c].alive {
            return;
        }
        let g = self.consumers[c].group;
        if let Some(i) = self.groups[g].members.iter().position(|&m| m == c) {
            self.groups[g].members.remove(i);
            let name = self.consumers[c].cfg.name.clone();
            self.rebalance(g, &format!("{name} missed session.timeout.ms"));
        }
    }

    pub(crate) fn consumer_restart(&mut self, c: usize) {
        if self.consumers[c].alive {
            return;
        }
        // A new instance (after a crash or a close()): it starts from the committed offsets,
        // not its old positions.
        self.consumers[c].closed = false;
        self.consumers[c].assigned.clear();
        self.consumers[c].position.clear();
        self.consumers[c].inst += 1;
        if let Some(pp) = self.consumers[c].producer {
            // The new instance calls initTransactions() with the same transactional.id.
            self.producer_restart(pp, false);
        }
        self.consumer_start(c);
    }

    pub(crate) fn consumer_close(&mut self, c: usize) {
        if !self.consumers[c].alive {
            return;
        }
        if self.consumers[c].cfg.commit == "auto" {
            // close() commits the positions synchronously (R-L2); modelled as done at once.
            let g = self.consumers[c].group;
            let pos = self.consumers[c].position.clone();
            let name = self.consumers[c].cfg.name.clone();
            tr!(self, "consumer {name}: close() commits its positions (enable.auto.commit)");
            self.groups[g].committed.extend(pos);
        }
        if let Some(pp) = self.consumers[c].producer {
            // close() of the application's producer aborts an open transaction.
            self.producer_close(pp);
        }
        let cs = &mut self.consumers[c];
        cs.alive = false;
        cs.closed = true;
        cs.member = false;
        cs.inst += 1;
        let (g, name) = (cs.group, cs.cfg.name.clone());
        self.groups[g].members.retain(|&m| m != c);
        tr!(self, "consumer {name} closes and leaves the group");
        self.rebalance(g, &format!("{name} left"));
    }

    /// Idle and caught up: every alive consumer has read to the high watermark of its
    /// partitions and has nothing left to process or commit.
    pub(crate) fn consumers_settled(&self) -> bool {
        for cs in &self.consumers {
            if !cs.started && !cs.closed {
                return false;
            }
            if !cs.alive {
                continue;
            }
            if cs.phase != CPhase::Idle || cs.commit_pending.is_some() || !cs.queue.is_empty() {
                return false;
            }
            let g = &self.groups[cs.group];
            if !cs.fetch_needed.is_empty() {
                return false;
            }
            for &p in &cs.assigned {
                let Some(l) = self.ctrl.parts[p].leader else { continue };
                let log = &self.brokers[l].logs[&p];
                // A read_committed consumer can read no further than the last stable offset.
                let end = if cs.cfg.read_committed { log.lso() } else { log.hw };
                let pos = cs.position.get(&p).copied().unwrap_or(0);
                if pos < end {
                    return false;
                }
                if cs.cfg.commit == "auto" && g.committed.get(&p).copied().unwrap_or(0) < pos {
                    return false;
                }
            }
        }
        true
    }
}

#[derive(Clone, Debug)]
pub enum CFetchErr {
    NotLeader,
    /// `latest`: the end a ListOffsets of the consumer's isolation level gives (R-K3).
    OutOfRange {
        earliest: u64,
        latest: u64,
    },
}

fn fmt_positions(s: &Sim, pos: &IdxMap<u64>) -> String {
    pos.iter().map(|(p, o)| format!("{}={o}", s.parts[p].name)).collect::<Vec<_>>().join(", ")
}

impl Sim {
    /// The output record a group's read-process-write application writes for an input.
    pub fn output_for(&self, g: usize, input: RecId) -> Option<RecId> {
        self.consumers
            .iter()
            .filter(|cs| cs.group == g)
            .filter_map(|cs| cs.cfg.output_topic.as_ref().and_then(|t| self.sc.topic_index(t)))
            .find_map(|ot| self.out_rec.get(&(input, ot)).copied())
    }

    pub fn consumer_subscribes(&self, c: usize, topic: usize) -> bool {
        self.consumer_topics.get(c).map(|t| t.contains(&topic)).unwrap_or(false)
    }

    /// How often this member processed the record (across its restarts); the group's total
    /// is what fates use.
    pub fn processed_by(&self, cs: &Consumer, r: RecId) -> u32 {
        cs.processed.get(&r).copied().unwrap_or(0)
    }
}

impl Sim {
    /// Read-process-write: commitTransaction() or abortTransaction() returned. After an abort
    /// the application rewinds to the committed offsets (the loop of the KafkaProducer
    /// javadoc), so the batch is read, processed and produced again.
    pub(crate) fn rpw_txn_done(&mut self, c: usize, committed: bool) {
        let cs = &mut self.consumers[c];
        if !cs.alive || cs.phase != CPhase::EndingTxn {
            return;
        }
        let inputs = std::mem::take(&mut cs.txn_inputs);
        let (inst, name) = (cs.inst, cs.cfg.name.clone());
        if !committed {
            cs.fetch_needed = cs.assigned.iter().copied().collect();
            tr!(self, "consumer {name}: the transaction aborted: it rewinds to the group's committed offsets");
        }
        for (_, _, r) in inputs {
            let line = if committed {
                format!("{name}'s transaction committed its output together with its offset")
            } else {
                format!("{name}'s transaction aborted: its output is discarded and it will be read again")
            };
            if self.explain {
                self.why(r, line)
            };
        }
        self.consumers[c].phase = CPhase::Idle;
        self.push(self.now, Ev::ConsumerPoll { c, inst });
    }
}
