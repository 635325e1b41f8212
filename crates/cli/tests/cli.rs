//! The runner's contract (scenario-format.md, "The command-line runner"): output, exit codes,
//! and errors that name the key.

use std::process::Command;

fn kafka_lab(args: &[&str]) -> (i32, String, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-lab")).args(args).current_dir(root).output().expect("runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn run_prints_the_report_with_r1_lost() {
    let (code, out, _) = kafka_lab(&["run", "scenarios/acks1-leader-dies-after-ack.toml"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(v["format"], 1);
    assert_eq!(v["records"][0]["id"], "r1");
    assert_eq!(v["records"][0]["fate"], "lost");
    assert_eq!(v["records"][0]["producer"], "acked");
    assert_eq!(v["partitions"][0]["leader"], "b2");
}

#[test]
fn trace_prints_one_line_per_event() {
    let (code, out, _) = kafka_lab(&["run", "scenarios/acks1-leader-dies-after-ack.toml", "--trace"]);
    assert_eq!(code, 0);
    assert!(out.lines().all(|l| l.starts_with("t=")), "{out}");
    assert!(out.contains("truncates orders/0 to offset 0"), "{out}");
}

#[test]
fn check_passes_and_fails_with_the_expectation_named() {
    assert_eq!(kafka_lab(&["check", "scenarios/acks1-leader-dies-after-ack.toml"]).0, 0);
    let dir = std::env::temp_dir().join("kafka-lab-cli-test");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("wrong.toml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/acks1-leader-dies-after-ack.toml")).unwrap();
    std::fs::write(&f, text.replace("fate = \"lost\"", "fate = \"committed\"")).unwrap();
    let (code, out, _) = kafka_lab(&["check", f.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("expect[0]: record r1 should be committed, but it is lost"), "{out}");
}

#[test]
fn a_bad_file_names_the_key_and_exits_2() {
    let (code, out, err) = kafka_lab(&["run", "scenarios/invalid/explicit-idempotence-acks1.toml"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("producer.\"acks\"") && err.contains("Must set acks to all"), "{err}");
    let (code, _, err) = kafka_lab(&["run", "no/such/file.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
    let (code, _, err) = kafka_lab(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("usage"), "{err}");
}
