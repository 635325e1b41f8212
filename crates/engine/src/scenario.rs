//! The scenario file (format 1, `shared/scenario-format.md`): parsing, defaults per Kafka
//! version, and the client-side config validation Kafka itself performs.
//!
//! Every key is read explicitly, so a key the lab does not know is an error that names it,
//! never a silent default. Messages quote Kafka's own wording where Kafka has one.

use crate::toml_value::Value;
use std::fmt;

/// A Kafka version profile. Behaviour that changed between releases is keyed on this,
/// following the profile table in `kafka-rules.md` §0.3. A version string names a release as
/// Kafka numbers them ("3.1" is 3.1.0, "3.1.2" a patch release); each maps to the profile whose
/// behaviour that release has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// 2.7–2.8: `acks=1` and idempotence off by default.
    V2_8,
    /// 3.0.0 and 3.1.0: `acks=all` by default, but idempotence only when `enable.idempotence`
    /// or `transactional.id` is set (KAFKA-13598, R-A3).
    V3_0,
    /// 3.0.1, 3.1.1 and 3.2–3.5: idempotence on by default and effective; no transaction
    /// verification yet.
    V3_2,
    /// 3.6: transaction verification (KIP-890 part 1) on by default; HW advances under min ISR.
    V3_6,
    /// 3.7–3.9: HW frozen under min ISR, effective min ISR (KAFKA-15583).
    V3_9,
    /// 4.0: `linger.ms=5`, max.in.flight>5 with implicit idempotence is an error (KAFKA-17927).
    V4_0,
}

/// The version strings the lab accepts, as the error for an unknown one lists them.
pub const VERSIONS_ACCEPTED: &str =
    "2.7, 2.8, 3.0 to 3.9 and 4.0, with or without a patch number (3.0.0 and 3.1.0 are the releases with KAFKA-13598)";

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = s.split('.');
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next()?.parse().ok()?;
        let patch: u32 = match parts.next() {
            None => 0,
            Some(p) => p.parse().ok()?,
        };
        if parts.next().is_some() || patch > 20 {
            return None;
        }
        Some(match (major, minor) {
            (2, 7) | (2, 8) => Version::V2_8,
            // KAFKA-13598 was fixed in 3.0.1 and 3.1.1.
            (3, 0) | (3, 1) if patch == 0 => Version::V3_0,
            (3, 0..=5) => Version::V3_2,
            (3, 6) => Version::V3_6,
            (3, 7..=9) => Version::V3_9,
            (4, 0) => Version::V4_0,
            _ => return None,
        })
    }
    /// The releases this profile stands for, as notes and the settings menu show them.
    pub fn name(self) -> &'static str {
        match self {
            Version::V2_8 => "2.8",
            Version::V3_0 => "3.0.0/3.1.0",
            Version::V3_2 => "3.0.1–3.5",
            Version::V3_6 => "3.6",
            Version::V3_9 => "3.9",
            Version::V4_0 => "4.0",
        }
    }
    /// KAFKA-15583 (3.7): the leader does not advance the high watermark while the ISR is
    /// smaller than the effective min ISR, and min ISR is capped by the replica count.
    pub fn hw_frozen_under_min_isr(self) -> bool {
        self >= Version::V3_9
    }
    /// `acks=all` became the default in 3.0 (KIP-679); it was 1 before.
    pub fn acks_all_default(self) -> bool {
        self >= Version::V3_0
    }
}

/// An error in a scenario file: which key, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// Where: a TOML key path such as `producer.acks` or `fault[2].do`, or `file` for syntax.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for ScenarioError {}

fn err<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T, ScenarioError> {
    Err(ScenarioError { key: key.into(), message: message.into() })
}

fn config_exception<T>(key: impl Into<String>, msg: impl fmt::Display) -> Result<T, ScenarioError> {
    err(key, format!("org.apache.kafka.common.config.ConfigException: {msg}"))
}

#[derive(Clone, Debug)]
pub struct ClusterCfg {
    pub brokers: usize,
    pub unclean_leader_election: bool,
    pub replica_lag_time_max_ms: u64,
    pub replica_fetch_wait_max_ms: u64,
    pub replica_fetch_backoff_ms: u64,
    pub replica_socket_timeout_ms: u64,
    pub broker_session_timeout_ms: u64,
    pub broker_heartbeat_interval_ms: u64,
    pub min_insync_replicas: u32,
    pub default_replication_factor: u32,
    pub auto_leader_rebalance: bool,
    pub leader_imbalance_check_interval_ms: u64,
    pub max_message_bytes: u64,
    pub transaction_max_timeout_ms: u64,
    pub transaction_partition_verification: bool,
    /// The `transaction.version` feature: 2 (KIP-890 part 2, an epoch bump per transaction)
    /// is on by default from 4.0; before 4.0 only 1 exists.
    pub transaction_version: u8,
    pub transaction_state_log_min_isr: u32,
    pub transaction_state_log_replication_factor: u32,
    pub transaction_state_log_num_partitions: u32,
    pub transactional_id_expiration_ms: u64,

    pub transaction_abort_cleanup_interval_ms: u64,
    /// R-C6: a producer id with no open transaction is forgotten after this much idleness.
    pub producer_id_expiration_ms: u64,
    /// How often a broker looks for expired producer ids (`PeriodicProducerExpirationCheck`).
    pub producer_id_expiration_check_interval_ms: u64,
    /// Lab key: one-way network latency between any two nodes, before jitter.
    pub latency_ms: u64,
    /// Lab key: seeded jitter added to every message, 0..=jitter.
    pub jitter_us: u64,
}

#[derive(Clone, Debug)]
pub struct TopicCfg {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u32,
    pub min_insync_replicas: u32,
    /// Replica order (broker indices, 0-based) used by every partition, if given.
    pub assignment: Option<Vec<usize>>,
    pub unclean_leader_election: bool,
    pub max_message_bytes: u64,
}

