//! The discrete-event simulation: brokers, the KRaft controller, producers and the
//! application, all driven from one queue ordered by (time, sequence).
//!
//! Sans-IO: nothing here reads a clock, a file or the network. Time is a number of simulated
//! microseconds, randomness comes from one ChaCha8 stream seeded by the scenario, and every
//! collection that is iterated is ordered (`VecMap`, `Vec`). Rule tags such as R-E3 refer to
//! `kafka-rules.md` and are listed with their Kafka sources in `docs/fidelity.md`.

use crate::idxmap::IdxMap;
use crate::log::{Control, Entry, Log, RecId, Time};
use crate::scenario::{partition_for_key, Action, Fault, Hook, ProducerCfg, Scenario, Version, When};
use crate::vecmap::{VecMap, VecSet};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::VecDeque;
use std::fmt::Write as _;

/// Microseconds per simulated millisecond.
pub const MS: Time = 1000;
/// Largest number of entries a replica fetch returns (about `replica.fetch.max.bytes` of
/// 100-byte records); the response always ends on a batch boundary.
const FETCH_MAX_ENTRIES: usize = 10_000;
/// Why-chains keep this many lines per record (the first ones and the last ones).
pub const WHY_MAX: usize = 48;
/// The end of a record's list of why-chain steps (`Sim::why_steps`).
const NO_STEP: u32 = u32::MAX;
/// Voters of the KRaft controller quorum (dedicated controllers, as in production).
pub const CONTROLLER_VOTERS: u8 = 3;
/// How long the remaining voters take to elect a new active controller once the active one
/// died: a voter that hears nothing from the leader for `controller.quorum.fetch.timeout.ms`
/// (2 s) starts an election, which `controller.quorum.election.timeout.ms` (1 s) bounds.
const CONTROLLER_FAILOVER_MS: u64 = 3000;

/// A run without `until_ms` stops here at the latest, simulated.
pub const DEFAULT_HORIZON_MS: u64 = 3_600_000;
/// Hard bound on the events of one run: the loop can never spin forever.
pub const DEFAULT_MAX_EVENTS: u64 = 50_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    Broker(usize),
    Controller,
    /// A producer instance: (producer index, instance number).
    Producer(usize, u32),
    /// A consumer instance: (consumer index, instance number).
    Consumer(usize, u32),
    /// The group coordinator (always available in this lab).
    Group,
    /// The transaction coordinator (always available in this lab).
    TxnCoord,
}

impl Node {
    /// A number that orders nodes as `Ord` does (variant, then index, then instance): a cheap
    /// key for maps looked up at every message.
    pub fn key(self) -> u64 {
        let (variant, index, inst) = match self {
            Node::Broker(b) => (0, b, 0),
            Node::Controller => (1, 0, 0),
            Node::Producer(p, i) => (2, p, i),
            Node::Consumer(c, i) => (3, c, i),
            Node::Group => (4, 0, 0),
            Node::TxnCoord => (5, 0, 0),
        };
        (variant << 56) | ((index as u64 & 0xff_ffff) << 32) | u64::from(inst)
    }
}

/// Kafka error codes the engine produces, with the client exception each maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KErr {
    NotLeaderOrFollower,
    NotEnoughReplicas,
    NotEnoughReplicasAfterAppend,
    RequestTimedOut,
    Network,
    OutOfOrderSequence,
    InvalidProducerEpoch,
    MessageTooLarge,
    FencedLeaderEpoch,
    UnknownLeaderEpoch,
    InvalidUpdateVersion,
    InvalidTxnState,
    ProducerFenced,
}

impl KErr {
    pub fn exception(self) -> &'static str {
        match self {
            KErr::NotLeaderOrFollower => "NotLeaderOrFollowerException",
            KErr::NotEnoughReplicas => "NotEnoughReplicasException",
            KErr::NotEnoughReplicasAfterAppend => "NotEnoughReplicasAfterAppendException",
            KErr::RequestTimedOut => "TimeoutException",
            KErr::Network => "NetworkException",
            KErr::OutOfOrderSequence => "OutOfOrderSequenceException",
            KErr::InvalidProducerEpoch => "InvalidProducerEpochException",
            KErr::MessageTooLarge => "RecordTooLargeException",
            KErr::FencedLeaderEpoch => "FencedLeaderEpochException",
            KErr::UnknownLeaderEpoch => "UnknownLeaderEpochException",
            KErr::InvalidUpdateVersion => "InvalidUpdateVersionException",
            KErr::InvalidTxnState => "InvalidTxnStateException",
            KErr::ProducerFenced => "ProducerFencedException",
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            KErr::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            KErr::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            KErr::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            KErr::RequestTimedOut => "REQUEST_TIMED_OUT",
            KErr::Network => "NETWORK_EXCEPTION",
            KErr::OutOfOrderSequence => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            KErr::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            KErr::MessageTooLarge => "MESSAGE_TOO_LARGE",
            KErr::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            KErr::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            KErr::InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            KErr::InvalidTxnState => "INVALID_TXN_STATE",
            KErr::ProducerFenced => "PRODUCER_FENCED",
        }
    }
    /// Retriable errors extend `RetriableException` in the client (R-B3).
    pub fn retriable(self) -> bool {
        !matches!(self, KErr::InvalidProducerEpoch | KErr::MessageTooLarge | KErr::InvalidTxnState | KErr::ProducerFenced)
    }
    /// Errors after which the producer refreshes metadata (`InvalidMetadataException`s and
    /// disconnects).
    fn needs_metadata(self) -> bool {
        matches!(
            self,
            KErr::NotLeaderOrFollower | KErr::Network | KErr::RequestTimedOut | KErr::FencedLeaderEpoch | KErr::UnknownLeaderEpoch
        )
    }
}

/// The controller's (and, once propagated, a broker's) view of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartState {
    pub leader: Option<usize>,
    pub epoch: i32,
    /// In assignment order.
    pub isr: Vec<usize>,
    /// Partition epoch: bumped on every change (KRaft `partitionEpoch`).
    pub pepoch: i32,
}

#[derive(Clone, Debug)]
pub struct FetchData {
    pub entries: Vec<Entry>,
    pub hw: u64,
    pub leader_leo: u64,
    /// KIP-320 diverging epoch: (epoch, end offset) when the follower's log diverges.
    pub diverging: Option<(i32, u64)>,
}

#[derive(Clone, Debug)]
pub enum Body {
    Produce {
        req: u64,
        part: usize,
        batch: Vec<Entry>,
        bytes: u64,
        acks: i8,
        timeout: Time,
    },
    ProduceResp {
        req: u64,
        part: usize,
        res: Result<u64, KErr>,
    },
    Fetch {
        part: usize,
        offset: u64,
        last_epoch: Option<i32>,
        cur_epoch: i32,
        fid: u64,
    },
    FetchResp {
        part: usize,
        fid: u64,
        res: Result<FetchData, KErr>,
    },
    Heartbeat {
        inc: u32,
    },
    Meta {
        parts: Vec<(usize, PartState)>,
        fenced: Vec<bool>,
        /// The incarnation of the receiving broker the controller had registered when it sent
        /// this: a restarted broker ignores what was meant for its previous life.
        inc: u32,
    },

    AlterIsr {
        part: usize,
        leader_epoch: i32,
        pepoch: i32,
        isr: Vec<usize>,
    },
    AlterIsrResp {
        part: usize,
        res: Result<PartState, KErr>,
    },
    InitPid {
        req: u64,
        bump: Option<(i64, i16)>,
    },
    InitPidResp {
        req: u64,
        pid: i64,
        epoch: i16,
    },
    MetaReq {
        req: u64,
    },
    MetaResp {
        req: u64,
        leaders: Vec<Option<usize>>,
    },
    /// The sender of this learns that its connection to `broker` broke (a crashed process
    /// resets its sockets); everything it had in flight there is lost.
    CFetch {
        part: usize,
        offset: u64,
        max: u32,
    },
    CFetchResp {
        part: usize,
        res: Result<(Vec<(u64, RecId)>, u64), CFetchErr>,
    },
    OffsetCommit {
        req: u64,
        group: usize,
        generation: u32,
        offsets: Vec<(usize, u64)>,
    },
    OffsetCommitResp {
        req: u64,
        res: Result<(), &'static str>,
    },
    TxnInitPid {
        req: u64,
        txn: String,
        timeout_ms: u64,
    },
    AddPartitions {
        txn: String,
        epoch: i16,
        part: usize,
        recs: Vec<RecId>,
    },
    AddPartitionsResp {
        part: usize,
        res: Result<(), &'static str>,
    },
    EndTxn {
        req: u64,
        txn: String,
        pid: i64,
        epoch: i16,
        commit: bool,
    },
    EndTxnResp {
        req: u64,
        /// The producer epoch to use next (Transactions V2 bumps it on every EndTxn).
        res: Result<i16, &'static str>,
    },
    Marker {
        txn: String,
        pid: i64,
        epoch: i16,
        commit: bool,
        part: usize,
    },
    MarkerResp {
        txn: String,
        part: usize,
        commit: bool,
        ok: bool,
    },
    Disconnect {
        broker: usize,
    },
    /// AddOffsetsToTxn: the group's offsets partition joins the transaction (R-L5).
    AddOffsets {
        txn: String,
        epoch: i16,
        group: usize,
        inputs: Vec<RecId>,
    },
    AddOffsetsResp {
        res: Result<(), &'static str>,
    },
    /// TxnOffsetCommit to the group coordinator: offsets pending until the marker (R-L5).
    TxnOffsetCommit {
        pid: i64,
        group: usize,
        consumer: usize,
        generation: u32,
        offsets: Vec<(usize, u64)>,
    },
    TxnOffsetCommitResp {
        res: Result<(), &'static str>,
    },
    /// The transaction marker for a group's pending offsets (`__consumer_offsets`).
    GroupMarker {
        txn: String,
        pid: i64,
        commit: bool,
        group: usize,
    },
}

#[derive(Clone, Debug)]
pub struct Msg {
    pub from: Node,
    pub to: Node,
    pub body: Body,
    /// Set by a wire fault on the request: what happens to the reply.
    pub drop_reply: bool,
    pub delay_reply: Time,
    /// When it was put on the wire (for drawing it on its way).
    pub sent: Time,
    /// Which TCP connection between its two nodes carries it: a client that gives up on a
    /// connection opens a new one, which the old one's late messages do not hold up.
    pub conn: u32,
}

impl Ev {
    /// Events that are work still to come whatever else is idle (see `Sim::work`).
    fn is_work(&self) -> bool {
        matches!(
            self,
            Ev::Fault { .. }
                | Ev::AppStep { .. }
                | Ev::SlowEnd { .. }
                | Ev::WakeFetches { .. }
                | Ev::ConsumerStart { .. }
                | Ev::ControllerElect
        )
    }
}

#[derive(Clone, Debug)]
enum Ev {
    Deliver(Msg),
    /// A client sends a request again after a retriable coordinator error; a crashed or
    /// fenced client sends nothing.
    ClientRetry(Msg),
    Heartbeat {
        b: usize,
        inc: u32,
    },
    IsrCheck {
        b: usize,
        inc: u32,
    },
    /// `PeriodicProducerExpirationCheck` on a broker's logs (R-C6).
    ProducerExpiry {
        b: usize,
        inc: u32,
    },
    FetchRetry {
        b: usize,
        inc: u32,
        part: usize,
    },
    FetchTimeout {
        b: usize,
        inc: u32,
        part: usize,
        fid: u64,
    },
    FetchWaitExpire {
        b: usize,
        inc: u32,
        part: usize,
        fid: u64,
    },
    ProduceExpire {
        b: usize,
        inc: u32,
        part: usize,
        req: u64,
    },
    SlowEnd {
        b: usize,
    },
    /// The KRaft quorum's voters elect an active controller (if a majority is up and none is).
    ControllerElect,
    WakeFetches {
        b: usize,
        inc: u32,
        part: usize,
    },
    FenceCheck {
        b: usize,
        seq: u64,
    },
    Rebalance,
    ProducerWake {
        p: usize,
        inst: u32,
    },
    AppStep {
        table: usize,
    },
    ConsumerStart {
        c: usize,
    },
    ConsumerPoll {
        c: usize,
        inst: u32,
    },
    ConsumerProcess {
        c: usize,
        inst: u32,
    },
    /// A partition leader answers a write it has just appended (see `on_produce`).
    ProduceRespond {
        b: usize,
        inc: u32,
        part: usize,
        to: Node,
        req: u64,
        base: u64,
        recs: Vec<RecId>,
        /// acks=all: the answer checks the ISR against min ISR (R-E3).
        all: bool,
        drop_reply: bool,
        delay_reply: Time,
    },
    /// Broker `b` reads the next produce request a client's connection holds, now that it
    /// has answered the one before (see `Sim::reading`).
    ReadRequest {
        b: usize,
        inc: u32,
        msg: Msg,
    },
    /// The producer's sender thread loops again after handling a produce response.
    SenderLoop {
        p: usize,
        inst: u32,
    },
    /// The application's next step after poll() returned or after the last record of a poll
    /// was processed: the offset commit, the processing or the transaction's end. It is an
    /// event of its own so that a fault on the `poll` or `process` hook strikes before it, as
    /// a crash right after that line of the application would.
    ConsumerStep {
        c: usize,
        inst: u32,
    },
    ConsumerSessionExpire {
        c: usize,
        inst: u32,
    },
    CommitTimeout {
        c: usize,
        inst: u32,
        req: u64,
    },
    PollIntervalCheck {
        c: usize,
        inst: u32,
        polled_at: Time,
    },
    MarkerRetry {
        txn: String,
        part: usize,
        commit: bool,
        attempt: u32,
        timed_out: bool,
    },
    TxnTimeoutCheck,
    Fault {
        idx: usize,
    },
}

#[derive(Clone, Debug)]
struct FState {
    leo: Option<u64>,
    last_caught_up: Time,
    last_fetch_time: Time,
    last_fetch_leader_leo: u64,
}

/// One direction of a connection between two nodes: which connection it is (a client that
/// gives up on one opens the next) and when its last message arrives, since TCP delivers in
/// order.
#[derive(Clone, Copy, Debug)]
struct Link {
    conn: u32,
    last: Time,
}

fn link_key(from: Node, to: Node) -> u128 {
    u128::from(from.key()) << 64 | u128::from(to.key())
}

/// See `Sim::reading`.
#[derive(Clone, Debug)]
struct Reading {
    /// The produce request being handled (until its response is sent).
    req: u64,
    /// Requests that arrived behind it, not read yet.
    unread: Vec<Msg>,
}

#[derive(Clone, Debug)]
struct Delayed {
    req: u64,
    to: Node,
    required: u64,
    base: u64,
    recs: Vec<RecId>,
    drop_reply: bool,
    delay_reply: Time,
    /// A transaction marker (transactional.id, commit) rather than a produce request: the
    /// coordinator's WriteTxnMarkers is appended with acks=all too, and answered once the
    /// marker is replicated (`KafkaApis.handleWriteTxnMarkersRequest`, requiredAcks = -1).
    marker: Option<(String, bool)>,
}

/// `req` of a marker waiting for replication: apart from every produce request id.
const MARKER_REQ: u64 = 1 << 62;

#[derive(Clone, Debug)]
struct Parked {
    from: usize,
    fid: u64,
    offset: u64,
}

#[derive(Clone, Debug)]
struct LeaderState {
    epoch: i32,
    epoch_start: u64,
    isr: Vec<usize>,
    pepoch: i32,
    pending_isr: Option<(Vec<usize>, Time)>,
    followers: IdxMap<FState>,
    delayed: Vec<Delayed>,
    parked: Vec<Parked>,
}

#[derive(Clone, Debug)]
struct FollowState {
    leader: usize,
    epoch: i32,
    outstanding: Option<u64>,
    /// Set once a fetch in this epoch succeeded without divergence: from then on the log is a
    /// prefix of the leader's (checked as an invariant).
    caught_into_epoch: bool,
}

#[derive(Clone, Debug)]
pub struct Broker {
    pub alive: bool,
    silent: bool,
    pub isolated: bool,
    pub isolated_from_clients: bool,
    pub inc: u32,
    /// Whether this incarnation has caught up with the metadata log up to its registration.
    /// A restarted KRaft broker opens its listeners to clients only then (`BrokerServer`
    /// startup waits for the first metadata publish before `enableRequestProcessing`), so
    /// until the controller has registered it, clients cannot connect.
    pub caught_up: bool,
    pub slow_until: Time,
    pub logs: IdxMap<Log>,
    pub meta: Vec<Option<PartState>>,
    /// Which brokers the controller has fenced, as far as this broker has heard.
    pub fenced_view: Vec<bool>,

    leading: IdxMap<LeaderState>,
    following: IdxMap<FollowState>,
}

#[derive(Clone, Debug)]
pub struct Controller {
    pub parts: Vec<PartState>,
    pub fenced: Vec<bool>,
    /// An active controller exists. The KRaft quorum has `CONTROLLER_VOTERS` voters outside
    /// the brokers; while none is active (an election after the active one died, or fewer
    /// than a majority up) nothing in the metadata changes: no fencing, election or ISR change.
    pub alive: bool,
    /// Voters whose process is up.
    pub voters_up: u8,
    /// Cut off from every broker (`isolate-broker` with `target = "controller"`): it goes on
    /// fencing the brokers whose heartbeats no longer reach it, and they do not hear of it.
    pub isolated: bool,
    last_hb: Vec<Time>,
    hb_seq: Vec<u64>,
    inc: Vec<u32>,
}

impl Broker {
    /// A client's connection attempt gets no answer at all: the machine lost power, or a
    /// partition cuts it off from its clients.
    fn silent_to_clients(&self) -> bool {
        self.silent || (self.isolated && self.isolated_from_clients)
    }
}

impl Controller {
    /// A majority of the quorum's voters is up, so it can have an active controller.
    pub fn has_quorum(&self) -> bool {
        self.voters_up * 2 > CONTROLLER_VOTERS
    }
}

#[derive(Clone, Debug)]
pub struct PartInfo {
    pub topic: usize,
    pub index: u32,
    /// Shared: hot paths copy it for their trace lines, and a copy of an `Rc` allocates nothing.
    pub name: std::rc::Rc<str>,
    pub replicas: Vec<usize>,
    pub min_isr: u32,
    pub unclean: bool,
    pub max_message_bytes: u64,
    /// `Some(n)` for `__transaction_state` partition n, an internal partition the transaction
    /// coordinator writes to; its `topic` is past the scenario's topics, so no record, consumer
    /// or fault filter ever names it, and the run report leaves it out.
    pub internal: Option<u32>,
}

/// What the application was told about a record, last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecStatus {
    NotSent,
    InFlight,
    Acked(i64),
    Failed(&'static str),
    NoAnswer,
}

/// One step of a record's why-chain. The steps every record goes through (sent, appended,
/// replicated, acknowledged, committed) are kept as numbers and written out only when a
/// chain is shown: formatting them as they happened was half of a run's time. Rarer steps
/// are text, a (chunk, start, length) range of `Sim::why_text`.
#[derive(Clone, Copy, Debug)]
pub enum WhyStep {
    Text {
        chunk: u32,
        start: u32,
        len: u32,
    },
    Send {
        at: Time,
        producer: u32,
        part: u32,
    },
    /// A produce request carrying it left the producer: `seq` is `i32::MIN` without
    /// idempotence, `attempt` 0 for the first try.
    Request {
        at: Time,
        pid: i64,
        producer: u16,
        broker: u16,
        seq: i32,
        epoch: i16,
        acks: i8,
        attempt: u32,
    },
    LeaderAppend {
        at: Time,
        broker: u32,
        epoch: i32,
        offset: u64,
    },
    ProduceResponse {
        at: Time,
        broker: u32,
        offset: u64,
    },
    Replicated {
        at: Time,
        broker: u32,
        offset: u64,
    },
    HighWatermark {
        at: Time,
        broker: u32,
    },
    Acked {
        at: Time,
        producer: u32,
        offset: u64,
    },
}

// A record keeps about a dozen steps: they stay at 32 bytes each.
const _: () = assert!(std::mem::size_of::<WhyStep>() <= 32);

#[derive(Clone, Debug)]
pub struct RecInfo {
    /// Shared, so that cloning a simulation (a checkpoint of the lab) does not copy every id.
    pub id: std::rc::Rc<str>,
    pub part: usize,
    pub producer: usize,
    pub size: u32,
    /// Order in which the application gave records to their producer (any instance).
    pub send_order: Option<u64>,
    pub status: RecStatus,
    /// The instance that last had it in its buffer, for "no-answer" after a crash.
    pub instance: u32,
    /// Its why-chain, step by step: a list linked through `Sim::why_steps` (see
    /// `Sim::why_lines`), from its first step to its last, `why_len` steps long.
    why_head: u32,
    why_tail: u32,
    pub why_len: u32,
    pub why_dropped: usize,
    /// Its transaction ended in an abort (the application aborted, or it was fenced).
    pub txn_aborted: bool,
    /// Read-process-write: the input record this output record is written for.
    pub output_of: Option<RecId>,
}

impl RecInfo {
    /// A record of the application (or, with `output_of`, the output record written for it),
    /// before anything happened to it.
    fn new(id: &str, part: usize, producer: usize, size: u32, output_of: Option<RecId>) -> RecInfo {
        RecInfo {
            id: id.into(),
            part,
            producer,
            size,
            send_order: None,
            status: RecStatus::NotSent,
            instance: 0,
            why_head: NO_STEP,
            why_tail: NO_STEP,
            why_len: 0,
            why_dropped: 0,
            txn_aborted: false,
            output_of,
        }
    }
}

#[derive(Clone, Debug)]
struct PBatch {
    part: usize,
    recs: Vec<RecId>,
    bytes: u64,
    created: Time,
    seq: Option<i32>,
    epoch: i16,
    attempts: u32,
    retry_at: Time,
    in_flight: bool,
    /// How many of `recs` have been told (in their why-chain) that they wait for a broker
    /// that refuses connections.
    told_refused: usize,
}

#[derive(Clone, Debug)]
struct PReq {
    batch: Option<u64>,
    broker: usize,
    deadline: Time,
}

#[derive(Clone, Debug, Default)]
struct PPart {
    dq: VecDeque<u64>,
    next_seq: i32,
    last_acked: i32,
    inflight: VecSet<(i32, u64)>,
    n_inflight: u32,
    unresolved: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Init {
    Needed,
    /// InitProducerId in flight: (request, broker or `usize::MAX` for the transaction
    /// coordinator, deadline).
    Sent(u64, usize, Time),
    Ready,
}

#[derive(Clone, Debug)]
pub struct Producer {
    pub cfg: std::rc::Rc<ProducerCfg>,
    pub alive: bool,
    pub crashed: bool,
    closing: bool,
    pub closed: bool,
    pub inst: u32,
    pub pid: i64,
    pub epoch: i16,
    init: Init,
    bump: bool,
    meta: Vec<Option<usize>>,
    meta_req: Option<(u64, usize, Time)>,
    meta_wanted: bool,
    rr: usize,
    parts: Vec<PPart>,
    batches: VecMap<u64, PBatch>,
    reqs: VecMap<u64, PReq>,
    inflight_to: Vec<u32>,
    /// Reconnect backoff per broker after a disconnect.
    backoff_until: Vec<Time>,
    reconnects: Vec<u32>,
    /// Per broker: an established connection; and, for one being set up with a machine that
    /// does not answer, when `socket.connection.setup.timeout.ms` runs out (0: none) and how
    /// many setups in a row failed (the timeout doubles up to its maximum).
    connected: Vec<bool>,
    setup_until: Vec<Time>,
    setup_fails: Vec<u32>,
    /// InitProducerId is not sent again before this (after a timeout: retry.backoff.ms).
    init_not_before: Time,
    /// When the sender thread next wakes up by itself (the earliest deadline of its batches,
    /// requests and backoffs); a `ProducerWake` at any other time is stale and does nothing.
    wake: Option<Time>,
    /// The times of the `ProducerWake` events queued for this instance. A later wake-up is
    /// not queued while an earlier one is: that one queues it when it fires. (Queued at once,
    /// each request's deadline left a stale event in the queue, a thousand at a time.)
    wakes_queued: Vec<Time>,
    /// A `SenderLoop` is queued for this instant (one is enough however many sends ask).
    loop_at: Option<Time>,
    paused: Vec<usize>,
    pub txn: Option<TxnRun>,
    /// Read-process-write: the consumer whose application owns this producer.
    pub app_of: Option<usize>,
}

impl Producer {
    fn new(cfg: &ProducerCfg, np: usize, nb: usize, app_of: Option<usize>) -> Producer {
        Producer {
            cfg: std::rc::Rc::new(cfg.clone()),
            alive: true,
            crashed: false,
            closing: false,
            closed: false,
            inst: 0,
            pid: -1,
            epoch: -1,
            init: if cfg.idempotence { Init::Needed } else { Init::Ready },
            bump: false,
            meta: vec![None; np],
            meta_req: None,
            meta_wanted: true,
            rr: 0,
            parts: vec![PPart { last_acked: -1, ..Default::default() }; np],
            batches: VecMap::new(),
            reqs: VecMap::new(),
            inflight_to: vec![0; nb],
            backoff_until: vec![0; nb],
            reconnects: vec![0; nb],
            connected: vec![false; nb],
            setup_until: vec![0; nb],
            setup_fails: vec![0; nb],
            init_not_before: 0,
            wake: None,
            wakes_queued: Vec::new(),
            loop_at: None,
            paused: Vec::new(),
            txn: None,
            app_of,
        }
    }
}

#[derive(Clone, Debug)]
struct TableRun {
    next: usize,
    done: bool,
    /// The producer instance running it: the table's producer, or the zombie after
    /// `start-zombie` moved the table in progress to the old instance.
    producer: usize,
}

/// One error response a client received, or an exception raised to the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientError {
    pub at: Time,
    pub client: String,
    pub record: Option<String>,
    pub error: String,
    pub retried: bool,
    pub raised: bool,
}

