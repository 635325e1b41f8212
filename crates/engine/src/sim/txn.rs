//! Transactions (kafka-rules.md 1.H–1.J): the transactional producer; the transaction
//! coordinator, which runs on the leader of the transactional.id's `__transaction_state`
//! partition and fails over with it; AddPartitionsToTxn and AddOffsetsToTxn; EndTxn answered
//! once PrepareCommit/PrepareAbort is written, markers appended afterwards by each partition
//! leader with acks=all semantics; the transaction timeout; fencing of an older producer epoch;
//! Transactions V2 (4.0) and partition verification (3.6+).
//!
//! `__transaction_state` is a real partition here, replicated like any other: every state
//! change is appended to it, the coordinator acts on it (answers the client, sends markers)
//! once the high watermark covers it, and a new coordinator rebuilds its metadata from the
//! entries of its own replica.

use super::*;

/// The client's view of its current transaction.
#[derive(Clone, Debug)]
pub struct TxnRun {
    /// The `[[send]]` table it runs; None for a read-process-write transaction.
    pub table: Option<usize>,
    pub parts: VecSet<usize>,
    pub recs: Vec<RecId>,
    pub failed: bool,
    /// Some(true) once the application called commitTransaction(), Some(false) for abort.
    pub ending: Option<bool>,
    pub end_sent: bool,
    /// EndTxn is sent again when no answer came by `end_deadline` (request.timeout.ms), or
    /// after CONCURRENT_TRANSACTIONS once `end_retry_at` has passed.
    pub end_deadline: Time,
    pub end_retry_at: Time,
    pub end_attempts: u32,
    /// Partitions the coordinator has added, and those being added (with the time to retry
    /// after CONCURRENT_TRANSACTIONS; `Time::MAX` while a request is out).
    pub added: VecSet<usize>,
    pub adding: VecMap<usize, Time>,
    /// Read-process-write: where sendOffsetsToTransaction() is.
    pub offsets: OffsetsStep,
}

/// sendOffsetsToTransaction(): AddOffsetsToTxn to the transaction coordinator, then
/// TxnOffsetCommit to the group coordinator (R-L5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetsStep {
    None,
    /// To send AddOffsetsToTxn at this time (after CONCURRENT_TRANSACTIONS: a backoff).
    Want(Time),
    Adding,
    Committing,
    Done,
}

/// Markers for a group's offsets are tracked beside data partitions, keyed above them.
pub(crate) const GROUP_MARKER_BASE: usize = 1 << 30;

impl TxnRun {
    pub fn new(table: Option<usize>) -> TxnRun {
        TxnRun {
            table,
            parts: VecSet::new(),
            recs: Vec::new(),
            failed: false,
            ending: None,
            end_sent: false,
            end_deadline: 0,
            end_retry_at: 0,
            end_attempts: 0,
            added: VecSet::new(),
            adding: VecMap::new(),
            offsets: OffsetsStep::None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    /// Pending while the coordinator fences a producer (timeout or a new instance): the epoch
    /// is bumped, then the transaction is aborted.
    PrepareEpochFence,
    /// The transactional.id expired (`transactional.id.expiration.ms` without a transaction).
    Dead,
}

impl TxnState {
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
            TxnState::Dead => "Dead",
        }
    }
    /// R-H2: the valid previous states of each state (TransactionMetadata).
    fn may_follow(self, prev: TxnState) -> bool {
        use TxnState::*;
        match self {
            Empty => matches!(prev, Empty | CompleteCommit | CompleteAbort),
            Ongoing => matches!(prev, Ongoing | Empty | CompleteCommit | CompleteAbort),
            PrepareCommit => prev == Ongoing,
            PrepareAbort => matches!(prev, Ongoing | PrepareEpochFence),
            CompleteCommit => prev == PrepareCommit,
            CompleteAbort => prev == PrepareAbort,
            PrepareEpochFence => prev == Ongoing,
            Dead => matches!(prev, Empty | CompleteCommit | CompleteAbort),
        }
    }
}

/// The coordinator's metadata for one transactional.id.
#[derive(Clone, Debug)]
pub struct TxnMeta {
    pub pid: i64,
    pub epoch: i16,
    pub state: TxnState,
    pub parts: VecSet<usize>,
    /// Consumer groups whose offsets are in the transaction (AddOffsetsToTxn).
    pub groups: VecSet<usize>,
    pub recs: Vec<RecId>,
    pub started: Time,
    pub timeout: Time,
    /// Transactions V2: the epoch before this transaction's EndTxn bump, so that a retried
    /// EndTxn is recognised (`TransactionMetadata.lastProducerEpoch`).
    pub last_epoch: Option<i16>,
    /// When the state last changed (for `transactional.id.expiration.ms`).
    pub updated: Time,
    /// Partitions whose marker is not written yet: (attempt, broker it was last sent to). A
    /// retry timer acts only if its attempt is still the current one.
    pub pending_markers: VecMap<usize, (u32, Option<usize>)>,
}

/// One partition of `__transaction_state` in use: which of the simulation's partitions it is,
/// and the coordinator's writes to it that wait for the high watermark (acks=all, R-H1).
#[derive(Clone, Debug)]
pub struct TxnLogPart {
    pub part: usize,
    pending: Vec<PendingWrite>,
}

impl TxnLogPart {
    pub(crate) fn new(part: usize) -> TxnLogPart {
        TxnLogPart { part, pending: Vec::new() }
    }
}

/// A state the coordinator appended, waiting to be replicated before `then` runs
/// (`TransactionStateManager.appendTransactionToLog` and its callback).
#[derive(Clone, Debug)]
struct PendingWrite {
    leader: usize,
    /// The high watermark that makes it durable (its offset + 1).
    required: u64,
    id: String,
    then: AfterWrite,
}

/// What the coordinator does once a state it wrote is durable.
#[derive(Clone, Debug)]
pub(crate) enum AfterWrite {
    Nothing,
    /// Answer the client's request.
    Reply(Box<Msg>, Body),
    /// EndTxn: answer the client, then write the markers (R-H5).
    EndTxn {
        m: Box<Msg>,
        req: u64,
        commit: bool,
    },
    /// A coordinator-side abort (timeout or fencing): write the ABORT markers.
    Markers,
}

/// Java's `String.hashCode`, which places a transactional.id on a `__transaction_state`
/// partition (`Utils.abs(transactionalId.hashCode) % transaction.state.log.num.partitions`, R-H1).
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// The `__transaction_state` partition of a transactional.id.
pub(crate) fn txn_log_partition_of(id: &str, partitions: u32) -> u32 {
    ((java_hash(id) & 0x7fff_ffff) as u32) % partitions.max(1)
}

impl Sim {
    /// The `__transaction_state` partition of a transactional.id.
    pub fn txn_log_partition(&self, id: &str) -> u32 {
        txn_log_partition_of(id, self.sc.cluster.transaction_state_log_num_partitions)
    }

    /// The simulation's partition index of a transactional.id's `__transaction_state` partition.
    fn txn_log_part(&self, id: &str) -> Option<usize> {
        self.txn_log.get(&self.txn_log_partition(id)).map(|t| t.part)
    }

