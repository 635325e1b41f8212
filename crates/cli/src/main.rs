//! `kafka-lab`: runs a scenario file through the engine.
//!
//! * `kafka-lab run FILE` prints the run report as JSON (exit 0); a bad file prints the error
//!   on stderr, naming the key, and exits 2.
//! * `kafka-lab run FILE --trace` prints the readable trace, one line per event.
//! * `kafka-lab check FILE` runs it and exits 1, naming each failed `[[expect]]`.
//! * `kafka-lab bench [RECORDS]` prints simulated events per second on the standard workload.

use std::process::ExitCode;

/// Prints a line on stdout. A closed pipe (`kafka-lab run x --trace | head`) ends the output
/// quietly instead of panicking.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}

const USAGE: &str = "usage: kafka-lab run FILE [--trace] | kafka-lab check FILE | kafka-lab bench [RECORDS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") | Some("check") => {
            let check = args[0] == "check";
            let trace = args.iter().skip(1).any(|a| a == "--trace");
            let Some(file) = args.iter().skip(1).find(|a| !a.starts_with("--")) else {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            };
            if let Some(bad) = args.iter().skip(1).find(|a| a.starts_with("--") && *a != "--trace") {
                eprintln!("kafka-lab: unknown option {bad}\n{USAGE}");
                return ExitCode::from(2);
            }
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("kafka-lab: cannot read {file}: {e}");
                    return ExitCode::from(2);
                }
            };
            let max: Option<u64> = std::env::var("KAFKA_LAB_MAX_EVENTS").ok().and_then(|v| v.parse().ok());
            let result = match max {
                Some(m) => klab::run_bounded(&text, trace, m),
                None => klab::run(&text, trace),
            };
            match result {
                Err(klab::RunError::Scenario(e)) => {
                    eprintln!("{file}: {e}");
                    ExitCode::from(2)
                }
                Err(klab::RunError::Sim(e)) => {
                    eprintln!("{file}: {e}");
                    ExitCode::from(2)
                }
                Ok((sim, report)) => {
                    if check {
                        let failed = report.check(&sim);
                        if failed.is_empty() {
                            say!("{file}: {} expectation(s) hold", sim.sc.expects.len());
                            ExitCode::SUCCESS
                        } else {
                            for f in &failed {
                                say!("{file}: {f}");
                            }
                            ExitCode::from(1)
                        }
                    } else if trace {
                        for line in sim.trace.as_deref().unwrap_or(&[]) {
                            say!("{line}");
                        }
                        ExitCode::SUCCESS
                    } else {
                        say!("{}", report.to_json());
                        ExitCode::SUCCESS
                    }
                }
            }
        }
        Some("bench") => {
            let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
            let runs = klab::bench::standard_runs(n);
            for (label, recs, text, explain) in runs {
                match klab::bench::measure(&text, explain, klab::bench::REPEATS, std::time::Instant::now, |a| a.elapsed().as_secs_f64()) {
                    Ok(m) => {
                        say!("native: {label}{recs} records, {}", m.summary());
                    }
                    Err(e) => {
                        eprintln!("bench failed: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            if let Some(kb) = peak_rss_kb() {
                say!("native: peak memory (VmHWM) {:.1} MiB", kb as f64 / 1024.0);
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}