/// An event that hooks can match, collected while an event is handled and fired after it.
#[derive(Clone, Debug)]
struct HookEv {
    hook: Hook,
    rec: RecId,
    part: usize,
    producer: Option<usize>,
    broker: Option<usize>,
    follower: Option<usize>,
    /// The message the hooked event sent, and whether wire actions on it mean its reply.
    msg: Option<(Time, u64)>,
    msg_is_request: bool,
    consumer: Option<usize>,
    /// `commit-transaction` happens twice: the application's call (for every action but wire
    /// actions, `Some(false)`) and the EndTxn request it sends after flushing (for wire actions
    /// only, `Some(true)`). Every other hook serves all actions (`None`).
    wire: Option<bool>,
}

impl HookEv {
    fn new(hook: Hook, rec: RecId, part: usize) -> HookEv {
        HookEv {
            hook,
            rec,
            part,
            producer: None,
            broker: None,
            follower: None,
            msg: None,
            msg_is_request: false,
            consumer: None,
            wire: None,
        }
    }
}

/// A run that cannot continue: an engine invariant broke, or the scenario asks for something
/// the engine does not model yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    Invariant { at: Time, message: String },
    Unsupported(String),
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Invariant { at, message } => {
                write!(f, "invariant violated at t={}: {message}", fmt_time(*at))
            }
            SimError::Unsupported(m) => write!(f, "not supported yet: {m}"),
        }
    }
}

pub fn fmt_time(t: Time) -> String {
    FmtTime(t).to_string()
}

/// Simulated time in ms as it is printed ("12" or "12.345"), without building a string.
pub struct FmtTime(pub Time);

impl std::fmt::Display for FmtTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (ms, frac) = (self.0 / MS, self.0 % MS);
        if frac == 0 {
            write!(f, "{ms}")
        } else {
            write!(f, "{ms}.{frac:03}")
        }
    }
}

#[derive(Clone)]
pub struct Sim {
    pub sc: std::rc::Rc<Scenario>,
    pub now: Time,
    seq: u64,
    /// Events by (time, sequence). Boxed: an event is 144 bytes, and a B-tree moves its values
    /// on every insert and removal.
    queue: EventQueue,
    rng: ChaCha8Rng,
    /// Every write to a broker marks it for the invariant check after the event.
    pub brokers: crate::tracked::Tracked<Broker>,
    /// A write marks it for the invariant check after the event, as for `brokers`.
    pub ctrl: crate::tracked::Watched<Controller>,
    pub parts: Vec<PartInfo>,
    pub producers: Vec<Producer>,
    pub recs: crate::cowvec::CowVec<RecInfo>,
    /// The steps of every record's why-chain, in the order they happened, each with the index
    /// of its record's next step (`NO_STEP` for the last). One vector written at its end
    /// instead of a vector per record: no allocation per record. Like `why_text`, a
    /// checkpoint of the lab leaves it out (`swap_why_steps`): it replays without why-chains.
    why_steps: Vec<(WhyStep, u32)>,
    tables: Vec<TableRun>,
    fault_fired: Vec<bool>,
    pub errors: Vec<ClientError>,
    /// Each direction of each connection, keyed by `Node::key` of both ends (`link_key`).
    links: VecMap<u128, Link>,
    /// Per (broker, producer instance): the produce request the broker is handling and those
    /// that arrived behind it on the same connection. Kafka's network thread reads one request
    /// per connection at a time: it mutes the channel once a request is read and unmutes it
    /// when the response is sent (`SocketServer.Processor`), so a producer's pipelined batches
    /// to one leader are appended one after another, each once the last is answered (for
    /// acks=all, once it is replicated).
    reading: VecMap<(usize, u64), Reading>,
    /// (broker, partition, producer id) whose producer state expired there (R-C6): the next
    /// batch of that producer id on that replica is explained as taken for a new one.
    forgotten: VecSet<(usize, usize, i64)>,
    pub events: u64,
    next_id: u64,
    send_counter: u64,
    leaders_by_epoch: VecMap<(usize, i32), usize>,
    hooks: Vec<HookEv>,
    /// Whether records keep their why-chains (on by default; the lab's replays of a finished
    /// run turn it off, as the finished run already holds every chain).
    pub explain: bool,
    /// The text of every why-chain line, one after another, in chunks of about a megabyte (a
    /// single string would be copied whole each time it grows, which in wasm also grows the
    /// memory); records hold (chunk, start, length) of their lines.
    pub why_text: Vec<String>,
    /// Readable trace lines, when tracing is on.
    pub trace: Option<Vec<String>>,
    /// FNV-1a over every trace line: equal hashes mean equal traces.
    pub trace_hash: u64,
    /// For each trace line, the number of events handled when it was written (so a UI can
    /// jump from a line to the moment it describes).
    pub trace_at: Vec<u64>,
    pub notes: Vec<String>,
    pub finished: bool,
    pub stop_reason: String,
    pub max_events: u64,
    pub faults_log: Vec<(Time, String)>,
    pub consumers: Vec<Consumer>,
    pub groups: Vec<Group>,
    consumer_topics: Vec<Vec<usize>>,
    /// Read-process-write output records: (input record, output topic) -> output record.
    out_rec: VecMap<(RecId, usize), RecId>,
    /// Clients waiting for a transaction coordinator (their COORDINATOR_NOT_AVAILABLE is
    /// reported once per wait).
    coordinator_waiting: VecSet<(Node, String)>,
    /// How many events in the queue are work still to come (faults, application steps, ...):
    /// kept as a count so that the quiescence check does not scan the queue for them.
    work: u64,
    /// Messages addressed to an instance that `start-zombie` moved to a new slot.
    redirect: VecMap<(usize, u32), usize>,
    /// The `__transaction_state` partitions in use, by partition number.
    pub txn_log: VecMap<u32, TxnLogPart>,
    /// Every transaction state the coordinators wrote, in order; `__transaction_state`
    /// entries point into it (shared, so that a checkpoint does not copy them).
    pub txn_log_recs: Vec<std::rc::Rc<(String, TxnMeta)>>,
    /// The transaction coordinator's metadata per transactional.id.
    pub txn_ids: VecMap<String, TxnMeta>,
    /// An invariant broken inside an event (an illegal transaction state transition, a second
    /// leader of one epoch), reported by `check_invariants` once the event is done.
    violation: Option<String>,
    /// A buffer `complete_delayed_produces` reuses (empty between events).
    ready_buf: Vec<Delayed>,
}

/// The simulation's events ordered by (time, sequence): a binary heap, which pushes and pops
/// without allocating (a `BTreeMap` allocates nodes as it grows and shrinks). Sequence
/// numbers are unique, so the order is total and every run pops in the same order. Finding
/// one event by its key (a wire fault acting on a message in flight) is rare and linear.
///
/// Timeouts (a follower's fetch, a leader's wait for data for a parked fetch, a produce
/// request waiting in purgatory) are armed once per
/// request and are almost always stale when they fire: a long run holds thousands of them.
/// They wait in lanes instead, one per (kind, broker, partition, timeout), where each new
/// one is later than the last (same timeout, later start): only the head of a lane is in
/// the heap, and popping it moves the next one in with the key it was given when armed. The
/// order of events is exactly as if every timeout were in the heap, but the heap stays small
/// and a checkpoint copies a few plain numbers per timeout instead of a boxed event.
#[derive(Clone, Default)]
struct EventQueue {
    heap: std::collections::BinaryHeap<Queued>,
    /// The events themselves, in reused slots: the heap moves only small keys, and an event
    /// costs no allocation of its own.
    slots: Vec<Option<Ev>>,
    free: Vec<u32>,
    lanes: Vec<Lane>,
    lane_index: VecMap<(TimerKind, usize, usize, Time), u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Fetch,
    /// A leader's wait for data for a parked fetch (`replica.fetch.wait.max.ms`).
    FetchWait,
    Produce,
}

/// Timeouts of one kind, broker, partition and length, in the order they fire.
#[derive(Clone)]
struct Lane {
    kind: TimerKind,
    b: usize,
    part: usize,
    /// Whether the earliest one is in the heap now.
    in_heap: bool,
    /// The later ones: (key, broker incarnation, fetch or request id).
    rest: std::collections::VecDeque<((Time, u64), u32, u64)>,
}

impl Lane {
    fn event(&self, inc: u32, id: u64) -> Ev {
        match self.kind {
            TimerKind::Fetch => Ev::FetchTimeout { b: self.b, inc, part: self.part, fid: id },
            TimerKind::FetchWait => Ev::FetchWaitExpire { b: self.b, inc, part: self.part, fid: id },
            TimerKind::Produce => Ev::ProduceExpire { b: self.b, inc, part: self.part, req: id },
        }
    }
}

#[derive(Clone, Copy)]
struct Queued {
    key: (Time, u64),
    /// Where the event is in `EventQueue::slots`.
    slot: u32,
    /// The lane this timeout heads, or `NO_LANE`.
    lane: u32,
}

const NO_LANE: u32 = u32::MAX;

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    /// Reversed: the heap's greatest is the earliest event.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.key.cmp(&self.key)
    }
}

impl EventQueue {
    fn store(&mut self, ev: Ev) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(ev);
                i
            }
            None => {
                self.slots.push(Some(ev));
                (self.slots.len() - 1) as u32
            }
        }
    }
    fn take(&mut self, slot: u32) -> Ev {
        self.free.push(slot);
        self.slots[slot as usize].take().expect("a queued event's slot holds it")
    }
    fn get(&self, q: &Queued) -> &Ev {
        self.slots[q.slot as usize].as_ref().expect("a queued event's slot holds it")
    }
    fn push(&mut self, key: (Time, u64), ev: Ev) {
        let slot = self.store(ev);
        self.heap.push(Queued { key, slot, lane: NO_LANE });
    }
    /// Arms a timeout of `len` for broker `b`'s partition `part`: `key` is `(now + len, seq)`,
    /// so it is later than every timeout already in its lane.
    fn push_timer(&mut self, key: (Time, u64), lane: (TimerKind, usize, usize, Time), inc: u32, id: u64) {
        let (kind, b, part, _) = lane;
        let idx = match self.lane_index.get(&lane) {
            Some(&i) => i,
            None => {
                let i = self.lanes.len() as u32;
                self.lanes.push(Lane { kind, b, part, in_heap: false, rest: Default::default() });
                self.lane_index.insert(lane, i);
                i
            }
        };
        let l = &mut self.lanes[idx as usize];
        if l.in_heap {
            l.rest.push_back((key, inc, id));
        } else {
            l.in_heap = true;
            let ev = l.event(inc, id);
            let slot = self.store(ev);
            self.heap.push(Queued { key, slot, lane: idx });
        }
    }
    fn peek_key(&self) -> Option<(Time, u64)> {
        self.heap.peek().map(|q| q.key)
    }
    fn pop(&mut self) -> Option<Ev> {
        let q = self.heap.pop()?;
        Some(self.leave(q))
    }
    /// Takes a queued event out; when it headed a lane, the lane's next one enters the heap.
    fn leave(&mut self, q: Queued) -> Ev {
        if q.lane != NO_LANE {
            let lane = &mut self.lanes[q.lane as usize];
            match lane.rest.pop_front() {
                Some((key, inc, id)) => {
                    let ev = lane.event(inc, id);
                    let slot = self.store(ev);
                    self.heap.push(Queued { key, slot, lane: q.lane });
                }
                None => lane.in_heap = false,
            }
        }
        self.take(q.slot)
    }
    /// Every queued event, in no particular order.
    fn events(&self) -> impl Iterator<Item = &Ev> + '_ {
        self.heap.iter().map(|q| self.get(q))
    }
    /// Every queued event in the order it will happen (for views, not the hot path).
    fn in_order(&self) -> Vec<((Time, u64), &Ev)> {
        let mut v: Vec<((Time, u64), &Ev)> = self.heap.iter().map(|q| (q.key, self.get(q))).collect();
        v.sort_unstable_by_key(|e| e.0);
        v
    }
    /// Changes the event with this key, if it is still queued.
    fn update(&mut self, key: (Time, u64), f: impl FnOnce(&mut Ev)) {
        // The key does not change, so the heap's order holds.
        if let Some(slot) = self.heap.iter().find(|q| q.key == key).map(|q| q.slot) {
            if let Some(ev) = self.slots[slot as usize].as_mut() {
                f(ev);
            }
        }
    }
    fn remove(&mut self, key: (Time, u64)) -> Option<Ev> {
        let mut v = std::mem::take(&mut self.heap).into_vec();
        let out = v.iter().position(|q| q.key == key).map(|i| v.swap_remove(i));
        self.heap = v.into();
        out.map(|q| self.leave(q))
    }
}

/// A broker's name as it is printed ("b1"); see [`Sim::bname`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BName(pub usize);

impl std::fmt::Display for BName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b{}", self.0 + 1)
    }
}

macro_rules! tr {
    ($s:expr, $($arg:tt)*) => {
        if $s.trace.is_some() { let line = format!($($arg)*); $s.push_trace(line); }
    };
}

/// Adds a line to a record's why-chain; the line is only formatted when why-chains are kept.
macro_rules! why {
    ($s:expr, $rec:expr, $($arg:tt)*) => {
        if $s.explain {
            // Written straight into the shared text of all why-chains: no allocation per line.
            let start = $s.why_chunk();
            let chunk = $s.why_text.last_mut().expect("why_chunk made one");
            let _ = write!(chunk, "t={}ms ", FmtTime($s.now));
            let _ = write!(chunk, $($arg)*);
            $s.why_mark($rec, start);
        }
    };
}

impl Sim {
    /// Builds the initial state of a scenario: a settled cluster at t=0 with the first replica
    /// of every partition leading in epoch 0 and all replicas in sync.
    pub fn new(sc: Scenario, trace: bool) -> Result<Sim, SimError> {
        let nb = sc.cluster.brokers;
        let mut parts = Vec::new();
        for (ti, t) in sc.topics.iter().enumerate() {
            for p in 0..t.partitions {
                let replicas = match &t.assignment {
                    Some(a) => a.clone(),
                    None => (0..t.replication_factor as usize).map(|i| (p as usize + i) % nb).collect(),
                };
                parts.push(PartInfo {
                    topic: ti,
                    index: p,
                    name: format!("{}/{}", t.name, p).into(),
                    replicas,
                    min_isr: t.min_insync_replicas,
                    unclean: t.unclean_leader_election,
                    max_message_bytes: t.max_message_bytes,
                    internal: None,
                });
            }
        }
        // R-H1: the `__transaction_state` partitions of the scenario's transactional.ids are
        // real partitions, replicated like any other (unclean election forced off).
        let mut txn_log = VecMap::new();
        let ids: VecSet<&str> = sc
            .producers
            .iter()
            .chain(sc.consumers.iter().filter_map(|c| c.producer.as_ref()))
            .filter_map(|p| p.transactional_id.as_deref())
            .collect();
        for id in ids {
            let tp = txn::txn_log_partition_of(id, sc.cluster.transaction_state_log_num_partitions);
            if txn_log.contains_key(&tp) {
                continue;
            }
            let rf = (sc.cluster.transaction_state_log_replication_factor as usize).clamp(1, nb);
            let replicas: Vec<usize> = (0..rf).map(|i| (tp as usize + i) % nb).collect();
            txn_log.insert(tp, txn::TxnLogPart::new(parts.len()));
            parts.push(PartInfo {
                topic: sc.topics.len(),
                index: tp,
                name: format!("__transaction_state-{tp}").into(),
                min_isr: sc.cluster.transaction_state_log_min_isr.min(rf as u32),
                replicas,
                unclean: false,
                max_message_bytes: u64::MAX,
                internal: Some(tp),
            });
        }
        let ctrl_parts: Vec<PartState> =
            parts.iter().map(|p| PartState { leader: Some(p.replicas[0]), epoch: 0, isr: p.replicas.clone(), pepoch: 0 }).collect();
        let mut brokers = Vec::new();
        for b in 0..nb {
            brokers.push(Broker {
                alive: true,
                silent: false,
                isolated: false,
                isolated_from_clients: false,
                caught_up: true,
                inc: 0,
                slow_until: 0,
                logs: parts.iter().enumerate().filter(|(_, p)| p.replicas.contains(&b)).map(|(i, _)| (i, Log::default())).collect(),
                meta: ctrl_parts.iter().map(|s| Some(s.clone())).collect(),
                fenced_view: vec![false; nb],
                leading: IdxMap::new(),
                following: IdxMap::new(),
            });
        }
        let mut recs = Vec::new();
        for t in &sc.sends {
            for r in &t.records {
                let topic = &sc.topics[r.topic];
                let pidx = r.partition.unwrap_or_else(|| partition_for_key(&r.key, topic.partitions));
                let part = parts.iter().position(|p| p.topic == r.topic && p.index == pidx).unwrap_or(0);
                recs.push(RecInfo::new(r.id.as_str(), part, t.producer, r.size_bytes, None));
            }
        }
        let np = parts.len();
        let mut producers: Vec<Producer> = sc.producers.iter().map(|cfg| Producer::new(cfg, np, nb, None)).collect();
        // Read-process-write: each such consumer's application has its own transactional
        // producer, and each input record it may read has one output record ("x1->out").
        let consumer_topics: Vec<Vec<usize>> = sc.consumers.iter().map(|c| consumer::subscription(&sc, c)).collect();
        let mut out_rec = VecMap::new();
        let n_inputs = recs.len();
        let keys: Vec<(String, u32)> = sc.sends.iter().flat_map(|s| s.records.iter().map(|r| (r.key.clone(), r.size_bytes))).collect();
        for (ci, c) in sc.consumers.iter().enumerate() {
            let (Some(pc), Some(out)) = (&c.producer, &c.output_topic) else { continue };
            let pidx = producers.len();
            producers.push(Producer::new(pc, np, nb, Some(ci)));
            let ot = sc.topic_index(out).expect("output topic validated");
            for r in 0..n_inputs {
                if !consumer_topics[ci].contains(&parts[recs[r].part].topic) || out_rec.contains_key(&(r as RecId, ot)) {
                    continue;
                }
                let (key, size) = &keys[r];
                let pi = partition_for_key(key, sc.topics[ot].partitions);
                let part = parts.iter().position(|p| p.topic == ot && p.index == pi).unwrap_or(0);
                out_rec.insert((r as RecId, ot), recs.len() as RecId);
                let id = format!("{}->{out}", recs[r].id);
                recs.push(RecInfo::new(&id, part, pidx, *size, Some(r as RecId)));
            }
        }
        let seed = sc.seed;
        let notes = sc.notes.clone();
        let sc_sends_producers: Vec<usize> = sc.sends.iter().map(|t| t.producer).collect();
        let nf = sc.faults.len();
        let mut sim = Sim {
            sc: std::rc::Rc::new(sc),
            now: 0,
            seq: 0,
            queue: EventQueue::default(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            brokers: crate::tracked::Tracked::new(brokers),
            ctrl: crate::tracked::Watched::new(Controller {
                parts: ctrl_parts,
                fenced: vec![false; nb],
                alive: true,
                voters_up: CONTROLLER_VOTERS,
                isolated: false,
                last_hb: vec![0; nb],
                hb_seq: vec![0; nb],
                inc: vec![0; nb],
            }),
            parts,
            producers,
            recs: recs.into_iter().collect(),
            why_steps: Default::default(),
            tables: sc_sends_producers.iter().map(|&producer| TableRun { next: 0, done: false, producer }).collect(),
            fault_fired: vec![false; nf],
            errors: Vec::new(),
            links: VecMap::new(),
            reading: VecMap::new(),
            forgotten: VecSet::new(),
            events: 0,
            next_id: 1,
            send_counter: 0,
            leaders_by_epoch: VecMap::new(),
            hooks: Vec::new(),
            explain: true,
            why_text: Vec::new(),
            trace: if trace { Some(Vec::new()) } else { None },
            trace_hash: 0xcbf2_9ce4_8422_2325,
            trace_at: Vec::new(),

            notes,
            finished: false,
            stop_reason: String::new(),
            max_events: DEFAULT_MAX_EVENTS,
            faults_log: Vec::new(),
            consumers: Vec::new(),
            groups: Vec::new(),
            consumer_topics,
            out_rec,
            txn_ids: VecMap::new(),
            txn_log,
            txn_log_recs: Vec::new(),
            violation: None,
            ready_buf: Vec::new(),
            redirect: VecMap::new(),
            work: 0,
            coordinator_waiting: VecSet::new(),
        };
        sim.start();
        Ok(sim)
    }

    fn start(&mut self) {
        for b in 0..self.brokers.len() {
            let j = self.jitter();
            self.push(j, Ev::Heartbeat { b, inc: 0 });
            let lag = self.sc.cluster.replica_lag_time_max_ms * MS / 2;
            self.push(lag, Ev::IsrCheck { b, inc: 0 });
            let expiry_check = self.sc.cluster.producer_id_expiration_check_interval_ms * MS;
            self.push(expiry_check, Ev::ProducerExpiry { b, inc: 0 });
            let session = self.sc.cluster.broker_session_timeout_ms * MS;
            self.push(session, Ev::FenceCheck { b, seq: 0 });
        }
        for p in 0..self.parts.len() {
            let st = self.ctrl.parts[p].clone();
            for &b in &self.parts[p].replicas.clone() {
                self.apply_part_state(b, p, st.clone());
            }
        }
        if self.sc.cluster.auto_leader_rebalance {
            self.push(self.sc.cluster.leader_imbalance_check_interval_ms * MS, Ev::Rebalance);
        }
        for (i, t) in self.sc.sends.clone().iter().enumerate() {
            if i == 0 || t.at_ms.is_some() {
                self.push(t.at_ms.unwrap_or(0) * MS, Ev::AppStep { table: i });
            }
        }
        for (i, f) in self.sc.faults.clone().iter().enumerate() {
            if let When::At(ms) = f.when {
                self.push(ms * MS, Ev::Fault { idx: i });
            }
        }
        self.init_consumers();
        if self.producers.iter().any(|p| p.cfg.transactional_id.is_some()) {
            let iv = self.sc.cluster.transaction_abort_cleanup_interval_ms * MS;
            self.push(iv.max(MS), Ev::TxnTimeoutCheck);
        }
        for p in 0..self.producers.len() {
            self.producer_poll(p);
        }
    }

    // ------------------------------------------------------------------------------------
    // Queue, network, trace

    fn push(&mut self, at: Time, ev: Ev) -> (Time, u64) {
        self.seq += 1;
        let key = (at.max(self.now), self.seq);
        if ev.is_work() {
            self.work += 1;
        }
        self.queue.push(key, ev);
        key
    }

    /// Arms broker `b`'s timeout of length `len` for partition `p` (see [`EventQueue`]).
    fn push_timer(&mut self, len: Time, kind: TimerKind, b: usize, p: usize, id: u64) {
        self.seq += 1;
        let key = (self.now + len, self.seq);
        let inc = self.brokers[b].inc;
        self.queue.push_timer(key, (kind, b, p, len), inc, id);
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn jitter(&mut self) -> Time {
        let j = self.sc.cluster.jitter_us;
        if j == 0 {
            0
        } else {
            (self.rng.next_u64() % (j + 1)) as Time
        }
    }

    fn push_trace(&mut self, line: String) {
        let full = format!("t={} {}", fmt_time(self.now), line);
        for b in full.bytes().chain(std::iter::once(b'\n')) {
            self.trace_hash ^= b as u64;
            self.trace_hash = self.trace_hash.wrapping_mul(0x100_0000_01b3);
        }
        if let Some(t) = &mut self.trace {
            t.push(full);
            self.trace_at.push(self.events);
        }
    }

    /// A why line already formatted (for lines whose words are chosen before they are written).
    fn why(&mut self, rec: RecId, line: String) {
        why!(self, rec, "{line}");
    }

    /// Where the next why line starts in the last chunk, opening a new chunk when it is full.
    fn why_chunk(&mut self) -> usize {
        const CHUNK: usize = 1 << 20;
        match self.why_text.last() {
            Some(c) if c.len() < CHUNK - 1024 => c.len(),
            _ => {
                self.why_text.push(String::with_capacity(CHUNK));
                0
            }
        }
    }

    /// Adds the line written into the last chunk from `start` to a record's why-chain.
    fn why_mark(&mut self, rec: RecId, start: usize) {
        let chunk = self.why_text.len() - 1;
        let len = self.why_text[chunk].len() - start;
        self.why_step(rec, WhyStep::Text { chunk: chunk as u32, start: start as u32, len: len as u32 });
    }

    /// Adds a step to a record's why-chain (callers check `explain` first).
    fn why_step(&mut self, rec: RecId, step: WhyStep) {
        let at = self.why_steps.len() as u32;
        self.why_steps.push((step, NO_STEP));
        let r = &mut self.recs[rec as usize];
        match self.why_steps.get_mut(r.why_tail as usize).filter(|_| r.why_len > 0) {
            Some(tail) => tail.1 = at,
            // Its first step; or a copy of the simulation that was made without the steps
            // (a checkpoint) was asked to explain again: the chain starts afresh.
            None => {
                r.why_head = at;
                r.why_len = 0;
            }
        }
        r.why_tail = at;
        r.why_len += 1;
        if r.why_len as usize > WHY_MAX {
            // Keep the beginning (how it got there) and a sliding end (how it ended): unlink
            // the step in the middle.
            let mut before = r.why_head;
            for _ in 1..WHY_MAX / 2 {
                before = self.why_steps[before as usize].1;
            }
            let gone = self.why_steps[before as usize].1;
            self.why_steps[before as usize].1 = self.why_steps[gone as usize].1;
            r.why_len -= 1;
            r.why_dropped += 1;
        }
    }

    /// Takes the why-chain steps out (for a copy that needs none) or puts them back.
    pub fn swap_why_steps(&mut self, steps: &mut Vec<(WhyStep, u32)>) {
        std::mem::swap(&mut self.why_steps, steps);
    }

    /// A record's why-chain steps, first to last.
    fn why_chain_steps<'a>(&'a self, r: &RecInfo) -> impl Iterator<Item = &'a WhyStep> + 'a {
        let mut at = if r.why_len == 0 { NO_STEP } else { r.why_head };
        std::iter::from_fn(move || {
            let (step, next) = self.why_steps.get(at as usize)?;
            at = *next;
            Some(step)
        })
    }

    /// A record's why-chain as text, with a line that says how many steps were left out of
    /// the middle of a long one.
    pub fn why_chain(&self, r: &RecInfo) -> Vec<String> {
        let mut why: Vec<String> = self.why_lines(r).map(std::borrow::Cow::into_owned).collect();
        if r.why_dropped > 0 {
            why.insert((WHY_MAX / 2).min(why.len()), format!("… {} more step(s) …", r.why_dropped));
        }
        why
    }

    /// A record's why-chain, line by line ("t=12.345ms b1 (leader, epoch 0) appended it ...").
    pub fn why_lines<'a>(&'a self, r: &'a RecInfo) -> impl Iterator<Item = std::borrow::Cow<'a, str>> + 'a {
        use std::borrow::Cow;
        self.why_chain_steps(r).filter_map(move |step| {
            let line = match *step {
                // A checkpoint's copy of the simulation has the ranges but not the text (the
                // lab keeps the text once, in the finished run): its lines are simply absent.
                WhyStep::Text { chunk, start, len } => {
                    return self.why_text.get(chunk as usize)?.get(start as usize..(start + len) as usize).map(Cow::Borrowed)
                }
                WhyStep::Send { at, producer, part } => format!(
                    "t={}ms application called {}.send() for {}",
                    FmtTime(at),
                    self.producers.get(producer as usize)?.cfg.name,
                    self.parts.get(part as usize)?.name
                ),
                WhyStep::Request { at, pid, producer, broker, seq, epoch, acks, attempt } => {
                    let mut line = format!(
                        "t={}ms {} sent it to {} (acks={}",
                        FmtTime(at),
                        self.producers.get(producer as usize)?.cfg.name,
                        BName(broker as usize),
                        acks_name(acks)
                    );
                    if seq != i32::MIN {
                        let _ = write!(line, " pid {pid} epoch {epoch} seq {seq}");
                    }
                    if attempt > 0 {
                        let _ = write!(line, ", retry {attempt}");
                    }
                    line.push(')');
                    line
                }
                WhyStep::LeaderAppend { at, broker, epoch, offset } => {
                    format!("t={}ms {} (leader, epoch {epoch}) appended it at offset {offset}", FmtTime(at), BName(broker as usize))
                }
                WhyStep::ProduceResponse { at, broker, offset } => {
                    format!("t={}ms {} sent the produce response: written at offset {offset}", FmtTime(at), BName(broker as usize))
                }
                WhyStep::Replicated { at, broker, offset } => {
                    format!("t={}ms {} (follower) replicated it at offset {offset}", FmtTime(at), BName(broker as usize))
                }
                WhyStep::HighWatermark { at, broker } => {
                    format!("t={}ms {} moved the high watermark past it: committed in Kafka's sense", FmtTime(at), BName(broker as usize))
                }
                WhyStep::Acked { at, producer, offset } => format!(
                    "t={}ms {} got the ack: the application sees a successful send (offset {offset})",
                    FmtTime(at),
                    self.producers.get(producer as usize)?.cfg.name
                ),
            };
            Some(Cow::Owned(line))
        })
    }