    /// The broker acting as coordinator of a transactional.id: the leader of its partition,
    /// once it has taken up the leadership the controller gave it.
    pub fn coordinator_of(&self, id: &str) -> Option<usize> {
        let part = self.txn_log_part(id)?;
        let l = self.ctrl.parts[part].leader?;
        self.brokers[l].leading.contains_key(&part).then_some(l)
    }

    /// Whether the coordinator can serve a request now: its broker runs and reaches the
    /// others, and a state it writes would be accepted: the partition's ISR has at least
    /// `transaction.state.log.min.isr` members (R-H1: else NOT_ENOUGH_REPLICAS, which the
    /// client sees as COORDINATOR_NOT_AVAILABLE and retries).
    fn coordinator_ready(&mut self, id: &str) -> bool {
        if !self.coordinator_alive(id) {
            return false;
        }
        let (Some(part), Some(b)) = (self.txn_log_part(id), self.coordinator_of(id)) else { return false };
        self.brokers[b].leading[&part].isr.len() >= self.eff_min_isr(part)
    }

    /// Whether the coordinator's broker runs (markers go out whatever the state log's ISR).
    fn coordinator_alive(&mut self, id: &str) -> bool {
        self.coordinator_of(id).map(|b| self.brokers[b].alive && !self.brokers[b].isolated).unwrap_or(false)
    }

    /// Appends the coordinator's current metadata of `id` to its `__transaction_state`
    /// partition; `then` runs once the high watermark covers it (acks=all, R-H1). The state in
    /// memory moves on at once; what a successor coordinator finds is what was replicated.
    /// Appends one entry that is no producer's record (a transaction marker, or a
    /// `__transaction_state` entry) to leader `b`'s log of `part`; returns its offset.
    fn leader_append_one(&mut self, b: usize, part: usize, control: Option<Control>, pid: i64, epoch: i16, state_rec: Option<u32>) -> u64 {
        let now = self.now;
        let le = self.brokers[b].leading[&part].epoch;
        let bid = self.id();
        let log = self.brokers[b].logs.get_mut(&part).expect("leader log");
        let off = log.leo();
        log.append(&[Entry {
            rec: None,
            control,
            pid,
            epoch,
            base_seq: -1,
            last_seq: -1,
            batch_base: 0,
            leader_epoch: le,
            txn: control.is_some(),
            append_time: now,
            batch_id: bid,
            state_rec,
        }]);
        off
    }

    pub(crate) fn txn_write(&mut self, id: &str, then: AfterWrite) {
        let (Some(part), Some(b)) = (self.txn_log_part(id), self.coordinator_of(id)) else {
            self.txn_write_failed(then, "NotCoordinatorException");
            return;
        };
        let Some(meta) = self.txn_ids.get(id) else { return };
        let (state, pid, epoch) = (meta.state, meta.pid, meta.epoch);
        let idx = self.txn_log_recs.len() as u32;
        self.txn_log_recs.push(std::rc::Rc::new((id.to_string(), meta.clone())));
        let off = self.leader_append_one(b, part, None, -1, -1, Some(idx));
        tr!(
            self,
            "{} (transaction coordinator) writes {id} {} (pid {pid} epoch {epoch}) to {} at offset {off}",
            Sim::bname(b),
            state.name(),
            self.parts[part].name
        );
        let tp = self.parts[part].internal.expect("internal partition");
        self.txn_log.get_mut(&tp).expect("known").pending.push(PendingWrite { leader: b, required: off + 1, id: id.to_string(), then });
        let inc = self.brokers[b].inc;
        self.push(self.now, Ev::WakeFetches { b, inc, part });
        self.maybe_increase_hw(b, part);
    }

    /// The high watermark of `__transaction_state` partition `part` on its leader `b` moved:
    /// the writes it now covers are durable and their callbacks run.
    pub(crate) fn txn_writes_durable(&mut self, b: usize, part: usize) {
        let Some(tp) = self.parts[part].internal else { return };
        let hw = self.brokers[b].logs[&part].hw;
        let Some(t) = self.txn_log.get_mut(&tp) else { return };
        let (ready, keep): (Vec<PendingWrite>, Vec<PendingWrite>) = t.pending.drain(..).partition(|w| w.leader == b && hw >= w.required);
        t.pending = keep;
        for w in ready {
            match w.then {
                AfterWrite::Nothing => {}
                AfterWrite::Reply(m, body) => {
                    self.reply(&m, body);
                }
                AfterWrite::EndTxn { m, req, commit } => self.txn_end_durable(&w.id, &m, req, commit),
                AfterWrite::Markers => {
                    self.txn_send_markers(&w.id, false);
                }
            }
        }
    }

    /// Broker `b` lost the leadership of `__transaction_state` partition `part` (or died,
    /// `part` None: all of them): its waiting writes fail. The client retries its request with
    /// the next coordinator (NOT_COORDINATOR; a dead broker's clients see the connection drop).
    pub(crate) fn txn_writes_lost(&mut self, b: usize, part: Option<usize>, error: &'static str) {
        let mut failed = Vec::new();
        for t in self.txn_log.values_mut() {
            if part.map(|p| p != t.part).unwrap_or(false) {
                continue;
            }
            let (gone, keep): (Vec<PendingWrite>, Vec<PendingWrite>) = t.pending.drain(..).partition(|w| w.leader == b);
            t.pending = keep;
            failed.extend(gone);
        }
        for w in failed {
            self.txn_write_failed(w.then, error);
        }
    }

    fn txn_write_failed(&mut self, then: AfterWrite, error: &'static str) {
        match then {
            AfterWrite::Nothing | AfterWrite::Markers => {}
            AfterWrite::Reply(m, _) => {
                self.client_error(m.from, error, true);
                self.push(self.now + 100 * MS, Ev::ClientRetry(*m));
            }
            AfterWrite::EndTxn { m, req, .. } => {
                self.client_error(m.from, error, true);
                self.reply(&m, Body::EndTxnResp { req, res: Err("NOT_COORDINATOR") });
            }
        }
    }

    /// A request for the coordinator arrives. While none can serve it the client retries
    /// (FindCoordinator / NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE, every retry.backoff.ms).
    pub(crate) fn coordinator_receive(&mut self, m: Msg) {
        let id = match &m.body {
            Body::TxnInitPid { txn, .. } | Body::AddPartitions { txn, .. } | Body::EndTxn { txn, .. } | Body::AddOffsets { txn, .. } => {
                txn.clone()
            }
            Body::MarkerResp { txn, .. } => {
                // A dead coordinator hears nothing; its successor re-sends what is missing.
                if self.coordinator_alive(&txn.clone()) {
                    if let Body::MarkerResp { txn, part, commit, ok } = m.body.clone() {
                        self.on_marker_resp(&txn, part, commit, ok);
                    }
                }
                return;
            }
            Body::Disconnect { broker } => {
                let b = *broker;
                self.txn_marker_disconnect(b);
                return;
            }
            _ => return,
        };
        if !self.coordinator_ready(&id) {
            // Only a client's first attempt is counted: its retries would repeat the line.
            if !self.coordinator_waiting.contains(&(m.from, id.clone())) {
                self.coordinator_waiting.insert((m.from, id.clone()));
                self.client_error(m.from, "CoordinatorNotAvailableException", true);
            }
            self.push(self.now + 100 * MS, Ev::ClientRetry(m));
            return;
        }
        self.coordinator_waiting.remove(&(m.from, id.clone()));
        match m.body.clone() {
            Body::TxnInitPid { req, txn, timeout_ms } => self.txn_init_pid(&m, req, &txn, timeout_ms),
            Body::AddPartitions { txn, epoch, part, recs } => self.txn_add_partition(&m, &txn, epoch, part, recs),
            Body::EndTxn { req, txn, epoch, commit, .. } => self.txn_end(&m, req, &txn, epoch, commit),
            Body::AddOffsets { txn, epoch, group, inputs } => self.txn_add_offsets(&m, &txn, epoch, group, inputs),
            _ => {}
        }
    }

