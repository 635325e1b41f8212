//! Property tests: random clusters, configs and fault schedules. The engine must never panic
//! or break an invariant, every run must end, and where Kafka promises something it must hold.

use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Case {
    version: &'static str,
    brokers: u32,
    rf: u32,
    min_isr: u32,
    acks: &'static str,
    idempotence: Option<bool>,
    in_flight: u32,
    unclean: bool,
    partitions: u32,
    records: u32,
    every_ms: u32,
    faults: Vec<(u32, &'static str, u32, u32)>,
    seed: u64,
    consumer: Option<(&'static str, &'static str)>,
    /// A transactional producer, and whether its table commits.
    txn: Option<bool>,
}

fn to_toml(c: &Case) -> String {
    let mut s = format!(
        "format = 1\nseed = {}\nkafka = \"{}\"\nuntil_ms = 200000\n[cluster]\nbrokers = {}\n\"unclean.leader.election.enable\" = {}\n[[topic]]\nname = \"orders\"\npartitions = {}\n\"replication.factor\" = {}\n\"min.insync.replicas\" = {}\n[producer]\nacks = \"{}\"\n\"max.in.flight.requests.per.connection\" = {}\n\"request.timeout.ms\" = 5000\n\"delivery.timeout.ms\" = 30000\n",
        c.seed, c.version, c.brokers, c.unclean, c.partitions, c.rf, c.min_isr, c.acks, c.in_flight
    );
    if let Some(i) = c.idempotence {
        s.push_str(&format!("\"enable.idempotence\" = {i}\n"));
    }
    if c.txn.is_some() {
        s.push_str("\"transactional.id\" = \"tx-1\"\n\"transaction.timeout.ms\" = 15000\n");
    }
    let txn_line = match c.txn {
        Some(true) => "transaction = \"commit\"\n",
        Some(false) => "transaction = \"abort\"\n",
        None => "",
    };
    s.push_str(&format!("[[send]]\ncount = {}\nevery_ms = {}\n{txn_line}", c.records, c.every_ms));
    if let Some((commit, sink)) = c.consumer {
        let auto = commit == "auto";
        s.push_str(&format!("[consumer]\n\"group.id\" = \"g\"\n\"enable.auto.commit\" = {auto}\n\"auto.offset.reset\" = \"earliest\"\ncommit = \"{commit}\"\nsink = \"{sink}\"\n"));
    }
    for &(at, what, b, dur) in &c.faults {
        let b = b % c.brokers + 1;
        match what {
            "slow-follower" => s.push_str(&format!("[[fault]]\nat_ms = {at}\ndo = \"slow-follower\"\ntarget = \"b{b}\"\nduration_ms = {}\n", dur.max(1))),
            "isolate-broker" => s.push_str(&format!("[[fault]]\nat_ms = {at}\ndo = \"isolate-broker\"\ntarget = \"b{b}\"\n[[fault]]\nat_ms = {}\ndo = \"heal\"\ntarget = \"b{b}\"\n", at + dur)),
            "drop-response" => s.push_str("[[fault]]\non = \"request\"\nrecord = \"r1\"\ndo = \"drop-response\"\n"),
            "crash-producer" => {
                let resend = if c.txn.is_some() { "none" } else { "unanswered" };
                s.push_str(&format!("[[fault]]\nat_ms = {at}\ndo = \"crash-producer\"\n[[fault]]\nat_ms = {}\ndo = \"restart-producer\"\nresend = \"{resend}\"\n", at + dur))
            }
            "crash-consumer" if c.consumer.is_some() => {
                s.push_str(&format!("[[fault]]\nat_ms = {at}\ndo = \"crash-consumer\"\n[[fault]]\nat_ms = {}\ndo = \"restart-consumer\"\n", at + dur))
            }
            "crash-consumer" => {}
            "start-zombie" if c.txn.is_some() => s.push_str(&format!("[[fault]]\nat_ms = {at}\ndo = \"start-zombie\"\n")),
            "start-zombie" => {}
            "kill-coordinator" if c.txn.is_some() => s.push_str(&format!(
                "[[fault]]\nat_ms = {at}\ndo = \"kill-broker\"\ntarget = \"coordinator\"\n[[fault]]\nat_ms = {}\ndo = \"restart-broker\"\ntarget = \"b{b}\"\n",
                at + dur
            )),
            "kill-coordinator" => {}
            // The controller quorum: its active controller killed (b even: a failover) or two of
            // its three voters (b odd: no quorum, so no election or ISR change), or the active
            // one cut off from every broker (it fences them all); then back.
            "kill-controller" | "isolate-controller" => {
                let (on, off, n) = if what == "kill-controller" { ("kill-broker", "restart-broker", 1 + b % 2) } else { ("isolate-broker", "heal", 1) };
                for _ in 0..n {
                    s.push_str(&format!(
                        "[[fault]]\nat_ms = {at}\ndo = \"{on}\"\ntarget = \"controller\"\n[[fault]]\nat_ms = {}\ndo = \"{off}\"\ntarget = \"controller\"\n",
                        at + dur
                    ))
                }
            }
            kill => s.push_str(&format!("[[fault]]\nat_ms = {at}\ndo = \"{kill}\"\ntarget = \"b{b}\"\n[[fault]]\nat_ms = {}\ndo = \"restart-broker\"\ntarget = \"b{b}\"\n", at + dur)),
        }
    }
    s
}

fn any_case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec!["2.8", "3.0.0", "3.5", "3.6", "3.9", "4.0"]),
        1u32..=5,
        prop::sample::select(vec!["0", "1", "all"]),
        prop::option::of(any::<bool>()),
        1u32..=5,
        any::<bool>(),
        1u32..=3,
        1u32..=40,
        0u32..=20,
        prop::collection::vec(
            (
                0u32..60000,
                prop::sample::select(vec![
                    "kill-broker",
                    "wipe-broker",
                    "power-loss",
                    "slow-follower",
                    "isolate-broker",
                    "drop-response",
                    "crash-producer",
                    "crash-consumer",
                    "start-zombie",
                    "kill-coordinator",
                    "kill-controller",
                    "isolate-controller",
                ]),
                0u32..5,
                100u32..40000,
            ),
            0..5,
        ),
        (
            0u64..(i64::MAX as u64),
            prop::option::of(any::<bool>()),
            prop::option::of((
                prop::sample::select(vec!["before-processing", "after-processing", "auto", "in-sink"]),
                prop::sample::select(vec!["none", "insert", "upsert"]),
            )),
        ),
    )
        .prop_flat_map(
            |(version, brokers, acks, idem, in_flight, unclean, partitions, records, every, faults, (seed, txn, consumer))| {
                (1..=brokers).prop_flat_map(move |rf| {
                    let faults = faults.clone();
                    (1..=rf).prop_map(move |min_isr| Case {
                        version,
                        brokers,
                        rf,
                        min_isr,
                        acks,
                        idempotence: idem,
                        in_flight,
                        unclean,
                        partitions,
                        records,
                        every_ms: every,
                        faults: faults.clone(),
                        seed,
                        consumer,
                        txn,
                    })
                })
            },
        )
}