/// A producer's effective configuration, after Kafka's defaults and validation.
#[derive(Clone, Debug)]
pub struct ProducerCfg {
    pub name: String,
    /// -1 (all), 0 or 1.
    pub acks: i8,
    pub idempotence: bool,
    pub retries: u64,
    pub max_in_flight: u32,
    pub delivery_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub retry_backoff_ms: u64,
    pub retry_backoff_max_ms: u64,
    pub linger_ms: u64,
    pub batch_size: u64,
    pub max_request_size: u64,
    pub max_block_ms: u64,
    pub transaction_timeout_ms: u64,
    pub transactional_id: Option<String>,
    /// The settings as written in the file (Kafka names), for "copy as code".
    pub raw: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct ConsumerCfg {
    pub name: String,
    pub group_id: String,
    pub read_committed: bool,
    pub enable_auto_commit: bool,
    pub auto_commit_interval_ms: u64,
    pub auto_offset_reset: String,
    pub max_poll_records: u32,
    pub session_timeout_ms: u64,
    pub max_poll_interval_ms: u64,
    pub commit: String,
    pub sink: String,
    pub topics: Option<Vec<String>>,
    pub output_topic: Option<String>,
    pub transactional_id: Option<String>,
    /// Read-process-write: the application's own transactional producer (the consumer table's
    /// `producer = { ... }`, with its `transactional.id`).
    pub producer: Option<ProducerCfg>,
    pub processing_ms: u64,
    pub at_ms: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct RecordSpec {
    pub id: String,
    pub topic: usize,
    pub partition: Option<u32>,
    pub key: String,
    pub size_bytes: u32,
}

#[derive(Clone, Debug)]
pub struct SendTable {
    pub producer: usize,
    pub records: Vec<RecordSpec>,
    pub every_ms: u64,
    pub at_ms: Option<u64>,
    /// "commit" or "abort" for a transactional table.
    pub transaction: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hook {
    Send,
    Request,
    LeaderAppend,
    Replicate,
    Ack,
    Response,
    CommitTransaction,
    PrepareCommit,
    Marker,
    Poll,
    Process,
    OffsetCommit,
}

impl Hook {
    pub const ALL: [(&'static str, Hook); 12] = [
        ("send", Hook::Send),
        ("request", Hook::Request),
        ("leader-append", Hook::LeaderAppend),
        ("replicate", Hook::Replicate),
        ("ack", Hook::Ack),
        ("response", Hook::Response),
        ("commit-transaction", Hook::CommitTransaction),
        ("prepare-commit", Hook::PrepareCommit),
        ("marker", Hook::Marker),
        ("poll", Hook::Poll),
        ("process", Hook::Process),
        ("offset-commit", Hook::OffsetCommit),
    ];
    pub fn name(self) -> &'static str {
        Hook::ALL.iter().find(|(_, h)| *h == self).map(|(n, _)| *n).unwrap_or("?")
    }
    /// Hooks whose event sends a message a wire action can act on.
    fn sends_message(self) -> bool {
        matches!(self, Hook::Request | Hook::Ack | Hook::CommitTransaction | Hook::PrepareCommit | Hook::OffsetCommit)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    KillBroker,
    RestartBroker,
    WipeBroker,
    PowerLoss,
    IsolateBroker,
    Heal,
    SlowFollower,
    DropRequest,
    DropResponse,
    DelayRequest,
    DelayResponse,
    CrashProducer,
    RestartProducer,
    CloseProducer,
    StartZombie,
    CrashConsumer,
    RestartConsumer,
    CloseConsumer,
}

impl Action {
    pub const ALL: [(&'static str, Action); 18] = [
        ("kill-broker", Action::KillBroker),
        ("restart-broker", Action::RestartBroker),
        ("wipe-broker", Action::WipeBroker),
        ("power-loss", Action::PowerLoss),
        ("isolate-broker", Action::IsolateBroker),
        ("heal", Action::Heal),
        ("slow-follower", Action::SlowFollower),
        ("drop-request", Action::DropRequest),
        ("drop-response", Action::DropResponse),
        ("delay-request", Action::DelayRequest),
        ("delay-response", Action::DelayResponse),
        ("crash-producer", Action::CrashProducer),
        ("restart-producer", Action::RestartProducer),
        ("close-producer", Action::CloseProducer),
        ("start-zombie", Action::StartZombie),
        ("crash-consumer", Action::CrashConsumer),
        ("restart-consumer", Action::RestartConsumer),
        ("close-consumer", Action::CloseConsumer),
    ];
    pub fn name(self) -> &'static str {
        Action::ALL.iter().find(|(_, a)| *a == self).map(|(n, _)| *n).unwrap_or("?")
    }
    pub fn is_wire(self) -> bool {
        matches!(self, Action::DropRequest | Action::DropResponse | Action::DelayRequest | Action::DelayResponse)
    }
    fn on_broker(self) -> bool {
        matches!(
            self,
            Action::KillBroker
                | Action::RestartBroker
                | Action::WipeBroker
                | Action::PowerLoss
                | Action::IsolateBroker
                | Action::Heal
                | Action::SlowFollower
        )
    }
}

#[derive(Clone, Debug)]
pub enum When {
    At(u64),
    On(Hook),
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub when: When,
    pub action: Action,
    /// As written: `b2`, `leader`, `follower`, `coordinator`, `controller`, or a client name.
    pub target: Option<String>,
    pub record: Option<String>,
    pub topic: Option<usize>,
    pub partition: Option<u32>,
    pub producer: Option<usize>,
    pub consumer: Option<String>,
    pub follower: Option<usize>,
    pub every: bool,
    pub duration_ms: u64,
    pub unflushed_ms: u64,
    pub from_clients: bool,
    pub resend_unanswered: bool,
}

#[derive(Clone, Debug)]
pub enum Expect {
    Fate { record: String, consumer: Option<String>, fate: String },
    Partition { topic: usize, partition: u32, field: PartitionExpect },
    Error { error: String },
}

#[derive(Clone, Debug)]
pub enum PartitionExpect {
    Leader(Option<String>),
    Isr(Vec<String>),
    HighWatermark(u64),
    LastStableOffset(u64),
    Log(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub title: String,
    pub seed: u64,
    pub version: Version,
    /// The `kafka` value as the file wrote it ("4.0" when left out): the report echoes it.
    pub kafka: String,
    pub until_ms: Option<u64>,
    pub cluster: ClusterCfg,
    pub topics: Vec<TopicCfg>,
    pub producers: Vec<ProducerCfg>,
    pub consumers: Vec<ConsumerCfg>,
    pub sends: Vec<SendTable>,
    pub faults: Vec<Fault>,
    pub expects: Vec<Expect>,
    /// What Kafka would have done silently (idempotence disabled by a conflict, a raised
    /// delivery.timeout.ms): the report repeats these so a learner sees them.
    pub notes: Vec<String>,
}

pub const FATES: [&str; 8] = ["aborted-read", "aborted", "pending", "duplicated", "rejected", "lost", "reordered", "committed"];

// ---------------------------------------------------------------------------------------------
// Small typed readers over a TOML table that remember which keys were read, so that an
// unknown key is reported instead of ignored.

struct Table<'a> {
    path: String,
    t: &'a crate::toml_value::Table,
    seen: Vec<&'static str>,
}

impl<'a> Table<'a> {
    fn new(path: impl Into<String>, v: &'a Value) -> Result<Table<'a>, ScenarioError> {
        let path = path.into();
        match v.as_table() {
            Some(t) => Ok(Table { path, t, seen: Vec::new() }),
            None => err(path, format!("expected a table, found {}", v.type_str())),
        }
    }
    fn key(&self, k: &str) -> String {
        let quoted = if k.contains('.') { format!("\"{k}\"") } else { k.to_string() };
        if self.path.is_empty() {
            quoted
        } else {
            format!("{}.{}", self.path, quoted)
        }
    }
    fn get(&mut self, k: &'static str) -> Option<&'a Value> {
        self.seen.push(k);
        self.t.get(k)
    }
    fn has(&self, k: &str) -> bool {
        self.t.contains_key(k)
    }
    fn str(&mut self, k: &'static str) -> Result<Option<String>, ScenarioError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => err(self.key(k), format!("expected a string, found {}", v.type_str())),
        }
    }
    /// Kafka configs take numbers as numbers or numeric strings, as in a .properties file.
    fn u64(&mut self, k: &'static str) -> Result<Option<u64>, ScenarioError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Integer(i)) if *i >= 0 => Ok(Some(*i as u64)),
            Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => Ok(Some(s.trim().parse().unwrap_or(0))),
            Some(v) => err(self.key(k), format!("expected a non-negative whole number, found {}", show(v))),
        }
    }
    fn bool(&mut self, k: &'static str) -> Result<Option<bool>, ScenarioError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => {
                err(self.key(k), format!("Invalid value {} for configuration {k}: Expected value to be either true or false", show(v)))
            }
        }
    }
    fn str_list(&mut self, k: &'static str) -> Result<Option<Vec<String>>, ScenarioError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => err(self.key(k), format!("expected a list of strings, found {}", show(other))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => err(self.key(k), format!("expected a list of strings, found {}", show(v))),
        }
    }
    /// Every key must have been read; the first unknown one is the error.
    fn finish(self) -> Result<(), ScenarioError> {
        for k in self.t.keys() {
            if !self.seen.iter().any(|s| s == k) {
                let known: crate::vecmap::VecSet<&str> = self.seen.iter().copied().collect();
                let known: Vec<&str> = known.into_iter().collect();
                return err(self.key(k), format!("unknown key; the keys known here are: {}", known.join(", ")));
            }
        }
        Ok(())
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn positive(key: String, v: Option<u64>, default: u64) -> Result<u64, ScenarioError> {
    match v {
        Some(0) => err(key, "must be at least 1"),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

/// Parses a broker name `b1`..`bN` into a 0-based index.
pub fn parse_broker(name: &str, brokers: usize) -> Option<usize> {
    let n: usize = name.strip_prefix('b')?.parse().ok()?;
    (1..=brokers).contains(&n).then_some(n - 1)
}

/// Kafka's default partitioner for keyed records: murmur2 of the key bytes, made positive,
/// modulo the partition count (`Utils.murmur2`, `BuiltInPartitioner.partitionForKey`).
pub fn partition_for_key(key: &str, partitions: u32) -> u32 {
    (murmur2(key.as_bytes()) & 0x7fff_ffff) as u32 % partitions
}

fn murmur2(data: &[u8]) -> i32 {
    let seed: u32 = 0x9747_b28c;
    let m: u32 = 0x5bd1_e995;
    let r = 24;
    let len = data.len();
    let mut h: u32 = seed ^ (len as u32);
    let chunks = len / 4;
    for i in 0..chunks {
        let b = &data[i * 4..i * 4 + 4];
        let mut k = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        k = k.wrapping_mul(m);
        k ^= k >> r;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    let tail = &data[chunks * 4..];
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(m);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    h as i32
}

impl Scenario {
    /// Parses and validates a scenario file.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let root: Value = match crate::toml_value::parse(text) {
            Ok(t) => Value::Table(t),
            Err(e) => {
                let msg = e.replace('\n', " ").split_whitespace().collect::<Vec<_>>().join(" ");
                return err("file", format!("not valid TOML: {msg}"));
            }
        };
        let mut top = Table::new("", &root)?;
        let format = top.u64("format")?;
        if let Some(f) = format {
            if f != 1 {
                return err("format", format!("this lab reads format 1, the file says {f}"));
            }
        }
        let title = top.str("title")?.unwrap_or_else(|| "untitled scenario".into());
        let seed = top.u64("seed")?.unwrap_or(0);
        let kafka = top.str("kafka")?.unwrap_or_else(|| "4.0".into());
        let Some(version) = Version::parse(&kafka) else {
            return err("kafka", format!("unknown Kafka version \"{kafka}\"; the lab models {VERSIONS_ACCEPTED}"));
        };
        let until_ms = top.u64("until_ms")?;
        let _description = top.str("description")?;
        let mut notes = Vec::new();

        let cluster = parse_cluster(top.get("cluster"), version)?;

        let topics = match top.get("topic") {
            None => vec![TopicCfg {
                name: "orders".into(),
                partitions: 1,
                replication_factor: cluster.brokers.min(3) as u32,
                min_insync_replicas: cluster.min_insync_replicas,
                assignment: None,
                unclean_leader_election: cluster.unclean_leader_election,
                max_message_bytes: cluster.max_message_bytes,
            }],
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for (i, v) in a.iter().enumerate() {
                    out.push(parse_topic(&format!("topic[{i}]"), v, &cluster, version, &mut notes)?);
                }
                if out.is_empty() {
                    return err("topic", "at least one [[topic]] is needed when the key is present");
                }
                for (i, t) in out.iter().enumerate() {
                    if out[..i].iter().any(|o| o.name == t.name) {
                        return err(format!("topic[{i}].name"), format!("topic \"{}\" is declared twice", t.name));
                    }
                }
                out
            }
            Some(v) => return err("topic", format!("expected [[topic]] tables, found {}", v.type_str())),
        };

        let producer_values: Vec<(String, &Value)> = match top.get("producer") {
            None => vec![],
            Some(v @ Value::Table(_)) => vec![("producer".into(), v)],
            Some(Value::Array(a)) => a.iter().enumerate().map(|(i, v)| (format!("producer[{i}]"), v)).collect(),
            Some(v) => return err("producer", format!("expected a table, found {}", v.type_str())),
        };
        let several = producer_values.len() > 1;
        let mut producers = Vec::new();
        for (path, v) in &producer_values {
            let p = parse_producer(path, v, version, several, &cluster, &mut notes)?;
            if producers.iter().any(|q: &ProducerCfg| q.name == p.name) {
                return err(format!("{path}.name"), format!("two producers are named \"{}\"", p.name));
            }
            producers.push(p);
        }

        let consumer_values: Vec<(String, &Value)> = match top.get("consumer") {
            None => vec![],
            Some(v @ Value::Table(_)) => vec![("consumer".into(), v)],
            Some(Value::Array(a)) => a.iter().enumerate().map(|(i, v)| (format!("consumer[{i}]"), v)).collect(),
            Some(v) => return err("consumer", format!("expected a table, found {}", v.type_str())),
        };
        let several_c = consumer_values.len() > 1;
        let mut consumers = Vec::new();
        for (path, v) in &consumer_values {
            consumers.push(parse_consumer(path, v, version, several_c, &topics, &cluster, &mut notes)?);
        }

        let mut sends = Vec::new();
        let mut next_auto_id = 1u64;
        match top.get("send") {
            None => {}
            Some(Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    sends.push(parse_send(i, v, &topics, &producers, &mut next_auto_id)?);
                }
            }
            Some(v) => return err("send", format!("expected [[send]] tables, found {}", v.type_str())),
        }
        if !sends.is_empty() && producers.is_empty() {
            // A send needs a producer: the format lets [producer] be omitted and take defaults.
            producers.push(default_producer(version, &cluster, &mut notes)?);
        }
        let mut all_ids: Vec<(&str, usize)> = Vec::new();
        for (i, s) in sends.iter().enumerate() {
            for r in &s.records {
                all_ids.push((&r.id, i));
            }
        }
        all_ids.sort_unstable();
        for w in all_ids.windows(2) {
            if w[0].0 == w[1].0 {
                return err(
                    format!("send[{}].records", w[1].1),
                    format!("record id \"{}\" is used twice; ids name one record of the application", w[0].0),
                );
            }
        }
        for (i, s) in sends.iter().enumerate() {
            if s.transaction.is_some() && producers[s.producer].transactional_id.is_none() {
                return err(
                    format!("send[{i}].transaction"),
                    format!(
                        "java.lang.IllegalStateException: Transactional method invoked on a non-transactional producer (producer \"{}\" has no transactional.id)",
                        producers[s.producer].name
                    ),
                );
            }
        }

        let mut faults = Vec::new();
        match top.get("fault") {
            None => {}
            Some(Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    faults.push(parse_fault(i, v, &cluster, &topics, &producers, &consumers, &sends)?);
                }
            }
            Some(v) => return err("fault", format!("expected [[fault]] tables, found {}", v.type_str())),
        }

        let mut expects = Vec::new();
        match top.get("expect") {
            None => {}
            Some(Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    expects.push(parse_expect(i, v, &topics, &sends)?);
                }
            }
            Some(v) => return err("expect", format!("expected [[expect]] tables, found {}", v.type_str())),
        }
        top.finish()?;

        Ok(Scenario { title, seed, version, kafka, until_ms, cluster, topics, producers, consumers, sends, faults, expects, notes })
    }

