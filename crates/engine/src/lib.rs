//! Kafka Delivery Lab's engine: a deterministic, sans-IO simulation of one Kafka cluster's
//! partitions, replicas, controller and producers, and the fate of every record.
//!
//! * [`scenario`] reads a scenario file (format 1) and applies Kafka's defaults and config
//!   validation for the chosen version profile.
//! * [`sim`] is the discrete-event simulation: [`sim::Sim::step`] handles one event.
//! * [`report`] turns a finished (or paused) run into the run report with each record's fate.
//!
//! The engine has no web dependency and builds for native targets and `wasm32-unknown-unknown`.

pub mod bench;
pub mod cowvec;
pub mod idxmap;
pub mod log;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod toml_value;
pub mod tracked;
pub mod vecmap;

pub use report::Report;
pub use scenario::{Scenario, ScenarioError};
pub use sim::{Sim, SimError};

/// Why a scenario could not be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The file is malformed or asks for a config Kafka rejects.
    Scenario(ScenarioError),
    /// The engine stopped: an invariant broke, or the scenario needs an unbuilt part.
    Sim(SimError),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Scenario(e) => write!(f, "{e}"),
            RunError::Sim(e) => write!(f, "{e}"),
        }
    }
}

/// Parses and runs a scenario to its end. With `trace`, the run keeps its readable trace.
pub fn run(text: &str, trace: bool) -> Result<(Sim, Report), RunError> {
    let sc = Scenario::parse(text).map_err(RunError::Scenario)?;
    let mut sim = Sim::new(sc, trace).map_err(RunError::Sim)?;
    sim.run().map_err(RunError::Sim)?;
    let report = Report::build(&sim);
    Ok((sim, report))
}

/// Like [`run`], but stops after `max_events` events (for debugging and the UI's stepping).
pub fn run_bounded(text: &str, trace: bool, max_events: u64) -> Result<(Sim, Report), RunError> {
    let sc = Scenario::parse(text).map_err(RunError::Scenario)?;
    let mut sim = Sim::new(sc, trace).map_err(RunError::Sim)?;
    sim.max_events = max_events;
    sim.run().map_err(RunError::Sim)?;
    let report = Report::build(&sim);
    Ok((sim, report))
}