    /// `TransactionStateManager.loadTransactionsForTxnTopicPartition`, run when broker `b`
    /// becomes leader of `__transaction_state` partition `part`: the coordinator rebuilds its
    /// metadata from the entries of its own log (to its end), with the leader epoch as the
    /// coordinator epoch, and completes every transaction that had reached PrepareCommit or
    /// PrepareAbort by sending its markers again; Ongoing ones stay open (R-H6).
    pub(crate) fn txn_coordinator_load(&mut self, b: usize, part: usize, epoch: i32) {
        let Some(tp) = self.parts[part].internal else { return };
        let mut latest: VecMap<String, u32> = VecMap::new();
        for e in self.brokers[b].logs[&part].entries.iter() {
            if let Some(i) = e.state_rec {
                latest.insert(self.txn_log_recs[i as usize].0.clone(), i);
            }
        }
        if epoch == 0 && latest.is_empty() {
            return;
        }
        tr!(
            self,
            "{} becomes the transaction coordinator for __transaction_state-{tp} (coordinator epoch {epoch}) and loads its log: {} transactional.id(s)",
            Sim::bname(b),
            latest.len()
        );
        // What this coordinator did not find in its log, it does not know.
        let forgotten: Vec<String> =
            self.txn_ids.keys().filter(|k| self.txn_log_partition(k) == tp && !latest.contains_key(*k)).cloned().collect();
        for id in forgotten {
            tr!(self, "coordinator {}: {id} is not in its log: the transactional.id is unknown", Sim::bname(b));
            self.txn_ids.remove(&id);
        }
        for (id, i) in latest {
            let mut meta = self.txn_log_recs[i as usize].1.clone();
            if meta.state == TxnState::Dead {
                self.txn_ids.remove(&id);
                continue;
            }
            meta.pending_markers.clear();
            let (state, recs) = (meta.state, meta.recs.clone());
            let was = self.txn_ids.insert(id.clone(), meta).map(|m| m.state);
            if was.is_some_and(|w| w != state) {
                tr!(
                    self,
                    "coordinator {}: the log has {id} in {} (the last coordinator's {} was not replicated)",
                    Sim::bname(b),
                    state.name(),
                    was.map(|w| w.name()).unwrap_or("")
                );
            }
            match state {
                TxnState::PrepareCommit | TxnState::PrepareAbort => {
                    let commit = state == TxnState::PrepareCommit;
                    tr!(self, "coordinator {}: transaction {id} is in {}: it writes the markers again", Sim::bname(b), state.name());
                    for r in recs {
                        why!(
                            self,
                            r,
                            "{} took over as transaction coordinator and re-sent the {} markers of {id}",
                            Sim::bname(b),
                            if commit { "COMMIT" } else { "ABORT" }
                        );
                    }
                    self.txn_send_markers(&id, commit);
                }
                TxnState::Ongoing => tr!(
                    self,
                    "coordinator {}: transaction {id} is Ongoing: it stays open (transaction.timeout.ms still applies)",
                    Sim::bname(b)
                ),
                _ => {}
            }
        }
    }
    fn txn_transition(&mut self, id: &str, to: TxnState) {
        let Some(m) = self.txn_ids.get_mut(id) else { return };
        if !to.may_follow(m.state) {
            // An illegal transition is an engine bug, reported like any invariant.
            self.violation = Some(format!("transaction {id}: {} -> {} is not a legal transition", m.state.name(), to.name()));
            return;
        }
        let from = m.state;
        m.state = to;
        m.updated = self.now;
        tr!(self, "coordinator: transaction {id} {} -> {}", from.name(), to.name());
    }

    /// InitProducerId with a transactional.id (R-H3): a known id gets a bumped epoch, which
    /// fences the older instance. An open transaction is first aborted with epoch + 1 (the
    /// fence) and the client told CONCURRENT_TRANSACTIONS; its retry, once the abort is
    /// complete, gets epoch + 2.
    pub(crate) fn txn_init_pid(&mut self, m: &Msg, req: u64, id: &str, timeout_ms: u64) {
        let now = self.now;
        let state = self.txn_ids.get(id).map(|t| (t.state, t.epoch));
        if let Some((TxnState::Ongoing, epoch)) = state {
            tr!(self, "coordinator: a new instance of {id} initialises: the open transaction of epoch {epoch} is fenced and aborted");
            self.txn_abort(id, epoch + 1, "a new producer instance called initTransactions()");
        }
        if self.txn_ids.get(id).map(|t| matches!(t.state, TxnState::PrepareCommit | TxnState::PrepareAbort)).unwrap_or(false) {
            // CONCURRENT_TRANSACTIONS while the last transaction completes; the client
            // retries (modelled as the request arriving again after the retry backoff).
            tr!(
                self,
                "coordinator: InitProducerId for {id}: CONCURRENT_TRANSACTIONS (the last transaction is completing); the client retries"
            );
            self.client_error(m.from, "ConcurrentTransactionsException", true);
            self.push(now + 100 * MS, Ev::ClientRetry(m.clone()));
            return;
        }
        let (pid, epoch) = match self.txn_ids.get(id) {
            Some(meta) => (meta.pid, meta.epoch + 1),
            None => (1000 + self.id() as i64, 0),
        };
        let meta = self.txn_ids.entry(id.to_string()).or_insert(TxnMeta {
            pid,
            epoch,
            state: TxnState::Empty,
            parts: VecSet::new(),
            groups: VecSet::new(),
            recs: Vec::new(),
            started: now,
            timeout: timeout_ms * MS,
            last_epoch: None,
            updated: now,
            pending_markers: VecMap::new(),
        });
        meta.epoch = epoch;
        meta.timeout = timeout_ms * MS;
        if matches!(meta.state, TxnState::CompleteAbort | TxnState::CompleteCommit) {
            self.txn_transition(id, TxnState::Empty);
        }
        tr!(self, "coordinator: InitProducerId for {id}: pid {pid} epoch {epoch}");
        self.txn_write(id, AfterWrite::Reply(Box::new(m.clone()), Body::InitPidResp { req, pid, epoch }));
    }

