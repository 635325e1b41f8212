//! The standard benchmark workload, shared by the native `kafka-lab bench` and the wasm
//! benchmark page so that both measure the same run.

use crate::Report;

/// `n` records, 3 brokers, acks=all, idempotent, with broker faults spread over the run.
pub fn workload(n: u64) -> String {
    let span_ms = (n / 10).max(100);
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
every_ms = 0
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

/// "committed 99990, duplicated 0, ..." for the bench line.
pub fn fate_counts(r: &Report) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for rec in &r.records {
        *counts.entry(rec.fate.as_str()).or_default() += 1;
    }
    counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}