    pub fn topic_index(&self, name: &str) -> Option<usize> {
        self.topics.iter().position(|t| t.name == name)
    }
}

fn parse_cluster(v: Option<&Value>, version: Version) -> Result<ClusterCfg, ScenarioError> {
    let empty = Value::Table(Default::default());
    let mut t = Table::new("cluster", v.unwrap_or(&empty))?;
    let brokers = t.u64("brokers")?.unwrap_or(3) as usize;
    if !(1..=9).contains(&brokers) {
        return err("cluster.brokers", format!("the lab simulates 1 to 9 brokers, not {brokers}"));
    }
    let lag_default = if version >= Version::V2_8 { 30000 } else { 10000 };
    let transaction_version = match t.u64("transaction.version")? {
        None => {
            if version >= Version::V4_0 {
                2
            } else {
                1
            }
        }
        Some(v @ (0 | 1)) => v as u8,
        Some(2) if version >= Version::V4_0 => 2,
        Some(2) => {
            return err(
                t.key("transaction.version"),
                format!("transaction.version 2 (KIP-890 part 2) needs Kafka 4.0; this scenario runs {}", version.name()),
            )
        }
        Some(o) => return err(t.key("transaction.version"), format!("{o} is not a transaction.version: 0, 1 or 2")),
    };
    let c = ClusterCfg {
        transaction_version,
        brokers,
        unclean_leader_election: t.bool("unclean.leader.election.enable")?.unwrap_or(false),
        replica_lag_time_max_ms: positive(t.key("replica.lag.time.max.ms"), t.u64("replica.lag.time.max.ms")?, lag_default)?,
        replica_fetch_wait_max_ms: t.u64("replica.fetch.wait.max.ms")?.unwrap_or(500),
        replica_fetch_backoff_ms: t.u64("replica.fetch.backoff.ms")?.unwrap_or(1000),
        replica_socket_timeout_ms: positive(t.key("replica.socket.timeout.ms"), t.u64("replica.socket.timeout.ms")?, 30000)?,
        broker_session_timeout_ms: positive(t.key("broker.session.timeout.ms"), t.u64("broker.session.timeout.ms")?, 9000)?,
        broker_heartbeat_interval_ms: positive(t.key("broker.heartbeat.interval.ms"), t.u64("broker.heartbeat.interval.ms")?, 2000)?,
        min_insync_replicas: positive(t.key("min.insync.replicas"), t.u64("min.insync.replicas")?, 1)? as u32,
        default_replication_factor: positive(t.key("default.replication.factor"), t.u64("default.replication.factor")?, 1)? as u32,
        auto_leader_rebalance: t.bool("auto.leader.rebalance.enable")?.unwrap_or(true),
        leader_imbalance_check_interval_ms: t.u64("leader.imbalance.check.interval.seconds")?.unwrap_or(300) * 1000,
        max_message_bytes: t.u64("message.max.bytes")?.unwrap_or(1_048_588),
        transaction_max_timeout_ms: t.u64("transaction.max.timeout.ms")?.unwrap_or(900_000),
        transaction_partition_verification: t.bool("transaction.partition.verification.enable")?.unwrap_or(version >= Version::V3_6),
        transaction_state_log_min_isr: t.u64("transaction.state.log.min.isr")?.unwrap_or(2) as u32,
        transaction_state_log_replication_factor: t.u64("transaction.state.log.replication.factor")?.unwrap_or(3) as u32,
        transactional_id_expiration_ms: positive(
            t.key("transactional.id.expiration.ms"),
            t.u64("transactional.id.expiration.ms")?,
            604_800_000,
        )?,
        transaction_state_log_num_partitions: positive(
            t.key("transaction.state.log.num.partitions"),
            t.u64("transaction.state.log.num.partitions")?,
            50,
        )? as u32,
        transaction_abort_cleanup_interval_ms: t.u64("transaction.abort.timed.out.transaction.cleanup.interval.ms")?.unwrap_or(10000),
        producer_id_expiration_ms: positive(t.key("producer.id.expiration.ms"), t.u64("producer.id.expiration.ms")?, 86_400_000)?,
        producer_id_expiration_check_interval_ms: positive(
            t.key("producer.id.expiration.check.interval.ms"),
            t.u64("producer.id.expiration.check.interval.ms")?,
            600_000,
        )?,
        latency_ms: t.u64("latency_ms")?.unwrap_or(1),
        jitter_us: t.u64("jitter_us")?.unwrap_or(500),
    };
    // Keys Kafka has that the lab accepts but does not model further.
    for k in ["offsets.topic.replication.factor", "flush.messages"] {
        let _ = t.u64(leak(k))?;
    }
    t.finish()?;
    Ok(c)
}