    /// AddPartitionsToTxn (R-H4): the coordinator learns the partition; the first one starts
    /// the transaction's timeout clock.
    pub(crate) fn txn_add_partition(&mut self, m: &Msg, id: &str, epoch: i16, part: usize, recs: Vec<RecId>) {
        let Some(meta) = self.txn_ids.get(id) else {
            // An expired (or never initialised) transactional.id: INVALID_PRODUCER_ID_MAPPING.
            self.reply(m, Body::AddPartitionsResp { part, res: Err("InvalidPidMappingException") });
            return;
        };
        if meta.epoch != epoch {
            self.reply(m, Body::AddPartitionsResp { part, res: Err("ProducerFencedException") });
            return;
        }
        if matches!(meta.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            self.client_error(m.from, "ConcurrentTransactionsException", true);
            self.reply(m, Body::AddPartitionsResp { part, res: Err("CONCURRENT_TRANSACTIONS") });
            return;
        }
        // A partition already in the transaction needs no write (TransactionCoordinator: the
        // partitions are a subset of the transaction's, answer at once).
        let known = meta.state == TxnState::Ongoing && meta.parts.contains(&part);
        self.txn_begin_if_idle(id);
        if let Some(meta) = self.txn_ids.get_mut(id) {
            if meta.state == TxnState::Ongoing {
                meta.parts.insert(part);
                meta.recs.extend(recs);
            }
        }
        let ok = Body::AddPartitionsResp { part, res: Ok(()) };
        if known {
            self.reply(m, ok);
        } else {
            self.txn_write(id, AfterWrite::Reply(Box::new(m.clone()), ok));
        }
    }

    /// The first partition or group added to a transaction starts it: Ongoing, with the
    /// timeout clock running from now (txnStartTimestamp).
    fn txn_begin_if_idle(&mut self, id: &str) {
        let now = self.now;
        let Some(meta) = self.txn_ids.get_mut(id) else { return };
        if matches!(meta.state, TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort) {
            meta.parts.clear();
            meta.groups.clear();
            meta.recs.clear();
            meta.started = now;
            self.txn_transition(id, TxnState::Ongoing);
        }
    }

    /// AddOffsetsToTxn (R-L5): the group's offsets partition joins the transaction; checked
    /// like AddPartitionsToTxn.
    pub(crate) fn txn_add_offsets(&mut self, m: &Msg, id: &str, epoch: i16, group: usize, inputs: Vec<RecId>) {
        let Some(meta) = self.txn_ids.get(id) else {
            self.reply(m, Body::AddOffsetsResp { res: Err("InvalidPidMappingException") });
            return;
        };
        let known = meta.state == TxnState::Ongoing && meta.groups.contains(&group);
        let res = if meta.epoch != epoch {
            Err("ProducerFencedException")
        } else if matches!(meta.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            self.client_error(m.from, "ConcurrentTransactionsException", true);
            Err("CONCURRENT_TRANSACTIONS")
        } else {
            self.txn_begin_if_idle(id);
            if let Some(meta) = self.txn_ids.get_mut(id) {
                meta.groups.insert(group);
                // The input records ride on the offsets: their why-chains and hooks follow
                // the transaction too.
                meta.recs.extend(inputs);
            }
            tr!(self, "coordinator: AddOffsetsToTxn: the offsets of group {} join transaction {id}", self.groups[group].name);
            Ok(())
        };
        if res.is_ok() && !known {
            // AddOffsetsToTxn adds the group's `__consumer_offsets` partition: a state write.
            self.txn_write(id, AfterWrite::Reply(Box::new(m.clone()), Body::AddOffsetsResp { res }));
        } else {
            self.reply(m, Body::AddOffsetsResp { res });
        }
    }

    /// The client's sendOffsetsToTransaction() steps; returns when to wake for a retry.
    pub(crate) fn txn_poll_offsets(&mut self, p: usize) -> Option<Time> {
        let pr = &self.producers[p];
        let Some(tx) = &pr.txn else { return None };
        let OffsetsStep::Want(at) = tx.offsets else { return None };
        if at > self.now || pr.init != Init::Ready {
            return Some(at.max(self.now + MS));
        }
        let c = pr.app_of?;
        let (txn, inst, epoch, g) = (pr.cfg.transactional_id.clone().unwrap_or_default(), pr.inst, pr.epoch, self.consumers[c].group);
        if let Some(tx) = self.producers[p].txn.as_mut() {
            tx.offsets = OffsetsStep::Adding;
        }
        let inputs = self.consumers[c].txn_inputs.iter().map(|x| x.2).collect();
        self.send(Node::Producer(p, inst), Node::TxnCoord, Body::AddOffsets { txn, epoch, group: g, inputs });
        None
    }

    pub(crate) fn on_add_offsets_resp(&mut self, p: usize, res: Result<(), &'static str>) {
        let Some(c) = self.producers[p].app_of else { return };
        if self.producers[p].txn.as_ref().map(|t| t.offsets != OffsetsStep::Adding).unwrap_or(true) {
            return;
        }
        match res {
            Ok(()) => {
                let cs = &self.consumers[c];
                let offsets: Vec<(usize, u64)> = cs.position.iter().map(|(q, &o)| (q, o)).collect();
                let (g, generation, pid, inst) = (cs.group, cs.generation, self.producers[p].pid, self.producers[p].inst);
                if let Some(tx) = self.producers[p].txn.as_mut() {
                    tx.offsets = OffsetsStep::Committing;
                }
                self.send(Node::Producer(p, inst), Node::Group, Body::TxnOffsetCommit { pid, group: g, consumer: c, generation, offsets });
            }
            Err("CONCURRENT_TRANSACTIONS") => {
                let at = self.now + self.producers[p].cfg.retry_backoff_ms * MS;
                if let Some(tx) = self.producers[p].txn.as_mut() {
                    tx.offsets = OffsetsStep::Want(at);
                }
            }
            Err(e) => self.txn_fatal(p, e),
        }
    }

    /// The group coordinator keeps transactional offsets pending until the marker; it checks
    /// the member and generation like any commit (R-L5: zombies are fenced here).
    pub(crate) fn on_txn_offset_commit(&mut self, m: &Msg, pid: i64, g: usize, c: usize, generation: u32, offsets: Vec<(usize, u64)>) {
        let res = self.validate_commit(g, c, generation);
        match res {
            Ok(()) => {
                tr!(
                    self,
                    "group {}: TxnOffsetCommit from pid {pid}: offsets {} pending until the transaction ends",
                    self.groups[g].name,
                    offsets.iter().map(|(q, o)| format!("{}={o}", self.parts[*q].name)).collect::<Vec<_>>().join(", ")
                );
                self.groups[g].pending.insert(pid, offsets);
            }
            Err(e) => {
                tr!(self, "group {}: TxnOffsetCommit of generation {generation} refused: {e}", self.groups[g].name);
                self.client_error(
                    m.from,
                    if e == "ILLEGAL_GENERATION" { "IllegalGenerationException" } else { "UnknownMemberIdException" },
                    false,
                );
            }
        }
        self.reply(m, Body::TxnOffsetCommitResp { res });
    }

    pub(crate) fn on_txn_offset_commit_resp(&mut self, p: usize, res: Result<(), &'static str>) {
        if self.producers[p].txn.as_ref().map(|t| t.offsets != OffsetsStep::Committing).unwrap_or(true) {
            return;
        }
        let name = self.producers[p].cfg.name.clone();
        let commit = match res {
            Ok(()) => {
                tr!(self, "{name}: commitTransaction()");
                self.commit_called(p);
                true
            }
            Err(e) => {
                // CommitFailedException is abortable (R-J): the application aborts.
                self.errors.push(ClientError {
                    at: self.now,
                    client: name.clone(),
                    record: None,
                    error: "CommitFailedException".into(),
                    retried: false,
                    raised: true,
                });
                tr!(
                    self,
                    "{name}: sendOffsetsToTransaction() failed ({e}): CommitFailedException; the application calls abortTransaction()"
                );
                false
            }
        };
        if let Some(tx) = self.producers[p].txn.as_mut() {
            tx.offsets = OffsetsStep::Done;
            tx.ending = Some(commit);
        }
        if !commit {
            self.txn_abort_undrained(p);
        }
    }

