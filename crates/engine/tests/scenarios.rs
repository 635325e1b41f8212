//! Data-driven tests: every file in `scenarios/` runs through the engine; its `[[expect]]`
//! entries must hold and its trace must equal the golden file in `scenarios/golden/`
//! (re-bless with `UPDATE_EXPECT=1 cargo test -p kafka-lab-engine --test scenarios`).
//! Every file in `scenarios/invalid/` must be refused with the message its first line names.

use std::fs;
use std::path::{Path, PathBuf};

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(sub)
}

fn toml_files(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(d)
        .expect("scenario dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().map(|x| x == "toml").unwrap_or(false))
        .collect();
    v.sort();
    v
}

/// The golden text: the trace, then every record's fate and what the producer was told, then
/// every record's why-chain as the lab shows it.
fn golden_text(sim: &klab::Sim, report: &klab::Report) -> String {
    let mut s = String::new();
    for l in sim.trace.as_deref().unwrap_or(&[]) {
        s.push_str(l);
        s.push('\n');
    }
    s.push_str("# fates\n");
    for r in &report.records {
        s.push_str(&format!("# {} {} (producer: {}, copies: {})\n", r.id, r.fate, r.producer, r.copies));
    }
    for r in &report.records {
        s.push_str(&format!("# why {}\n", r.id));
        for w in &r.why {
            s.push_str(&format!("#   {w}\n"));
        }
    }
    s
}

#[test]
fn scenarios_meet_their_expectations_and_golden_traces() {
    let files = toml_files(&dir(""));
    assert!(files.len() >= 20, "the scenario suite should have at least 20 files, found {}", files.len());
    let update = std::env::var("UPDATE_EXPECT").is_ok();
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let text = fs::read_to_string(f).unwrap();
        let (sim, report) = match klab::run(&text, true) {
            Ok(x) => x,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if sim.sc.expects.is_empty() {
            failures.push(format!("{name}: has no [[expect]]; every scenario must say what it teaches"));
        }
        for msg in report.check(&sim) {
            failures.push(format!("{name}: {msg}"));
        }
        // The fate sentence ending each why-chain counts what the record's columns count.
        for r in report.records.iter().filter(|r| r.consumers.is_none()) {
            let last = r.why.last().map(String::as_str).unwrap_or("");
            let says = |unit: &str| {
                last.split(" — ").nth(1).and_then(|t| t.split(unit).next()).and_then(|t| t.split_whitespace().last()?.parse::<u32>().ok())
            };
            if let Some(n) = says(" time") {
                if n != r.processed {
                    failures.push(format!("{name}: {} says \"{last}\" but was processed {} times", r.id, r.processed));
                }
            }
            if let Some(n) = says(" row") {
                if n != r.sink_rows {
                    failures.push(format!("{name}: {} says \"{last}\" but has {} sink rows", r.id, r.sink_rows));
                }
            }
        }
        let golden = dir("golden").join(format!("{name}.trace"));
        let got = golden_text(&sim, &report);
        if update {
            fs::write(&golden, &got).unwrap();
        } else {
            match fs::read_to_string(&golden) {
                Err(_) => failures.push(format!("{name}: no golden trace at {} (run with UPDATE_EXPECT=1)", golden.display())),
                Ok(want) if want != got => {
                    let line =
                        want.lines().zip(got.lines()).position(|(a, b)| a != b).unwrap_or(want.lines().count().min(got.lines().count()));
                    failures.push(format!(
                        "{name}: trace differs from the golden file at line {}:\n  want: {}\n  got:  {}",
                        line + 1,
                        want.lines().nth(line).unwrap_or("(end)"),
                        got.lines().nth(line).unwrap_or("(end)")
                    ));
                }
                Ok(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn invalid_scenarios_are_refused_with_their_message() {
    let files = toml_files(&dir("invalid"));
    assert!(files.len() >= 10);
    let mut failures = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).unwrap();
        let want = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# error: "))
            .unwrap_or_else(|| panic!("{} lacks a '# error: ' first line", f.display()));
        match klab::run(&text, false) {
            Err(klab::RunError::Scenario(e)) => {
                if !e.to_string().contains(want) {
                    failures.push(format!("{}: message\n  {e}\ndoes not contain\n  {want}", f.display()));
                }
            }
            Err(other) => failures.push(format!("{}: refused by the engine, not the parser: {other}", f.display())),
            Ok(_) => failures.push(format!("{}: was accepted", f.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_same_scenario_and_seed_give_the_same_trace_twice() {
    for f in toml_files(&dir("")) {
        let text = fs::read_to_string(&f).unwrap();
        let (a, _) = klab::run(&text, true).unwrap();
        let (b, _) = klab::run(&text, true).unwrap();
        assert_eq!(a.trace, b.trace, "{}", f.display());
        assert_eq!(a.trace_hash, b.trace_hash);
    }
}

#[test]
fn a_different_seed_changes_timing_but_not_this_lesson() {
    let text = fs::read_to_string(dir("acks1-leader-dies-after-ack.toml")).unwrap();
    let other = text.replace("seed = 42", "seed = 43");
    let (a, ra) = klab::run(&text, true).unwrap();
    let (b, rb) = klab::run(&other, true).unwrap();
    assert_ne!(a.trace_hash, b.trace_hash, "jitter comes from the seed");
    assert_eq!(ra.records[0].fate, "lost");
    assert_eq!(rb.records[0].fate, "lost");
}

/// The hashes the wasm test compares against (`tests/web.rs` at the repository root), so that
/// a trace computed in the browser must equal the native one.
#[test]
fn native_trace_hashes_match_the_shared_golden_file() {
    let text = fs::read_to_string(dir("acks1-leader-dies-after-ack.toml")).unwrap();
    let (sim, _) = klab::run(&text, true).unwrap();
    let (bench, _) = klab::run(&klab::bench::workload(2000), true).unwrap();
    let got = format!("acks1-leader-dies-after-ack {:016x}\nbench-2000 {:016x}\n", sim.trace_hash, bench.trace_hash);
    let path = dir("golden").join("HASHES");
    if std::env::var("UPDATE_EXPECT").is_ok() {
        fs::write(&path, &got).unwrap();
    }
    assert_eq!(fs::read_to_string(&path).unwrap_or_default(), got);
}

#[test]
fn the_format_example_reports_r1_lost() {
    // The example of scenario-format.md, as written there.
    let text = fs::read_to_string(dir("acks1-leader-dies-after-ack.toml")).unwrap();
    let (_, report) = klab::run(&text, false).unwrap();
    let r1 = &report.records[0];
    assert_eq!((&*r1.id, r1.fate, r1.producer, r1.copies), ("r1", "lost", "acked", 0));
    assert!(r1.why.iter().any(|w| w.contains("truncated")), "the why chain names the truncation: {:?}", r1.why);
}