/// Config names are `&'static str` in the reader; the few accepted-but-unmodelled keys are
/// fixed literals, so this only widens their lifetime.
fn leak(k: &'static str) -> &'static str {
    k
}

fn parse_topic(path: &str, v: &Value, cluster: &ClusterCfg, version: Version, notes: &mut Vec<String>) -> Result<TopicCfg, ScenarioError> {
    let mut t = Table::new(path, v)?;
    let name = t.str("name")?.unwrap_or_else(|| "orders".into());
    if name.is_empty() || name.contains('/') {
        return err(t.key("name"), format!("\"{name}\" is not a valid topic name"));
    }
    let partitions = positive(t.key("partitions"), t.u64("partitions")?, 1)? as u32;
    if partitions > 64 {
        return err(t.key("partitions"), "the lab draws at most 64 partitions per topic");
    }
    let rf = positive(t.key("replication.factor"), t.u64("replication.factor")?, cluster.default_replication_factor as u64)? as u32;
    if rf as usize > cluster.brokers {
        return err(
            t.key("replication.factor"),
            format!(
                "org.apache.kafka.common.errors.InvalidReplicationFactorException: Replication factor: {rf} larger than available brokers: {}.",
                cluster.brokers
            ),
        );
    }
    let min_isr = positive(t.key("min.insync.replicas"), t.u64("min.insync.replicas")?, cluster.min_insync_replicas as u64)? as u32;
    let assignment = match t.str_list("assignment")? {
        None => None,
        Some(names) => {
            let mut out = Vec::new();
            for n in &names {
                match parse_broker(n, cluster.brokers) {
                    Some(b) if !out.contains(&b) => out.push(b),
                    Some(_) => return err(t.key("assignment"), format!("broker {n} appears twice")),
                    None => return err(t.key("assignment"), format!("\"{n}\" is not a broker of this cluster (b1..b{})", cluster.brokers)),
                }
            }
            if out.len() != rf as usize {
                return err(t.key("assignment"), format!("lists {} brokers but replication.factor is {rf}", out.len()));
            }
            Some(out)
        }
    };
    let rf_set = t.has("replication.factor");
    let unclean = t.bool("unclean.leader.election.enable")?.unwrap_or(cluster.unclean_leader_election);
    let max_message_bytes = t.u64("max.message.bytes")?.unwrap_or(cluster.max_message_bytes);
    t.finish()?;
    // Two settings that surprise: say what Kafka does with them rather than let a lesson
    // look broken.
    if !rf_set && cluster.brokers > 1 && rf < 3 {
        notes.push(format!(
            "topic {name}: replication.factor is not set, so the broker's default.replication.factor ({rf}) applies: {}",
            if rf == 1 {
                "one copy of each record, whatever the cluster's size".to_string()
            } else {
                format!("{rf} copies of each record")
            }
        ));
    }
    if min_isr > rf {
        notes.push(if version.hw_frozen_under_min_isr() {
            format!("topic {name}: min.insync.replicas {min_isr} is above its {rf} replica(s); from 3.7 Kafka caps it at the replica count (KAFKA-15583), so acks=all writes need {rf}")
        } else {
            format!("topic {name}: min.insync.replicas {min_isr} is above its {rf} replica(s), so every acks=all write fails with NotEnoughReplicasException (3.7 caps it at the replica count)")
        });
    }
    Ok(TopicCfg {
        name,
        partitions,
        replication_factor: rf,
        min_insync_replicas: min_isr,
        assignment,
        unclean_leader_election: unclean,
        max_message_bytes,
    })
}

fn default_producer(version: Version, cluster: &ClusterCfg, notes: &mut Vec<String>) -> Result<ProducerCfg, ScenarioError> {
    parse_producer("producer", &Value::Table(Default::default()), version, false, cluster, notes)
}

const PRODUCER_KEYS: [&str; 16] = [
    "acks",
    "enable.idempotence",
    "retries",
    "max.in.flight.requests.per.connection",
    "delivery.timeout.ms",
    "request.timeout.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "linger.ms",
    "batch.size",
    "max.request.size",
    "max.block.ms",
    "transaction.timeout.ms",
    "transactional.id",
    "client.id",
    "compression.type",
];

fn parse_producer(
    path: &str,
    v: &Value,
    version: Version,
    several: bool,
    cluster: &ClusterCfg,
    notes: &mut Vec<String>,
) -> Result<ProducerCfg, ScenarioError> {
    let mut t = Table::new(path, v)?;
    let name = match t.str("name")? {
        Some(n) => n,
        None if several => return err(t.key("name"), "several [[producer]] tables need a name each"),
        None => "producer".into(),
    };
    let raw: Vec<(String, String)> = PRODUCER_KEYS
        .iter()
        .filter_map(|k| {
            t.t.get(*k).map(|v| {
                (
                    k.to_string(),
                    match v {
                        Value::String(s) => s.clone(),
                        o => o.to_string(),
                    },
                )
            })
        })
        .collect();

    // acks: the client validator accepts only all, -1, 0, 1 (R-A1).
    let acks_set = t.has("acks");
    let acks: i8 = match t.get("acks") {
        None => {
            if version.acks_all_default() {
                -1
            } else {
                1
            }
        }
        Some(v) => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Integer(i) => i.to_string(),
                o => show(o),
            };
            match s.as_str() {
                "all" | "-1" => -1,
                "0" => 0,
                "1" => 1,
                _ => {
                    return config_exception(
                        t.key("acks"),
                        format!("Invalid value {s} for configuration acks: String must be one of: all, -1, 0, 1"),
                    )
                }
            }
        }
    };
    let idem_explicit = t.bool("enable.idempotence")?;
    let retries_set = t.has("retries");
    let retries = t.u64("retries")?.unwrap_or(i32::MAX as u64);
    let mif = t.u64("max.in.flight.requests.per.connection")?.unwrap_or(5);
    if mif == 0 {
        return config_exception(
            t.key("max.in.flight.requests.per.connection"),
            "Invalid value 0 for configuration max.in.flight.requests.per.connection: Value must be at least 1",
        );
    }
    let transactional_id = t.str("transactional.id")?.filter(|s| !s.is_empty());
    let request_timeout_ms = t.u64("request.timeout.ms")?.unwrap_or(30000);
    let linger_ms = t.u64("linger.ms")?.unwrap_or(if version >= Version::V4_0 { 5 } else { 0 });
    let delivery_set = t.u64("delivery.timeout.ms")?;
    let retry_backoff_ms = t.u64("retry.backoff.ms")?.unwrap_or(100);
    let retry_backoff_max_ms = t.u64("retry.backoff.max.ms")?.unwrap_or(1000);
    let batch_size = t.u64("batch.size")?.unwrap_or(16384);
    let max_request_size = t.u64("max.request.size")?.unwrap_or(1_048_576);
    let max_block_ms = t.u64("max.block.ms")?.unwrap_or(60000);
    let transaction_timeout_ms = t.u64("transaction.timeout.ms")?.unwrap_or(60000);
    let _client_id = t.str("client.id")?;
    let _compression = t.str("compression.type")?;
    t.finish()?;
    let k = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.\"{name}\"")
        }
    };

    // Idempotence, per version (R-A2, R-A3, R-A4).
    let idempotence = match version {
        Version::V2_8 | Version::V3_0 => {
            // 2.x, and 3.0.0/3.1.0 through KAFKA-13598 (R-A3): idempotence is off unless enabled
            // explicitly or implied by a transactional.id; once on, unset acks/retries are
            // overridden and conflicting ones rejected.
            if idem_explicit == Some(false) && transactional_id.is_some() {
                return config_exception(k("transactional.id"), "Cannot set a transactional.id without also enabling idempotence.");
            }
            let on = idem_explicit.unwrap_or(false) || transactional_id.is_some();
            if on {
                if retries_set && retries == 0 {
                    return config_exception(k("retries"), "Must set retries to non-zero when using the idempotent producer.");
                }
                if mif > 5 {
                    return config_exception(
                        k("max.in.flight.requests.per.connection"),
                        "Must set max.in.flight.requests.per.connection to at most 5 to use the idempotent producer.",
                    );
                }
                if acks_set && acks != -1 {
                    return config_exception(
                        k("acks"),
                        "Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence.",
                    );
                }
            }
            if !on && idem_explicit.is_none() && version == Version::V3_0 {
                notes.push(format!(
                    "{name}: enable.idempotence was not set, and Kafka 3.0.0 and 3.1.0 did not apply its default of true (KAFKA-13598, fixed in 3.0.1, 3.1.1 and 3.2.0), so idempotence is off although acks=all is the default (retries can duplicate or reorder records)"
                ));
            }
            on
        }
        _ => {
            let explicit = idem_explicit == Some(true);
            let mif_msg = if version >= Version::V4_0 {
                format!("To use the idempotent producer, max.in.flight.requests.per.connection must be set to at most 5. Current value is {mif}.")
            } else {
                "Must set max.in.flight.requests.per.connection to at most 5 when using the idempotent producer.".to_string()
            };
            if explicit {
                if mif > 5 {
                    return config_exception(k("max.in.flight.requests.per.connection"), mif_msg);
                }
                if retries == 0 {
                    return config_exception(k("retries"), "Must set retries to non-zero when using the idempotent producer.");
                }
                if acks != -1 {
                    return config_exception(
                        k("acks"),
                        "Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence.",
                    );
                }
                true
            } else if idem_explicit == Some(false) {
                false
            } else if mif > 5 && version >= Version::V4_0 {
                // KAFKA-17927: from 4.0 this conflict is an error even when idempotence is implicit.
                return config_exception(k("max.in.flight.requests.per.connection"), mif_msg);
            } else if acks != -1 || retries == 0 || mif > 5 {
                let why = if acks != -1 {
                    format!("acks={acks}")
                } else if retries == 0 {
                    "retries=0".into()
                } else {
                    format!("max.in.flight.requests.per.connection={mif}")
                };
                notes.push(format!(
                    "{name}: enable.idempotence was not set and {why} conflicts with it, so Kafka {} silently disabled idempotence (retries can now duplicate or reorder records)",
                    version.name()
                ));
                false
            } else {
                true
            }
        }
    };
    if transactional_id.is_some() && !idempotence {
        return config_exception(k("transactional.id"), "Cannot set a transactional.id without also enabling idempotence.");
    }

    // delivery.timeout.ms >= linger.ms + request.timeout.ms (R-A5).
    let floor = linger_ms + request_timeout_ms;
    let delivery_timeout_ms = match delivery_set {
        Some(d) if d < floor => {
            return config_exception(
                k("delivery.timeout.ms"),
                "delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms",
            )
        }
        Some(d) => d,
        None if 120000 < floor => {
            notes.push(format!("{name}: delivery.timeout.ms was not set and its default 120000 is below linger.ms + request.timeout.ms, so Kafka raised it to {floor}"));
            floor
        }
        None => 120000,
    };
    if transaction_timeout_ms == 0 || transaction_timeout_ms > cluster.transaction_max_timeout_ms {
        // Kafka accepts the config and fails InitProducerId (R-A6); the lab reports it up front
        // only for transactional producers, where the call happens.
        if transactional_id.is_some() {
            return err(
                k("transaction.timeout.ms"),
                format!(
                    "org.apache.kafka.common.errors.InvalidTxnTimeoutException: The transaction timeout is larger than the maximum value allowed by the broker (as configured by transaction.max.timeout.ms = {}).",
                    cluster.transaction_max_timeout_ms
                ),
            );
        }
    }
    Ok(ProducerCfg {
        name,
        acks,
        idempotence,
        retries,
        max_in_flight: mif as u32,
        delivery_timeout_ms,
        request_timeout_ms,
        retry_backoff_ms,
        retry_backoff_max_ms,
        linger_ms,
        batch_size,
        max_request_size,
        max_block_ms,
        transaction_timeout_ms,
        transactional_id,
        raw,
    })
}