    /// A broker's name ("b1") for traces and why-chains, formatted only where it is printed.
    pub fn bname(b: usize) -> BName {
        BName(b)
    }

    /// A message is lost on the wire when an isolation cuts its path.
    fn path_cut(&self, from: Node, to: Node) -> bool {
        let cut = |n: Node, other: Node| match n {
            Node::Broker(b) => {
                let br = &self.brokers[b];
                match other {
                    Node::Broker(_) | Node::Controller => br.isolated,
                    Node::Producer(..) | Node::Consumer(..) => br.isolated && br.isolated_from_clients,
                    Node::Group | Node::TxnCoord => false,
                }
            }
            Node::Controller => self.ctrl.isolated && matches!(other, Node::Broker(_)),
            _ => false,
        };
        cut(from, to) || cut(to, from)
    }

    fn send(&mut self, from: Node, to: Node, body: Body) -> Option<(Time, u64)> {
        let conn = self.conn(from, to);
        self.send_msg(Msg { from, to, body, drop_reply: false, delay_reply: 0, sent: 0, conn }, 0)
    }

    fn send_msg(&mut self, mut msg: Msg, extra_delay: Time) -> Option<(Time, u64)> {
        msg.sent = self.now;
        if self.path_cut(msg.from, msg.to) {
            return None;
        }
        let lat = self.sc.cluster.latency_ms * MS + self.jitter();
        // TCP keeps one connection's messages in order: never deliver before an earlier one.
        let mut at = self.now + lat + extra_delay;
        match self.links.get_mut(&link_key(msg.from, msg.to)) {
            Some(l) if l.conn == msg.conn => {
                at = at.max(l.last);
                l.last = at;
            }
            // The answer to a request of a connection the client has since closed: it is not
            // ordered with the new connection's messages.
            Some(_) => {}
            None => {
                self.links.insert(link_key(msg.from, msg.to), Link { conn: msg.conn, last: at });
            }
        }
        Some(self.push(at, Ev::Deliver(msg)))
    }

    /// A late message holds up the connection it is on: TCP delivers in order, so what was
    /// sent after it on the same link, and is still on the wire, arrives after it (head-of-line
    /// blocking). Without this a delayed produce response let the next batch's response reach
    /// the producer first, which no Kafka client sees on one connection.
    fn hold_link_behind(&mut self, late_msg: (Node, Node, u32), was: (Time, u64), late: (Time, u64)) {
        let (from, to, conn) = late_msg;
        let behind: Vec<(Time, u64)> = self
            .queue
            .in_order()
            .into_iter()
            .filter(|(k, ev)| *k > was && *k < late && matches!(ev, Ev::Deliver(m) if m.from == from && m.to == to && m.conn == conn))
            .map(|(k, _)| k)
            .collect();
        for k in behind {
            if let Some(ev) = self.queue.remove(k) {
                if ev.is_work() {
                    self.work -= 1;
                }
                // Pushed in their order: each gets a later sequence number than the late one.
                self.push(late.0, ev);
            }
        }
        let l = self.links.entry(link_key(from, to)).or_insert(Link { conn, last: late.0 });
        if l.conn == conn {
            l.last = l.last.max(late.0);
        }
    }

    /// Broker `b` has sent its answer to request `req` of `client` (see `Sim::reading`): it
    /// reads the next request that connection holds, as an event of its own.
    fn produce_answered(&mut self, b: usize, client: Node, req: u64) {
        let key = (b, client.key());
        let Some(r) = self.reading.get_mut(&key) else { return };
        if r.req != req {
            return;
        }
        // A connection holds at most max.in.flight.requests.per.connection requests.
        match (!r.unread.is_empty()).then(|| r.unread.remove(0)) {
            Some(msg) => {
                if let Body::Produce { req, .. } = &msg.body {
                    r.req = *req;
                }
                let inc = self.brokers[b].inc;
                self.push(self.now, Ev::ReadRequest { b, inc, msg });
            }
            None => {
                self.reading.remove(&key);
            }
        }
    }

    /// A client gave up on a connection (a request timed out): its next request goes on a new
    /// TCP connection, which nothing still on the wire of the old one (a late message) holds up.
    pub(crate) fn new_connection(&mut self, a: Node, b: Node) {
        // What a broker had not read from the old connection is gone with it.
        if let (Node::Broker(br), client) | (client, Node::Broker(br)) = (a, b) {
            self.reading.remove(&(br, client.key()));
        }
        let conn = self.conn(a, b) + 1;
        for key in [link_key(a, b), link_key(b, a)] {
            self.links.insert(key, Link { conn, last: 0 });
        }
    }

    /// The connection messages from `from` to `to` go on now (see `Msg::conn`).
    fn conn(&self, from: Node, to: Node) -> u32 {
        self.links.get(&link_key(from, to)).map(|l| l.conn).unwrap_or(0)
    }

    fn reply(&mut self, req: &Msg, body: Body) -> Option<(Time, u64)> {
        if let (Node::Broker(b), Body::ProduceResp { req: id, .. }) = (req.to, &body) {
            self.produce_answered(b, req.from, *id);
        }
        if req.drop_reply {
            tr!(self, "{} -> {}: reply lost on the wire (fault)", self.node_label(req.to), self.node_label(req.from));
            return None;
        }
        self.send_msg(Msg { from: req.to, to: req.from, body, drop_reply: false, delay_reply: 0, sent: 0, conn: req.conn }, req.delay_reply)
    }

    /// Records an error response a client received (`retried`: it tries again by itself).
    pub(crate) fn client_error(&mut self, n: Node, error: &str, retried: bool) {
        let client = match n {
            Node::Producer(..) | Node::Consumer(..) => self.node_label(n),
            _ => return,
        };
        self.errors.push(ClientError { at: self.now, client, record: None, error: error.into(), retried, raised: false });
    }

    /// Whether the client instance that sent a message still runs.
    fn client_alive(&self, n: Node) -> bool {
        match n {
            Node::Producer(p, inst) => {
                let p = if self.producers[p].inst == inst { p } else { self.redirect.get(&(p, inst)).copied().unwrap_or(p) };
                self.producers[p].inst == inst && self.producers[p].alive
            }
            Node::Consumer(c, inst) => self.consumers[c].inst == inst && self.consumers[c].alive,
            _ => true,
        }
    }

    /// Answers a request broker `b` held back (an acks=all produce waiting for the ISR): the
    /// request itself is gone, so its sender and wire faults are what it kept of it.
    fn reply_held(&mut self, b: usize, to: Node, drop_reply: bool, delay_reply: Time, body: Body) -> Option<(Time, u64)> {
        let conn = self.conn(to, Node::Broker(b));
        let held = Msg { from: to, to: Node::Broker(b), body: Body::Heartbeat { inc: 0 }, drop_reply, delay_reply, sent: 0, conn };
        self.reply(&held, body)
    }

    fn eff_min_isr(&self, p: usize) -> usize {
        let m = self.parts[p].min_isr as usize;
        if self.sc.version.hw_frozen_under_min_isr() {
            m.min(self.parts[p].replicas.len())
        } else {
            m
        }
    }

    // ------------------------------------------------------------------------------------
    // The run loop

    /// Processes one event. Returns false when the run is over.
    pub fn step(&mut self) -> Result<bool, SimError> {
        if self.finished {
            return Ok(false);
        }
        let Some(key) = self.queue.peek_key() else {
            self.finish("nothing left to happen");
            return Ok(false);
        };
        let horizon = self.sc.until_ms.unwrap_or(DEFAULT_HORIZON_MS) * MS;
        if key.0 > horizon {
            self.now = horizon;
            self.finish(if self.sc.until_ms.is_some() { "until_ms reached" } else { "stopped at the one-hour safety horizon" });
            return Ok(false);
        }
        if self.events >= self.max_events {
            self.finish("stopped at the event limit");
            return Ok(false);
        }
        let ev = self.queue.pop().expect("key just read");
        if ev.is_work() {
            self.work -= 1;
        }
        self.now = key.0;
        self.events += 1;
        self.handle(ev);
        self.fire_hooks();
        self.check_invariants()?;
        self.brokers.clear_changed();
        self.ctrl.clear_changed();
        if self.sc.until_ms.is_none() && self.quiescent() {
            self.finish("nothing left to happen");
            return Ok(false);
        }
        Ok(true)
    }

    pub fn run(&mut self) -> Result<(), SimError> {
        while self.step()? {}
        Ok(())
    }