/// Faults for one outage of a three-broker cluster: broker `b` + 1 (or, for 3, the broker
/// of the transaction coordinator) is killed at `at`, and every broker is restarted `down`
/// ms later (the coordinator's broker is not known in advance).
fn outage(b: u32, at: u32, down: u32) -> String {
    let target = if b == 3 { "coordinator".to_string() } else { format!("b{}", b + 1) };
    let mut s = format!("[[fault]]\nat_ms = {at}\ndo = \"kill-broker\"\ntarget = \"{target}\"\n");
    for r in 1..=3 {
        s.push_str(&format!("[[fault]]\nat_ms = {}\ndo = \"restart-broker\"\ntarget = \"b{r}\"\n", at + down));
    }
    s
}

/// A fixed seed keeps CI deterministic; set KLAB_PROPTEST_SEED to explore other cases. 2 000
/// cases per property take about four seconds in all: the one in 20 000 that found a broker
/// missing the metadata decided while it was cut off (`leader-elected-while-cut-off-learns-on-heal`)
/// is worth the wait, and KLAB_PROPTEST_CASES goes further.
fn config() -> ProptestConfig {
    let seed = std::env::var("KLAB_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261122);
    let cases = std::env::var("KLAB_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    ProptestConfig { cases, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(seed), ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]


    /// No panic, no invariant violation, the run ends, and a config Kafka rejects is reported
    /// as a scenario error (never as a crash).
    #[test]
    fn random_runs_keep_every_invariant(c in any_case()) {
        let text = to_toml(&c);
        // `scripts/compare-engines.sh` runs the cases again through another commit's runner.
        if let Ok(dir) = std::env::var("KLAB_DUMP_DIR") {
            let n = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
            std::fs::write(format!("{dir}/case-{n:05}.toml"), &text).expect("KLAB_DUMP_DIR is writable");
        }
        match klab::run_bounded(&text, false, 3_000_000) {
            Ok((sim, report)) => {
                prop_assert!(sim.stop_reason != "stopped at the event limit", "livelock: {text}");
                prop_assert_eq!(report.records.len(), c.records as usize);
            }
            Err(klab::RunError::Scenario(e)) => {
                prop_assert!(e.to_string().contains("ConfigException"), "unexpected refusal {e} for\n{text}");
            }
            Err(e) => prop_assert!(false, "{e}\n{text}"),
        }
    }

    /// Once every broker is back and every partition healed, the replicas of a partition hold
    /// the leader's log, offset for offset, unclean elections and lost disks included: what
    /// Kafka's EpochDrivenReplicationProtocolAcceptanceTest checks ("logs should not diverge",
    /// KIP-101/KIP-279). The scenarios end at 200 s, and the last fault ends by 100 s.
    #[test]
    fn replicas_converge_once_every_broker_is_back(c in any_case()) {
        let mut text = to_toml(&c);
        // Every broker back by 100 s (a `kill-coordinator` case restarts another broker).
        for b in 1..=c.brokers {
            text.push_str(&format!("[[fault]]\nat_ms = 100000\ndo = \"restart-broker\"\ntarget = \"b{b}\"\n"));
        }
        let Ok((_, report)) = klab::run_bounded(&text, false, 3_000_000) else { return Ok(()) };
        for p in &report.partitions {
            let leader = p.leader.as_ref();
            prop_assert!(leader.is_some(), "{}/{} has no leader at the end\n{text}", p.topic, p.partition);
            let l = p.replicas.iter().find(|r| Some(&r.broker) == leader).unwrap();
            for r in &p.replicas {
                prop_assert!(r.alive, "{} is down at the end\n{text}", r.broker);
                prop_assert_eq!(&r.log, &l.log, "{} differs from the leader {} on {}/{}\n{}", r.broker, l.broker, p.topic, p.partition, text);
            }
        }
    }

    /// acks=all, min ISR 2, RF 3, unclean off, idempotent, one broker down at a time (a process
    /// crash, a power loss that drops its unflushed writes, a wiped disk, or a network
    /// partition): Kafka promises that no acknowledged record is lost or duplicated, and
    /// (idempotence with up to 5 requests in flight, KAFKA-5494) that acknowledged records keep
    /// their send order.
    #[test]
    fn acks_all_min_isr_2_loses_no_acknowledged_record(
        seed in 0u64..(i64::MAX as u64),
        in_flight in 1u32..=5,
        kills in prop::collection::vec((0u32..3, 100u32..15000, prop::sample::select(vec!["kill-broker", "power-loss", "wipe-broker", "isolate-broker"])), 0..4),
        records in 1u32..60,
        every in 0u32..50,
        version in prop::sample::select(vec!["3.0.0", "3.5", "3.6", "3.9", "4.0"]),
    ) {
        let mut text = format!("format = 1\nseed = {seed}\nkafka = \"{version}\"\n[[topic]]\nname = \"orders\"\n\"replication.factor\" = 3\n\"min.insync.replicas\" = 2\n[producer]\nacks = \"all\"\n\"enable.idempotence\" = true\n\"max.in.flight.requests.per.connection\" = {in_flight}\n[[send]]\ncount = {records}\nevery_ms = {every}\n");
        // Each broker is down for a while and back before the next one goes down.
        let mut t = 0;
        for (b, down, how) in kills {
            let back = if how == "isolate-broker" { "heal" } else { "restart-broker" };
            text.push_str(&format!("[[fault]]\nat_ms = {}\ndo = \"{how}\"\ntarget = \"b{}\"\n[[fault]]\nat_ms = {}\ndo = \"{back}\"\ntarget = \"b{}\"\n", t + 10, b + 1, t + 10 + down, b + 1));
            // Long enough after a restart for the broker to rejoin the ISR.
            t += 10 + down + 40000;
        }
        let (sim, report) = klab::run(&text, false).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(sim.finished);
        for r in &report.records {
            if r.producer == "acked" {
                prop_assert!(r.copies == 1, "{} was acknowledged but has {} copies ({})\n{}", r.id, r.copies, r.fate, text);
                prop_assert!(r.fate != "reordered", "{} was acknowledged but is out of send order\n{}", r.id, text);
            }
        }
    }

    /// Transactions are atomic (KIP-98): whatever brokers crash, a transaction's records are
    /// either all committed or none is, across partitions. Checked on 4.0, where Transactions
    /// V2 closes the TV1 holes Jepsen found (a late marker committing the next transaction).
    #[test]
    fn a_transaction_is_never_torn(
        seed in 0u64..(i64::MAX as u64),
        txns in 1u32..8,
        crashes in prop::collection::vec((0u32..4, 0u32..20000, 100u32..20000), 0..4),
        commit in any::<bool>(),
    ) {
        let mut text = format!("format = 1\nseed = {seed}\nkafka = \"4.0\"\n[[topic]]\nname = \"orders\"\npartitions = 2\n\"replication.factor\" = 3\n\"min.insync.replicas\" = 2\n[producer]\n\"transactional.id\" = \"tx\"\n\"transaction.timeout.ms\" = 10000\n");
        let outcome = if commit { "commit" } else { "abort" };
        for i in 0..txns {
            // Keys spread each transaction over both partitions.
            text.push_str(&format!("[[send]]\nrecords = [{{ id = \"t{i}a\", partition = 0 }}, {{ id = \"t{i}b\", partition = 1 }}, {{ id = \"t{i}c\", partition = 0 }}]\ntransaction = \"{outcome}\"\n"));
        }
        for (b, at, down) in crashes {
            text.push_str(&outage(b, at, down));
        }
        let (_, report) = klab::run(&text, false).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        for i in 0..txns {
            let of: Vec<&klab::report::RecordReport> = report.records.iter().filter(|r| r.id.starts_with(&format!("t{i}"))).collect();
            let committed = of.iter().filter(|r| r.transaction == Some("committed")).count();
            prop_assert!(committed == 0 || committed == of.len(), "transaction t{} is torn: {:?}\n{}", i, of.iter().map(|r| (r.id.to_string(), r.transaction, r.fate)).collect::<Vec<_>>(), text);
            if !commit {
                prop_assert_eq!(committed, 0, "an aborted transaction t{} has committed records\n{}", i, text);
            }
        }
    }

    /// Process crashes keep the log (R-E8), so with acks=all, min ISR 2 and unclean election
    /// off no acknowledged record is lost however many brokers crash at once: a partition
    /// whose last ISR member is down waits for it (R-F2, R-G1). Writes stop; data stays. A
    /// voter of the controller quorum may die meanwhile (3 below: two such crashes at once
    /// leave no controller), or the active controller be cut off from the brokers (4): an ISR
    /// that cannot shrink only makes writes wait longer.
    #[test]
    fn acks_all_survives_overlapping_process_crashes(
        seed in 0u64..(i64::MAX as u64),
        records in 1u32..60,
        every in 0u32..50,
        crashes in prop::collection::vec((0u32..5, 0u32..30000, 100u32..30000), 1..6),
        version in prop::sample::select(vec!["3.6", "3.9", "4.0"]),
    ) {
        let mut text = format!("format = 1\nseed = {seed}\nkafka = \"{version}\"\n[[topic]]\nname = \"orders\"\n\"replication.factor\" = 3\n\"min.insync.replicas\" = 2\n[producer]\nacks = \"all\"\n[[send]]\ncount = {records}\nevery_ms = {every}\n");
        for (b, at, down) in crashes {
            let (target, on, off) = match b {
                3 => ("controller".to_string(), "kill-broker", "restart-broker"),
                4 => ("controller".to_string(), "isolate-broker", "heal"),
                b => (format!("b{}", b + 1), "kill-broker", "restart-broker"),
            };
            text.push_str(&format!("[[fault]]\nat_ms = {at}\ndo = \"{on}\"\ntarget = \"{target}\"\n[[fault]]\nat_ms = {}\ndo = \"{off}\"\ntarget = \"{target}\"\n", at + down));
        }
        // Every broker back at the end, whatever order the crashes and restarts came in.
        for b in 1..=3 {
            text.push_str(&format!("[[fault]]\nat_ms = 70000\ndo = \"restart-broker\"\ntarget = \"b{b}\"\n"));
        }
        let (_, report) = klab::run(&text, false).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        for r in &report.records {
            if r.producer == "acked" {
                prop_assert!(r.copies >= 1, "{} was acknowledged but is {}\n{}", r.id, r.fate, text);
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// At-least-once (KafkaConsumer javadoc): committing offsets after processing, or with
    /// auto-commit, every record that is in the log is processed at least once, however often
    /// the consumer crashes and restarts.
    #[test]
    fn consumers_committing_after_processing_miss_nothing(
        seed in 0u64..(i64::MAX as u64),
        records in 1u32..40,
        every in 0u32..30,
        commit in prop::sample::select(vec!["after-processing", "auto"]),
        crashes in prop::collection::vec((0u32..3000, 1u32..5000), 0..4),
    ) {
        let auto = commit == "auto";
        let mut text = format!("format = 1\nseed = {seed}\n[[topic]]\nname = \"orders\"\npartitions = 2\n\"replication.factor\" = 3\n\"min.insync.replicas\" = 2\n[producer]\nacks = \"all\"\n[[send]]\ncount = {records}\nevery_ms = {every}\n[consumer]\n\"group.id\" = \"g\"\n\"enable.auto.commit\" = {auto}\n\"auto.offset.reset\" = \"earliest\"\ncommit = \"{commit}\"\n");
        let mut t = 0;
        for (gap, down) in crashes {
            t += gap;
            text.push_str(&format!("[[fault]]\nat_ms = {t}\ndo = \"crash-consumer\"\n[[fault]]\nat_ms = {}\ndo = \"restart-consumer\"\n", t + down));
            t += down + 1;
        }
        let (_, report) = klab::run(&text, false).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        for r in &report.records {
            if r.copies >= 1 {
                prop_assert!(r.processed >= 1, "{} is in the log but was never processed ({})\n{}", r.id, r.fate, text);
            }
            // The why-chain's last line states the count the record's column has.
            let last = r.why.last().map(String::as_str).unwrap_or("");
            if last.contains(" time") {
                let n = r.processed;
                prop_assert!(last.contains(&format!("processed {n} time")), "{} was processed {n} times, yet its chain ends \"{last}\"", r.id);
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// read_committed never processes a record of an aborted transaction, whatever commits,
    /// aborts and broker crashes happen (R-K2).
    #[test]
    fn read_committed_never_processes_aborted_records(
        seed in 0u64..(i64::MAX as u64),
        tables in prop::collection::vec((prop::sample::select(vec!["commit", "abort"]), 1u32..5), 1..6),
        kills in prop::collection::vec((0u32..3, 0u32..3000, 100u32..20000), 0..3),
        partitions in 1u32..3,
    ) {
        let mut text = format!("format = 1\nseed = {seed}\n[[topic]]\nname = \"orders\"\npartitions = {partitions}\n\"replication.factor\" = 3\n\"min.insync.replicas\" = 2\n[producer]\n\"transactional.id\" = \"tx-1\"\n[consumer]\n\"group.id\" = \"g\"\n\"isolation.level\" = \"read_committed\"\n\"enable.auto.commit\" = false\n\"auto.offset.reset\" = \"earliest\"\ncommit = \"after-processing\"\n");
        let mut n = 0;
        for (outcome, count) in &tables {
            let ids: Vec<String> = (0..*count).map(|_| { n += 1; format!("\"x{n}\"") }).collect();
            text.push_str(&format!("[[send]]\ntransaction = \"{outcome}\"\nrecords = [{}]\nevery_ms = 3\n", ids.join(", ")));
        }
        for (b, at, down) in kills {
            text.push_str(&format!("[[fault]]\nat_ms = {at}\ndo = \"kill-broker\"\ntarget = \"b{}\"\n[[fault]]\nat_ms = {}\ndo = \"restart-broker\"\ntarget = \"b{}\"\n", b + 1, at + down, b + 1));
        }
        let (sim, report) = klab::run_bounded(&text, false, 3_000_000).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(sim.stop_reason != "stopped at the event limit", "livelock\n{text}");
        for r in &report.records {
            prop_assert!(r.fate != "aborted-read", "{} of an aborted transaction was processed by read_committed\n{}", r.id, text);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Read-process-write with read_committed input (the exactly-once pipeline of KIP-98/447):
    /// whatever crashes of the application and of brokers (the coordinator's included), no
    /// input ever has two committed outputs, and once the run settles every input in the log
    /// has exactly one.
    #[test]
    // The input producer is idempotent (set explicitly: 3.0.0 would leave it off, KAFKA-13598),
    // so each input record is in the log once and the property is about the outputs alone.
    fn read_process_write_is_exactly_once(
        seed in 0u64..(i64::MAX as u64),
        version in prop::sample::select(vec!["3.0.0", "3.5", "3.6", "3.9", "4.0"]),
        records in 1u32..30,
        every in 0u32..20,
        partitions in 1u32..3,
        max_poll in 1u32..5,
        two in any::<bool>(),
        crashes in prop::collection::vec((0u32..3000, 1u32..8000), 0..3),
        kills in prop::collection::vec((0u32..4, 0u32..5000, 100u32..20000), 0..2),
    ) {
        let mut text = format!("format = 1\nseed = {seed}\nkafka = \"{version}\"\n[[topic]]\nname = \"orders\"\npartitions = {partitions}\n\"replication.factor\" = 3\n\"min.insync.replicas\" = 2\n[[topic]]\nname = \"out\"\npartitions = 2\n\"replication.factor\" = 3\n\"min.insync.replicas\" = 2\n[producer]\nacks = \"all\"\n\"enable.idempotence\" = true\n[[send]]\ncount = {records}\nevery_ms = {every}\ntopic = \"orders\"\n");
        let names: Vec<&str> = if two { vec!["app-a", "app-b"] } else { vec!["app-a"] };
        for n in &names {
            text.push_str(&format!("[[consumer]]\nname = \"{n}\"\n\"group.id\" = \"g\"\n\"isolation.level\" = \"read_committed\"\n\"enable.auto.commit\" = false\n\"auto.offset.reset\" = \"earliest\"\n\"max.poll.records\" = {max_poll}\ncommit = \"transaction\"\noutput_topic = \"out\"\n\"transactional.id\" = \"{n}-tx\"\nproducer = {{ \"transaction.timeout.ms\" = 10000 }}\n"));
        }
        let mut t = 0;
        for (gap, down) in crashes {
            t += gap;
            text.push_str(&format!("[[fault]]\nat_ms = {t}\ndo = \"crash-consumer\"\ntarget = \"app-a\"\n[[fault]]\nat_ms = {}\ndo = \"restart-consumer\"\ntarget = \"app-a\"\n", t + down));
            t += down + 1;
        }
        for (b, at, down) in kills {
            text.push_str(&outage(b, at, down));
        }
        let (sim, report) = klab::run_bounded(&text, false, 3_000_000).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(sim.stop_reason != "stopped at the event limit", "livelock\n{text}");
        for r in &report.records {
            prop_assert!(r.outputs <= 1, "{} has {} committed outputs ({})\n{}", r.id, r.outputs, r.fate, text);
            if sim.stop_reason == "nothing left to happen" && r.copies >= 1 {
                prop_assert!(r.outputs == 1, "{} is in the log but has {} committed outputs ({})\n{}", r.id, r.outputs, r.fate, text);
            }
        }
    }
}

/// The scenario files of the suite, as texts to mutate.
fn suite_texts() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "toml"));
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

/// One edit of a scenario file: a value replaced by an edge case, a line dropped, doubled or
/// moved. Values are chosen to hit limits: zero, one, huge numbers, unknown names.
fn mutate(text: &str, edits: &[(u8, usize, usize)]) -> String {
    const VALUES: &[&str] = &[
        "0",
        "1",
        "2",
        "5",
        "2147483647",
        "9007199254740993",
        "-1",
        "1.5",
        "true",
        "\"\"",
        "\"leader\"",
        "\"b9\"",
        "\"r99\"",
        "\"all\"",
        "\"commit\"",
        "\"abort\"",
        "\"transaction\"",
        "\"coordinator\"",
        "[]",
        "[\"r1\", \"r1\"]",
        "{}",
        "\"read_committed\"",
        "\"4.0\"",
        "\"2.8\"",
    ];
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for &(kind, a, b) in edits {
        if lines.is_empty() {
            break;
        }
        let i = a % lines.len();
        match kind % 4 {
            0 => {
                if let Some(eq) = lines[i].find(" = ") {
                    lines[i] = format!("{} = {}", &lines[i][..eq], VALUES[b % VALUES.len()]);
                }
            }
            1 => {
                lines.remove(i);
            }
            2 => {
                let l = lines[i].clone();
                lines.insert(b % (lines.len() + 1), l);
            }
            _ => {
                let j = b % lines.len();
                lines.swap(i, j);
            }
        }
    }
    lines.join("\n") + "\n"
}

proptest! {
    #![proptest_config(config())]

    /// Any edit of any suite file is either run or refused with a message naming a key: the
    /// engine never panics (a panic in wasm kills the lab) and every run ends.
    #[test]
    fn edited_scenarios_never_panic(pick in any::<prop::sample::Index>(), edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..6)) {
        let texts = suite_texts();
        let text = mutate(&texts[pick.index(texts.len())], &edits);
        match klab::run_bounded(&text, true, 300_000) {
            Ok((sim, _)) => prop_assert!(sim.finished),
            Err(klab::RunError::Scenario(e)) => prop_assert!(!e.key.is_empty() && !e.message.is_empty(), "{e:?}"),
            Err(e) => prop_assert!(false, "{e}\n{text}"),
        }
    }
}