fn parse_consumer(
    path: &str,
    v: &Value,
    version: Version,
    several: bool,
    topics: &[TopicCfg],
    cluster: &ClusterCfg,
    notes: &mut Vec<String>,
) -> Result<ConsumerCfg, ScenarioError> {
    let mut t = Table::new(path, v)?;
    let name = match t.str("name")? {
        Some(n) => n,
        None if several => return err(t.key("name"), "several [[consumer]] tables need a name each"),
        None => "consumer".into(),
    };
    let group_id = t.str("group.id")?.unwrap_or_else(|| "group".into());
    let read_committed = match t.str("isolation.level")?.as_deref() {
        None | Some("read_uncommitted") => false,
        Some("read_committed") => true,
        Some(o) => {
            return config_exception(
                t.key("isolation.level"),
                format!("Invalid value {o} for configuration isolation.level: String must be one of: read_committed, read_uncommitted"),
            )
        }
    };
    let enable_auto_commit = t.bool("enable.auto.commit")?.unwrap_or(true);
    let auto_commit_interval_ms = t.u64("auto.commit.interval.ms")?.unwrap_or(5000);
    let auto_offset_reset = t.str("auto.offset.reset")?.unwrap_or_else(|| "latest".into());
    if !["earliest", "latest", "none"].contains(&auto_offset_reset.as_str()) {
        return config_exception(
            t.key("auto.offset.reset"),
            format!("Invalid value {auto_offset_reset} for configuration auto.offset.reset: String must be one of: latest, earliest, none"),
        );
    }
    let max_poll_records = positive(t.key("max.poll.records"), t.u64("max.poll.records")?, 500)? as u32;
    let session_timeout_ms = t.u64("session.timeout.ms")?.unwrap_or(if version >= Version::V3_0 { 45000 } else { 10000 });
    let _hb = t.u64("heartbeat.interval.ms")?;
    let max_poll_interval_ms = t.u64("max.poll.interval.ms")?.unwrap_or(300000);
    let commit = t.str("commit")?.unwrap_or_else(|| if enable_auto_commit { "auto".into() } else { "after-processing".into() });
    if !["before-processing", "after-processing", "auto", "transaction", "in-sink"].contains(&commit.as_str()) {
        return err(t.key("commit"), format!("\"{commit}\" is not one of before-processing, after-processing, auto, transaction, in-sink"));
    }
    if commit == "auto" && !enable_auto_commit {
        return err(t.key("commit"), "commit = \"auto\" needs \"enable.auto.commit\" = true");
    }
    let sink = t.str("sink")?.unwrap_or_else(|| "none".into());
    if !["none", "insert", "upsert"].contains(&sink.as_str()) {
        return err(t.key("sink"), format!("\"{sink}\" is not one of none, insert, upsert"));
    }
    let ctopics = t.str_list("topics")?;
    if let Some(ts) = &ctopics {
        for n in ts {
            if !topics.iter().any(|x| &x.name == n) {
                return err(t.key("topics"), format!("topic \"{n}\" is not declared"));
            }
        }
    }
    let output_topic = t.str("output_topic")?;
    let transactional_id = t.str("transactional.id")?;
    if commit == "transaction" && (output_topic.is_none() || transactional_id.is_none()) {
        return err(t.key("commit"), "commit = \"transaction\" needs output_topic and \"transactional.id\" in the consumer table");
    }
    if commit != "transaction" && output_topic.is_some() {
        return err(t.key("output_topic"), "output_topic is written by read-process-write: it needs commit = \"transaction\"");
    }
    if let Some(o) = &output_topic {
        if !topics.iter().any(|x| &x.name == o) {
            return err(t.key("output_topic"), format!("topic \"{o}\" is not declared: add a [[topic]] table for it"));
        }
        if ctopics.as_ref().map(|ts| ts.contains(o)).unwrap_or(false) {
            return err(t.key("output_topic"), format!("topic \"{o}\" is both read and written by this consumer"));
        }
    }
    let processing_ms = t.u64("processing_ms")?.unwrap_or(1);
    let at_ms = t.u64("at_ms")?;
    let producer_path = t.key("producer");
    let producer_value = t.get("producer").cloned();
    let producer = match (&transactional_id, commit.as_str()) {
        (Some(id), "transaction") => {
            // The application's producer: the sub-table's configs, with this table's
            // transactional.id, validated like any producer (a transactional.id with acks=1 is
            // Kafka's ConfigException).
            let mut pt = match producer_value {
                None => crate::toml_value::Table::new(),
                Some(Value::Table(pt)) => pt,
                Some(o) => return err(producer_path, format!("expected a table of producer configs, found {}", o.type_str())),
            };
            if pt.contains_key("transactional.id") || pt.contains_key("name") {
                return err(
                    producer_path,
                    "the producer of a read-process-write consumer takes its name and \"transactional.id\" from the consumer table",
                );
            }
            pt.insert("transactional.id".into(), Value::String(id.clone()));
            pt.insert("name".into(), Value::String(format!("{name}.producer")));
            Some(parse_producer(&producer_path, &Value::Table(pt), version, false, cluster, notes)?)
        }
        _ => {
            if producer_value.is_some() {
                return err(producer_path, "a consumer's producer configs apply only to read-process-write (commit = \"transaction\")");
            }
            None
        }
    };
    t.finish()?;
    Ok(ConsumerCfg {
        name,
        group_id,
        read_committed,
        enable_auto_commit,
        auto_commit_interval_ms,
        auto_offset_reset,
        max_poll_records,
        session_timeout_ms,
        max_poll_interval_ms,
        commit,
        sink,
        topics: ctopics,
        output_topic,
        transactional_id,
        producer,
        processing_ms,
        at_ms,
    })
}