    fn finish(&mut self, why: &str) {
        self.finished = true;
        self.stop_reason = why.to_string();
        tr!(self, "run ends: {why}");
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver(m) => self.deliver(m),
            Ev::ClientRetry(m) => {
                if self.client_alive(m.from) {
                    self.deliver(m);
                }
            }
            Ev::Heartbeat { b, inc } => {
                let br = &self.brokers[b];
                if br.alive && br.inc == inc {
                    self.send(Node::Broker(b), Node::Controller, Body::Heartbeat { inc });
                    let iv = self.sc.cluster.broker_heartbeat_interval_ms * MS;
                    self.push(self.now + iv, Ev::Heartbeat { b, inc });
                }
            }
            Ev::IsrCheck { b, inc } => {
                if self.brokers[b].alive && self.brokers[b].inc == inc {
                    self.isr_shrink_check(b);
                    let iv = self.sc.cluster.replica_lag_time_max_ms * MS / 2;
                    self.push(self.now + iv.max(1), Ev::IsrCheck { b, inc });
                }
            }
            Ev::ProducerExpiry { b, inc } => {
                if self.brokers[b].alive && self.brokers[b].inc == inc {
                    self.expire_producers(b);
                    let iv = self.sc.cluster.producer_id_expiration_check_interval_ms * MS;
                    self.push(self.now + iv, Ev::ProducerExpiry { b, inc });
                }
            }
            Ev::FetchRetry { b, inc, part } => {
                if self.brokers[b].alive && self.brokers[b].inc == inc {
                    self.follower_fetch(b, part);
                }
            }
            Ev::FetchTimeout { b, inc, part, fid } => {
                if self.brokers[b].alive && self.brokers[b].inc == inc {
                    if let Some(fs) = self.brokers[b].following.get_mut(&part) {
                        if fs.outstanding == Some(fid) {
                            fs.outstanding = None;
                            tr!(self, "{} fetch for {} timed out (replica.socket.timeout.ms)", Self::bname(b), self.parts[part].name);
                            self.follower_fetch(b, part);
                        }
                    }
                }
            }
            Ev::FetchWaitExpire { b, inc, part, fid } => {
                if self.brokers[b].alive && self.brokers[b].inc == inc {
                    self.answer_parked(b, part, Some(fid));
                }
            }
            Ev::ProduceExpire { b, inc, part, req } => {
                if self.brokers[b].alive && self.brokers[b].inc == inc {
                    self.expire_delayed(b, part, req);
                }
            }
            Ev::WakeFetches { b, inc, part } => {
                if self.brokers[b].alive && self.brokers[b].inc == inc {
                    self.answer_parked(b, part, None);
                }
            }
            Ev::SlowEnd { b } => {
                if self.brokers[b].alive && self.brokers[b].slow_until <= self.now {
                    tr!(self, "{} is no longer slow: it fetches again", Self::bname(b));
                    let parts: Vec<usize> = self.brokers[b].following.keys().collect();
                    for p in parts {
                        self.follower_fetch(b, p);
                    }
                }
            }
            Ev::FenceCheck { b, seq } => {
                if self.ctrl.alive && self.ctrl.hb_seq[b] == seq && !self.ctrl.fenced[b] {
                    let why = format!("no heartbeat from {} for broker.session.timeout.ms", Self::bname(b));
                    self.ctrl_fence(b, &why);
                }
            }
            Ev::ControllerElect => {
                if !self.ctrl.alive && self.ctrl.has_quorum() {
                    self.ctrl.alive = true;
                    tr!(self, "controller: the quorum's voters elect a new active controller; every broker gets a fresh session");
                    self.controller_activate();
                }
            }
            Ev::Rebalance => {
                if self.ctrl.alive {
                    self.ctrl_preferred_election();
                }
                self.push(self.now + self.sc.cluster.leader_imbalance_check_interval_ms * MS, Ev::Rebalance);
            }
            Ev::ProducerWake { p, inst } => {
                let now = self.now;
                let pr = &mut self.producers[p];
                if pr.inst == inst {
                    pr.wakes_queued.retain(|&t| t != now);
                    match pr.wake {
                        Some(w) if w == now => {
                            pr.wake = None;
                            self.producer_poll(p);
                        }
                        // Its wake-up moved later since this was queued: queue that one now.
                        Some(w) if w > now => self.queue_wake(p, inst, w),
                        _ => {}
                    }
                }
            }
            e @ Ev::ProduceRespond { .. } => self.produce_respond(e),
            Ev::ReadRequest { b, inc, msg } => {
                if self.brokers[b].alive && self.brokers[b].inc == inc {
                    self.broker_receive(b, msg);
                }
            }
            Ev::SenderLoop { p, inst } => {
                if self.producers[p].inst == inst {
                    self.producers[p].loop_at = None;
                    self.producer_poll(p);
                }
            }
            Ev::AppStep { table } => self.app_step(table),
            Ev::ConsumerStart { c } => self.consumer_start(c),
            Ev::ConsumerPoll { c, inst } => self.consumer_poll(c, inst),
            Ev::ConsumerProcess { c, inst } => self.consumer_process(c, inst),
            Ev::ConsumerStep { c, inst } => self.consumer_step(c, inst),
            Ev::ConsumerSessionExpire { c, inst } => self.consumer_session_expire(c, inst),
            Ev::PollIntervalCheck { c, inst, polled_at } => self.poll_interval_check(c, inst, polled_at),
            Ev::CommitTimeout { c, inst, req } => self.commit_timeout(c, inst, req),
            Ev::MarkerRetry { txn, part, commit, attempt, timed_out } => self.txn_marker_retry(&txn, part, commit, attempt, timed_out),
            Ev::TxnTimeoutCheck => self.txn_timeout_check(),
            Ev::Fault { idx } => self.apply_fault(idx, None),
        }
    }

    fn deliver(&mut self, m: Msg) {
        match m.to {
            Node::Broker(b) => {
                if !self.brokers[b].alive {
                    // A crashed process resets connections; a machine that lost power is silent.
                    let expects_reply = matches!(
                        m.body,
                        Body::Produce { .. }
                            | Body::Fetch { .. }
                            | Body::InitPid { .. }
                            | Body::MetaReq { .. }
                            | Body::CFetch { .. }
                            | Body::Marker { .. }
                    );
                    if expects_reply && !self.brokers[b].silent {
                        self.send(Node::Broker(b), m.from, Body::Disconnect { broker: b });
                    }
                    return;
                }
                if let (Body::Produce { req, .. }, Node::Producer(..)) = (&m.body, m.from) {
                    let req = *req;
                    let key = (b, m.from.key());
                    if self.reading.get(&key).is_some() {
                        tr!(
                            self,
                            "{} has not answered the previous request on {}'s connection: the one for {} waits unread",
                            Self::bname(b),
                            self.node_label(m.from),
                            match &m.body {
                                Body::Produce { batch, .. } =>
                                    rec_list(&self.recs, &batch.iter().filter_map(|e| e.rec).collect::<Vec<_>>()),
                                _ => String::new(),
                            }
                        );
                        if let Some(r) = self.reading.get_mut(&key) {
                            r.unread.push(m);
                        }
                        return;
                    }
                    self.reading.insert(key, Reading { req, unread: Vec::new() });
                }
                self.broker_receive(b, m);
            }
            // A controller whose process is down reads nothing; the broker's channel to it
            // simply retries (heartbeats, AlterPartition), which the lab's periodic events do.
            Node::Controller if !self.ctrl.alive => {}
            Node::Controller => self.ctrl_receive(m),
            Node::TxnCoord => self.coordinator_receive(m),
            Node::Group => match m.body.clone() {
                Body::OffsetCommit { req, group, generation, offsets } => self.on_offset_commit(&m, req, group, generation, offsets),
                Body::TxnOffsetCommit { pid, group, consumer, generation, offsets } => {
                    self.on_txn_offset_commit(&m, pid, group, consumer, generation, offsets)
                }
                Body::GroupMarker { txn, pid, commit, group } => self.on_group_marker(&m, &txn, pid, commit, group),
                _ => {}
            },
            Node::Consumer(c, inst) => {
                if self.consumers[c].inst != inst || !self.consumers[c].alive {
                    return;
                }
                match m.body {
                    Body::CFetchResp { part, res } => self.on_consumer_fetch_resp(c, part, res),
                    Body::OffsetCommitResp { req, res } => self.on_offset_commit_resp(c, req, res),
                    Body::Disconnect { .. } => {
                        let parts: Vec<usize> = self.consumers[c].assigned.clone();
                        for p in parts {
                            self.on_consumer_fetch_resp(c, p, Err(CFetchErr::NotLeader));
                        }
                    }
                    _ => {}
                }
            }
            Node::Producer(p, inst) => {
                let p = if self.producers[p].inst == inst { p } else { self.redirect.get(&(p, inst)).copied().unwrap_or(p) };
                let pr = &self.producers[p];
                if pr.inst == inst && pr.alive {
                    self.producer_receive(p, m);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------
    // Brokers

    fn broker_receive(&mut self, b: usize, mut m: Msg) {
        match std::mem::replace(&mut m.body, Body::Heartbeat { inc: 0 }) {
            Body::Produce { req, part, batch, bytes, acks, timeout } => self.on_produce(b, &m, req, part, batch, bytes, acks, timeout),
            Body::Fetch { part, offset, last_epoch, cur_epoch, fid } => {
                if let Node::Broker(f) = m.from {
                    self.on_fetch(b, f, part, offset, last_epoch, cur_epoch, fid);
                }
            }
            Body::FetchResp { part, fid, res } => self.on_fetch_resp(b, part, fid, res),
            Body::Meta { parts, fenced, inc } => {
                // A restarted broker takes no role before the controller has registered this
                // incarnation: KRaft brokers catch up with the metadata log up to their own
                // registration (which fences the previous incarnation and moves its
                // leaderships) before they serve anything. Without this, a leader that lost
                // unflushed writes to a power loss would lead its old epoch again.
                if inc != self.brokers[b].inc {
                    return;
                }
                self.brokers[b].caught_up = true;
                self.brokers[b].fenced_view = fenced;
                for (p, st) in parts {
                    self.apply_part_state(b, p, st);
                }
            }
            Body::AlterIsrResp { part, res } => self.on_alter_isr_resp(b, part, res),
            Body::CFetch { part, offset, max } => self.on_consumer_fetch(b, &m, part, offset, max),
            Body::Marker { txn, pid, epoch, commit, part } => self.on_marker(b, &m, &txn, pid, epoch, commit, part),

            Body::InitPid { req, bump } => {
                // Producer ids come from the controller's id blocks; one counter stands for them.
                let (pid, epoch) = match bump {
                    Some((pid, e)) => (pid, e.saturating_add(1)),
                    None => {
                        let n = self.id();
                        (1000 + n as i64, 0)
                    }
                };
                self.reply(&m, Body::InitPidResp { req, pid, epoch });
            }
            Body::MetaReq { req } => {
                let leaders = self.brokers[b].meta.iter().map(|s| s.as_ref().and_then(|s| s.leader)).collect();
                self.reply(&m, Body::MetaResp { req, leaders });
            }
            Body::Disconnect { broker } => {
                // The connection this follower fetched over broke.
                let parts: Vec<usize> = self.brokers[b]
                    .following
                    .iter()
                    .filter(|(_, f)| f.leader == broker && f.outstanding.is_some())
                    .map(|(p, _)| p)
                    .collect();
                for p in parts {
                    if let Some(fs) = self.brokers[b].following.get_mut(&p) {
                        fs.outstanding = None;
                    }
                    self.schedule_fetch_retry(b, p);
                }
            }
            _ => {}
        }
    }

    /// A broker learns a partition's state from the controller (KRaft metadata) and takes the
    /// role it gives it: leader (R-G1: records the new epoch's start offset), follower of the
    /// named leader, or nothing when the partition is leaderless.
    fn apply_part_state(&mut self, b: usize, p: usize, st: PartState) {
        if let Some(old) = &self.brokers[b].meta[p] {
            if old.pepoch >= st.pepoch
                && old.epoch >= st.epoch
                && self.brokers[b].leading.contains_key(&p) == (st.leader == Some(b))
                && (self.brokers[b].following.contains_key(&p) || st.leader == Some(b) || st.leader.is_none())
            {
                return;
            }
            if old.epoch > st.epoch || (old.epoch == st.epoch && old.pepoch > st.pepoch) {
                return;
            }
        }
        self.brokers[b].meta[p] = Some(st.clone());
        if !self.parts[p].replicas.contains(&b) {
            return;
        }
        if st.leader == Some(b) {
            let same = self.brokers[b].leading.get(&p).map(|l| l.epoch == st.epoch).unwrap_or(false);
            if same {
                let ls = self.brokers[b].leading.get_mut(&p).expect("checked");
                if st.pepoch > ls.pepoch {
                    ls.isr = st.isr.clone();
                    ls.pepoch = st.pepoch;
                    ls.pending_isr = None;
                }
                self.maybe_increase_hw(b, p);
            } else {
                self.become_leader(b, p, &st);
            }
        } else {
            if self.brokers[b].leading.contains_key(&p) {
                self.resign(b, p);
            }
            match st.leader {
                Some(l) => {
                    let changed = self.brokers[b].following.get(&p).map(|f| f.leader != l || f.epoch != st.epoch).unwrap_or(true);
                    if changed {
                        self.brokers[b]
                            .following
                            .insert(p, FollowState { leader: l, epoch: st.epoch, outstanding: None, caught_into_epoch: false });
                        self.follower_fetch(b, p);
                    }
                }
                None => {
                    self.brokers[b].following.remove(&p);
                }
            }
        }
    }

    fn become_leader(&mut self, b: usize, p: usize, st: &PartState) {
        // At most one leader per epoch: a second broker taking an epoch another already led
        // is an invariant violation, reported by check_invariants after this event.
        match self.leaders_by_epoch.get(&(p, st.epoch)) {
            Some(&first) if first != b => {
                self.violation.get_or_insert(format!(
                    "{}: epoch {} was led by {} and then by {}",
                    self.parts[p].name,
                    st.epoch,
                    Self::bname(first),
                    Self::bname(b)
                ));
            }
            Some(_) => {}
            None => {
                self.leaders_by_epoch.insert((p, st.epoch), b);
            }
        }
        let now = self.now;
        self.brokers[b].following.remove(&p);
        let log = self.brokers[b].logs.get_mut(&p).expect("assigned replica has a log");
        let leo = log.leo();
        log.assign_epoch(st.epoch, leo);
        let followers = self.parts[p]
            .replicas
            .iter()
            .filter(|&&r| r != b)
            .map(|&r| {
                (
                    r,
                    FState {
                        leo: None,
                        last_caught_up: if st.isr.contains(&r) { now } else { 0 },
                        last_fetch_time: 0,
                        last_fetch_leader_leo: 0,
                    },
                )
            })
            .collect();
        self.brokers[b].leading.insert(
            p,
            LeaderState {
                epoch: st.epoch,
                epoch_start: leo,
                isr: st.isr.clone(),
                pepoch: st.pepoch,
                pending_isr: None,
                followers,
                delayed: Vec::new(),
                parked: Vec::new(),
            },
        );
        if st.epoch > 0 {
            tr!(
                self,
                "{} becomes leader of {} in epoch {} at offset {} (HW {})",
                Self::bname(b),
                self.parts[p].name,
                st.epoch,
                leo,
                self.brokers[b].logs[&p].hw
            );
        }
        self.maybe_increase_hw(b, p);
        if self.parts[p].internal.is_some() {
            self.txn_coordinator_load(b, p, st.epoch);
        }
    }

    /// Leadership moved away: waiting acks=all requests fail with NOT_LEADER_OR_FOLLOWER
    /// (R-E3) and waiting follower fetches are answered with the same error.
    fn resign(&mut self, b: usize, p: usize) {
        let Some(ls) = self.brokers[b].leading.remove(&p) else {
            return;
        };
        tr!(self, "{} is no longer leader of {} (was epoch {})", Self::bname(b), self.parts[p].name, ls.epoch);
        if self.parts[p].internal.is_some() {
            self.txn_writes_lost(b, Some(p), "NotCoordinatorException");
        }
        for d in ls.delayed {
            let body = match d.marker {
                // NOT_LEADER_OR_FOLLOWER: the coordinator sends the marker to the new leader.
                Some((txn, commit)) => Body::MarkerResp { txn, part: p, commit, ok: false },
                None => Body::ProduceResp { req: d.req, part: p, res: Err(KErr::NotLeaderOrFollower) },
            };
            self.reply_held(b, d.to, d.drop_reply, d.delay_reply, body);
        }
        for pk in ls.parked {
            self.send(
                Node::Broker(b),
                Node::Broker(pk.from),
                Body::FetchResp { part: p, fid: pk.fid, res: Err(KErr::NotLeaderOrFollower) },
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_produce(&mut self, b: usize, m: &Msg, req: u64, p: usize, batch: Vec<Entry>, bytes: u64, acks: i8, timeout: Time) {
        let bn = Self::bname(b);
        let pname = self.parts[p].name.clone();
        let Some(ls) = self.brokers[b].leading.get(&p) else {
            tr!(self, "{bn} rejects produce to {pname}: NOT_LEADER_OR_FOLLOWER");
            self.produce_error(b, m, req, p, KErr::NotLeaderOrFollower, acks);
            return;
        };
        let epoch = ls.epoch;
        let isr_len = ls.isr.len();
        if bytes > self.parts[p].max_message_bytes {
            let max = self.parts[p].max_message_bytes;
            tr!(self, "{bn} rejects produce to {pname}: MESSAGE_TOO_LARGE ({bytes} bytes > max.message.bytes {max})");
            for e in &batch {
                if let Some(r) = e.rec {
                    why!(self, r, "{bn} refused it: MESSAGE_TOO_LARGE ({bytes} bytes > max.message.bytes {max})");
                }
            }
            self.produce_error(b, m, req, p, KErr::MessageTooLarge, acks);
            return;
        }
        // R-E1: acks=all checks the ISR against min ISR before appending anything.
        let min_isr = self.eff_min_isr(p);
        if acks == -1 && isr_len < min_isr {
            tr!(
                self,
                "{bn} rejects produce to {pname}: NOT_ENOUGH_REPLICAS (ISR {isr_len} < min.insync.replicas {min_isr}); nothing was written"
            );
            for e in &batch {
                if let Some(r) = e.rec {
                    why!(self, r, "{bn} refused it: ISR has {isr_len} member(s), fewer than min.insync.replicas={min_isr} (NotEnoughReplicasException, nothing written)");
                }
            }
            self.produce_error(b, m, req, p, KErr::NotEnoughReplicas, acks);
            return;
        }
        let first = &batch[0];
        let (pid, pepoch, first_seq, last_seq, txn) = (first.pid, first.epoch, first.base_seq, first.last_seq, first.txn);
        if let Err(e) = self.verify_txn_produce(b, p, pid, pepoch, txn) {
            tr!(
                self,
                "{bn} rejects produce to {pname}: {} (pid {pid} epoch {pepoch} has no ongoing transaction with this partition)",
                e.code()
            );
            for e2 in &batch {
                if let Some(r) = e2.rec {
                    why!(self, r, "{bn} refused it: transaction verification found no ongoing transaction of pid {pid} epoch {pepoch} with {pname} (KIP-890)");
                }
            }
            self.produce_error(b, m, req, p, e, acks);
            return;
        }
        let log = self.brokers[b].logs.get(&p).expect("leader has a log");
        let mut duplicate = None;
        if pid >= 0 {
            // R-C2..R-C4: producer state validation (PAI.checkProducerEpoch, checkSequence).
            if let Some(ent) = log.producers.get(&pid) {
                if pepoch < ent.epoch {
                    tr!(self, "{bn} rejects produce to {pname}: INVALID_PRODUCER_EPOCH ({pepoch} < {})", ent.epoch);
                    self.produce_error(b, m, req, p, KErr::InvalidProducerEpoch, acks);
                    return;
                }
                if pepoch == ent.epoch {
                    if let Some(d) = ent.find_duplicate(first_seq, last_seq) {
                        duplicate = Some(d);
                    } else {
                        let ok = match ent.last_seq() {
                            Some(s) => first_seq == s.wrapping_add(1),
                            None => first_seq == 0,
                        };
                        if !ok {
                            tr!(self, "{bn} rejects produce to {pname}: OUT_OF_ORDER_SEQUENCE_NUMBER (pid {pid} expected seq {}, got {first_seq})", ent.last_seq().map(|s| s + 1).unwrap_or(0));
                            self.produce_error(b, m, req, p, KErr::OutOfOrderSequence, acks);
                            return;
                        }
                    }
                } else if first_seq != 0 {
                    tr!(self, "{bn} rejects produce to {pname}: OUT_OF_ORDER_SEQUENCE_NUMBER (Invalid sequence number for new epoch {pepoch}: {first_seq})");
                    self.produce_error(b, m, req, p, KErr::OutOfOrderSequence, acks);
                    return;
                }
            }
            // No state for this producer id: any sequence is accepted (KIP-360, since 2.5).
            if log.producers.get(&pid).is_none() && self.forgotten.remove(&(b, p, pid)) && self.explain {
                for r in batch.iter().filter_map(|e| e.rec).collect::<Vec<_>>() {
                    self.why(
                        r,
                        format!(
                            "{bn} had forgotten producer id {pid} (idle longer than producer.id.expiration.ms), so it took this batch (seq {first_seq}) as a new write: it cannot tell a retry from one"
                        ),
                    );
                }
            }
        }
        let recs: Vec<RecId> = batch.iter().filter_map(|e| e.rec).collect();
        let (base, last) = if let Some(d) = duplicate {
            tr!(self, "{bn} {pname}: duplicate batch pid {pid} seq {first_seq}..{last_seq} already at offset {}; answered with the original offset, nothing appended", d.first_offset);
            for &r in &recs {
                if self.explain {
                    self.why(
                        r,
                        format!(
                            "{bn} recognised a retry as a duplicate (pid {pid}, seq {first_seq}) and answered with the original offset {}",
                            d.first_offset
                        ),
                    )
                };
            }
            (d.first_offset, d.last_offset)
        } else {
            let now = self.now;
            let log = self.brokers[b].logs.get_mut(&p).expect("leader has a log");
            let base = log.leo();
            let entries: Vec<Entry> = batch
                .into_iter()
                .map(|mut e| {
                    e.leader_epoch = epoch;
                    e.append_time = now;
                    e
                })
                .collect();
            log.append(&entries);
            let last = log.leo() - 1;
            tr!(
                self,
                "{bn} (leader {pname}, epoch {epoch}) appended {} at offset {}{}",
                rec_list(&self.recs, &recs),
                base,
                if pid >= 0 { format!(" (pid {pid} epoch {pepoch} seq {first_seq})") } else { String::new() }
            );
            for (i, &r) in recs.iter().enumerate() {
                if self.explain {
                    self.why_step(r, WhyStep::LeaderAppend { at: self.now, broker: b as u32, epoch, offset: base + i as u64 });
                }
                self.hooks.push(HookEv { broker: Some(b), ..HookEv::new(Hook::LeaderAppend, r, p) });
            }
            (base, last)
        };
        self.maybe_increase_hw(b, p);
        let inc = self.brokers[b].inc;
        // The answer to a write that needs no wait (acks=1, or acks=all with an ISR the HW
        // already covers) is sent by the request handler once the append returns: an event of
        // its own, so that a fault on the `leader-append` hook strikes between the append and
        // the answer (a leader that dies there never answers), and one on `ack` after it. A
        // duplicate appends nothing: it is answered at once.
        let answer_now = match acks {
            0 => false,
            1 => true,
            _ => self.brokers[b].logs[&p].hw > last,
        };
        if acks == 0 {
            // No response to send: the connection is unmuted at once.
            self.produce_answered(b, m.from, req);
        }
        if answer_now {
            let respond = Ev::ProduceRespond {
                b,
                inc,
                part: p,
                to: m.from,
                req,
                base,
                recs: recs.clone(),
                all: acks != 1,
                drop_reply: m.drop_reply,
                delay_reply: m.delay_reply,
            };
            if duplicate.is_none() {
                self.push(self.now, respond);
            } else {
                self.produce_respond(respond);
            }
        }
        if duplicate.is_none() {
            // Delayed fetches complete in an action queued after the produce handler returns
            // (ReplicaManager's actionQueue), after its answer: a crash right after the ack
            // beats them.
            self.push(self.now, Ev::WakeFetches { b, inc, part: p });
        }
        if !answer_now && !matches!(acks, 0 | 1) {
            // acks=all waits in purgatory for the HW (R-E2, R-E3).
            let d = Delayed {
                req,
                to: m.from,
                required: last + 1,
                base,
                recs,
                drop_reply: m.drop_reply,
                delay_reply: m.delay_reply,
                marker: None,
            };
            if let Some(ls) = self.brokers[b].leading.get_mut(&p) {
                ls.delayed.push(d);
            }
            self.push_timer(timeout, TimerKind::Produce, b, p, req);
        }
    }

    /// KIP-890 part 1 (3.6+, `transaction.partition.verification.enable`): a transactional
    /// batch of a producer with no ongoing transaction on this partition is appended only if
    /// the coordinator confirms the partition is in that producer's current transaction with
    /// the same epoch (R-I4). The lab answers from the coordinator's state at once instead of
    /// a round trip. Without verification, such a late write opens a transaction no
    /// coordinator knows: a hanging transaction (R-I3).
    fn verify_txn_produce(&self, b: usize, p: usize, pid: i64, epoch: i16, txn: bool) -> Result<(), KErr> {
        if !txn || !self.sc.cluster.transaction_partition_verification || self.brokers[b].logs[&p].ongoing.contains_key(&pid) {
            return Ok(());
        }
        match self.txn_ids.values().find(|m| m.pid == pid) {
            Some(m) if m.epoch > epoch => Err(KErr::ProducerFenced),
            Some(m) if m.epoch == epoch && m.state == TxnState::Ongoing && m.parts.contains(&p) => Ok(()),
            _ => Err(KErr::InvalidTxnState),
        }
    }

    fn produce_error(&mut self, b: usize, m: &Msg, req: u64, p: usize, e: KErr, acks: i8) {
        if acks == 0 {
            // R-B2: with acks=0 the broker closes the connection so the client notices; what
            // it had not read from that connection is gone.
            self.reading.remove(&(b, m.from.key()));
            self.send(Node::Broker(b), m.from, Body::Disconnect { broker: b });
        } else {
            self.reply(m, Body::ProduceResp { req, part: p, res: Err(e) });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn produce_ok(&mut self, b: usize, to: Node, req: u64, p: usize, base: u64, recs: &[RecId], drop_reply: bool, delay_reply: Time) {
        let key = self.reply_held(b, to, drop_reply, delay_reply, Body::ProduceResp { req, part: p, res: Ok(base) });
        let bn = Self::bname(b);
        tr!(self, "{bn} acks {} (offset {base})", rec_list(&self.recs, recs));
        for &r in recs {
            if self.explain {
                self.why_step(r, WhyStep::ProduceResponse { at: self.now, broker: b as u32, offset: base });
            }
            self.hooks.push(HookEv { broker: Some(b), msg: key, ..HookEv::new(Hook::Ack, r, p) });
        }
    }

    /// Sends the answer `Ev::ProduceRespond` holds, if its broker is still the process that
    /// appended (a crashed one never answers: its connections broke).
    fn produce_respond(&mut self, e: Ev) {
        let Ev::ProduceRespond { b, inc, part, to, req, base, recs, all, drop_reply, delay_reply } = e else {
            return;
        };
        let br = &self.brokers[b];
        if !br.alive || br.inc != inc {
            return;
        }
        if all {
            self.complete_produce(b, part, to, req, base, &recs, drop_reply, delay_reply);
        } else {
            self.produce_ok(b, to, req, part, base, &recs, drop_reply, delay_reply);
        }
    }

    /// R-E3: an acks=all request completes once the HW covers it; before 3.7, with the
    /// (maximal) ISR below min ISR at that moment, the answer is
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND although the record is written.
    #[allow(clippy::too_many_arguments)]
    fn complete_produce(&mut self, b: usize, p: usize, to: Node, req: u64, base: u64, recs: &[RecId], drop_reply: bool, delay_reply: Time) {
        let (isr, min_isr) = self.isr_after_append(b, p);
        if isr < min_isr {
            let bn = Self::bname(b);
            tr!(
                self,
                "{bn} answers NOT_ENOUGH_REPLICAS_AFTER_APPEND for {}: written below the HW, but the ISR has {} < {min_isr}",
                rec_list(&self.recs, recs),
                isr
            );
            for &r in recs {
                why!(self, r, "{bn} answered NotEnoughReplicasAfterAppend: the record IS in the log, but the ISR shrank below min.insync.replicas={min_isr}; a retry will duplicate it unless idempotent");
            }
            self.reply_held(
                b,
                to,
                drop_reply,
                delay_reply,
                Body::ProduceResp { req, part: p, res: Err(KErr::NotEnoughReplicasAfterAppend) },
            );
        } else {
            self.produce_ok(b, to, req, p, base, recs, drop_reply, delay_reply);
        }
    }

    /// The ISR an acks=all write counts once the HW has passed it: the ISR with any pending
    /// expansion (the maximal ISR), against the effective min ISR. Below it, 3.6 and earlier
    /// answer NOT_ENOUGH_REPLICAS_AFTER_APPEND (3.7+ never gets here: the HW waits).
    fn isr_after_append(&self, b: usize, p: usize) -> (usize, usize) {
        let ls = &self.brokers[b].leading[&p];
        // The maximal ISR: the ISR and the members of a pending change, counted without
        // building the set (this runs for every append).
        let pending = ls.pending_isr.as_ref().map(|(pend, _)| pend.iter().filter(|r| !ls.isr.contains(r)).count()).unwrap_or(0);
        (ls.isr.len() + pending, self.eff_min_isr(p))
    }

    fn expire_delayed(&mut self, b: usize, p: usize, req: u64) {
        let Some(ls) = self.brokers[b].leading.get_mut(&p) else {
            return;
        };
        let Some(i) = ls.delayed.iter().position(|d| d.req == req) else {
            return;
        };
        let d = ls.delayed.remove(i);
        let bn = Self::bname(b);
        if let Some((txn, commit)) = d.marker {
            tr!(
                self,
                "{bn}: the marker of {txn} on {} was not replicated in time: REQUEST_TIMED_OUT; the coordinator will retry",
                self.parts[p].name
            );
            self.reply_held(b, d.to, d.drop_reply, d.delay_reply, Body::MarkerResp { txn, part: p, commit, ok: false });
            return;
        }
        tr!(
            self,
            "{bn} acks=all wait for {} expired: REQUEST_TIMED_OUT (HW never reached offset {})",
            rec_list(&self.recs, &d.recs),
            d.required
        );
        for &r in &d.recs {
            why!(self, r, "{bn} gave up waiting for the ISR to replicate it (produce timeout): REQUEST_TIMED_OUT, though it stays in the leader's log");
        }
        self.reply_held(b, d.to, d.drop_reply, d.delay_reply, Body::ProduceResp { req, part: p, res: Err(KErr::RequestTimedOut) });
    }

    /// R-E4: the leader's HW is the smallest LEO over itself, the maximal ISR and caught-up
    /// replicas; it never moves back, and from 3.7 it stays put while the ISR is under min ISR.
    fn maybe_increase_hw(&mut self, b: usize, p: usize) {
        let lag = self.sc.cluster.replica_lag_time_max_ms * MS;
        let now = self.now;
        let frozen = self.sc.version.hw_frozen_under_min_isr() && {
            let ls = &self.brokers[b].leading[&p];
            ls.isr.len() < self.eff_min_isr(p)
        };
        let Some(ls) = self.brokers[b].leading.get(&p) else {
            return;
        };
        if frozen {
            return;
        }
        let log = &self.brokers[b].logs[&p];
        let leo = log.leo();
        let mut new = leo;
        for (r, st) in ls.followers.iter() {
            let in_max = ls.isr.contains(&r) || ls.pending_isr.as_ref().map(|(i, _)| i.contains(&r)).unwrap_or(false);
            // Only ISR-eligible (unfenced) replicas count when not in the ISR.
            let eligible = !self.brokers[b].fenced_view.get(r).copied().unwrap_or(false);
            let caught = eligible && st.leo.map(|l| l == leo || now.saturating_sub(st.last_caught_up) <= lag).unwrap_or(false);
            if in_max || caught {
                match st.leo {
                    None => return,
                    Some(l) => new = new.min(l),
                }
            }
        }
        let old = log.hw;
        if new > old {
            self.brokers[b].logs.get_mut(&p).expect("log").hw = new;
            tr!(self, "{} {} high watermark {} -> {}", Self::bname(b), self.parts[p].name, old, new);
            if self.explain {
                for i in old as usize..new as usize {
                    if let Some(r) = self.brokers[b].logs[&p].entries[i].rec {
                        self.why_step(r, WhyStep::HighWatermark { at: self.now, broker: b as u32 });
                    }
                }
            }
            self.complete_delayed_produces(b, p);
        }
    }

    /// R-C6: broker `b` forgets the producer ids idle for `producer.id.expiration.ms` with no
    /// open transaction, on each of its replicas (`UnifiedLog.removeExpiredProducers`). A
    /// retry that arrives afterwards is not recognised as a duplicate.
    fn expire_producers(&mut self, b: usize) {
        let (now, ttl) = (self.now, self.sc.cluster.producer_id_expiration_ms * MS);
        let parts: Vec<usize> = self.brokers[b].logs.keys().collect();
        for p in parts {
            let expired = self.brokers[b].logs.get_mut(&p).expect("log").remove_expired_producers(now, ttl);
            for pid in expired {
                self.forgotten.insert((b, p, pid));
                tr!(
                    self,
                    "{} {}: producer id {pid} expired (idle for producer.id.expiration.ms = {} ms): its sequence numbers are forgotten",
                    Self::bname(b),
                    self.parts[p].name,
                    self.sc.cluster.producer_id_expiration_ms
                );
            }
        }
    }

    fn complete_delayed_produces(&mut self, b: usize, p: usize) {
        let hw = self.brokers[b].logs[&p].hw;
        let Some(ls) = self.brokers[b].leading.get_mut(&p) else {
            return;
        };
        // Into a buffer kept for the next call: this runs each time a high watermark moves.
        let mut ready = std::mem::take(&mut self.ready_buf);
        let mut i = 0;
        while i < ls.delayed.len() {
            if hw >= ls.delayed[i].required {
                ready.push(ls.delayed.remove(i));
            } else {
                i += 1;
            }
        }
        for d in ready.drain(..) {
            match d.marker {
                Some((txn, commit)) => self.complete_marker(b, p, d.to, txn, commit, d.drop_reply, d.delay_reply),
                None => self.complete_produce(b, p, d.to, d.req, d.base, &d.recs, d.drop_reply, d.delay_reply),
            }
        }
        self.ready_buf = ready;
        if self.parts[p].internal.is_some() {
            self.txn_writes_durable(b, p);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_fetch(&mut self, b: usize, f: usize, p: usize, offset: u64, last_epoch: Option<i32>, cur_epoch: i32, fid: u64) {
        let reply = |s: &mut Sim, res: Result<FetchData, KErr>| {
            s.send(Node::Broker(b), Node::Broker(f), Body::FetchResp { part: p, fid, res });
        };
        let Some(ls) = self.brokers[b].leading.get(&p) else {
            reply(self, Err(KErr::NotLeaderOrFollower));
            return;
        };
        if cur_epoch < ls.epoch {
            reply(self, Err(KErr::FencedLeaderEpoch));
            return;
        }
        if cur_epoch > ls.epoch {
            reply(self, Err(KErr::UnknownLeaderEpoch));
            return;
        }
        let log = &self.brokers[b].logs[&p];
        let leo = log.leo();
        let hw = log.hw;
        // R-G4 / KIP-320: the follower's last fetched epoch must end where the leader's does.
        let diverging = match last_epoch {
            Some(le) => {
                let (e, end) = log.end_offset_for_epoch(le);
                (end < offset || e < le).then_some((e, end))
            }
            None => (offset > leo).then_some((-1, leo)),
        };
        if let Some(d) = diverging {
            reply(self, Ok(FetchData { entries: Vec::new(), hw, leader_leo: leo, diverging: Some(d) }));
            return;
        }
        // R-F1: follower fetch state and lastCaughtUpTimeMs.
        let now = self.now;
        let ls = self.brokers[b].leading.get_mut(&p).expect("checked");
        if let Some(st) = ls.followers.get_mut(&f) {
            if offset >= leo {
                st.last_caught_up = now;
            } else if offset >= st.last_fetch_leader_leo {
                st.last_caught_up = st.last_caught_up.max(st.last_fetch_time);
            }
            st.last_fetch_leader_leo = leo;
            st.last_fetch_time = now;
            st.leo = Some(offset);
        }
        self.maybe_expand_isr(b, p, f);
        self.maybe_increase_hw(b, p);
        if offset < leo {
            let data = self.fetch_data(b, p, offset);
            reply(self, Ok(data));
        } else {
            let wait = self.sc.cluster.replica_fetch_wait_max_ms * MS;
            if let Some(ls) = self.brokers[b].leading.get_mut(&p) {
                ls.parked.push(Parked { from: f, fid, offset });
            }
            self.push_timer(wait, TimerKind::FetchWait, b, p, fid);
        }
    }

    fn fetch_data(&self, b: usize, p: usize, offset: u64) -> FetchData {
        let log = &self.brokers[b].logs[&p];
        let leo = log.leo() as usize;
        let start = offset as usize;
        let mut end = (start + FETCH_MAX_ENTRIES).min(leo);
        // Never split a batch: extend to its end.
        while end < leo && log.entries[end].batch_base < end as u64 {
            end += 1;
        }
        FetchData { entries: log.entries.range(start, end).cloned().collect(), hw: log.hw, leader_leo: leo as u64, diverging: None }
    }

    /// Answers waiting follower fetches: all of them after an append, or the one whose
    /// `replica.fetch.wait.max.ms` expired (with whatever there is, possibly nothing).
    fn answer_parked(&mut self, b: usize, p: usize, only: Option<u64>) {
        let leo = self.brokers[b].logs[&p].leo();
        let answered = |pk: &Parked| match only {
            Some(fid) => pk.fid == fid,
            None => pk.offset < leo,
        };
        // One at a time, in the order they were parked: a leader parks a fetch or two per
        // partition, and this runs after every append, so it allocates nothing.
        loop {
            // Read (not written) first: a leader with nothing to answer stays unmarked for the
            // invariant check.
            let Some(i) = self.brokers[b].leading.get(&p).and_then(|ls| ls.parked.iter().position(answered)) else {
                return;
            };
            let Some(pk) = self.brokers[b].leading.get_mut(&p).map(|ls| ls.parked.remove(i)) else {
                return;
            };
            let data = self.fetch_data(b, p, pk.offset);
            self.send(Node::Broker(b), Node::Broker(pk.from), Body::FetchResp { part: p, fid: pk.fid, res: Ok(data) });
        }
    }

    fn follower_fetch(&mut self, b: usize, p: usize) {
        let br = &self.brokers[b];
        if !br.alive {
            return;
        }
        if br.slow_until > self.now {
            return;
        }
        let Some(fs) = br.following.get(&p) else {
            return;
        };
        if fs.outstanding.is_some() {
            return;
        }
        let (leader, cur_epoch) = (fs.leader, fs.epoch);
        let log = &br.logs[&p];
        let offset = log.leo();
        let last_epoch = log.latest_epoch();
        let fid = self.id();
        if let Some(fs) = self.brokers[b].following.get_mut(&p) {
            fs.outstanding = Some(fid);
        }
        self.send(Node::Broker(b), Node::Broker(leader), Body::Fetch { part: p, offset, last_epoch, cur_epoch, fid });
        let to = self.sc.cluster.replica_socket_timeout_ms * MS;
        self.push_timer(to, TimerKind::Fetch, b, p, fid);
    }

    fn schedule_fetch_retry(&mut self, b: usize, p: usize) {
        let inc = self.brokers[b].inc;
        let backoff = self.sc.cluster.replica_fetch_backoff_ms * MS;
        self.push(self.now + backoff, Ev::FetchRetry { b, inc, part: p });
    }

    fn on_fetch_resp(&mut self, b: usize, p: usize, fid: u64, res: Result<FetchData, KErr>) {
        let Some(fs) = self.brokers[b].following.get_mut(&p) else {
            return;
        };
        if fs.outstanding != Some(fid) {
            return;
        }
        fs.outstanding = None;
        let leader = fs.leader;
        let bn = Self::bname(b);
        let pname = self.parts[p].name.clone();
        let data = match res {
            Err(_) => {
                self.schedule_fetch_retry(b, p);
                return;
            }
            Ok(d) => d,
        };
        if let Some((e, end)) = data.diverging {
            // R-G4 (AbstractFetcherThread.getOffsetTruncationState).
            let log = self.brokers[b].logs.get(&p).expect("log");
            let leo = log.leo();
            let mut target = if e < 0 {
                end.min(leo)
            } else {
                let (fe, fend) = log.end_offset_for_epoch(e);
                if fe != e {
                    // The follower does not know the leader's epoch: cut to the end of its own
                    // older epoch and ask again.
                    fend.min(leo)
                } else {
                    fend.min(end).min(leo)
                }
            };
            // Truncating to the log end still drops an empty latest epoch from the cache, so the
            // next fetch asks about an older epoch. Only when even that changes nothing does a
            // safety net apply, so a disagreement can never loop: the high watermark, then a
            // full re-fetch (Kafka's pre-KIP-101 path).
            let progress_at_leo = log.epochs.last().map(|&(_, s)| s >= leo).unwrap_or(false);
            if target >= leo && !progress_at_leo {
                target = if log.hw < leo { log.hw } else { 0 };
            }
            let why = format!(
                "the leader {} (epoch {}) says epoch {e} ends at offset {end}",
                Self::bname(leader),
                self.brokers[b].following[&p].epoch
            );
            self.truncate(b, p, target, &why);
            self.follower_fetch(b, p);
            return;
        }
        let now = self.now;
        let log = self.brokers[b].logs.get_mut(&p).expect("log");
        if !data.entries.is_empty() {
            let base = log.leo();
            let mut entries = data.entries;
            for e in &mut entries {
                e.append_time = now;
            }
            log.append(&entries);
            tr!(
                self,
                "{bn} (follower {pname}) replicated offsets {}..{} {}",
                base,
                base + entries.len() as u64 - 1,
                rec_list(&self.recs, &entries.iter().filter_map(|e| e.rec).collect::<Vec<_>>())
            );
            // Each record at its own offset (a marker among the entries has one too).
            for (i, r) in entries.iter().enumerate().filter_map(|(i, e)| Some((i, e.rec?))) {
                if self.explain {
                    self.why_step(r, WhyStep::Replicated { at: self.now, broker: b as u32, offset: base + i as u64 });
                }
                self.hooks.push(HookEv { broker: Some(b), follower: Some(b), ..HookEv::new(Hook::Replicate, r, p) });
            }
        }
        let log = self.brokers[b].logs.get_mut(&p).expect("log");
        let new_hw = data.hw.min(log.leo());
        if new_hw > log.hw {
            log.hw = new_hw;
        }
        if let Some(fs) = self.brokers[b].following.get_mut(&p) {
            fs.caught_into_epoch = true;
        }
        // The fetcher thread builds its next fetch at its next loop (AbstractFetcherThread
        // doWork), an event of its own: a fault on the `replicate` hook strikes before the
        // leader can learn the new log end from it.
        let inc = self.brokers[b].inc;
        self.push(self.now, Ev::FetchRetry { b, inc, part: p });
    }

    fn truncate(&mut self, b: usize, p: usize, to: u64, why: &str) {
        let log = self.brokers[b].logs.get_mut(&p).expect("log");
        let leo = log.leo();
        if to >= leo {
            log.truncate_to(leo);
            return;
        }

        let removed: Vec<RecId> = log.entries.range(to as usize, usize::MAX).filter_map(|e| e.rec).collect();
        let actual = log.truncate_to(to);
        let (bn, pname) = (Self::bname(b), self.parts[p].name.clone());
        tr!(self, "{bn} truncates {pname} to offset {actual} ({why}), dropping {}", rec_list(&self.recs, &removed));
        for r in removed {
            why!(self, r, "{bn} truncated its log to offset {actual}: {why}; this copy is gone");
        }
    }

    /// R-F3: a follower rejoins the ISR once it has reached the HW and the current epoch.
    fn maybe_expand_isr(&mut self, b: usize, p: usize, f: usize) {
        let hw = self.brokers[b].logs[&p].hw;
        let Some(ls) = self.brokers[b].leading.get(&p) else {
            return;
        };
        if ls.isr.contains(&f) || ls.pending_isr.is_some() {
            return;
        }
        let Some(fleo) = ls.followers.get(&f).and_then(|s| s.leo) else {
            return;
        };
        if fleo >= hw && fleo >= ls.epoch_start {
            let mut isr = ls.isr.clone();
            isr.push(f);
            self.send_alter_isr(b, p, isr, &format!("{} caught up", Self::bname(f)));
        }
    }

    /// R-F2: every replica.lag.time.max.ms / 2 the leader drops followers that are not caught up.
    fn isr_shrink_check(&mut self, b: usize) {
        let lag = self.sc.cluster.replica_lag_time_max_ms * MS;
        let now = self.now;
        let parts: Vec<usize> = self.brokers[b].leading.keys().collect();
        for p in parts {
            let leo = self.brokers[b].logs[&p].leo();
            let ls = &self.brokers[b].leading[&p];
            if let Some((_, since)) = &ls.pending_isr {
                if now.saturating_sub(*since) < 5000 * MS {
                    continue;
                }
            }
            let out: Vec<usize> = ls
                .isr
                .iter()
                .copied()
                .filter(|&r| r != b)
                .filter(|r| ls.followers.get(r).map(|s| s.leo != Some(leo) && now.saturating_sub(s.last_caught_up) > lag).unwrap_or(false))
                .collect();
            if !out.is_empty() {
                let isr: Vec<usize> = ls.isr.iter().copied().filter(|r| !out.contains(r)).collect();
                let names: Vec<String> = out.iter().map(|&r| Self::bname(r).to_string()).collect();
                self.send_alter_isr(b, p, isr, &format!("{} fell behind for longer than replica.lag.time.max.ms", names.join(", ")));
            }
        }
    }

    fn send_alter_isr(&mut self, b: usize, p: usize, isr: Vec<usize>, why: &str) {
        let now = self.now;
        let ls = self.brokers[b].leading.get_mut(&p).expect("leader");
        let mut ordered: Vec<usize> = self.parts[p].replicas.iter().copied().filter(|r| isr.contains(r)).collect();
        ordered.dedup();
        ls.pending_isr = Some((ordered.clone(), now));
        let (le, pe) = (ls.epoch, ls.pepoch);
        tr!(self, "{} asks the controller to set the ISR of {} to [{}]: {why}", Self::bname(b), self.parts[p].name, names(&ordered));
        self.send(Node::Broker(b), Node::Controller, Body::AlterIsr { part: p, leader_epoch: le, pepoch: pe, isr: ordered });
    }

    fn on_alter_isr_resp(&mut self, b: usize, p: usize, res: Result<PartState, KErr>) {
        match res {
            Ok(st) => self.apply_part_state(b, p, st),
            Err(_) => {
                if let Some(ls) = self.brokers[b].leading.get_mut(&p) {
                    ls.pending_isr = None;
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------
    // The controller (KRaft quorum, modelled as one always-available node)

    fn ctrl_receive(&mut self, mut m: Msg) {
        let Node::Broker(b) = m.from else { return };
        match std::mem::replace(&mut m.body, Body::Heartbeat { inc: 0 }) {
            Body::Heartbeat { inc } => {
                if self.ctrl.inc[b] != inc {
                    // A restarted broker registers with a new incarnation: the controller fences
                    // the old one first, so it leaves every ISR and leadership.
                    if !self.ctrl.fenced[b] {
                        self.ctrl_fence(b, &format!("{} re-registered after a restart", Self::bname(b)));
                    }
                    self.ctrl.inc[b] = inc;
                }
                self.ctrl.last_hb[b] = self.now;
                self.ctrl.hb_seq[b] += 1;
                let seq = self.ctrl.hb_seq[b];
                let session = self.sc.cluster.broker_session_timeout_ms * MS;
                self.push(self.now + session, Ev::FenceCheck { b, seq });
                if self.ctrl.fenced[b] {
                    self.ctrl_unfence(b);
                }
            }
            Body::AlterIsr { part, leader_epoch, pepoch, isr } => {
                let st = &self.ctrl.parts[part];
                let res = if st.leader != Some(b) || st.epoch != leader_epoch {
                    Err(KErr::FencedLeaderEpoch)
                } else if st.pepoch != pepoch
                    // A stale partition epoch, or an ISR that adds a fenced broker or drops the
                    // leader: both INVALID_UPDATE_VERSION.
                    || isr.iter().any(|&r| !st.isr.contains(&r) && self.ctrl.fenced[r])
                    || !isr.contains(&b)
                {
                    Err(KErr::InvalidUpdateVersion)
                } else {
                    let st = &mut self.ctrl.parts[part];
                    st.isr = isr;
                    st.pepoch += 1;
                    let st = st.clone();
                    tr!(self, "controller: ISR of {} is now [{}] (partition epoch {})", self.parts[part].name, names(&st.isr), st.pepoch);
                    Ok(st)
                };
                let ok = res.is_ok();
                self.reply(&m, Body::AlterIsrResp { part, res });
                if ok {
                    self.ctrl_publish(&[part]);
                }
            }
            _ => {}
        }
    }

    /// Sends the state of the given partitions to every broker (brokers replay the metadata
    /// log; a broker cut off from the controller simply does not hear of it).
    /// Every publication also carries which brokers are fenced (brokers learn of registrations
    /// from the same log).
    fn ctrl_publish(&mut self, parts: &[usize]) {
        let states: Vec<(usize, PartState)> = parts.iter().map(|&p| (p, self.ctrl.parts[p].clone())).collect();
        for b in 0..self.brokers.len() {
            let fenced = self.ctrl.fenced.clone();
            let inc = self.ctrl.inc[b];
            self.send(Node::Controller, Node::Broker(b), Body::Meta { parts: states.clone(), fenced, inc });
        }
    }

    /// R-F2 / R-G1 / R-G2: a fenced broker leaves every ISR (but the last member stays) and
    /// loses leadership; the controller elects the first live ISR member in assignment order,
    /// or, if allowed, the first live replica (unclean).
    fn ctrl_fence(&mut self, b: usize, why: &str) {
        self.ctrl.fenced[b] = true;
        tr!(self, "controller fences {}: {why}", Self::bname(b));
        let mut changed = Vec::new();
        for p in 0..self.parts.len() {
            let st = &mut self.ctrl.parts[p];
            let mut ch = false;
            if st.isr.contains(&b) && st.isr.len() > 1 {
                st.isr.retain(|&r| r != b);
                ch = true;
            }
            if st.leader == Some(b) {
                st.leader = None;
                ch = true;
            }
            if ch {
                if !self.ctrl_elect(p, why) {
                    // Only the ISR changed: that is a new partition epoch too.
                    self.ctrl.parts[p].pepoch += 1;
                    let isr = names(&self.ctrl.parts[p].isr);
                    tr!(self, "controller: ISR of {} is now [{isr}] ({} fenced)", self.parts[p].name, Self::bname(b));
                }
                changed.push(p);
            }
        }
        self.ctrl_publish(&changed);
    }

    fn ctrl_unfence(&mut self, b: usize) {
        self.ctrl.fenced[b] = false;
        tr!(self, "controller unfences {}", Self::bname(b));
        let mut changed = Vec::new();
        for p in 0..self.parts.len() {
            if self.ctrl.parts[p].leader.is_none()
                && self.parts[p].replicas.contains(&b)
                && self.ctrl_elect(p, &format!("{} is back", Self::bname(b)))
            {
                changed.push(p);
            }
        }
        self.ctrl_publish(&changed);
        // The returning broker replays the whole metadata log.
        let all: Vec<(usize, PartState)> = (0..self.parts.len()).map(|p| (p, self.ctrl.parts[p].clone())).collect();
        let fenced = self.ctrl.fenced.clone();
        let inc = self.ctrl.inc[b];
        self.send(Node::Controller, Node::Broker(b), Body::Meta { parts: all, fenced, inc });
    }

    /// Elects a leader if the current one is not valid. Returns whether anything changed.
    fn ctrl_elect(&mut self, p: usize, why: &str) -> bool {
        let replicas = self.parts[p].replicas.clone();
        let fenced = self.ctrl.fenced.clone();
        let st = &mut self.ctrl.parts[p];
        if let Some(l) = st.leader {
            if !fenced[l] && st.isr.contains(&l) {
                return false;
            }
        }
        let old = st.leader;
        let clean = replicas.iter().copied().find(|&r| !fenced[r] && st.isr.contains(&r));
        let mut unclean = false;
        let new = match clean {
            Some(r) => Some(r),
            None if self.parts[p].unclean => {
                let r = replicas.iter().copied().find(|&r| !fenced[r]);
                if r.is_some() {
                    unclean = true;
                }
                r
            }
            None => None,
        };
        if new == old && new.is_none() {
            st.pepoch += 1;
            let name = self.parts[p].name.clone();
            let isr = names(&self.ctrl.parts[p].isr);
            tr!(self, "controller: {name} has no leader: no live ISR member (ISR [{isr}]) and unclean election is off");
            self.partition_why(
                p,
                None,
                format!("controller left {name} leaderless: the ISR [{isr}] has no live member and unclean.leader.election.enable=false"),
            );
            return true;
        }
        st.leader = new;
        st.epoch += 1;
        st.pepoch += 1;
        if unclean {
            st.isr = vec![new.expect("unclean has a leader")];
        }
        let (epoch, isr) = (st.epoch, st.isr.clone());
        let name = self.parts[p].name.clone();
        match new {
            Some(l) => {
                let kind = if unclean {
                    "UNCLEAN election (data loss possible)"
                } else {
                    "clean election: first live ISR member in assignment order"
                };
                tr!(self, "controller elects {} leader of {name} in epoch {epoch} ({kind}; {why}); ISR [{}]", Self::bname(l), names(&isr));
                self.partition_why(
                    p,
                    Some(l),
                    format!("controller elected {} leader of {name} in epoch {epoch} ({kind}; {why})", Self::bname(l)),
                );
            }
            None => {
                tr!(
                    self,
                    "controller: {name} has no leader in epoch {epoch}: no live ISR member (ISR [{}]) and unclean election is off",
                    names(&isr)
                );
                self.partition_why(
                    p,
                    None,
                    format!(
                        "controller left {name} leaderless: the ISR [{}] has no live member and unclean.leader.election.enable=false",
                        names(&isr)
                    ),
                );
            }
        }
        true
    }

    /// Adds a line to the why-chain of the records this partition change matters to: those
    /// some replica holds but the new leader does not.
    fn partition_why(&mut self, p: usize, new_leader: Option<usize>, line: String) {
        let have: VecSet<RecId> = match new_leader {
            Some(l) => self.brokers[l].logs.get(&p).map(|lg| lg.entries.iter().filter_map(|e| e.rec).collect()).unwrap_or_default(),
            None => VecSet::new(),
        };
        let mut affected = VecSet::new();
        for br in &self.brokers {
            if let Some(lg) = br.logs.get(&p) {
                for e in lg.entries.iter() {
                    if let Some(r) = e.rec {
                        if !have.contains(&r) {
                            affected.insert(r);
                        }
                    }
                }
            }
        }
        for r in affected {
            if self.explain {
                self.why(r, line.clone())
            };
        }
    }

    /// A fault on the KRaft controller quorum (`target = "controller"`). While no controller is
    /// active (the voters electing a new one, or fewer than a majority up) the metadata stands
    /// still: brokers keep the leaders and ISRs they last heard of, a dead leader is not
    /// replaced, and an ISR does not shrink (so acks=all writes wait). Cut off from the
    /// brokers, the active controller keeps its quorum and stays active: it fences every broker
    /// whose heartbeats stop reaching it (all of them), which the brokers do not hear of until
    /// the cut heals.
    fn controller_fault(&mut self, action: Action, said: String) {
        let c = &mut self.ctrl;
        // Scenario parsing leaves only kill (or power loss), restart, isolate and heal here.
        let (elect_in, note) = match action {
            Action::RestartBroker if c.voters_up < CONTROLLER_VOTERS => {
                let had = c.has_quorum();
                c.voters_up += 1;
                // A voter back in a quorum that had lost its majority: an election follows.
                let regained = !c.alive && !had && c.has_quorum();
                (regained.then_some(1000), if regained { ": a voter is back, and with it a majority" } else { ": a voter is back" })
            }
            Action::RestartBroker => (None, ": every voter is already up"),
            Action::IsolateBroker => {
                c.isolated = c.alive;
                (None, "")
            }
            Action::Heal => {
                let publish = c.alive && c.isolated;
                c.isolated = false;
                if publish {
                    // The brokers catch up with the metadata log they could not fetch.
                    self.ctrl_publish_all();
                }
                (None, "")
            }
            _ => {
                // The active controller dies (or, with none active, a standby voter).
                let was_active = c.alive;
                c.voters_up = c.voters_up.saturating_sub(1);
                c.alive = false;
                c.isolated = false;
                match (c.has_quorum(), was_active) {
                    (true, true) => (Some(CONTROLLER_FAILOVER_MS), ": the active controller dies; the other voters elect another"),
                    (true, false) => (None, ": a standby voter dies"),
                    (false, _) => (
                        None,
                        ": the quorum has lost its majority, so no controller (no fencing, election or ISR change) until a voter restarts",
                    ),
                }
            }
        };
        let said = format!("{said} on the controller{note}");
        tr!(self, "{said}");
        self.faults_log.push((self.now, said));
        if let Some(ms) = elect_in {
            self.push(self.now + ms * MS, Ev::ControllerElect);
        }
    }

    /// A controller that becomes active gives every registered broker a fresh session
    /// (`ClusterControlManager.activate` touches each one), so none is fenced for the time the
    /// controller was away; the brokers then catch up with the metadata log.
    fn controller_activate(&mut self) {
        let session = self.sc.cluster.broker_session_timeout_ms * MS;
        for b in 0..self.brokers.len() {
            self.ctrl.last_hb[b] = self.now;
            self.ctrl.hb_seq[b] += 1;
            let seq = self.ctrl.hb_seq[b];
            self.push(self.now + session, Ev::FenceCheck { b, seq });
        }
        self.ctrl_publish_all();
    }

    /// Every partition's state to every broker: the metadata log a broker that could not
    /// fetch it catches up with.
    fn ctrl_publish_all(&mut self) {
        let all: Vec<usize> = (0..self.parts.len()).collect();
        self.ctrl_publish(&all);
    }

    /// `auto.leader.rebalance.enable`: move leadership back to the preferred replica.
    fn ctrl_preferred_election(&mut self) {
        let mut changed = Vec::new();
        for p in 0..self.parts.len() {
            let pref = self.parts[p].replicas[0];
            let ctrl = &mut *self.ctrl;
            let st = &mut ctrl.parts[p];
            if st.leader.is_some() && st.leader != Some(pref) && !ctrl.fenced[pref] && st.isr.contains(&pref) {
                st.leader = Some(pref);
                st.epoch += 1;
                st.pepoch += 1;
                let epoch = st.epoch;
                tr!(
                    self,
                    "controller moves leadership of {} back to preferred replica {} (epoch {epoch}, auto.leader.rebalance.enable)",
                    self.parts[p].name,
                    Self::bname(pref)
                );
                changed.push(p);
            }
        }
        self.ctrl_publish(&changed);
    }

    // ------------------------------------------------------------------------------------
    // Producers

    /// NetworkClient: a connection that closed, or that a request timeout closed, is not tried
    /// again before `reconnect.backoff.ms` (50 ms), doubling up to `reconnect.backoff.max.ms`
    /// (1 s) while attempts keep failing. It is also what keeps a client with
    /// `request.timeout.ms = 0` from retrying without pause.
    fn reconnect_backoff(&mut self, p: usize, broker: usize) {
        // Every caller has just dropped the connection.
        self.new_connection(Node::Producer(p, self.producers[p].inst), Node::Broker(broker));
        let pr = &mut self.producers[p];
        pr.connected[broker] = false;
        let n = pr.reconnects[broker].min(5);
        pr.reconnects[broker] += 1;
        pr.backoff_until[broker] = self.now + ((50 * MS) << n).min(1000 * MS);
    }

    /// A client connects before it sends: to a broker whose process is down on a machine that
    /// is up, the connection is refused, nothing is sent, and the node waits out its reconnect
    /// backoff while the batches stay in the accumulator (NetworkClient only drains to a ready
    /// node). So a request is never "sent" to a broker that was already dead: only requests in
    /// flight when it died fail with NetworkException, and `retries = 0` does not turn a leader
    /// failover into failed sends for records that were still queued. (A machine that lost
    /// power, or an isolated one, does not answer the connection attempt at all: the lab lets
    /// such a request time out after `request.timeout.ms`.)
    fn connect_refused(&mut self, p: usize, b: usize) -> bool {
        let br = &self.brokers[b];
        let unreachable = br.silent_to_clients();
        if unreachable && !self.producers[p].connected[b] {
            return self.connect_unanswered(p, b);
        }
        if (br.alive && br.caught_up) || unreachable {
            // Connected (an established connection to a machine that went quiet stays open
            // until a request on it times out).
            let pr = &mut self.producers[p];
            pr.connected[b] = true;
            pr.setup_until[b] = 0;
            pr.setup_fails[b] = 0;
            return false;
        }
        // Told once per outage (the first attempts after a loss), not at every backoff.
        let first = self.producers[p].backoff_until[b] <= self.now && self.producers[p].reconnects[b] <= 1;
        self.reconnect_backoff(p, b);
        self.producers[p].meta_wanted = true;
        if first {
            let name = self.producers[p].cfg.name.clone();
            tr!(self, "{name}: connection to {} refused ({}); what was for it stays queued", Self::bname(b), self.refusal(b));
        }
        true
    }

    /// A new connection to a machine that does not answer (powered off, or cut off from its
    /// clients): nothing is refused, the connection attempt just hangs, and NetworkClient gives
    /// up after `socket.connection.setup.timeout.ms` (10 s, doubling per failure up to
    /// `socket.connection.setup.timeout.max.ms`, 30 s; Kafka adds ±20% jitter, the lab none).
    /// The batch stays queued meanwhile: a connection that never opened is not a send attempt,
    /// so `retries` is not spent. Then the node waits out its reconnect backoff and the
    /// producer asks another broker for metadata.
    fn connect_unanswered(&mut self, p: usize, b: usize) -> bool {
        let now = self.now;
        let name = self.producers[p].cfg.name.clone();
        let pr = &mut self.producers[p];
        if pr.setup_until[b] == 0 {
            let timeout = ((10_000 * MS) << pr.setup_fails[b].min(2)).min(30_000 * MS);
            pr.setup_until[b] = now + timeout;
            tr!(
                self,
                "{name}: connecting to {}, which does not answer; socket.connection.setup.timeout.ms runs out at t={}",
                Self::bname(b),
                FmtTime(now + timeout)
            );
        } else if now >= pr.setup_until[b] {
            pr.setup_until[b] = 0;
            pr.setup_fails[b] += 1;
            tr!(
                self,
                "{name}: connection setup to {} timed out (socket.connection.setup.timeout.ms); asking for metadata again",
                Self::bname(b)
            );
            self.reconnect_backoff(p, b);
            self.producers[p].meta_wanted = true;
        }
        true
    }

    /// Why broker `b` refuses a client's connection.
    fn refusal(&self, b: usize) -> &'static str {
        let br = &self.brokers[b];
        if br.silent_to_clients() {
            "its machine does not answer"
        } else if br.alive {
            "restarted, it has not caught up with the metadata log"
        } else {
            "its process is down"
        }
    }

    /// `pick_node` among the brokers that accept a connection.
    fn pick_reachable_node(&mut self, p: usize) -> Option<usize> {
        for _ in 0..self.brokers.len() {
            let b = self.pick_node(p)?;
            if !self.connect_refused(p, b) {
                return Some(b);
            }
        }
        None
    }

    fn producer_receive(&mut self, p: usize, m: Msg) {
        if let (Node::Broker(b), false) = (m.from, matches!(m.body, Body::Disconnect { .. })) {
            self.producers[p].reconnects[b] = 0;
        }
        match m.body {
            Body::ProduceResp { req, part: _, res } => {
                let Some(r) = self.producers[p].reqs.remove(&req) else {
                    return;
                };
                self.producers[p].inflight_to[r.broker] -= 1;
                if let Some(bid) = r.batch {
                    self.batch_result(p, bid, res);
                }
                // The sender thread runs the send's callback while it handles the response and
                // drains or sends EndTxn only at its next loop (Sender.runOnce): a fault on the
                // `response` hook strikes in between, before anything new leaves.
                self.sender_loop(p);
            }
            Body::Disconnect { broker } => {
                let reqs: Vec<u64> = self.producers[p].reqs.iter().filter(|(_, r)| r.broker == broker).map(|(k, _)| *k).collect();
                if !reqs.is_empty() {
                    tr!(self, "{}: connection to {} lost", self.producers[p].cfg.name, Self::bname(broker));
                }
                for k in reqs {
                    let r = self.producers[p].reqs.remove(&k).expect("listed");
                    self.producers[p].inflight_to[broker] -= 1;
                    if let Some(bid) = r.batch {
                        self.batch_result(p, bid, Err(KErr::Network));
                    }
                }
                // NetworkClient: only what was on that connection fails, and the node is not
                // tried again before reconnect.backoff.ms.
                self.reconnect_backoff(p, broker);
                let pr = &mut self.producers[p];
                if matches!(pr.init, Init::Sent(_, b, _) if b == broker) {
                    pr.init = Init::Needed;
                }
                if pr.meta_req.map(|(_, b, _)| b == broker).unwrap_or(false) {
                    pr.meta_req = None;
                }
                pr.meta_wanted = true;
                self.producer_poll(p);
            }
            Body::InitPidResp { req, pid, epoch } => {
                let pr = &mut self.producers[p];
                if !matches!(pr.init, Init::Sent(r, _, _) if r == req) {
                    return;
                }
                let bumped = pr.pid == pid;
                pr.pid = pid;
                pr.epoch = epoch;
                pr.init = Init::Ready;
                pr.bump = false;
                // A new producer id or epoch restarts every partition's sequence at 0; queued
                // batches that had sequences get new ones when drained.
                for pp in pr.parts.iter_mut() {
                    pp.next_seq = 0;
                    pp.last_acked = -1;
                    pp.unresolved = false;
                }
                let ids: Vec<u64> = pr.batches.iter().filter(|(_, b)| !b.in_flight).map(|(k, _)| *k).collect();
                for k in ids {
                    if let Some(b) = pr.batches.get_mut(&k) {
                        b.seq = None;
                    }
                }
                let name = pr.cfg.name.clone();
                if bumped {
                    tr!(self, "{name}: producer epoch bumped to {epoch} (pid {pid}); sequences restart at 0");
                } else {
                    tr!(self, "{name}: InitProducerId gave pid {pid} epoch {epoch}");
                }
                self.producer_poll(p);
            }
            Body::AddPartitionsResp { part, res } => {
                let backoff = self.producers[p].cfg.retry_backoff_ms * MS;
                let now = self.now;
                match res {
                    Ok(()) => {
                        if let Some(tx) = self.producers[p].txn.as_mut() {
                            tx.adding.remove(&part);
                            tx.added.insert(part);
                        }
                    }
                    Err("CONCURRENT_TRANSACTIONS") => {
                        // The previous transaction is still completing: retry after backoff.
                        if let Some(tx) = self.producers[p].txn.as_mut() {
                            tx.adding.insert(part, now + backoff);
                        }
                    }
                    Err(e) => {
                        // Fenced: fatal. The partition's batches fail; EndTxn will be fenced too.
                        let ids: Vec<u64> = self.producers[p].batches.iter().filter(|(_, b)| b.part == part).map(|(k, _)| *k).collect();
                        for id in ids {
                            self.fail_batch(p, id, e, "AddPartitionsToTxn was fenced", true);
                        }
                    }
                }
                self.producer_poll(p);
            }
            Body::EndTxnResp { res, .. } => {
                self.on_end_txn_resp(p, res);
                self.producer_poll(p);
            }
            Body::AddOffsetsResp { res } => {
                self.on_add_offsets_resp(p, res);
                self.producer_poll(p);
            }
            Body::TxnOffsetCommitResp { res } => {
                self.on_txn_offset_commit_resp(p, res);
                self.producer_poll(p);
            }
            Body::MetaResp { req, leaders } => {
                let pr = &mut self.producers[p];
                if pr.meta_req.map(|(r, _, _)| r == req).unwrap_or(false) {
                    pr.meta_req = None;
                    pr.meta_wanted = false;
                    pr.meta = leaders;
                }
                self.producer_poll(p);
            }
            _ => {}
        }
    }

    fn backoff(&mut self, attempts: u32, cfg_ms: u64, max_ms: u64) -> Time {
        if self.sc.version >= Version::V3_9 {
            // KIP-580 (3.7): exponential backoff with 20% jitter, capped at retry.backoff.max.ms.
            let exp = cfg_ms.saturating_mul(1u64 << attempts.saturating_sub(1).min(20)).min(max_ms.max(cfg_ms));
            let j = (exp * MS / 5).max(1);
            let r = self.rng.next_u64() % (2 * j + 1);
            (exp * MS + r).saturating_sub(j)
        } else {
            cfg_ms * MS
        }
    }

    fn batch_result(&mut self, p: usize, bid: u64, res: Result<u64, KErr>) {
        let Some(batch) = self.producers[p].batches.get(&bid).cloned() else {
            return;
        };
        let cfg = self.producers[p].cfg.clone();
        let name = &cfg.name;
        let part = batch.part;
        {
            let pr = &mut self.producers[p];
            let pp = &mut pr.parts[part];
            if let Some(s) = batch.seq {
                pp.inflight.remove(&(s, bid));
            }
            pp.n_inflight = pp.n_inflight.saturating_sub(1);
            if let Some(b) = pr.batches.get_mut(&bid) {
                b.in_flight = false;
            }
        }
        match res {
            Ok(base) => {
                let pr = &mut self.producers[p];
                if let Some(s) = batch.seq {
                    if batch.epoch == pr.epoch {
                        let last = s + batch.recs.len() as i32 - 1;
                        pr.parts[part].last_acked = pr.parts[part].last_acked.max(last);
                    }
                }
                pr.batches.remove(&bid);
                pr.parts[part].dq.retain(|&x| x != bid);
                tr!(self, "{name}: send of {} acknowledged (offset {base})", rec_list(&self.recs, &batch.recs));
                for (i, &r) in batch.recs.iter().enumerate() {
                    self.recs[r as usize].status = RecStatus::Acked((base + i as u64) as i64);
                    if self.explain {
                        self.why_step(r, WhyStep::Acked { at: self.now, producer: p as u32, offset: base + i as u64 });
                    }
                    self.hooks.push(HookEv { producer: Some(p), ..HookEv::new(Hook::Response, r, part) });
                }
            }
            Err(e) => {
                let cfg = self.producers[p].cfg.clone();
                let expired = self.now >= batch.created + cfg.delivery_timeout_ms * MS;
                let can_retry = e.retriable() && (batch.attempts as u64) < cfg.retries && !expired;
                for &r in &batch.recs {
                    self.errors.push(ClientError {
                        at: self.now,
                        client: name.clone(),
                        record: Some(self.recs[r as usize].id.to_string()),
                        error: e.exception().into(),
                        retried: can_retry,
                        raised: false,
                    });
                }
                if can_retry {
                    let attempts = batch.attempts + 1;
                    let back = self.backoff(attempts, cfg.retry_backoff_ms, cfg.retry_backoff_max_ms);
                    let now = self.now;
                    let pr = &mut self.producers[p];
                    if e.needs_metadata() {
                        pr.meta_wanted = true;
                    }
                    if cfg.idempotence && e == KErr::OutOfOrderSequence {
                        // R-D1: if this is the next sequence the broker should have had, the gap is
                        // real (the leader lost earlier batches): bump the epoch and resend.
                        let next_expected = pr.parts[part].last_acked + 1;
                        if batch.seq == Some(next_expected) && batch.epoch == pr.epoch {
                            pr.bump = true;
                        }
                    }
                    let b = pr.batches.get_mut(&bid).expect("batch");
                    b.attempts = attempts;
                    b.retry_at = now + back;
                    if b.epoch != pr.epoch {
                        b.seq = None;
                    }
                    // R-B4: idempotent retries go back in sequence order; without idempotence
                    // a retry simply goes to the front and may overtake nothing or land late.
                    let dq = &mut pr.parts[part].dq;
                    dq.retain(|&x| x != bid);
                    if cfg.idempotence && b.seq.is_some() {
                        let s = b.seq;
                        let pos = dq
                            .iter()
                            .position(|x| pr.batches.get(x).map(|ob| ob.seq.is_none() || ob.seq > s).unwrap_or(true))
                            .unwrap_or(dq.len());
                        dq.insert(pos, bid);
                    } else {
                        dq.push_front(bid);
                    }
                    tr!(self, "{name}: {} for {}; retrying (attempt {})", e.code(), rec_list(&self.recs, &batch.recs), attempts + 1);
                    for &r in &batch.recs {
                        why!(self, r, "{name} got {} and will retry", e.exception());
                    }
                } else {
                    let reason = if expired {
                        "delivery.timeout.ms has passed"
                    } else if !e.retriable() {
                        "not retriable"
                    } else {
                        "retries exhausted"
                    };
                    self.fail_batch(p, bid, e.exception(), reason, false);
                }
            }
        }
    }

    fn fail_batch(&mut self, p: usize, bid: u64, exception: &'static str, reason: &str, raised: bool) {
        let Some(batch) = self.producers[p].batches.remove(&bid) else {
            return;
        };
        if let Some(tx) = self.producers[p].txn.as_mut() {
            tx.failed = true;
        }
        let cfg = self.producers[p].cfg.clone();
        let name = &cfg.name;
        let part = batch.part;
        let pr = &mut self.producers[p];
        pr.parts[part].dq.retain(|&x| x != bid);
        if let Some(s) = batch.seq {
            if pr.cfg.idempotence && batch.epoch == pr.epoch {
                // The client cannot know whether the batch was written: its sequence is
                // unresolved until later batches tell, else the epoch is bumped (R-B5). A
                // failed last batch simply gives its sequence numbers back.
                let n = batch.recs.len() as i32;
                if pr.parts[part].next_seq == s + n && !batch.in_flight && exception != "TimeoutException" {
                    pr.parts[part].next_seq = s;
                } else {
                    pr.parts[part].unresolved = true;
                }
            }
        }
        tr!(self, "{name}: send of {} failed with {exception} ({reason})", rec_list(&self.recs, &batch.recs));
        for &r in &batch.recs {
            if raised {
                self.errors.push(ClientError {
                    at: self.now,
                    client: name.clone(),
                    record: Some(self.recs[r as usize].id.to_string()),
                    error: exception.into(),
                    retried: false,
                    raised: true,
                });
            }
            self.recs[r as usize].status = RecStatus::Failed(exception);
            why!(self, r, "{name} reported {exception} to the application ({reason})");
            self.hooks.push(HookEv { producer: Some(p), ..HookEv::new(Hook::Response, r, part) });
        }
    }

    /// The application calls send(): the record goes into the accumulator (R-B1).
    fn producer_send(&mut self, p: usize, rec: RecId) {
        let part = self.recs[rec as usize].part;
        let size = self.recs[rec as usize].size as u64;
        self.send_counter += 1;
        let order = self.send_counter;
        let inst = self.producers[p].inst;
        {
            let r = &mut self.recs[rec as usize];
            if r.send_order.is_none() {
                r.send_order = Some(order);
            }
            r.status = RecStatus::InFlight;
            r.instance = inst;
        }
        // KafkaProducer.doSend checks the record's size before anything else
        // (ensureValidRecordSize): one larger than max.request.size never enters the
        // accumulator, its future fails at once, and in a transaction that error is abortable
        // (the partition is not added to the transaction).
        let max = self.producers[p].cfg.max_request_size;
        let too_large = size > max;
        // In a transaction the client remembers its partitions and records; AddPartitionsToTxn
        // goes out when a batch is drained (`producer_poll`, R-H4).
        if let Some(tx) = self.producers[p].txn.as_mut().filter(|_| !too_large) {
            tx.parts.insert(part);
            tx.recs.push(rec);
        }
        let now = self.now;
        let cfg = self.producers[p].cfg.clone();
        let name = &cfg.name;
        let pr = &mut self.producers[p];
        let batch_size = pr.cfg.batch_size;
        let open = pr.parts[part].dq.back().copied().filter(|id| {
            let b = &pr.batches[id];
            b.seq.is_none() && b.attempts == 0 && !b.in_flight && b.bytes + size <= batch_size && !too_large
        });
        let bid = match open {
            Some(id) => {
                let b = pr.batches.get_mut(&id).expect("open batch");
                b.recs.push(rec);
                b.bytes += size;
                id
            }
            None => {
                self.next_id += 1;
                let id = self.next_id;
                let pr = &mut self.producers[p];
                pr.batches.insert(
                    id,
                    PBatch {
                        part,
                        recs: vec![rec],
                        bytes: size,
                        created: now,
                        seq: None,
                        epoch: -1,
                        attempts: 0,
                        retry_at: 0,
                        in_flight: false,
                        told_refused: 0,
                    },
                );
                pr.parts[part].dq.push_back(id);
                id
            }
        };
        tr!(self, "{name}: send({}) to {}", self.recs[rec as usize].id, self.parts[part].name);
        if self.explain {
            self.why_step(rec, WhyStep::Send { at: self.now, producer: p as u32, part: part as u32 });
        }
        self.hooks.push(HookEv { producer: Some(p), ..HookEv::new(Hook::Send, rec, part) });
        if too_large {
            // The record is alone in the batch just made for it (it joins no open batch).
            let reason = format!("The message is {size} bytes when serialized which is larger than {max}, which is the value of the max.request.size configuration.");
            self.fail_batch(p, bid, "RecordTooLargeException", &reason, true);
            return;
        }
        // send() only appends and wakes the sender thread, which drains in its own loop: a
        // fault on the `send` hook strikes before the record can leave (R-B1).
        self.sender_loop(p);
    }

    /// Wakes the producer's sender thread for a loop at this instant.
    fn sender_loop(&mut self, p: usize) {
        if self.producers[p].loop_at != Some(self.now) {
            self.producers[p].loop_at = Some(self.now);
            let inst = self.producers[p].inst;
            self.push(self.now, Ev::SenderLoop { p, inst });
        }
    }

    /// The sender thread: expire, resolve sequences, refresh metadata, drain ready batches,
    /// then arrange to wake at the next deadline.
    fn producer_poll(&mut self, p: usize) {
        if !self.producers[p].alive {
            return;
        }
        let now = self.now;
        let cfg = self.producers[p].cfg.clone();
        let name = &cfg.name;

        // Request timeouts: the client disconnects and fails what was in flight there (R-B3).
        let timed_out: Vec<(u64, usize)> =
            self.producers[p].reqs.iter().filter(|(_, r)| r.deadline <= now).map(|(k, r)| (*k, r.broker)).collect();
        for (k, broker) in timed_out {
            if let Some(r) = self.producers[p].reqs.remove(&k) {
                self.producers[p].inflight_to[broker] -= 1;
                tr!(self, "{name}: no response from {} within request.timeout.ms", Self::bname(broker));
                if let Some(bid) = r.batch {
                    self.batch_result(p, bid, Err(KErr::RequestTimedOut));
                }
                let others: Vec<u64> = self.producers[p].reqs.iter().filter(|(_, r)| r.broker == broker).map(|(k, _)| *k).collect();
                for k2 in others {
                    if let Some(r2) = self.producers[p].reqs.remove(&k2) {
                        self.producers[p].inflight_to[broker] -= 1;
                        if let Some(bid) = r2.batch {
                            self.batch_result(p, bid, Err(KErr::Network));
                        }
                    }
                }
                self.producers[p].meta_wanted = true;
                self.reconnect_backoff(p, broker);
            }
        }
        if let Init::Sent(_, broker, deadline) = self.producers[p].init {
            if deadline <= now {
                // The TransactionManager sends InitProducerId again after retry.backoff.ms, and
                // the node that timed out waits out its reconnect backoff.
                let pr = &mut self.producers[p];
                pr.init = Init::Needed;
                pr.init_not_before = now + (cfg.retry_backoff_ms * MS).max(50 * MS);
                // `usize::MAX` stands for the transaction coordinator (`Init::Sent`).
                let coordinator = broker == usize::MAX;
                let to = if coordinator { "the transaction coordinator".to_string() } else { Self::bname(broker).to_string() };
                tr!(self, "{name}: no answer to InitProducerId from {to} within request.timeout.ms; it will ask again");
                if !coordinator {
                    self.reconnect_backoff(p, broker);
                }
            }
        }
        if let Some((_, broker, deadline)) = self.producers[p].meta_req {
            if deadline <= now {
                self.producers[p].meta_req = None;
                self.producers[p].meta_wanted = true;
                self.reconnect_backoff(p, broker);
            }
        }

        // Delivery timeout (R-B5): batches expire from creation, queued or in flight.
        let dt = cfg.delivery_timeout_ms * MS;
        // Batch ids grow with creation time, so the expired ones are a prefix of the map.
        let expired: Vec<u64> = self.producers[p].batches.iter().take_while(|(_, b)| now >= b.created + dt).map(|(k, _)| *k).collect();
        for bid in expired {
            let in_flight = self.producers[p].batches[&bid].in_flight;
            if in_flight {
                let pr = &mut self.producers[p];
                let b = &pr.batches[&bid];
                let part = b.part;
                if let Some(s) = b.seq {
                    pr.parts[part].inflight.remove(&(s, bid));
                }
                pr.parts[part].n_inflight = pr.parts[part].n_inflight.saturating_sub(1);
                for r in pr.reqs.values_mut() {
                    if r.batch == Some(bid) {
                        r.batch = None;
                    }
                }
            }
            let n = self.producers[p].batches[&bid].recs.len();
            let pn = self.parts[self.producers[p].batches[&bid].part].name.clone();
            self.fail_batch(
                p,
                bid,
                "TimeoutException",
                &format!("Expiring {n} record(s) for {pn}: {} ms has passed since batch creation", cfg.delivery_timeout_ms),
                true,
            );
        }

        // Idempotent producer id, and the epoch bump for unresolved sequences (R-B5, R-D1).
        if cfg.idempotence {
            let pr = &mut self.producers[p];
            for pp in pr.parts.iter_mut() {
                if pp.unresolved && pp.n_inflight == 0 {
                    if pp.next_seq == pp.last_acked + 1 {
                        pp.unresolved = false;
                    } else {
                        pr.bump = true;
                    }
                }
            }
            // A transactional producer bumps its epoch for unresolved sequences only once the
            // transaction is over (KIP-360: abortTransaction(), then InitProducerId with the
            // current producer id and epoch).
            let in_txn = pr.txn.is_some() && cfg.transactional_id.is_some();
            let needs = (pr.init == Init::Needed && now >= pr.init_not_before)
                || (pr.bump && !in_txn && pr.init == Init::Ready && pr.parts.iter().all(|pp| pp.n_inflight == 0));
            if needs {
                let bump = if pr.bump && pr.pid >= 0 { Some((pr.pid, pr.epoch)) } else { None };
                if let Some(txn) = cfg.transactional_id.clone() {
                    // initTransactions(): InitProducerId goes to the transaction coordinator.
                    let req = self.id();
                    let pr = &mut self.producers[p];
                    pr.init = Init::Sent(req, usize::MAX, now + cfg.request_timeout_ms * MS);
                    let inst = pr.inst;
                    self.send(
                        Node::Producer(p, inst),
                        Node::TxnCoord,
                        Body::TxnInitPid { req, txn, timeout_ms: cfg.transaction_timeout_ms },
                    );
                } else if let Some(broker) = self.pick_reachable_node(p) {
                    let req = self.id();
                    let pr = &mut self.producers[p];
                    pr.init = Init::Sent(req, broker, now + cfg.request_timeout_ms * MS);
                    let inst = pr.inst;
                    self.send(Node::Producer(p, inst), Node::Broker(broker), Body::InitPid { req, bump });
                }
            }
        }

        // Drain.
        let mut wake: Option<Time> = self.txn_poll_offsets(p);
        let mut note = |t: Time| wake = Some(wake.map_or(t, |w: Time| w.min(t)));
        let nparts = self.producers[p].parts.len();
        for part in 0..nparts {
            loop {
                let pr = &self.producers[p];
                let Some(&bid) = pr.parts[part].dq.front() else {
                    break;
                };
                let b = &pr.batches[&bid];
                let ready = pr.parts[part].dq.len() > 1
                    || b.attempts > 0
                    || pr.closing
                    || b.bytes >= cfg.batch_size
                    || now >= b.created + cfg.linger_ms * MS;
                if !ready {
                    note(b.created + cfg.linger_ms * MS);
                    break;
                }
                if b.retry_at > now {
                    note(b.retry_at);
                    break;
                }
                if cfg.idempotence {
                    if pr.init != Init::Ready || pr.bump {
                        break;
                    }
                    // RA.shouldStopDrainBatchesForPartition: a retried batch goes only when it is
                    // the first in flight; new batches wait while sequences are unresolved.
                    if b.seq.is_some() && pr.parts[part].n_inflight > 0 {
                        break;
                    }
                    if b.seq.is_none() && pr.parts[part].unresolved {
                        break;
                    }
                }
                if cfg.max_in_flight == 1 && pr.parts[part].n_inflight > 0 {
                    // guaranteeMessageOrder: the partition is muted while a batch is in flight.
                    break;
                }
                // R-H4: in a transaction, nothing is produced to a partition before the
                // coordinator has added it (AddPartitionsToTxn answered).
                if let Some(tx) = &pr.txn {
                    if !tx.added.contains(&part) {
                        if tx.adding.get(&part).map(|&t| t <= now).unwrap_or(true) && pr.init == Init::Ready {
                            let recs = b.recs.clone();
                            let (txn, inst, epoch) = (cfg.transactional_id.clone().unwrap_or_default(), pr.inst, pr.epoch);
                            if let Some(tx) = self.producers[p].txn.as_mut() {
                                tx.adding.insert(part, Time::MAX);
                            }
                            self.send(Node::Producer(p, inst), Node::TxnCoord, Body::AddPartitions { txn, epoch, part, recs });
                        } else if let Some(&t) = tx.adding.get(&part) {
                            if t != Time::MAX {
                                note(t);
                            }
                        }
                        break;
                    }
                }
                let Some(leader) = pr.meta[part] else {
                    self.producers[p].meta_wanted = true;
                    break;
                };
                if pr.inflight_to[leader] >= cfg.max_in_flight || pr.backoff_until[leader] > now {
                    break;
                }
                if self.connect_refused(p, leader) {
                    let b = self.producers[p].batches.get_mut(&bid).expect("batch");
                    let untold: Vec<RecId> = b.recs[b.told_refused..].to_vec();
                    b.told_refused = b.recs.len();
                    let name = cfg.name.clone();
                    // Only a controller elects another leader: say so when it cannot.
                    let ctrl = match (self.ctrl.alive, self.ctrl.isolated) {
                        (false, _) => "; no controller is up to elect another leader",
                        (true, true) => "; the controller is cut off",
                        _ => "",
                    };
                    let refusal = self.refusal(leader);
                    for r in untold {
                        why!(self, r, "{name} could not connect to {} ({refusal}): it waits in the accumulator{ctrl}", Self::bname(leader));
                    }
                    break;
                }
                self.send_batch(p, bid, leader);
            }
        }
        // Metadata refresh, after an error or when a leader is unknown.
        if self.producers[p].meta_wanted && self.producers[p].meta_req.is_none() {
            if let Some(broker) = self.pick_reachable_node(p) {
                let req = self.id();
                let pr = &mut self.producers[p];
                pr.meta_req = Some((req, broker, now + cfg.request_timeout_ms * MS));
                let inst = pr.inst;
                self.send(Node::Producer(p, inst), Node::Broker(broker), Body::MetaReq { req });
            }
        }
        // EndTxn without an answer is sent again after request.timeout.ms.
        if let Some(tx) = self.producers[p].txn.as_mut() {
            if tx.end_sent && now >= tx.end_deadline {
                tx.end_sent = false;
                tr!(self, "{name}: no answer to EndTxn within request.timeout.ms");
            }
        }
        let pr = &self.producers[p];
        if let Some(tx) = &pr.txn {
            if tx.end_sent {
                note(tx.end_deadline);
            } else if tx.end_retry_at > now {
                note(tx.end_retry_at);
            }
        }
        for r in pr.reqs.values() {
            note(r.deadline);
        }
        if let Some(b) = pr.batches.values().next() {
            note(b.created + dt);
        }

        if let Init::Sent(_, _, d) = pr.init {
            note(d);
        }
        if pr.init == Init::Needed && pr.init_not_before > now {
            note(pr.init_not_before);
        }
        for &t in pr.backoff_until.iter().chain(&pr.setup_until) {
            if t > now {
                note(t);
            }
        }
        if let Some((_, _, d)) = pr.meta_req {
            note(d);
        }
        // A metadata refresh that keeps failing is retried after retry.backoff.ms.
        if pr.meta_wanted && pr.meta_req.is_none() {
            note(now + cfg.retry_backoff_ms * MS);
        }
        if let Some(w) = wake {
            let w = w.max(now + 1);
            if pr.wake.map(|x| x > w || x < now).unwrap_or(true) {
                let inst = pr.inst;
                self.producers[p].wake = Some(w);
                self.queue_wake(p, inst, w);
            }
        }
        self.txn_try_end(p);
        // A closing producer whose buffers are empty is closed.
        let pr = &self.producers[p];
        if pr.closing && pr.batches.is_empty() && pr.txn.is_none() {
            self.producers[p].alive = false;
            self.producers[p].closed = true;
            tr!(self, "{name}: closed");
        }
    }

    /// Queues a `ProducerWake` at `w` unless one at or before it is queued already: that one
    /// queues `w` when it fires.
    fn queue_wake(&mut self, p: usize, inst: u32, w: Time) {
        let pr = &mut self.producers[p];
        if pr.wakes_queued.iter().all(|&f| f > w) {
            pr.wakes_queued.push(w);
            self.push(w, Ev::ProducerWake { p, inst });
        }
    }

    /// `NetworkClient.leastLoadedNode`: the connectable broker with the fewest requests in
    /// flight, ties broken round-robin.
    fn pick_node(&mut self, p: usize) -> Option<usize> {
        let now = self.now;
        let pr = &mut self.producers[p];
        let nb = pr.inflight_to.len();
        let start = pr.rr;
        pr.rr += 1;
        // A node still setting up a connection that does not answer is not ready either.
        (0..nb)
            .map(|i| (start + i) % nb)
            .filter(|&b| pr.backoff_until[b] <= now && pr.setup_until[b] <= now)
            .min_by_key(|&b| pr.inflight_to[b])
    }

    fn send_batch(&mut self, p: usize, bid: u64, leader: usize) {
        let now = self.now;
        let cfg = self.producers[p].cfg.clone();
        self.next_id += 1;
        let req = self.next_id;
        let pr = &mut self.producers[p];
        let (pid, epoch) = (pr.pid, pr.epoch);
        let part = pr.batches[&bid].part;
        pr.parts[part].dq.pop_front();
        let b = pr.batches.get_mut(&bid).expect("batch");
        if cfg.idempotence && b.seq.is_none() {
            b.seq = Some(pr.parts[part].next_seq);
            b.epoch = epoch;
            pr.parts[part].next_seq += b.recs.len() as i32;
        }
        let b = pr.batches.get_mut(&bid).expect("batch");
        b.in_flight = true;
        let seq = b.seq;
        let n = b.recs.len() as i32;
        let recs = b.recs.clone();
        let bytes = b.bytes;
        let attempt = b.attempts;
        let bepoch = if cfg.idempotence { b.epoch } else { -1 };
        pr.parts[part].n_inflight += 1;
        if let Some(s) = seq {
            pr.parts[part].inflight.insert((s, bid));
        }
        let in_txn = pr.txn.is_some();
        let entries: Vec<Entry> = recs
            .iter()
            .map(|&r| Entry {
                rec: Some(r),
                control: None,
                pid: if cfg.idempotence { pid } else { -1 },
                epoch: bepoch,
                base_seq: seq.unwrap_or(-1),
                last_seq: seq.map(|s| s + n - 1).unwrap_or(-1),
                batch_base: 0,
                leader_epoch: 0,
                txn: in_txn,
                append_time: 0,
                batch_id: bid * 1000 + attempt as u64 % 1000,
                state_rec: None,
            })
            .collect();
        let inst = pr.inst;
        let acks = cfg.acks;
        let timeout = cfg.request_timeout_ms * MS;
        let key =
            self.send(Node::Producer(p, inst), Node::Broker(leader), Body::Produce { req, part, batch: entries, bytes, acks, timeout });
        let name = &cfg.name;
        tr!(
            self,
            "{name}: produce request to {} for {}{}{}",
            Self::bname(leader),
            rec_list(&self.recs, &recs),
            seq.map(|s| format!(" pid {pid} epoch {bepoch} seq {s}")).unwrap_or_default(),
            if attempt > 0 { format!(" (retry {attempt})") } else { String::new() }
        );
        for &r in &recs {
            if self.explain {
                let step = WhyStep::Request {
                    at: self.now,
                    pid,
                    producer: p as u16,
                    broker: leader as u16,
                    seq: seq.unwrap_or(i32::MIN),
                    epoch: bepoch,
                    acks,
                    attempt,
                };
                self.why_step(r, step);
            }
            self.hooks.push(HookEv { producer: Some(p), msg: key, msg_is_request: true, ..HookEv::new(Hook::Request, r, part) });
        }
        if acks == 0 {
            // R-B2: acks=0 completes at once, successfully, with offset -1.
            let pr = &mut self.producers[p];
            pr.parts[part].n_inflight -= 1;
            if let Some(s) = seq {
                pr.parts[part].inflight.remove(&(s, bid));
            }
            pr.batches.remove(&bid);
            for &r in &recs {
                self.recs[r as usize].status = RecStatus::Acked(-1);
                why!(self, r, "{name} completed the send at once (acks=0: no response is expected)");
                self.hooks.push(HookEv { producer: Some(p), ..HookEv::new(Hook::Response, r, part) });
            }
        } else {
            let pr = &mut self.producers[p];
            pr.reqs.insert(req, PReq { batch: Some(bid), broker: leader, deadline: now + timeout });
            pr.inflight_to[leader] += 1;
        }
    }

    fn producer_crash(&mut self, p: usize) {
        let pr = &mut self.producers[p];
        if !pr.alive {
            return;
        }
        pr.alive = false;
        pr.crashed = true;
        pr.inst += 1;
        let name = pr.cfg.name.clone();
        let recs: Vec<RecId> = pr.batches.values().flat_map(|b| b.recs.iter().copied()).collect();
        // Records the open transaction already holds: their fate now waits on the coordinator.
        let open: Vec<RecId> = pr.txn.as_ref().map(|t| t.recs.clone()).unwrap_or_default();
        self.reset_producer(p);
        tr!(self, "{name} crashes with {} unanswered record(s)", recs.len());
        for r in recs {
            self.recs[r as usize].status = RecStatus::NoAnswer;
            why!(self, r, "{name} crashed before it was answered");
        }
        for r in open {
            if matches!(self.recs[r as usize].status, RecStatus::Acked(_)) {
                why!(self, r, "{name} crashed with its transaction open");
            }
        }
    }

    fn reset_producer(&mut self, p: usize) {
        let nb = self.brokers.len();
        let np = self.parts.len();
        let pr = &mut self.producers[p];
        // A crashed instance's open transaction stays open at the coordinator until a new
        // instance initialises or transaction.timeout.ms passes.
        pr.txn = None;
        pr.loop_at = None;

        pr.batches.clear();
        pr.reqs.clear();
        pr.inflight_to = vec![0; nb];
        pr.backoff_until = vec![0; nb];
        pr.reconnects = vec![0; nb];
        pr.connected = vec![false; nb];
        pr.setup_until = vec![0; nb];
        pr.setup_fails = vec![0; nb];
        pr.parts = vec![PPart { last_acked: -1, ..Default::default() }; np];
        pr.init = if pr.cfg.idempotence { Init::Needed } else { Init::Ready };
        pr.bump = false;
        pr.pid = -1;
        pr.epoch = -1;
        pr.meta = vec![None; np];
        pr.meta_req = None;
        pr.meta_wanted = true;
        pr.wake = None;
        // The old instance's queued wakes are ignored (another instance number).
        pr.wakes_queued.clear();
    }

    /// `start-zombie`: a new instance with the same transactional.id starts (initTransactions())
    /// while the old one carries on with the table it is running, then stops; the following
    /// tables go to the new instance. The old instance moves to a new producer slot, named
    /// "<name> (zombie)", and keeps its connections, batches and transaction.
    fn start_zombie(&mut self, p: usize) {
        if !self.producers[p].alive {
            tr!(self, "{} is not running: there is no instance to turn into a zombie", self.producers[p].cfg.name);
            return;
        }
        let z = self.producers.len();
        let mut zombie = self.producers[p].clone();
        let name = zombie.cfg.name.clone();
        let mut cfg = (*zombie.cfg).clone();
        cfg.name = format!("{name} (zombie)");
        zombie.cfg = std::rc::Rc::new(cfg);
        zombie.paused.clear();
        zombie.wake = None;
        zombie.wakes_queued.clear();
        zombie.loop_at = None;
        let old = zombie.inst;
        self.producers.push(zombie);
        self.redirect.insert((p, old), z);
        for t in &mut self.tables {
            if t.producer == p && !t.done && t.next > 0 {
                t.producer = z;
            }
        }
        self.reset_producer(p);
        let pr = &mut self.producers[p];
        pr.inst += 1;
        pr.alive = true;
        pr.crashed = false;
        tr!(
            self,
            "{name}: a new instance starts with the same transactional.id (initTransactions()); the old one carries on as {name} (zombie)"
        );
        self.producer_poll(z);
        self.producer_poll(p);
    }

    /// Graceful close(): flush what is buffered; an open transaction is aborted (the sender
    /// thread's "Aborting incomplete transaction due to shutdown").
    fn producer_close(&mut self, p: usize) {
        if !self.producers[p].alive {
            return;
        }
        self.producers[p].closing = true;
        if let Some(tx) = self.producers[p].txn.as_mut() {
            if tx.ending.is_none() {
                tx.ending = Some(false);
                tx.offsets = OffsetsStep::None;
                let cfg = self.producers[p].cfg.clone();
                let name = &cfg.name;
                tr!(self, "{name}: close() aborts the open transaction");
                self.txn_abort_undrained(p);
            }
        }
        self.producer_poll(p);
    }

    fn producer_restart(&mut self, p: usize, resend: bool) {
        if self.producers[p].alive {
            return;
        }
        // After close() too: the application starts a new instance of its producer.
        self.producers[p].closed = false;
        self.producers[p].closing = false;
        self.reset_producer(p);
        let pr = &mut self.producers[p];
        pr.alive = true;
        pr.crashed = false;
        let inst = pr.inst;
        let name = pr.cfg.name.clone();
        if pr.cfg.transactional_id.is_some() {
            tr!(self, "{name} restarts (a new instance: initTransactions() with the same transactional.id)");
        } else {
            tr!(self, "{name} restarts (a new instance: a new producer id if idempotent)");
        }
        // The crashed instance's transaction stays open at the coordinator; a table it had
        // finished sending is over for the application (unless it re-sends, below).
        let open: Vec<usize> = (0..self.tables.len())
            .filter(|&t| {
                let tr = &self.tables[t];
                tr.producer == p && !tr.done && tr.next == self.sc.sends[t].records.len() && self.sc.sends[t].transaction.is_some()
            })
            .collect();
        if resend {
            let again: Vec<RecId> = (0..self.recs.len() as RecId)
                .filter(|&r| {
                    let ri = &self.recs[r as usize];
                    ri.producer == p && ri.status == RecStatus::NoAnswer && ri.instance + 1 == inst && ri.output_of.is_none()
                })
                .collect();
            // Re-sends of a transactional table form a new transaction with its outcome.
            let table_of = |s: &Sim, r: RecId| {
                (0..s.tables.len()).find(|&t| (s.rec_index(t, 0)..s.rec_index(t, 0) + s.sc.sends[t].records.len() as RecId).contains(&r))
            };
            let txn_table = again.first().and_then(|&r| table_of(self, r)).filter(|&t| self.sc.sends[t].transaction.is_some());
            if let Some(t) = txn_table {
                self.producers[p].txn = Some(TxnRun::new(Some(t)));
                tr!(self, "{name}: beginTransaction() for the re-sent records");
            }
            for r in again {
                why!(self, r, "the restarted {name} re-sends it (an application-level retry: a new copy)");
                self.producer_send(p, r);
            }
            if let Some(t) = txn_table {
                if self.tables[t].next == self.sc.sends[t].records.len() {
                    let commit = self.sc.sends[t].transaction.as_deref() == Some("commit");
                    if let Some(tx) = self.producers[p].txn.as_mut() {
                        tx.ending = Some(commit);
                    }
                    tr!(self, "{name}: {}", if commit { "commitTransaction() (flushing first)" } else { "abortTransaction()" });
                    if commit {
                        self.commit_called(p);
                    } else {
                        self.txn_abort_undrained(p);
                    }
                }
            }
        }
        for t in open {
            if self.producers[p].txn.as_ref().and_then(|x| x.table) != Some(t) {
                self.tables[t].done = true;
                self.start_next_table(t);
            }
        }
        let paused = std::mem::take(&mut self.producers[p].paused);
        for t in paused {
            self.push(self.now, Ev::AppStep { table: t });
        }
        self.producer_poll(p);
    }

    // ------------------------------------------------------------------------------------
    // The application

    fn app_step(&mut self, t: usize) {
        if self.tables[t].done {
            return;
        }
        let table = &self.sc.sends[t];
        let p = self.tables[t].producer;
        let pr = &self.producers[p];
        if pr.crashed {
            // Scheduled sends wait for the restart.
            if !self.producers[p].paused.contains(&t) {
                self.producers[p].paused.push(t);
            }
            return;
        }
        // A table with no records (`count = 0`, `records = []`) sends nothing and is over at
        // once; a transaction with no send in it has nothing to commit or abort either.
        if pr.closed || pr.closing || table.records.is_empty() {
            self.tables[t].done = true;
            self.start_next_table(t);
            return;
        }
        let i = self.tables[t].next;
        let every = table.every_ms * MS;
        let len = table.records.len();
        let commit = table.transaction.as_deref().map(|x| x == "commit");
        if commit.is_some() && self.producers[p].txn.is_none() {
            // beginTransaction()
            self.producers[p].txn = Some(TxnRun::new(Some(t)));
            let cfg = self.producers[p].cfg.clone();
            let name = &cfg.name;
            tr!(self, "{name}: beginTransaction()");
        }
        let rec = self.rec_index(t, i);
        self.tables[t].next += 1;
        self.producer_send(p, rec);
        if i + 1 < len {
            self.push(self.now + every, Ev::AppStep { table: t });
        } else if let Some(c) = commit {
            // commitTransaction() / abortTransaction() right after the last send(): the sender
            // thread that send() woke drains the record before the call reaches it. (Kafka
            // leaves this to a race between the two threads; the lab takes the side where the
            // transaction's last record is written, so that an aborted transaction's records
            // are in the log for read_uncommitted to see.)
            self.producer_poll(p);
            // The table finishes when the call returns.
            if let Some(tx) = self.producers[p].txn.as_mut() {
                tx.ending = Some(c);
            }
            let cfg = self.producers[p].cfg.clone();
            let name = &cfg.name;
            tr!(self, "{name}: {}", if c { "commitTransaction() (flushing first)" } else { "abortTransaction()" });
            if c {
                self.commit_called(p);
            } else {
                self.txn_abort_undrained(p);
            }
            self.producer_poll(p);
        } else {
            self.tables[t].done = true;
            self.start_next_table(t);
        }
    }

    fn rec_index(&self, t: usize, i: usize) -> RecId {
        let before: usize = self.sc.sends[..t].iter().map(|s| s.records.len()).sum();
        (before + i) as RecId
    }

    fn start_next_table(&mut self, t: usize) {
        if t + 1 < self.sc.sends.len() && self.sc.sends[t + 1].at_ms.is_none() {
            self.push(self.now, Ev::AppStep { table: t + 1 });
        }
    }

    // ------------------------------------------------------------------------------------
    // Faults

    fn fire_hooks(&mut self) {
        if self.hooks.is_empty() {
            return;
        }
        // Most scenarios arm no fault on a hook: the events' hooks are dropped, and the
        // buffer is kept for the next event instead of being freed and allocated again.
        if !self.sc.faults.iter().any(|f| matches!(f.when, When::On(_))) {
            self.hooks.clear();
            return;
        }
        let mut hooks = std::mem::take(&mut self.hooks);
        for h in &hooks {
            for i in 0..self.sc.faults.len() {
                let f = &self.sc.faults[i];
                if self.fault_fired[i] && !f.every {
                    continue;
                }
                if !matches!(f.when, When::On(x) if x == h.hook) {
                    continue;
                }
                if !self.hook_matches(f, h) {
                    continue;
                }
                self.fault_fired[i] = true;
                self.apply_fault(i, Some(h));
            }
        }
        // Hooks raised by the faults just applied wait for the next event, as before.
        if self.hooks.is_empty() {
            hooks.clear();
            self.hooks = hooks;
        }
    }

    fn hook_matches(&self, f: &Fault, h: &HookEv) -> bool {
        if h.wire.is_some_and(|w| w != f.action.is_wire()) {
            return false;
        }
        let r = &self.recs[h.rec as usize];
        if let Some(id) = &f.record {
            if &*r.id != id.as_str() {
                return false;
            }
        }
        if let Some(t) = f.topic {
            if self.parts[h.part].topic != t {
                return false;
            }
        }
        if let Some(pn) = f.partition {
            if self.parts[h.part].index != pn {
                return false;
            }
        }
        if let Some(pi) = f.producer {
            if r.producer != pi {
                return false;
            }
        }
        if let Some(fb) = f.follower {
            if h.follower != Some(fb) {
                return false;
            }
        }
        if let Some(cn) = &f.consumer {
            if h.consumer.map(|c| &self.consumers[c].cfg.name) != Some(cn) {
                return false;
            }
        }

        true
    }

    /// The partition a fault is about: the hooked record's, else its topic/partition filters,
    /// else the first partition.
    fn fault_partition(&self, f: &Fault, h: Option<&HookEv>) -> usize {
        if let Some(h) = h {
            return h.part;
        }
        if let Some(id) = &f.record {
            if let Some(r) = self.recs.iter().find(|r| &*r.id == id.as_str()) {
                return r.part;
            }
        }
        let t = f.topic.unwrap_or(0);
        let pi = f.partition.unwrap_or(0);
        self.parts.iter().position(|p| p.topic == t && p.index == pi).unwrap_or(0)
    }

    fn resolve_broker(&self, f: &Fault, h: Option<&HookEv>) -> Option<usize> {
        let target = f.target.as_deref()?;
        if let Some(b) = crate::scenario::parse_broker(target, self.brokers.len()) {
            return Some(b);
        }
        let p = self.fault_partition(f, h);
        match target {
            "leader" => {
                if let Some(h) = h {
                    if matches!(h.hook, Hook::LeaderAppend | Hook::Ack) {
                        return h.broker;
                    }
                }
                self.ctrl.parts[p].leader
            }
            "coordinator" => {
                // The coordinator of the hooked record's transactional.id, else of the only one.
                let pr = h.and_then(|h| h.producer).or(h.map(|h| self.recs[h.rec as usize].producer)).or(f.producer);
                let id = pr
                    .and_then(|p| self.producers.get(p))
                    .and_then(|p| p.cfg.transactional_id.clone())
                    .or_else(|| self.producers.iter().find_map(|p| p.cfg.transactional_id.clone()))?;
                self.coordinator_of(&id).or_else(|| {
                    let part = self.txn_log.get(&self.txn_log_partition(&id))?.part;
                    self.ctrl.parts[part].leader
                })
            }
            "follower" => {
                if let Some(h) = h {
                    if h.hook == Hook::Replicate {
                        return h.follower;
                    }
                }
                let leader = self.ctrl.parts[p].leader;
                self.parts[p].replicas.iter().copied().find(|&r| Some(r) != leader && self.brokers[r].alive)
            }
            _ => None,
        }
    }

    fn resolve_producer(&self, f: &Fault, h: Option<&HookEv>) -> usize {
        if let Some(n) = &f.target {
            if let Some(i) = self.producers.iter().position(|p| &p.cfg.name == n) {
                return i;
            }
        }
        if let Some(h) = h {
            if let Some(p) = h.producer {
                return p;
            }
            return self.recs[h.rec as usize].producer;
        }
        f.producer.unwrap_or(0)
    }

    fn apply_fault(&mut self, idx: usize, h: Option<&HookEv>) {
        let f = self.sc.faults[idx].clone();
        let when = match (&f.when, h) {
            (When::On(hook), Some(h)) => {
                format!("on {} of {}", hook.name(), self.recs[h.rec as usize].id)
            }
            _ => "scheduled".into(),
        };
        let act = f.action.name();
        let mut said = format!("fault[{idx}] {act} ({when})");
        match f.action {
            Action::KillBroker
            | Action::WipeBroker
            | Action::PowerLoss
            | Action::RestartBroker
            | Action::IsolateBroker
            | Action::SlowFollower
            | Action::Heal
                if f.target.as_deref() == Some("controller") =>
            {
                self.controller_fault(f.action, said);
            }
            Action::KillBroker
            | Action::WipeBroker
            | Action::PowerLoss
            | Action::RestartBroker
            | Action::IsolateBroker
            | Action::SlowFollower => {
                let Some(b) = self.resolve_broker(&f, h) else {
                    tr!(self, "{said}: no broker matches target {:?}; nothing happens", f.target);
                    return;
                };
                said = format!("{said} on {}", Self::bname(b));
                tr!(self, "{said}");
                self.faults_log.push((self.now, said.clone()));
                match f.action {
                    Action::KillBroker => self.broker_die(b, Death::Crash),
                    Action::WipeBroker => self.broker_die(b, Death::Wipe),
                    Action::PowerLoss => self.broker_die(b, Death::PowerLoss(f.unflushed_ms * MS)),
                    Action::RestartBroker => self.broker_restart(b),
                    Action::IsolateBroker => {
                        self.brokers[b].isolated = true;
                        self.brokers[b].isolated_from_clients = f.from_clients;
                    }
                    _ => {
                        self.brokers[b].slow_until = self.now + f.duration_ms * MS;
                        self.push(self.now + f.duration_ms * MS, Ev::SlowEnd { b });
                    }
                }
            }
            Action::Heal => {
                let targets: Vec<usize> = match self.resolve_broker(&f, h) {
                    Some(b) => vec![b],
                    None => (0..self.brokers.len()).collect(),
                };
                tr!(self, "{said}: {} reconnected", names(&targets));
                self.faults_log.push((self.now, said.clone()));
                // A KRaft broker fetches the metadata log: once reconnected, it catches up with
                // what was decided while it was cut off (an election that made it a leader, an
                // ISR change) at its next fetch. One publication serves every broker healed
                // here, sent once they are all reconnected.
                let mut brokers_cut = false;
                for &b in &targets {
                    let br = &mut self.brokers[b];
                    brokers_cut |= br.isolated;
                    br.isolated = false;
                    br.isolated_from_clients = false;
                }
                // `heal` without a target mends every cut, the controller's too, whose mending
                // publishes the metadata to every broker itself.
                if f.target.is_none() && self.ctrl.isolated {
                    self.controller_fault(Action::Heal, said);
                } else if brokers_cut && self.ctrl.alive {
                    self.ctrl_publish_all();
                }
                for b in targets {
                    // Fetches that went nowhere are retried at once.
                    let parts: Vec<usize> = self.brokers[b].following.keys().collect();
                    for p in parts {
                        if let Some(fs) = self.brokers[b].following.get_mut(&p) {
                            fs.outstanding = None;
                        }
                        self.follower_fetch(b, p);
                    }
                }
            }
            Action::DropRequest | Action::DropResponse | Action::DelayRequest | Action::DelayResponse => {
                let Some(h) = h else { return };
                let Some(key) = h.msg else {
                    tr!(self, "{said}: the message was already lost");
                    return;
                };
                let on_reply = matches!(f.action, Action::DropResponse | Action::DelayResponse) && h.msg_is_request;
                let drop = matches!(f.action, Action::DropRequest | Action::DropResponse);
                self.faults_log.push((self.now, said.clone()));
                if on_reply {
                    let late = f.duration_ms * MS;
                    self.queue.update(key, |ev| {
                        if let Ev::Deliver(m) = ev {
                            if drop {
                                m.drop_reply = true;
                            } else {
                                m.delay_reply += late;
                            }
                        }
                    });
                    tr!(
                        self,
                        "{said}: the response to that request will be {}",
                        if drop { "lost".to_string() } else { format!("{} ms late", f.duration_ms) }
                    );
                } else if let Some(ev) = self.queue.remove(key) {
                    if ev.is_work() {
                        self.work -= 1;
                    }
                    if drop {
                        tr!(self, "{said}: the message is lost on the wire");
                        if self.explain {
                            self.why(
                                h.rec,
                                format!(
                                    "fault: the {} carrying it was lost on the wire",
                                    match (h.hook, h.msg_is_request) {
                                        (Hook::OffsetCommit, _) => "offset commit request",
                                        (_, true) => "produce request",
                                        _ => "produce response",
                                    }
                                ),
                            )
                        };
                    } else {
                        let at = key.0 + f.duration_ms * MS;
                        tr!(self, "{said}: the message arrives {} ms late", f.duration_ms);
                        let link = match &ev {
                            Ev::Deliver(m) => Some((m.from, m.to, m.conn)),
                            _ => None,
                        };
                        let late = self.push(at, ev);
                        if let Some(link) = link {
                            self.hold_link_behind(link, key, late);
                        }
                    }
                }
            }
            Action::StartZombie => {
                let p = self.resolve_producer(&f, h);
                tr!(self, "{said}");
                self.faults_log.push((self.now, said));
                self.start_zombie(p);
            }
            Action::CrashProducer => {
                let p = self.resolve_producer(&f, h);
                tr!(self, "{said}");
                self.faults_log.push((self.now, said));
                self.producer_crash(p);
            }
            Action::RestartProducer => {
                let p = self.resolve_producer(&f, h);
                tr!(self, "{said}{}", if f.resend_unanswered { " (resend = unanswered)" } else { "" });
                self.faults_log.push((self.now, said));
                self.producer_restart(p, f.resend_unanswered);
            }
            Action::CloseProducer => {
                let p = self.resolve_producer(&f, h);
                tr!(self, "{said}: close() flushes, then closes");
                self.faults_log.push((self.now, said));
                self.producer_close(p);
            }
            Action::CrashConsumer | Action::RestartConsumer | Action::CloseConsumer => {
                let c = match (&f.target, h.and_then(|h| h.consumer)) {
                    (Some(n), _) => self.consumers.iter().position(|c| &c.cfg.name == n),
                    (None, Some(c)) => Some(c),
                    (None, None) => (!self.consumers.is_empty()).then_some(0),
                };
                let Some(c) = c else {
                    tr!(self, "{said}: there is no consumer to act on");
                    return;
                };
                tr!(self, "{said} on consumer {}", self.consumers[c].cfg.name);
                self.faults_log.push((self.now, said));
                match f.action {
                    Action::CrashConsumer => self.consumer_crash(c),
                    Action::RestartConsumer => self.consumer_restart(c),
                    _ => self.consumer_close(c),
                }
            }
        }
    }

    fn broker_die(&mut self, b: usize, how: Death) {
        // Requests read or not, the process's connections are gone.
        self.reading.retain(|k, _| k.0 != b);
        if !self.brokers[b].alive {
            return;
        }
        let bn = Self::bname(b);
        // Its clients lose the connection: a transaction coordinator's waiting writes fail.
        self.txn_writes_lost(b, None, "NetworkException");
        let br = &mut self.brokers[b];
        br.alive = false;
        br.silent = matches!(how, Death::PowerLoss(_));
        br.leading.clear();
        br.following.clear();
        let now = self.now;
        match how {
            Death::Crash => {}
            Death::Wipe => {
                let lost: Vec<RecId> = br.logs.values().flat_map(|l| l.entries.iter().filter_map(|e| e.rec)).collect();
                for l in br.logs.values_mut() {
                    *l = Log::default();
                }
                for r in lost {
                    why!(self, r, "{bn}'s disk was wiped: its copy is gone");
                }
            }
            Death::PowerLoss(window) => {
                // R-E8: Kafka does not fsync each write; what the page cache held is lost.
                let parts: Vec<usize> = br.logs.keys().collect();
                for p in parts {
                    let first = self.brokers[b].logs[&p].entries.iter().position(|e| e.append_time + window > now);
                    if let Some(first) = first {
                        self.truncate(b, p, first as u64, "power loss: unflushed writes are gone");
                    }
                }
            }
        }
        // A crashed process's connections are reset: peers notice at once. After a power loss
        // they only notice by timing out.
        if !matches!(how, Death::PowerLoss(_)) {
            for p in 0..self.producers.len() {
                if self.producers[p].alive && self.producers[p].reqs.values().any(|r| r.broker == b) {
                    let inst = self.producers[p].inst;
                    self.send(Node::Broker(b), Node::Producer(p, inst), Body::Disconnect { broker: b });
                }
            }
            for o in 0..self.brokers.len() {
                if o != b && self.brokers[o].alive && self.brokers[o].following.values().any(|f| f.leader == b) {
                    self.send(Node::Broker(b), Node::Broker(o), Body::Disconnect { broker: b });
                }
            }
            // A transaction coordinator waiting for markers it sent here sends them again.
            if self.txn_ids.values().any(|m| m.pending_markers.values().any(|&(_, to)| to == Some(b))) {
                self.send(Node::Broker(b), Node::TxnCoord, Body::Disconnect { broker: b });
            }
        }
    }

    fn broker_restart(&mut self, b: usize) {
        if self.brokers[b].alive {
            return;
        }
        let br = &mut self.brokers[b];
        br.alive = true;
        br.silent = false;
        br.inc += 1;
        br.caught_up = false;
        br.slow_until = 0;
        for m in br.meta.iter_mut() {
            *m = None;
        }
        for l in br.logs.values_mut() {
            // The checkpointed HW can be behind; it is never past the log end.
            l.hw = l.hw.min(l.leo());
        }
        let inc = br.inc;
        self.push(self.now, Ev::Heartbeat { b, inc });
        let lag = self.sc.cluster.replica_lag_time_max_ms * MS / 2;
        self.push(self.now + lag, Ev::IsrCheck { b, inc });
        let expiry_check = self.sc.cluster.producer_id_expiration_check_interval_ms * MS;
        self.push(self.now + expiry_check, Ev::ProducerExpiry { b, inc });
    }

    // ------------------------------------------------------------------------------------
    // Invariants and the end of a run

    /// Checked after every event; a violation stops the run (it is a bug in the engine).
    fn check_invariants(&self) -> Result<(), SimError> {
        let fail = |m: String| Err(SimError::Invariant { at: self.now, message: m });
        if let Some(v) = &self.violation {
            return fail(v.clone());
        }
        // A broker's own invariants can only break in an event that wrote to it, those
        // between a follower and its leader in one that wrote to either, and the controller's
        // in one that wrote to it or to a broker (see `tracked`).
        let changed = |b: usize| self.brokers.changed(b);
        let brokers_changed = self.brokers.any_changed();
        for (b, br) in self.brokers.iter().enumerate().filter(|_| brokers_changed) {
            // LSO <= HW needs no check: `Log::lso` is a minimum that starts from the HW.
            for (p, log) in br.logs.iter().filter(|_| changed(b)) {
                if log.hw > log.leo() {
                    return fail(format!(
                        "{} {}: high watermark {} is above the log end offset {}",
                        Self::bname(b),
                        self.parts[p].name,
                        log.hw,
                        log.leo()
                    ));
                }
                for w in log.epochs.windows(2) {
                    if w[0].0 >= w[1].0 || w[0].1 > w[1].1 {
                        return fail(format!(
                            "{} {}: leader-epoch cache is not increasing: {:?}",
                            Self::bname(b),
                            self.parts[p].name,
                            log.epochs
                        ));
                    }
                }
            }
            for (p, fs) in br.following.iter() {
                if !fs.caught_into_epoch || !br.alive {
                    continue;
                }
                let l = fs.leader;
                if !changed(b) && !changed(l) {
                    continue;
                }
                let lb = &self.brokers[l];
                let Some(ls) = lb.leading.get(&p) else {
                    continue;
                };
                if !lb.alive || ls.epoch != fs.epoch {
                    continue;
                }
                // A follower that has fetched in the leader's epoch holds a prefix of its log.
                let (fl, ll) = (&br.logs[&p], &lb.logs[&p]);
                if fl.leo() > ll.leo() {
                    return fail(format!(
                        "{} {}: follower log end {} is past its leader {}'s {} in epoch {}",
                        Self::bname(b),
                        self.parts[p].name,
                        fl.leo(),
                        Self::bname(l),
                        ll.leo(),
                        ls.epoch
                    ));
                }
                if fl.leo() > 0 {
                    let i = fl.leo() as usize - 1;
                    let (a, c) = (&fl.entries[i], &ll.entries[i]);
                    if a.rec != c.rec || a.batch_id != c.batch_id || a.control != c.control {
                        return fail(format!(
                            "{} {}: follower offset {i} differs from leader {} after catching up in epoch {}",
                            Self::bname(b),
                            self.parts[p].name,
                            Self::bname(l),
                            ls.epoch
                        ));
                    }
                }
            }
        }
        // At most one leader per epoch, and the controller's view is consistent.
        for (p, st) in self.ctrl.parts.iter().enumerate().filter(|_| brokers_changed || self.ctrl.changed()) {
            if st.isr.is_empty() {
                return fail(format!("{}: the controller emptied the ISR (only ELR may do that)", self.parts[p].name));
            }
            if let Some(l) = st.leader {
                if !st.isr.contains(&l) {
                    return fail(format!("{}: leader {} is not in the ISR", self.parts[p].name, Self::bname(l)));
                }
            }
            // One pass over the brokers, without allocating (this runs after every event);
            // the leaders are named only on failure.
            let mut leaders = 0;
            for (b, br) in self.brokers.iter().enumerate() {
                let Some(ls) = br.leading.get(&p) else { continue };
                if ls.epoch > st.epoch {
                    return fail(format!(
                        "{}: {} leads epoch {} which the controller never created",
                        self.parts[p].name,
                        Self::bname(b),
                        ls.epoch
                    ));
                }
                leaders += usize::from(br.alive && ls.epoch == st.epoch);
            }
            if leaders > 1 {
                let leads = |br: &Broker| br.alive && br.leading.get(&p).map(|l| l.epoch) == Some(st.epoch);
                let leaders: Vec<usize> = (0..self.brokers.len()).filter(|&b| leads(&self.brokers[b])).collect();
                return fail(format!("{}: two leaders in epoch {}: {}", self.parts[p].name, st.epoch, names(&leaders)));
            }
        }
        for pr in &self.producers {
            for (b, &n) in pr.inflight_to.iter().enumerate() {
                if n > pr.cfg.max_in_flight {
                    return fail(format!(
                        "{} has {n} requests in flight to {} (max.in.flight.requests.per.connection={})",
                        pr.cfg.name,
                        Self::bname(b),
                        pr.cfg.max_in_flight
                    ));
                }
            }
        }
        Ok(())
    }

    /// Nothing left to happen: the application is done, no fault is still scheduled, every
    /// client is idle and the cluster has settled (every live replica caught up).
    fn quiescent(&self) -> bool {
        // Work still scheduled or on the wire (a counter, so the cheapest check, and the one
        // that answers for nearly every event of a busy run). Every check below only reads,
        // so their order does not change the answer.
        if self.work > 0 {
            return false;
        }
        if self.tables.iter().any(|t| !t.done) {
            // A table waiting on a crashed producer that nothing will restart is done too.
            let waiting_forever = self.tables.iter().enumerate().all(|(i, t)| {
                t.done || (self.producers[self.tables[i].producer].crashed && !self.restart_pending(self.tables[i].producer))
            });
            if !waiting_forever {
                return false;
            }
        }
        for pr in &self.producers {
            if pr.alive && (!pr.batches.is_empty() || !pr.reqs.is_empty() || matches!(pr.init, Init::Sent(..))) {
                return false;
            }
        }
        // A controller that is down or cut off changes nothing until a fault brings it back,
        // and a scheduled fault keeps the run going by itself.
        let ctrl_reachable = self.ctrl.alive && !self.ctrl.isolated;
        for (b, br) in self.brokers.iter().enumerate() {
            if !ctrl_reachable {
                break;
            }
            if br.alive == self.ctrl.fenced[b] && !br.isolated {
                return false;
            }
            if !br.alive && !self.ctrl.fenced[b] {
                return false;
            }
        }
        for (p, st) in self.ctrl.parts.iter().enumerate() {
            let Some(l) = st.leader else { continue };
            let lb = &self.brokers[l];
            if !ctrl_reachable && (!lb.alive || lb.isolated) {
                // Nobody will replace this leader before the controller is back.
                continue;
            }
            let Some(ls) = lb.leading.get(&p).filter(|ls| ls.epoch == st.epoch) else {
                // The leader has not heard of its leadership yet: metadata on its way (busy,
                // below), or never, while the controller is away.
                if ctrl_reachable {
                    return false;
                }
                continue;
            };
            if (ls.pending_isr.is_some() && ctrl_reachable) || !ls.delayed.is_empty() {
                return false;
            }
            let log = &lb.logs[&p];
            // Without a controller the ISR cannot shrink, so an ISR member that is down or cut
            // off holds the high watermark back for good.
            let held = !ctrl_reachable && ls.isr.iter().any(|&r| r != l && (!self.brokers[r].alive || self.brokers[r].isolated));
            if log.hw != log.leo() && !held && !(self.sc.version.hw_frozen_under_min_isr() && ls.isr.len() < self.eff_min_isr(p)) {
                return false;
            }
            for &r in &self.parts[p].replicas {
                let rb = &self.brokers[r];
                if r == l || !rb.alive || rb.isolated {
                    continue;
                }
                let rl = &rb.logs[&p];
                if rl.leo() != log.leo() || rl.hw != log.hw || !st.isr.contains(&r) {
                    return false;
                }
            }
        }
        if !self.consumers_settled() {
            return false;
        }
        // An unfinished transaction: the client is ending it, markers are still to be written,
        // or the coordinator will time an open one out.
        if self.producers.iter().any(|p| p.alive && p.txn.as_ref().map(|t| t.ending.is_some()).unwrap_or(false)) {
            return false;
        }
        if self.txn_ids.values().any(|m| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::Ongoing)) {
            return false;
        }
        // Last, as it is the costly check: messages on the wire that still matter; idle
        // heartbeats, empty fetches and stale timers do not count.
        let busy = self.queue.events().any(|e| match e {
            Ev::Fault { .. } | Ev::AppStep { .. } | Ev::SlowEnd { .. } | Ev::WakeFetches { .. } | Ev::ConsumerStart { .. } => true,
            Ev::ClientRetry(m) => self.client_alive(m.from),
            // Only the crashed instance's own session expiry will change the group.
            Ev::ConsumerSessionExpire { c, inst } => self.consumers[*c].inst == *inst,

            Ev::Deliver(m) => match &m.body {
                Body::Heartbeat { .. } | Body::Fetch { .. } | Body::CFetch { .. } | Body::CFetchResp { .. } => false,
                Body::FetchResp { res: Ok(d), .. } => !d.entries.is_empty() || d.diverging.is_some(),
                _ => true,
            },
            _ => false,
        });
        !busy
    }

    fn restart_pending(&self, p: usize) -> bool {
        self.queue.events().any(|e| matches!(e, Ev::Fault { idx } if self.sc.faults[*idx].action == Action::RestartProducer && self.resolve_producer(&self.sc.faults[*idx], None) == p))
            || self.sc.faults.iter().enumerate().any(|(i, f)| f.action == Action::RestartProducer && matches!(f.when, When::On(_)) && !self.fault_fired[i])
    }

    /// The final log of a partition (format: "Fates"): the leader's, or with no leader the
    /// first ISR member's in assignment order; up to that log's high watermark.
    pub fn final_log(&self, p: usize) -> (usize, &Log) {
        let st = &self.ctrl.parts[p];
        let b = st
            .leader
            .unwrap_or_else(|| self.parts[p].replicas.iter().copied().find(|r| st.isr.contains(r)).unwrap_or(self.parts[p].replicas[0]));
        (b, &self.brokers[b].logs[&p])
    }
}

#[derive(Clone, Copy, Debug)]
enum Death {
    Crash,
    Wipe,
    PowerLoss(Time),
}

pub fn names(bs: &[usize]) -> String {
    bs.iter().map(|&b| Sim::bname(b).to_string()).collect::<Vec<_>>().join(", ")
}

fn acks_name(a: i8) -> &'static str {
    match a {
        -1 => "all",
        0 => "0",
        _ => "1",
    }
}

fn rec_list(recs: &crate::cowvec::CowVec<RecInfo>, ids: &[RecId]) -> String {
    let mut s = String::new();
    let n = ids.len();
    for (i, &r) in ids.iter().enumerate() {
        if i == 4 && n > 6 {
            let _ = write!(s, " … {}", recs[ids[n - 1] as usize].id);
            let _ = write!(s, " ({n} records)");
            return s;
        }
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&recs[r as usize].id);
    }
    if s.is_empty() {
        s.push_str("(no records)");
    }
    s
}

/// How a control batch (a transaction marker) is written in logs and reports.
pub fn marker_name(c: Control) -> &'static str {
    match c {
        Control::Commit => "COMMIT",
        Control::Abort => "ABORT",
    }
}

/// A read-only picture of the simulation for a UI: what each node is doing right now.
/// How many record ids a view of a batch or of the accumulator lists.
pub const VIEW_IDS: usize = 8;

/// A produce request in flight, for a UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlightView {
    /// The first `VIEW_IDS` records of its batch, and how many the batch holds.
    pub recs: Vec<String>,
    pub total: usize,
    pub broker: String,
    /// The batch's attempts so far (0 for its first send).
    pub attempts: u32,
    pub seq: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerView {
    pub name: String,
    pub alive: bool,
    pub crashed: bool,
    pub closed: bool,
    pub pid: i64,
    pub epoch: i16,
    pub idempotent: bool,
    pub acks: i8,
    /// One entry per request in flight.
    pub in_flight: Vec<InFlightView>,
    /// The first `VIEW_IDS` records in the accumulator, not yet in a request, and how many
    /// there are in all: a producer held up by a dead leader can buffer thousands, and a
    /// line of thousands of ids reads as nothing and costs a long run's scrubbing its budget.
    pub buffered: Vec<String>,
    pub buffered_total: usize,
    pub transactional: bool,
    /// The producer of a read-process-write consumer: it lives and dies with the consumer.
    pub of_consumer: bool,
}

impl Sim {
    pub fn producer_views(&self) -> Vec<ProducerView> {
        self.producers
            .iter()
            .map(|pr| {
                let mut in_flight = Vec::new();
                for r in pr.reqs.values() {
                    if let Some(b) = r.batch.and_then(|id| pr.batches.get(&id)) {
                        in_flight.push(InFlightView {
                            recs: b.recs.iter().take(VIEW_IDS).map(|&x| self.recs[x as usize].id.to_string()).collect(),
                            total: b.recs.len(),
                            broker: Sim::bname(r.broker).to_string(),
                            attempts: b.attempts,
                            seq: b.seq,
                        });
                    }
                }
                let waiting = || pr.batches.values().filter(|b| !b.in_flight).flat_map(|b| b.recs.iter());
                let buffered = waiting().take(VIEW_IDS).map(|&x| self.recs[x as usize].id.to_string()).collect();
                let buffered_total = pr.batches.values().filter(|b| !b.in_flight).map(|b| b.recs.len()).sum();
                ProducerView {
                    name: pr.cfg.name.clone(),
                    alive: pr.alive,
                    crashed: pr.crashed,
                    closed: pr.closed,
                    pid: pr.pid,
                    epoch: pr.epoch,
                    idempotent: pr.cfg.idempotence,
                    acks: pr.cfg.acks,
                    in_flight,
                    buffered,
                    buffered_total,
                    transactional: pr.cfg.transactional_id.is_some(),
                    of_consumer: pr.app_of.is_some(),
                }
            })
            .collect()
    }

    /// Whether broker `b` is slow (not fetching) right now.
    pub fn is_slow(&self, b: usize) -> bool {
        self.brokers[b].slow_until > self.now
    }
}

// After the `tr!` macro, which the consumer code uses.
mod consumer;
pub use consumer::{CFetchErr, Consumer, Group};

/// A message on the wire, for a UI to draw (and to offer dropping when that is exact).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireView {
    pub from: String,
    pub to: String,
    pub what: String,
    pub sent_us: Time,
    pub arrives_us: Time,
    /// The first record a wire fault can name, with the hook that reaches exactly this message:
    /// ("request", record) for a first produce request, ("ack", record) for the first answer.
    pub droppable: Option<(&'static str, String)>,
}

impl Sim {
    fn node_label(&self, n: Node) -> String {
        match n {
            Node::Broker(b) => Sim::bname(b).to_string(),
            Node::Controller => "controller".into(),
            Node::Group => "group coordinator".into(),
            Node::TxnCoord => "transaction coordinator".into(),
            Node::Producer(p, _) => self.producers[p].cfg.name.clone(),
            Node::Consumer(c, _) => self.consumers[c].cfg.name.clone(),
        }
    }

    /// Messages in flight that carry records or change the cluster (heartbeats and empty
    /// fetches are left out), in arrival order.
    pub fn wire(&self) -> Vec<WireView> {
        let mut out = Vec::new();
        for ((at, _), ev) in self.queue.in_order() {
            let Ev::Deliver(m) = ev else { continue };
            // A replica fetch can carry thousands of records: the first few name it.
            let ids = |recs: &[RecId]| {
                let shown = recs.iter().take(VIEW_IDS).map(|&r| &*self.recs[r as usize].id).collect::<Vec<_>>().join(" ");
                match recs.len().checked_sub(VIEW_IDS) {
                    Some(more) if more > 0 => format!("{shown} +{more} more"),
                    _ => shown,
                }
            };
            let (what, droppable) = match &m.body {
                Body::Produce { batch, .. } => {
                    let recs: Vec<RecId> = batch.iter().filter_map(|e| e.rec).collect();
                    let attempt = batch.first().map(|e| e.batch_id % 1000).unwrap_or(0);
                    let first = recs.first().map(|&r| self.recs[r as usize].id.to_string());
                    let drop = if attempt == 0 && !m.drop_reply { first.map(|f| ("request", f)) } else { None };
                    (
                        format!(
                            "produce request {}{}",
                            ids(&recs),
                            if attempt > 0 { format!(" (retry {attempt})") } else { String::new() }
                        ),
                        drop,
                    )
                }
                Body::ProduceResp { req, res, .. } => {
                    let (recs, attempt) = match m.to {
                        Node::Producer(p, _) => self.producers[p]
                            .reqs
                            .get(req)
                            .and_then(|r| r.batch)
                            .and_then(|b| self.producers[p].batches.get(&b))
                            .map(|b| (b.recs.clone(), b.attempts))
                            .unwrap_or_default(),
                        _ => (Vec::new(), 0),
                    };
                    let first = recs.first().map(|&r| self.recs[r as usize].id.to_string());
                    let drop = if attempt == 0 && res.is_ok() { first.map(|f| ("ack", f)) } else { None };
                    let verdict = match res {
                        Ok(o) => format!("written at {o}"),
                        Err(e) => e.code().to_string(),
                    };
                    (format!("produce response {} ({verdict})", ids(&recs)), drop)
                }
                Body::FetchResp { res: Ok(d), .. } if !d.entries.is_empty() => {
                    let recs: Vec<RecId> = d.entries.iter().filter_map(|e| e.rec).collect();
                    (format!("replica fetch response {}", ids(&recs)), None)
                }
                Body::FetchResp { res: Ok(d), .. } if d.diverging.is_some() => ("fetch response: diverging epoch, truncate".into(), None),
                Body::CFetchResp { res: Ok((recs, _)), .. } if !recs.is_empty() => {
                    let r: Vec<RecId> = recs.iter().map(|x| x.1).collect();
                    (format!("consumer fetch response {}", ids(&r)), None)
                }
                Body::Meta { parts, .. } if !parts.is_empty() => ("metadata update".into(), None),
                Body::AlterIsr { isr, .. } => (format!("AlterPartition: ISR [{}]", names(isr)), None),
                Body::AlterIsrResp { .. } => ("AlterPartition response".into(), None),
                Body::OffsetCommit { offsets, .. } => (
                    format!(
                        "offset commit {}",
                        offsets.iter().map(|(p, o)| format!("{}={o}", self.parts[*p].name)).collect::<Vec<_>>().join(", ")
                    ),
                    None,
                ),
                Body::Disconnect { .. } => ("connection reset".into(), None),
                Body::Marker { txn, commit, part, .. } => {
                    (format!("{} marker of {txn} for {}", if *commit { "COMMIT" } else { "ABORT" }, self.parts[*part].name), None)
                }
                Body::MarkerResp { txn, ok, .. } => {
                    (format!("marker response for {txn} ({})", if *ok { "written" } else { "refused" }), None)
                }
                Body::GroupMarker { txn, commit, .. } => {
                    (format!("{} marker of {txn} for the group's offsets", if *commit { "COMMIT" } else { "ABORT" }), None)
                }
                Body::EndTxn { txn, commit, .. } => (format!("EndTxn({}) of {txn}", if *commit { "COMMIT" } else { "ABORT" }), None),
                Body::EndTxnResp { res, .. } => (format!("EndTxn response ({})", res.map(|_| "ok").unwrap_or_else(|e| e)), None),
                Body::AddPartitions { txn, part, .. } => (format!("AddPartitionsToTxn {} to {txn}", self.parts[*part].name), None),
                Body::AddPartitionsResp { res, .. } => {
                    (format!("AddPartitionsToTxn response ({})", res.map(|_| "ok").unwrap_or_else(|e| e)), None)
                }
                Body::AddOffsets { txn, .. } => (format!("AddOffsetsToTxn to {txn}"), None),
                Body::TxnOffsetCommit { offsets, .. } => (
                    format!(
                        "TxnOffsetCommit {}",
                        offsets.iter().map(|(p, o)| format!("{}={o}", self.parts[*p].name)).collect::<Vec<_>>().join(", ")
                    ),
                    None,
                ),
                Body::TxnInitPid { txn, .. } => (format!("InitProducerId for {txn}"), None),
                _ => continue,
            };
            out.push(WireView {
                from: self.node_label(m.from),
                to: self.node_label(m.to),
                what,
                sent_us: m.sent,
                arrives_us: at,
                droppable,
            });
        }
        out
    }
}

mod txn;
pub use txn::{java_hash, OffsetsStep, TxnLogPart, TxnMeta, TxnRun, TxnState};

#[cfg(test)]
mod queue_tests {
    use super::*;

    /// Timeouts kept in lanes pop in exactly the order they would from one heap holding every
    /// event: the lanes change where events wait, never when they happen.
    #[test]
    fn lanes_pop_in_heap_order() {
        use rand_core::{RngCore, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut q = EventQueue::default();
        let mut all: Vec<((Time, u64), String)> = Vec::new();
        let (mut now, mut seq) = (0u64, 0u64);
        for _ in 0..5000 {
            now += rng.next_u64() % 3;
            seq += 1;
            let r = rng.next_u64();
            let (b, part) = ((r % 3) as usize, ((r >> 8) % 2) as usize);
            let len = [30_000, 500][((r >> 16) % 2) as usize];
            let key = (now + len, seq);
            if r % 5 == 0 {
                q.push(key, Ev::Heartbeat { b, inc: 0 });
                all.push((key, format!("{:?}", Ev::Heartbeat { b, inc: 0 })));
            } else {
                let kind = [TimerKind::Fetch, TimerKind::FetchWait, TimerKind::Produce][((r >> 24) % 3) as usize];
                q.push_timer(key, (kind, b, part, len), 1, seq);
                let lane = Lane { kind, b, part, in_heap: false, rest: Default::default() };
                all.push((key, format!("{:?}", lane.event(1, seq))));
            }
            // Pop now and then, as a run does between pushes.
            while r % 7 == 0 && q.peek_key().is_some_and(|k| k.0 <= now) {
                let key = q.peek_key().expect("peeked");
                let ev = format!("{:?}", q.pop().expect("peeked"));
                let first = (0..all.len()).min_by_key(|&i| all[i].0).expect("not empty");
                assert_eq!((key, ev), all.swap_remove(first));
            }
        }
        all.sort_by_key(|e| e.0);
        let mut popped = Vec::new();
        while let Some(k) = q.peek_key() {
            let ev = q.pop().expect("peeked");
            popped.push((k, format!("{ev:?}")));
        }
        assert_eq!(popped, all);
    }
}

#[cfg(test)]
mod node_key_tests {
    use super::Node;

    /// `Node::key` orders nodes exactly as `Ord` does, so a map keyed by it iterates (and
    /// finds) in the same order as one keyed by the nodes.
    #[test]
    fn node_keys_order_as_nodes_do() {
        let nodes = [
            Node::Broker(0),
            Node::Broker(2),
            Node::Controller,
            Node::Producer(0, 0),
            Node::Producer(0, 3),
            Node::Producer(1, 0),
            Node::Consumer(0, 1),
            Node::Consumer(2, 0),
            Node::Group,
            Node::TxnCoord,
        ];
        for a in nodes {
            for b in nodes {
                assert_eq!(a.cmp(&b), a.key().cmp(&b.key()), "{a:?} vs {b:?}");
            }
        }
    }
}

#[cfg(test)]
mod invariant_tests {
    use super::*;

    /// A run of the benchmark workload stopped after `events` events.
    fn sim_after(events: u64) -> Sim {
        let sc = Scenario::parse(&crate::bench::workload(2000)).expect("the workload parses");
        let mut sim = Sim::new(sc, false).expect("the workload starts");
        for _ in 0..events {
            assert!(sim.step().expect("no violation in a healthy run"));
        }
        sim
    }

    fn violation(sim: &mut Sim) -> String {
        // The next event need not touch the corrupted broker: the write itself marked it.
        match sim.step() {
            Err(SimError::Invariant { message, .. }) => message,
            other => panic!("expected an invariant violation, got {other:?}"),
        }
    }

    #[test]
    fn a_high_watermark_above_the_log_end_is_caught() {
        let mut sim = sim_after(3000);
        sim.brokers[2].logs.get_mut(&1).expect("b3 holds a replica of orders-1").hw = 1_000_000;
        assert!(violation(&mut sim).starts_with("b3 orders/1: high watermark 1000000 is above the log end offset"));
    }

    #[test]
    fn a_follower_ahead_of_its_leader_is_caught() {
        let mut sim = sim_after(3000);
        // b2 follows b1 for orders-0 and has caught up in its epoch: give it an extra entry.
        let fs = sim.brokers[1].following.get(&0).expect("b2 follows orders-0");
        assert!(fs.caught_into_epoch && fs.leader == 0);
        let ahead = sim.brokers[0].logs[&0].leo() - sim.brokers[1].logs[&0].leo() + 1;
        let log = sim.brokers[1].logs.get_mut(&0).expect("b2 holds orders-0");
        let last = log.entries.last().expect("records were written").clone();
        for _ in 0..ahead {
            log.entries.push(last.clone());
        }
        assert!(violation(&mut sim).starts_with("b2 orders/0: follower log end"));
    }

    #[test]
    fn a_controller_that_empties_an_isr_is_caught() {
        let mut sim = sim_after(3000);
        sim.ctrl.parts[2].isr.clear();
        assert_eq!(violation(&mut sim), "orders/2: the controller emptied the ISR (only ELR may do that)");
    }

    #[test]
    fn a_second_leader_in_one_epoch_is_caught() {
        let mut sim = sim_after(3000);
        let ls = sim.brokers[0].leading.get(&0).expect("b1 leads orders-0").clone();
        sim.brokers[1].following.remove(&0);
        sim.brokers[1].leading.insert(0, ls);
        assert_eq!(violation(&mut sim), "orders/0: two leaders in epoch 0: b1, b2");
    }
}