    /// The group coordinator writes the transaction's marker to `__consumer_offsets`: pending
    /// offsets become committed on COMMIT and are dropped on ABORT.
    pub(crate) fn on_group_marker(&mut self, m: &Msg, id: &str, pid: i64, commit: bool, g: usize) {
        if let Some(offsets) = self.groups[g].pending.remove(&pid) {
            let gname = self.groups[g].name.clone();
            if commit {
                tr!(self, "group {gname}: COMMIT marker of {id}: pending offsets become committed");
                let c = self.consumers.iter().position(|cs| cs.group == g).unwrap_or(0);
                self.apply_committed(g, c, offsets, Some(id));
            } else {
                tr!(self, "group {gname}: ABORT marker of {id}: pending offsets are dropped");
            }
        }
        self.reply(m, Body::MarkerResp { txn: id.to_string(), part: GROUP_MARKER_BASE + g, commit, ok: true });
    }

    /// abortTransaction(): "any unflushed produce messages will be aborted" (KafkaProducer
    /// javadoc; the sender calls `abortUndrainedBatches`): batches still in the accumulator
    /// fail with TransactionAbortedException and never reach a broker; those in flight finish.
    pub(crate) fn txn_abort_undrained(&mut self, p: usize) {
        let undrained: Vec<u64> = self.producers[p].batches.iter().filter(|(_, b)| !b.in_flight).map(|(k, _)| *k).collect();
        for bid in undrained {
            self.fail_batch(p, bid, "TransactionAbortedException", "Failing batch since transaction was aborted", true);
        }
    }

    /// A fatal error (ProducerFencedException): the application closes the producer; a
    /// read-process-write application stops altogether.
    fn txn_fatal(&mut self, p: usize, e: &'static str) {
        let name = self.producers[p].cfg.name.clone();
        self.errors.push(ClientError { at: self.now, client: name.clone(), record: None, error: e.into(), retried: false, raised: true });
        tr!(self, "{name}: {e}: fatal; the application closes the producer");
        if let Some(t) = self.producers[p].txn.take() {
            for &r in &t.recs {
                self.recs[r as usize].txn_aborted = true;
                why!(self, r, "{name} was fenced ({e}): its transaction was aborted by the coordinator");
            }
            if let Some(tb) = t.table {
                self.tables[tb].done = true;
                self.start_next_table(tb);
            }
        }
        self.producers[p].alive = false;
        self.producers[p].closed = true;
        if let Some(c) = self.producers[p].app_of {
            self.consumer_close(c);
        }
    }