fn parse_send(
    i: usize,
    v: &Value,
    topics: &[TopicCfg],
    producers: &[ProducerCfg],
    next_auto_id: &mut u64,
) -> Result<SendTable, ScenarioError> {
    let path = format!("send[{i}]");
    let mut t = Table::new(&path, v)?;
    let topic_name = t.str("topic")?;
    let topic = match &topic_name {
        None => 0,
        Some(n) => match topics.iter().position(|x| &x.name == n) {
            Some(i) => i,
            None => return err(t.key("topic"), format!("topic \"{n}\" is not declared (declare it in a [[topic]] table)")),
        },
    };
    let producer = match t.str("producer")? {
        None if producers.len() > 1 => return err(t.key("producer"), "there are several producers: name the one that sends this table"),
        None => 0,
        Some(n) => match producers.iter().position(|p| p.name == n) {
            Some(i) => i,
            None => return err(t.key("producer"), format!("no producer is named \"{n}\"")),
        },
    };
    let every_ms = t.u64("every_ms")?.unwrap_or(1);
    let at_ms = t.u64("at_ms")?;
    let transaction = t.str("transaction")?;
    if let Some(x) = &transaction {
        if x != "commit" && x != "abort" {
            return err(t.key("transaction"), format!("\"{x}\" is not \"commit\" or \"abort\""));
        }
    }
    let count = t.u64("count")?;
    let records_v = t.get("records");
    let size_default = t.u64("size_bytes")?.unwrap_or(100);
    let mut records = Vec::new();
    match (records_v, count) {
        (Some(_), Some(_)) => return err(t.key("count"), "give either records or count, not both"),
        (None, None) => return err(t.key("records"), "a [[send]] table needs records = [...] or count = N"),
        (None, Some(n)) => {
            if n > 1_000_000 {
                return err(t.key("count"), "at most 1000000 records per table");
            }
            for _ in 0..n {
                let id = format!("r{next_auto_id}");
                *next_auto_id += 1;
                records.push(RecordSpec { key: id.clone(), id, topic, partition: None, size_bytes: size_default as u32 });
            }
        }
        (Some(Value::Array(a)), None) => {
            for (j, rv) in a.iter().enumerate() {
                let rpath = format!("{path}.records[{j}]");
                match rv {
                    Value::String(s) => {
                        records.push(RecordSpec { id: s.clone(), key: s.clone(), topic, partition: None, size_bytes: size_default as u32 })
                    }
                    Value::Table(_) => {
                        let mut rt = Table::new(&rpath, rv)?;
                        let id = match rt.str("id")? {
                            Some(id) => id,
                            None => return err(rt.key("id"), "a record table needs an id"),
                        };
                        let rtopic = match rt.str("topic")? {
                            None => topic,
                            Some(n) => match topics.iter().position(|x| x.name == n) {
                                Some(i) => i,
                                None => return err(rt.key("topic"), format!("topic \"{n}\" is not declared")),
                            },
                        };
                        let partition = rt.u64("partition")?.map(|p| p as u32);
                        if let Some(p) = partition {
                            if p >= topics[rtopic].partitions {
                                return err(
                                    rt.key("partition"),
                                    format!(
                                        "topic \"{}\" has {} partition(s); there is no partition {p}",
                                        topics[rtopic].name, topics[rtopic].partitions
                                    ),
                                );
                            }
                        }
                        let key = rt.str("key")?.unwrap_or_else(|| id.clone());
                        let size_bytes = rt.u64("size_bytes")?.unwrap_or(size_default) as u32;
                        rt.finish()?;
                        records.push(RecordSpec { id, topic: rtopic, partition, key, size_bytes });
                    }
                    other => return err(rpath, format!("expected a record id or a record table, found {}", show(other))),
                }
            }
        }
        (Some(other), None) => return err(t.key("records"), format!("expected a list, found {}", other.type_str())),
    }
    for r in &records {
        if r.id.is_empty() || r.id.contains(char::is_whitespace) {
            return err(t.key("records"), format!("record id \"{}\" must be non-empty and without spaces", r.id));
        }
        if r.id == "COMMIT" || r.id == "ABORT" {
            return err(t.key("records"), format!("\"{}\" is reserved for transaction markers in logs", r.id));
        }
    }
    t.finish()?;
    Ok(SendTable { producer, records, every_ms, at_ms, transaction })
}

fn parse_fault(
    i: usize,
    v: &Value,
    cluster: &ClusterCfg,
    topics: &[TopicCfg],
    producers: &[ProducerCfg],
    consumers: &[ConsumerCfg],
    sends: &[SendTable],
) -> Result<Fault, ScenarioError> {
    let path = format!("fault[{i}]");
    let mut t = Table::new(&path, v)?;
    let on = t.str("on")?;
    let at = t.u64("at_ms")?;
    let when = match (on, at) {
        (Some(_), Some(_)) => return err(t.key("at_ms"), "a fault fires either on a hook or at_ms, not both"),
        (None, None) => return err(path, "a fault needs `on = \"<hook>\"` or `at_ms = N`"),
        (None, Some(ms)) => When::At(ms),
        (Some(h), None) => match Hook::ALL.iter().find(|(n, _)| *n == h) {
            Some((_, hook)) => When::On(*hook),
            None => {
                let names: Vec<&str> = Hook::ALL.iter().map(|(n, _)| *n).collect();
                return err(t.key("on"), format!("unknown hook \"{h}\"; hooks are: {}", names.join(", ")));
            }
        },
    };
    let action = match t.str("do")? {
        None => return err(t.key("do"), "a fault needs `do = \"<action>\"`"),
        Some(a) => match Action::ALL.iter().find(|(n, _)| *n == a) {
            Some((_, act)) => *act,
            None => {
                let names: Vec<&str> = Action::ALL.iter().map(|(n, _)| *n).collect();
                return err(t.key("do"), format!("unknown action \"{a}\"; actions are: {}", names.join(", ")));
            }
        },
    };
    if action.is_wire() {
        match when {
            When::On(h) if h.sends_message() => {}
            When::On(h) => {
                return err(t.key("do"), format!("{} acts on a message, and the `{}` hook sends none; use request, ack, commit-transaction, prepare-commit or offset-commit", action.name(), h.name()))
            }
            When::At(_) => return err(t.key("do"), format!("{} acts on a message, so it needs a hook (`on`), not at_ms", action.name())),
        }
    }
    let target = t.str("target")?;
    if let Some(tg) = &target {
        if action.on_broker() {
            let ok = parse_broker(tg, cluster.brokers).is_some() || tg == "leader" || tg == "follower" || tg == "coordinator";
            if tg == "controller" {
                // The lab's KRaft controller is a quorum of three voters outside the brokers: the
                // active one (or a standby) can crash and restart, or be cut off from the
                // brokers. Raft fsyncs its log before it acts on it, so a power loss is a crash,
                // and no voter follows a partition.
                match action {
                    Action::WipeBroker => {
                        return err(t.key("target"), "wipe-broker cannot target the controller: its metadata log is kept")
                    }
                    Action::SlowFollower => return err(t.key("target"), "the controller follows no partition"),
                    _ => {}
                }
            } else if !ok {
                return err(
                    t.key("target"),
                    format!("\"{tg}\" is not a broker (b1..b{}), leader, follower, coordinator or controller", cluster.brokers),
                );
            }
        } else if matches!(action, Action::CrashProducer | Action::RestartProducer | Action::CloseProducer | Action::StartZombie) {
            if !producers.iter().any(|p| &p.name == tg) {
                return err(t.key("target"), format!("no producer is named \"{tg}\""));
            }
        } else if matches!(action, Action::CrashConsumer | Action::RestartConsumer | Action::CloseConsumer)
            && !consumers.iter().any(|c| &c.name == tg)
        {
            return err(t.key("target"), format!("no consumer is named \"{tg}\""));
        }
    }
    if action.on_broker() && action != Action::Heal && target.is_none() {
        return err(t.key("target"), format!("{} needs a target: a broker (b1..b{}), leader or follower", action.name(), cluster.brokers));
    }
    if action == Action::StartZombie {
        let p = match &target {
            Some(n) => producers.iter().find(|p| &p.name == n),
            None => producers.first(),
        };
        if p.map(|p| p.transactional_id.is_none()).unwrap_or(true) {
            return err(t.key("do"), "start-zombie needs a producer with a \"transactional.id\": zombies are fenced by it");
        }
    }
    let record = t.str("record")?;
    if let Some(r) = &record {
        let known = sends.iter().any(|s| s.records.iter().any(|x| &x.id == r)) || r.contains("->");
        if !known {
            return err(t.key("record"), format!("no [[send]] table has a record \"{r}\""));
        }
    }
    let topic = match t.str("topic")? {
        None => None,
        Some(n) => match topics.iter().position(|x| x.name == n) {
            Some(i) => Some(i),
            None => return err(t.key("topic"), format!("topic \"{n}\" is not declared")),
        },
    };
    let partition = t.u64("partition")?.map(|p| p as u32);
    let producer = match t.str("producer")? {
        None => None,
        Some(n) => match producers.iter().position(|p| p.name == n) {
            Some(i) => Some(i),
            None => return err(t.key("producer"), format!("no producer is named \"{n}\"")),
        },
    };
    let consumer = t.str("consumer")?;
    let follower = match t.str("follower")? {
        None => None,
        Some(n) => match parse_broker(&n, cluster.brokers) {
            Some(b) => Some(b),
            None => return err(t.key("follower"), format!("\"{n}\" is not a broker (b1..b{})", cluster.brokers)),
        },
    };
    let every = t.bool("every")?.unwrap_or(false);
    let duration_ms = t.u64("duration_ms")?.unwrap_or(0);
    if matches!(action, Action::SlowFollower | Action::DelayRequest | Action::DelayResponse) && duration_ms == 0 {
        return err(t.key("duration_ms"), format!("{} needs duration_ms > 0", action.name()));
    }
    let unflushed_ms = t.u64("unflushed_ms")?.unwrap_or(30000);
    let from_clients = t.bool("from_clients")?.unwrap_or(false);
    let resend_unanswered = match t.str("resend")?.as_deref() {
        None | Some("none") => false,
        Some("unanswered") => true,
        Some(o) => return err(t.key("resend"), format!("\"{o}\" is not \"unanswered\" or \"none\"")),
    };
    t.finish()?;
    Ok(Fault {
        when,
        action,
        target,
        record,
        topic,
        partition,
        producer,
        consumer,
        follower,
        every,
        duration_ms,
        unflushed_ms,
        from_clients,
        resend_unanswered,
    })
}