    /// EndTxn (R-H5): a stale epoch is fenced; otherwise PrepareCommit/PrepareAbort is written,
    /// the client is answered, and the markers go out afterwards.
    pub(crate) fn txn_end(&mut self, m: &Msg, req: u64, id: &str, epoch: i16, commit: bool) {
        let Some(meta) = self.txn_ids.get(id).cloned() else {
            self.reply(m, Body::EndTxnResp { req, res: Err("InvalidPidMappingException") });
            return;
        };
        // R-H5: a retried EndTxn (its first answer was lost, or it timed out). Under V2 it
        // carries the epoch from before the bump.
        let ending =
            matches!(meta.state, TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::CompleteCommit | TxnState::CompleteAbort);
        let retry = ending && if self.sc.cluster.transaction_version >= 2 { meta.last_epoch == Some(epoch) } else { meta.epoch == epoch };
        if retry {
            let same = matches!(
                (meta.state, commit),
                (TxnState::PrepareCommit | TxnState::CompleteCommit, true) | (TxnState::PrepareAbort | TxnState::CompleteAbort, false)
            );
            let res = if !same {
                Err("InvalidTxnStateException")
            } else if matches!(meta.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
                Err("CONCURRENT_TRANSACTIONS")
            } else {
                Ok(meta.epoch)
            };
            if res == Err("CONCURRENT_TRANSACTIONS") {
                self.client_error(m.from, "ConcurrentTransactionsException", true);
            }
            tr!(
                self,
                "coordinator: EndTxn from {id} again while {}: {}",
                meta.state.name(),
                match res {
                    Ok(_) => "already done, success".to_string(),
                    Err(e) => e.to_string(),
                }
            );
            self.reply(m, Body::EndTxnResp { req, res });
            return;
        }
        if meta.epoch != epoch {
            tr!(self, "coordinator: EndTxn from {id} epoch {epoch} is fenced (current epoch {})", meta.epoch);
            self.reply(m, Body::EndTxnResp { req, res: Err("ProducerFencedException") });
            return;
        }
        if meta.state != TxnState::Ongoing {
            // Nothing was written in this transaction: nothing to complete.
            self.reply(m, Body::EndTxnResp { req, res: Ok(meta.epoch) });
            return;
        }
        if self.sc.cluster.transaction_version >= 2 {
            // R-I5, Transactions V2: EndTxn bumps the producer epoch; the markers carry the
            // new epoch and the producer continues with it, so nothing of this transaction
            // (a late write, a late marker) can land in the next one.
            let e = meta.epoch + 1;
            if let Some(mm) = self.txn_ids.get_mut(id) {
                mm.epoch = e;
                mm.last_epoch = Some(meta.epoch);
            }
            tr!(self, "coordinator: Transactions V2 bumps the epoch of {id} to {e} with this EndTxn");
        }
        self.txn_transition(id, if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort });
        self.txn_write(id, AfterWrite::EndTxn { m: Box::new(m.clone()), req, commit });
    }

    /// PrepareCommit/PrepareAbort is durable: the client is answered, then the markers go out
    /// ("we can respond to the client immediately and continue to write the txn markers").
    fn txn_end_durable(&mut self, id: &str, m: &Msg, req: u64, commit: bool) {
        let Some(meta) = self.txn_ids.get(id).cloned() else { return };
        if meta.state != if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort } {
            return;
        }
        self.reply(m, Body::EndTxnResp { req, res: Ok(meta.epoch) });
        let keys = self.txn_send_markers(id, commit);
        if commit {
            for &r in &self.txn_recs(id) {
                let part = self.recs[r as usize].part;
                why!(self, r, "coordinator wrote PrepareCommit for transaction {id}: the point of no return");
                self.hooks.push(HookEv {
                    msg: keys.get(&part).copied(),
                    msg_is_request: true,
                    ..HookEv::new(Hook::PrepareCommit, r, part)
                });
            }
        }
    }

    /// The records of `id`'s open transaction, for hooks and why-chains: those the coordinator
    /// learnt of when it added their partitions, then every later one the producer wrote into
    /// the transaction on those partitions (a partition is added once, so the coordinator never
    /// hears of them), as the replicas' logs hold them.
    pub(crate) fn txn_recs(&self, id: &str) -> Vec<RecId> {
        let Some(meta) = self.txn_ids.get(id) else { return Vec::new() };
        let mut recs = meta.recs.clone();
        for &p in meta.parts.iter() {
            for br in &self.brokers {
                let Some(log) = br.logs.get(&p) else { continue };
                let Some(&first) = log.ongoing.get(&meta.pid) else { continue };
                for e in log.entries.range(first as usize, log.entries.len()) {
                    if let (Some(r), true, None) = (e.rec, e.pid == meta.pid && e.txn, e.control) {
                        if !recs.contains(&r) {
                            recs.push(r);
                        }
                    }
                }
            }
        }
        recs
    }

    /// Aborts an open transaction from the coordinator's side with a new epoch (timeout or a
    /// new instance), which fences the producer that had it open.
    fn txn_abort(&mut self, id: &str, new_epoch: i16, why: &str) {
        let recs = self.txn_recs(id);
        let Some(meta) = self.txn_ids.get_mut(id) else { return };
        meta.epoch = new_epoch;
        self.txn_transition(id, TxnState::PrepareEpochFence);
        self.txn_transition(id, TxnState::PrepareAbort);
        for r in recs {
            why!(self, r, "coordinator aborts transaction {id}: {why}");
        }
        // PrepareEpochFence is only in memory; PrepareAbort with the bumped epoch is written.
        self.txn_write(id, AfterWrite::Markers);
    }

    /// Sends every marker of a transaction; returns the queue key of each marker request, by
    /// partition (for wire faults on the `prepare-commit` hook).
    fn txn_send_markers(&mut self, id: &str, commit: bool) -> VecMap<usize, (Time, u64)> {
        let mut keys = VecMap::new();
        let Some(meta) = self.txn_ids.get_mut(id) else { return keys };
        meta.pending_markers = meta.parts.iter().map(|&p| (p, (0, None))).collect();
        meta.pending_markers.extend(meta.groups.iter().map(|&g| (GROUP_MARKER_BASE + g, (0, None))));
        let parts: Vec<usize> = meta.pending_markers.keys().copied().collect();
        for p in parts {
            if let Some(k) = self.txn_send_marker(id, p, commit) {
                keys.insert(p, k);
            }
        }
        self.txn_maybe_complete(id, commit);
        keys
    }

    fn txn_send_marker(&mut self, id: &str, part: usize, commit: bool) -> Option<(Time, u64)> {
        if part >= GROUP_MARKER_BASE {
            let pid = self.txn_ids.get(id)?.pid;
            return self.send(
                Node::TxnCoord,
                Node::Group,
                Body::GroupMarker { txn: id.to_string(), pid, commit, group: part - GROUP_MARKER_BASE },
            );
        }
        let leader = self.ctrl.parts[part].leader;
        // Attempt numbers are unique across transactions, so a retry timer of an earlier
        // transaction's marker never acts on a later one.
        let attempt = self.id() as u32;
        let meta = self.txn_ids.get_mut(id)?;
        let (pid, epoch) = (meta.pid, meta.epoch);
        let slot = meta.pending_markers.get_mut(&part)?;
        // A re-send to another broker than the last one (a new leader) goes in the why-chain;
        // retries to the same broker every backoff do not.
        let moved = slot.0 != 0 && slot.1 != leader;
        slot.0 = attempt;
        slot.1 = leader;
        match leader {
            Some(l) => {
                if moved && self.explain {
                    // The learner sees why the marker is written twice, or on another broker.
                    let recs: Vec<RecId> = self.txn_recs(id).into_iter().filter(|&r| self.recs[r as usize].part == part).collect();
                    let kind = if commit { "COMMIT" } else { "ABORT" };
                    for r in recs {
                        why!(self, r, "the coordinator sends the {kind} marker again, to {}, the new leader: the last leader never confirmed it replicated", Sim::bname(l));
                    }
                }
                let key = self.send(Node::TxnCoord, Node::Broker(l), Body::Marker { txn: id.to_string(), pid, epoch, commit, part });
                // No answer within the inter-broker request timeout: send it again.
                self.push(self.now + 30_000 * MS, Ev::MarkerRetry { txn: id.to_string(), part, commit, attempt, timed_out: true });
                key
            }
            None => {
                // R-H8: the coordinator retries until a leader takes the marker.
                self.push(self.now + 100 * MS, Ev::MarkerRetry { txn: id.to_string(), part, commit, attempt, timed_out: false });
                None
            }
        }
    }

    pub(crate) fn txn_marker_retry(&mut self, id: &str, part: usize, commit: bool, attempt: u32, timed_out: bool) {
        if !self.coordinator_alive(id) {
            // The coordinator is down; its successor re-sends the markers when it loads.
            return;
        }
        if self.txn_ids.get(id).and_then(|m| m.pending_markers.get(&part)).map(|s| s.0 == attempt).unwrap_or(false) {
            if timed_out && part < GROUP_MARKER_BASE {
                tr!(self, "coordinator: no answer for the marker of {id} on {}: sending it again", self.parts[part].name);
                // The marker channel's NetworkClient disconnects on a request timeout: the
                // copy it sends again does not queue behind the late one.
                if let Some(Some(b)) = self.txn_ids.get(id).and_then(|m| m.pending_markers.get(&part)).map(|s| s.1) {
                    self.new_connection(Node::TxnCoord, Node::Broker(b));
                }
            }
            self.txn_send_marker(id, part, commit);
        }
    }

    /// The connection to a crashed broker broke: markers sent there are retried shortly.
    pub(crate) fn txn_marker_disconnect(&mut self, broker: usize) {
        let mut retry = Vec::new();
        for (id, m) in &self.txn_ids {
            let commit = m.state == TxnState::PrepareCommit;
            for (&p, &(attempt, b)) in &m.pending_markers {
                if b == Some(broker) {
                    retry.push((id.clone(), p, commit, attempt));
                }
            }
        }
        for (txn, part, commit, attempt) in retry {
            self.push(self.now + 100 * MS, Ev::MarkerRetry { txn, part, commit, attempt, timed_out: false });
        }
    }

    /// A partition leader appends a COMMIT or ABORT marker (R-H8): like a produce with acks=all,
    /// it is refused while the ISR is under min ISR.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_marker(&mut self, b: usize, m: &Msg, id: &str, pid: i64, epoch: i16, commit: bool, part: usize) {
        // R-H8: a marker's producer epoch must not be below the partition's (Transactions V2:
        // strictly above it, which is what rejects a late marker of an earlier transaction).
        let stored = self.brokers[b].logs.get(&part).and_then(|l| l.producers.get(&pid)).map(|e| e.epoch);
        let stale = match stored {
            Some(s) if self.sc.cluster.transaction_version >= 2 => epoch <= s,
            Some(s) => epoch < s,
            None => false,
        };
        // Where this producer's open transaction starts on the partition: the marker ends the
        // records from there on.
        let first = self.brokers[b].logs.get(&part).and_then(|l| l.ongoing.get(&pid).copied());
        let res = if !self.brokers[b].leading.contains_key(&part) {
            Err(KErr::NotLeaderOrFollower)
        } else if self.brokers[b].leading[&part].isr.len() < self.eff_min_isr(part) {
            Err(KErr::NotEnoughReplicas)
        } else if stale {
            Err(KErr::InvalidProducerEpoch)
        } else {
            Ok(self.leader_append_one(b, part, Some(if commit { Control::Commit } else { Control::Abort }), pid, epoch, None))
        };
        let kind = if commit { "COMMIT" } else { "ABORT" };
        match res {
            Ok(off) => {
                // The coordinator waits for a marker on every partition of the transaction it is
                // completing. A copy it no longer waits for was sent for an earlier transaction:
                // it sent the marker again after a timeout and moved on. Under Transactions V1 the
                // copy carries the producer epoch of the transaction open now, so the partition
                // takes it and ends that transaction early (Jepsen's aborted read, KIP-890).
                let late = self.txn_ids.get(id).is_none_or(|t| !t.pending_markers.contains_key(&part));
                if late && first.is_none() {
                    // No transaction of this producer is open here: the copy ends nothing (a
                    // marker sent again after a coordinator failover, say).
                    tr!(
                        self,
                        "{} appended another {kind} marker of {id} on {} at offset {off}: a copy sent again, it ends nothing",
                        Sim::bname(b),
                        self.parts[part].name
                    );
                } else if late {
                    tr!(
                        self,
                        "{} appended a late {kind} marker of {id} on {} at offset {off} (sent for an earlier transaction, with the open one's producer epoch)",
                        Sim::bname(b),
                        self.parts[part].name
                    );
                } else {
                    tr!(self, "{} appended the {kind} marker of {id} on {} at offset {off}", Sim::bname(b), self.parts[part].name);
                }
                // The records the marker ends: this producer's data below it, from the start of
                // its open transaction (one still on its way lands after it).
                let mut recs: Vec<RecId> = Vec::new();
                if let Some(first) = first {
                    let log = &self.brokers[b].logs[&part];
                    recs.extend(
                        log.entries
                            .range(first as usize, off as usize)
                            .filter(|e| e.pid == pid && e.txn && e.control.is_none())
                            .filter_map(|e| e.rec),
                    );
                }
                for r in recs {
                    if late {
                        why!(
                            self,
                            r,
                            "{} appended a late {kind} marker at offset {off}, sent for an earlier transaction of {id} with this one's producer epoch (Transactions V1): it ends this transaction early",
                            Sim::bname(b)
                        );
                    } else {
                        why!(self, r, "{} appended the {kind} marker on its partition at offset {off} (it becomes visible to read_committed once the marker is below the high watermark)", Sim::bname(b));
                    }
                    self.hooks.push(HookEv::new(Hook::Marker, r, part));
                }
                let inc = self.brokers[b].inc;
                self.push(self.now, Ev::WakeFetches { b, inc, part });
                self.maybe_increase_hw(b, part);
                if self.brokers[b].logs[&part].hw <= off {
                    // acks=all: the answer waits for the ISR (R-H8); a leader that dies or
                    // resigns first never confirms it, and the coordinator sends it again.
                    let req = MARKER_REQ + off;
                    let d = Delayed {
                        req,
                        to: m.from,
                        required: off + 1,
                        base: off,
                        recs: Vec::new(),
                        drop_reply: m.drop_reply,
                        delay_reply: m.delay_reply,
                        marker: Some((id.to_string(), commit)),
                    };
                    if let Some(ls) = self.brokers[b].leading.get_mut(&part) {
                        ls.delayed.push(d);
                    }
                    // The broker's request.timeout.ms, which appendRecords is given for markers.
                    self.push(self.now + 30_000 * MS, Ev::ProduceExpire { b, inc, part, req });
                    return;
                }
                self.complete_marker(b, part, m.from, id.to_string(), commit, m.drop_reply, m.delay_reply);
                return;
            }
            Err(KErr::InvalidProducerEpoch) => {
                // TransactionMarkerRequestCompletionHandler: "producer or coordinator epoch has
                // changed, this txn can now be ignored".
                // Say which rule refused it: under Transactions V2 an equal epoch is stale too,
                // which reads like a bug unless the trace says so.
                let s = stored.unwrap_or(-1);
                let rule = if self.sc.cluster.transaction_version >= 2 {
                    format!("epoch {epoch}, not above the partition's {s} (Transactions V2)")
                } else {
                    format!("epoch {epoch}, below the partition's {s}")
                };
                tr!(
                    self,
                    "{} refuses a stale {kind} marker of {id} on {}: INVALID_PRODUCER_EPOCH ({rule}); the coordinator drops it",
                    Sim::bname(b),
                    self.parts[part].name
                );
            }
            Err(e) => {
                tr!(
                    self,
                    "{} refuses the {kind} marker of {id} on {}: {}; the coordinator will retry",
                    Sim::bname(b),
                    self.parts[part].name,
                    e.code()
                );
            }
        }
        // An appended marker was answered above (now or once replicated); of the refusals, a
        // stale epoch counts as done (the coordinator drops it) and the others are retried.
        let ok = res == Err(KErr::InvalidProducerEpoch);
        self.reply(m, Body::MarkerResp { txn: id.to_string(), part, commit, ok });
    }

    /// The marker is below the high watermark: the leader answers the coordinator, with
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND as for a produce request when the ISR shrank under min
    /// ISR meanwhile (before 3.7); the coordinator then retries.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn complete_marker(
        &mut self,
        b: usize,
        part: usize,
        to: Node,
        id: String,
        commit: bool,
        drop_reply: bool,
        delay_reply: Time,
    ) {
        let (isr, min_isr) = self.isr_after_append(b, part);
        let ok = isr >= min_isr;
        if !ok {
            tr!(
                self,
                "{} answers NOT_ENOUGH_REPLICAS_AFTER_APPEND for the marker of {id} on {}; the coordinator will retry",
                Sim::bname(b),
                self.parts[part].name
            );
        }
        self.reply_held(b, to, drop_reply, delay_reply, Body::MarkerResp { txn: id, part, commit, ok });
    }

    pub(crate) fn on_marker_resp(&mut self, id: &str, part: usize, commit: bool, ok: bool) {
        if ok {
            if let Some(meta) = self.txn_ids.get_mut(id) {
                meta.pending_markers.remove(&part);
            }
            self.txn_maybe_complete(id, commit);
        } else if let Some(&(attempt, _)) = self.txn_ids.get(id).and_then(|m| m.pending_markers.get(&part)) {
            self.push(self.now + 100 * MS, Ev::MarkerRetry { txn: id.to_string(), part, commit, attempt, timed_out: false });
        }
    }

    fn txn_maybe_complete(&mut self, id: &str, commit: bool) {
        let done = self
            .txn_ids
            .get(id)
            .map(|m| m.pending_markers.is_empty() && matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .unwrap_or(false);
        if done {
            self.txn_transition(id, if commit { TxnState::CompleteCommit } else { TxnState::CompleteAbort });
            // Nobody waits for this write; a coordinator that loses it re-sends the markers.
            self.txn_write(id, AfterWrite::Nothing);
        }
    }

    /// R-H7: every cleanup interval, Ongoing transactions older than their timeout are aborted
    /// with a bumped epoch, which fences their producer.
    pub(crate) fn txn_timeout_check(&mut self) {
        let now = self.now;
        let expired: Vec<(String, i16)> = self
            .txn_ids
            .iter()
            .filter(|(_, m)| m.state == TxnState::Ongoing && m.started + m.timeout < now)
            .map(|(k, m)| (k.clone(), m.epoch))
            .collect();
        for (id, epoch) in expired {
            if !self.coordinator_ready(&id) {
                continue;
            }
            tr!(self, "coordinator: transaction {id} passed transaction.timeout.ms: aborting it with epoch {}", epoch + 1);
            self.txn_abort(&id, epoch + 1, "transaction.timeout.ms passed");
        }
        // TransactionStateManager: a transactional.id with no transaction for
        // transactional.id.expiration.ms is removed (Dead); it would start afresh with a new
        // producer id.
        let ttl = self.sc.cluster.transactional_id_expiration_ms * MS;
        let dead: Vec<String> = self
            .txn_ids
            .iter()
            .filter(|(_, m)| {
                matches!(m.state, TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort) && m.updated + ttl < now
            })
            .map(|(k, _)| k.clone())
            .collect();
        for id in dead {
            if !self.coordinator_ready(&id) {
                continue;
            }
            self.txn_transition(&id, TxnState::Dead);
            tr!(self, "coordinator: transactional.id {id} expired (transactional.id.expiration.ms): its state is removed");
            // The Dead state is written (a tombstone), so a later coordinator forgets it too.
            self.txn_write(&id, AfterWrite::Nothing);
            self.txn_ids.remove(&id);
        }
        let iv = self.sc.cluster.transaction_abort_cleanup_interval_ms * MS;
        if !self.txn_ids.is_empty() || self.producers.iter().any(|p| p.cfg.transactional_id.is_some()) {
            self.push(now + iv.max(MS), Ev::TxnTimeoutCheck);
        }
    }

    /// The client side: once every batch of the transaction is answered, send EndTxn
    /// (`commitTransaction()` flushes first; a failed send turns the commit into an abort, as
    /// the application of the format does after commitTransaction() throws).
    pub(crate) fn txn_try_end(&mut self, p: usize) {
        let pr = &self.producers[p];
        let Some(t) = &pr.txn else { return };
        let Some(commit) = t.ending else { return };
        if t.end_sent
            || t.end_retry_at > self.now
            || !pr.batches.is_empty()
            || pr.init != Init::Ready
            || !matches!(t.offsets, OffsetsStep::None | OffsetsStep::Done)
            || t.adding.values().any(|&at| at == Time::MAX)
        {
            return;
        }
        if t.added.is_empty() && t.offsets == OffsetsStep::None {
            // Nothing reached the coordinator: the client completes the transaction without
            // an EndTxn (TransactionManager: no partition was added, the transaction never
            // started on the coordinator).
            let epoch = pr.epoch;
            self.on_end_txn_resp(p, Ok(epoch));
            return;
        }
        let name = pr.cfg.name.clone();
        let id = pr.cfg.transactional_id.clone().unwrap_or_default();
        let (pid, epoch) = (pr.pid, pr.epoch);
        let failed = t.failed;
        let recs = t.recs.clone();
        let inst = pr.inst;

        let commit = if commit && failed {
            self.errors.push(ClientError {
                at: self.now,
                client: name.clone(),
                record: None,
                error: "KafkaException".into(),
                retried: false,
                raised: true,
            });
            tr!(self, "{name}: commitTransaction() throws (a send in the transaction failed); the application aborts instead");
            for &r in &recs {
                why!(self, r, "{name}.commitTransaction() threw because a send of the transaction failed; the application aborted");
            }
            self.txn_abort_undrained(p);
            false
        } else {
            commit
        };
        let req = self.id();
        let deadline = self.now + self.producers[p].cfg.request_timeout_ms * MS;
        let mut first = true;
        if let Some(t) = self.producers[p].txn.as_mut() {
            t.end_sent = true;
            t.ending = Some(commit);
            t.end_deadline = deadline;
            t.end_attempts += 1;
            first = t.end_attempts == 1;
        }
        tr!(self, "{name}: EndTxn({}) for {id}{}", if commit { "COMMIT" } else { "ABORT" }, if first { "" } else { " (sent again)" });
        let key = self.send(Node::Producer(p, inst), Node::TxnCoord, Body::EndTxn { req, txn: id, pid, epoch, commit });
        if commit && first {
            // Wire actions on `commit-transaction` act on this EndTxn request.
            self.commit_hooks(p, key, Some(true));
        }
    }

    /// The application calls commitTransaction(): the `commit-transaction` hook fires for every
    /// record of the transaction (a read-process-write transaction's inputs too), for every
    /// action but wire actions, which wait for the EndTxn request it sends after flushing.
    pub(crate) fn commit_called(&mut self, p: usize) {
        self.commit_hooks(p, None, Some(false));
    }

    fn commit_hooks(&mut self, p: usize, msg: Option<(Time, u64)>, wire: Option<bool>) {
        let app = self.producers[p].app_of;
        let inputs: Vec<RecId> = app.map(|c| self.consumers[c].txn_inputs.iter().map(|x| x.2).collect()).unwrap_or_default();
        let recs = self.producers[p].txn.as_ref().map(|t| t.recs.clone()).unwrap_or_default();
        for &r in inputs.iter().chain(&recs) {
            self.hooks.push(HookEv {
                msg,
                msg_is_request: true,
                producer: Some(p),
                consumer: app,
                wire,
                ..HookEv::new(Hook::CommitTransaction, r, self.recs[r as usize].part)
            });
        }
    }

    pub(crate) fn on_end_txn_resp(&mut self, p: usize, res: Result<i16, &'static str>) {
        let epoch = match res {
            Ok(e) => e,
            Err("CONCURRENT_TRANSACTIONS" | "NOT_COORDINATOR") => {
                // The coordinator is still completing this very transaction (our EndTxn was
                // answered before, or is being retried), or it lost its leadership before the
                // state was written: ask again after retry.backoff.ms.
                let at = self.now + self.producers[p].cfg.retry_backoff_ms * MS;
                if let Some(t) = self.producers[p].txn.as_mut() {
                    t.end_sent = false;
                    t.end_retry_at = at;
                }
                return;
            }
            Err(e) => {
                // ProducerFencedException is fatal: the application closes the producer.
                self.txn_fatal(p, e);
                return;
            }
        };
        if epoch != self.producers[p].epoch {
            // Transactions V2: the next transaction runs with the bumped epoch, and a new
            // epoch restarts every partition's sequence at 0 (R-I5).
            let pr = &mut self.producers[p];
            pr.epoch = epoch;
            for pp in pr.parts.iter_mut() {
                pp.next_seq = 0;
                pp.last_acked = -1;
                pp.unresolved = false;
            }
        }
        let Some(t) = self.producers[p].txn.take() else { return };
        let name = self.producers[p].cfg.name.clone();
        let committed = t.ending == Some(true);
        let verb = if committed { "commitTransaction()" } else { "abortTransaction()" };
        tr!(self, "{name}: {verb} returned");
        for &r in &t.recs {
            self.recs[r as usize].txn_aborted = !committed;
            why!(self, r, "{name}.{verb} returned");
        }
        if let Some(tb) = t.table {
            self.tables[tb].done = true;
            self.start_next_table(tb);
        }
        if let Some(c) = self.producers[p].app_of {
            self.rpw_txn_done(c, committed);
        }
    }
}