fn parse_expect(i: usize, v: &Value, topics: &[TopicCfg], sends: &[SendTable]) -> Result<Expect, ScenarioError> {
    let path = format!("expect[{i}]");
    let mut t = Table::new(&path, v)?;
    let out = if let Some(record) = t.str("record")? {
        if !sends.iter().any(|s| s.records.iter().any(|x| x.id == record)) && !record.contains("->") {
            return err(t.key("record"), format!("no [[send]] table has a record \"{record}\""));
        }
        let consumer = t.str("consumer")?;
        let fate = match t.str("fate")? {
            Some(f) if FATES.contains(&f.as_str()) => f,
            Some(f) => return err(t.key("fate"), format!("\"{f}\" is not a fate; fates are: {}", FATES.join(", "))),
            None => return err(t.key("fate"), "an expectation on a record needs a fate"),
        };
        Expect::Fate { record, consumer, fate }
    } else if let Some(p) = t.str("partition")? {
        let (tn, pn) = match p.rsplit_once('/') {
            Some((a, b)) => (a.to_string(), b.parse::<u32>().ok()),
            None => (p.clone(), None),
        };
        let topic = topics.iter().position(|x| x.name == tn);
        let (topic, partition) = match (topic, pn) {
            (Some(ti), Some(pi)) if pi < topics[ti].partitions => (ti, pi),
            _ => return err(t.key("partition"), format!("\"{p}\" is not a partition of a declared topic (write \"topic/N\")")),
        };
        let field = if let Some(l) = t.str("leader")? {
            PartitionExpect::Leader(if l == "none" { None } else { Some(l) })
        } else if let Some(isr) = t.str_list("isr")? {
            PartitionExpect::Isr(isr)
        } else if let Some(hw) = t.u64("high_watermark")? {
            PartitionExpect::HighWatermark(hw)
        } else if let Some(lso) = t.u64("last_stable_offset")? {
            PartitionExpect::LastStableOffset(lso)
        } else if let Some(log) = t.str_list("log")? {
            PartitionExpect::Log(log)
        } else {
            return err(path, "a partition expectation needs leader, isr, high_watermark, last_stable_offset or log");
        };
        Expect::Partition { topic, partition, field }
    } else if let Some(e) = t.str("error")? {
        Expect::Error { error: e }
    } else {
        return err(path, "an expectation needs record, partition or error");
    };
    t.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_reference_values() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn version_strings_map_to_the_release_behaviour() {
        let v = |s| Version::parse(s);
        assert_eq!(v("2.8"), Some(Version::V2_8));
        assert_eq!(v("2.7.1"), Some(Version::V2_8));
        // KAFKA-13598: 3.0.0 and 3.1.0 only; "3.1" is 3.1.0.
        assert_eq!(v("3.0"), Some(Version::V3_0));
        assert_eq!(v("3.1.0"), Some(Version::V3_0));
        assert_eq!(v("3.0.1"), Some(Version::V3_2));
        assert_eq!(v("3.1.2"), Some(Version::V3_2));
        assert_eq!(v("3.5"), Some(Version::V3_2));
        assert_eq!(v("3.6.2"), Some(Version::V3_6));
        assert_eq!(v("3.7"), Some(Version::V3_9));
        assert_eq!(v("4.0.1"), Some(Version::V4_0));
        for bad in ["4.1", "2.6", "3", "3.9.x", "3.9.1.1", "", "v3.9", "3.10"] {
            assert_eq!(v(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_topic_without_replication_factor_or_with_min_isr_above_it_is_explained() {
        let text = "format = 1\nkafka = \"3.6\"\n[[topic]]\nname = \"orders\"\n\"min.insync.replicas\" = 2\n";
        let s = Scenario::parse(text).unwrap();
        assert_eq!(s.topics[0].replication_factor, 1);
        assert!(s.notes.iter().any(|n| n.contains("default.replication.factor (1)")), "{:?}", s.notes);
        assert!(s.notes.iter().any(|n| n.contains("every acks=all write fails with NotEnoughReplicasException")), "{:?}", s.notes);
        let s = Scenario::parse(&text.replace("3.6", "3.9").replace("[[topic]]\n", "[[topic]]\n\"replication.factor\" = 3\n")).unwrap();
        assert!(s.notes.is_empty(), "{:?}", s.notes);
    }

    #[test]
    fn defaults_follow_the_release() {
        let p = |k: &str| Scenario::parse(&format!("format = 1\nkafka = \"{k}\"\n[[send]]\ncount = 1\n")).unwrap();
        // 3.0.0: acks=all is the default but idempotence is not applied (KAFKA-13598).
        let s = p("3.0.0");
        assert_eq!((s.producers[0].acks, s.producers[0].idempotence), (-1, false));
        assert!(s.notes.iter().any(|n| n.contains("KAFKA-13598")));
        assert_eq!(s.kafka, "3.0.0");
        let s = p("3.1.1");
        assert_eq!((s.producers[0].acks, s.producers[0].idempotence), (-1, true));
        assert!(s.notes.is_empty());
        // Transaction verification (KIP-890 part 1) is on from 3.6; consumer session 45 s from 3.0.
        assert!(!p("3.5").cluster.transaction_partition_verification);
        assert!(p("3.6").cluster.transaction_partition_verification);
        let s = p("2.8");
        assert_eq!((s.producers[0].acks, s.producers[0].idempotence), (1, false));
    }
}
