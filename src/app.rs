//! The lab's page: one Yew component holding the scenario text, its run, and the moment shown.
//! Every change the user makes (a setting, a kill, a new record) edits the scenario text and
//! replays it, so the screen, the exported file and the link always describe the same run.

use crate::link::{self, LinkState};
use crate::model::{line_time_us, Run};
use crate::settings::{self, Where};
use gloo_events::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use klab::report::{PartitionReport, Report};
use klab::sim::{ProducerView, Sim};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement, KeyboardEvent};
use yew::prelude::*;

const STORAGE_KEY: &str = "kafka-delivery-lab.sandbox.v1";
/// Ledger rows drawn at once: a page of a long run's records (with buttons for the next and
/// previous pages, and the finder). A jump across a long run redraws them all, so fewer rows
/// is a faster scrubber; 50 fill the panel.
const LEDGER_ROWS: usize = 50;
/// How many of a partition's newest offsets the diagram draws.
const PARTITION_CELLS: usize = 12;
const LOG_WINDOW: usize = 300;
/// A run with at least this many stops gets a warm-up jump once the page is idle. The browser
/// compiles wasm functions when first called and optimises them later, so the first jump
/// across a long run used to cost twice the next ones (about 70 ms against 30): it ran the
/// replay, the report and the drawing of a full cluster through code nothing had run yet.
/// The warm-up draws a far moment and the current one again in the same task, so nothing
/// of it is ever painted, and the user's first jump finds that code ready.
const WARM_UP_STOPS: usize = 1000;
/// How long after a long run appears the warm-up waits, so it never delays the first paint.
const WARM_UP_DELAY_MS: u32 = 150;
/// The Kafka version menu: one release per behaviour profile of the engine
/// (`klab::Version`), labelled with the releases that behave alike.
const KAFKA_MENU: &[(&str, &str)] = &[
    ("2.8", "2.7–2.8"),
    ("3.0.0", "3.0.0 / 3.1.0 (KAFKA-13598)"),
    ("3.5", "3.0.1–3.5"),
    ("3.6", "3.6"),
    ("3.9", "3.7–3.9"),
    ("4.0", "4.0"),
];

/// The faults a node's menu offers, as (verb of its accessible name, button text, action).
type Actions = &'static [(&'static str, &'static str, &'static str)];

const KILL: (&str, &str, &str) = ("Kill", "kill", "kill-broker");
const RESTART: (&str, &str, &str) = ("Restart", "restart", "restart-broker");
const HEAL: (&str, &str, &str) = ("Heal", "heal", "heal");
const ISOLATE: (&str, &str, &str) = ("Isolate", "isolate", "isolate-broker");

/// The controller quorum's menu: kill the active controller (or a standby voter), restart a
/// voter, cut the active one off from the brokers.
fn controller_actions(voters_up: u8, alive: bool, isolated: bool) -> Actions {
    let all = voters_up == klab::sim::CONTROLLER_VOTERS;
    match (voters_up, all, alive, isolated) {
        (0, ..) => &[RESTART],
        (_, true, true, false) => &[KILL, ISOLATE],
        (_, true, true, true) => &[KILL, HEAL],
        (_, true, false, _) => &[KILL],
        (_, false, true, false) => &[KILL, RESTART, ISOLATE],
        (_, false, true, true) => &[KILL, RESTART, HEAL],
        (_, false, false, _) => &[KILL, RESTART],
    }
}

/// A broker's menu.
fn node_actions(alive: bool, isolated: bool) -> Actions {
    const POWER: (&str, &str, &str) = ("Power loss on", "power loss", "power-loss");
    const WIPE: (&str, &str, &str) = ("Wipe", "wipe disk", "wipe-broker");
    const SLOW: (&str, &str, &str) = ("Slow", "slow 40 s", "slow-follower");
    match (alive, isolated) {
        (false, _) => &[RESTART],
        (true, true) => &[KILL, POWER, WIPE, HEAL, SLOW],
        (true, false) => &[KILL, POWER, WIPE, ISOLATE, SLOW],
    }
}

/// One button per action, named "<verb> <node>" for screen readers and tests.
fn menu_buttons(link: &html::Scope<App>, actions: Actions, node: &str, msg: impl Fn(&'static str) -> Msg + Copy + 'static) -> Html {
    actions
        .iter()
        .map(|&(verb, word, action)| {
            html! { <button aria-label={format!("{verb} {node}")} onclick={link.callback(move |_| msg(action))}>{ word }</button> }
        })
        .collect()
}

pub struct Lesson {
    pub title: &'static str,
    pub text: &'static str,
}

pub const LESSONS: &[Lesson] = &[
    Lesson { title: "acks=1: the leader dies right after its ack", text: include_str!("../scenarios/acks1-leader-dies-after-ack.toml") },
    Lesson {
        title: "acks=0: the leader dies before replicating",
        text: include_str!("../scenarios/acks0-leader-dies-before-replication.toml"),
    },
    Lesson { title: "acks=all: the ISR already has it", text: include_str!("../scenarios/acksall-leader-dies-after-ack.toml") },
    Lesson { title: "A lost ack without idempotence duplicates", text: include_str!("../scenarios/lost-ack-no-idempotence.toml") },
    Lesson { title: "A lost ack with idempotence does not", text: include_str!("../scenarios/lost-ack-idempotent.toml") },
    Lesson {
        title: "Kafka 3.0.0: the idempotence default that did not apply",
        text: include_str!("../scenarios/kafka-3.0.0-idempotence-not-applied.toml"),
    },
    Lesson {
        title: "Idempotence forgets: producer.id.expiration.ms before a retry",
        text: include_str!("../scenarios/producer-id-expired-before-retry.toml"),
    },
    Lesson { title: "5 in flight without idempotence reorders", text: include_str!("../scenarios/reordering-in-flight-5.toml") },
    Lesson {
        title: "Idempotence keeps order with 5 in flight",
        text: include_str!("../scenarios/reordering-prevented-by-idempotence.toml"),
    },
    Lesson { title: "min ISR: acks=all writes refused", text: include_str!("../scenarios/min-isr-blocks-writes.toml") },
    Lesson { title: "3.9: acks=1 under min ISR stays invisible", text: include_str!("../scenarios/min-isr-acks1-hw-frozen-3.9.toml") },
    Lesson {
        title: "acks=all with min ISR 1: one broker acks alone",
        text: include_str!("../scenarios/acksall-min-isr-1-single-replica.toml"),
    },
    Lesson {
        title: "Election picks assignment order, not the longest log",
        text: include_str!("../scenarios/clean-election-assignment-order.toml"),
    },
    Lesson { title: "Unclean election loses acknowledged data", text: include_str!("../scenarios/unclean-election-loses-data.toml") },
    Lesson { title: "An isolated leader accepts writes no one sees", text: include_str!("../scenarios/isolated-leader-acks1.toml") },
    Lesson { title: "No controller, no new leader", text: include_str!("../scenarios/controller-down-no-leader-election.toml") },
    Lesson {
        title: "A restarted idempotent producer duplicates",
        text: include_str!("../scenarios/producer-restart-resend-duplicates.toml"),
    },
    Lesson { title: "Power loss on every replica", text: include_str!("../scenarios/power-loss-all-replicas.toml") },
    Lesson {
        title: "Consumer: commit before processing loses",
        text: include_str!("../scenarios/consumer-commit-before-processing-loses.toml"),
    },
    Lesson {
        title: "Consumer: commit after processing duplicates",
        text: include_str!("../scenarios/consumer-commit-after-processing-duplicates.toml"),
    },
    Lesson {
        title: "Consumer: an upsert sink absorbs duplicates",
        text: include_str!("../scenarios/consumer-upsert-sink-idempotent.toml"),
    },
    Lesson { title: "Consumer: auto-commit is at-least-once", text: include_str!("../scenarios/consumer-auto-commit-at-least-once.toml") },
    Lesson { title: "Consumer: offsets stored in the sink", text: include_str!("../scenarios/consumer-offsets-in-sink.toml") },
    Lesson { title: "Transaction: committed across two topics", text: include_str!("../scenarios/txn-commit-read-committed.toml") },
    Lesson { title: "Transaction: aborted, read_uncommitted reads it", text: include_str!("../scenarios/txn-abort-read-uncommitted.toml") },
    Lesson { title: "Transaction: aborted, read_committed skips it", text: include_str!("../scenarios/txn-abort-read-committed.toml") },
    Lesson {
        title: "Transaction: a crash holds the LSO until the timeout",
        text: include_str!("../scenarios/txn-crash-leaves-lso-stuck.toml"),
    },
    Lesson { title: "Transaction: a zombie instance is fenced", text: include_str!("../scenarios/txn-zombie-fenced.toml") },
    Lesson {
        title: "Transaction: the coordinator dies after PrepareCommit",
        text: include_str!("../scenarios/txn-coordinator-failover.toml"),
    },
    Lesson {
        title: "Transaction: PrepareCommit dies with its coordinator",
        text: include_str!("../scenarios/txn-coordinator-dies-before-prepare-commit-replicates.toml"),
    },
    Lesson {
        title: "Transaction: the leader dies right after the COMMIT marker",
        text: include_str!("../scenarios/txn-marker-leader-dies-before-replication.toml"),
    },
    Lesson { title: "2.8: a late write hangs the LSO", text: include_str!("../scenarios/txn-hanging-2.8.toml") },
    Lesson { title: "4.0: the late write is refused", text: include_str!("../scenarios/txn-hanging-prevented-4.0.toml") },
    Lesson { title: "3.6: a late marker commits the next transaction", text: include_str!("../scenarios/txn-late-marker-3.6.toml") },
    Lesson { title: "4.0: the late marker is refused", text: include_str!("../scenarios/txn-late-marker-prevented-4.0.toml") },
    Lesson { title: "Exactly once: read-process-write", text: include_str!("../scenarios/rpw-commit.toml") },
    Lesson { title: "Exactly once: a crash after the output was written", text: include_str!("../scenarios/rpw-crash-at-output.toml") },
    Lesson { title: "Exactly once in Kafka, twice in the database sink", text: include_str!("../scenarios/rpw-crash-at-process.toml") },
    Lesson {
        title: "A slow instance is fenced by the group generation",
        text: include_str!("../scenarios/rpw-zombie-fenced-by-generation.toml"),
    },
    Lesson {
        title: "Consumer: too slow for max.poll.interval.ms",
        text: include_str!("../scenarios/consumer-max-poll-interval-duplicates.toml"),
    },
    Lesson {
        title: "Transaction: committed, but the marker is stuck under min ISR",
        text: include_str!("../scenarios/txn-marker-blocked-under-min-isr.toml"),
    },
];

pub enum Msg {
    Load {
        text: String,
        stop: usize,
        record: Option<String>,
    },
    EditText(String),
    RunEditor,
    Lesson(usize),
    Set(Where, &'static str, Option<String>),
    Step(i32),
    Seek(usize),
    /// The event log was opened or closed.
    LogOpen(bool),
    TogglePlay,
    Tick,
    /// Warm the scrubbing code up once a long run is on screen (see `WARM_UP_STOPS`).
    WarmUp,
    /// Put back the moment (and the screen-reader announcement) the warm-up moved from.
    WarmUpDone(usize, String),
    Speed(u32),
    Select(Option<String>),
    JumpTime(u64),
    Broker(&'static str, usize),
    Controller(&'static str),
    Producer(&'static str),
    Consumer(&'static str, String),
    DropMessage(&'static str, String),
    /// The application sends `n` new records now, in a transaction that it commits or aborts.
    Send(usize, Option<&'static str>),
    /// The fault preset chosen for the selected record, and arming it.
    ArmChoice(usize),
    Arm(String),
    CopyLink,
    /// A link was made (its fragment), or one could not be made or opened (the notice).
    LinkMade(String),
    LinkFailed(String),
    ExportToml,
    ExportReport,
    Imported(String, Result<String, String>),
    ImportFile(Option<web_sys::File>),
    Filter(String),
    /// Show the next (+1) or previous (-1) page of the ledger.
    LedgerPage(isize),
    Find(String),
    ToggleLarge,
    Key(KeyboardEvent),
    DismissNotice,
    HashChanged,
}

pub struct App {
    text: String,
    run: Option<Rc<Run>>,
    stop: usize,
    sim: Option<Sim>,
    report: Option<Report>,
    error: Option<String>,
    notice: Option<String>,
    selected: Option<String>,
    playing: bool,
    speed: u32,
    timer: Option<Interval>,
    _keys: Option<EventListener>,
    _hash: Option<EventListener>,
    filter: String,
    find: String,
    /// The first ledger row drawn, an index into the records the finder matches.
    ledger_first: usize,
    large: bool,
    link: String,
    reader: Option<gloo_file::callbacks::FileReader>,
    announce: String,
    /// What depends on the scenario text alone (the settings and "copy as code" panels, the
    /// header's version and seed). Parsing the text on every redraw cost more than the rest of
    /// the page while scrubbing, so it is kept with the text it was drawn for.
    text_panels: std::cell::RefCell<Option<TextViews>>,
    log_open: bool,
    /// Which of `ARMS` the "arm a fault" menu shows.
    arm_choice: usize,
    /// The warm-up: pending, then the moment to return to while it is drawn, then done.
    warm_timer: Option<Timeout>,
    warm_return: Option<(usize, String)>,
    warmed: bool,
}

/// The parts of the page drawn from the scenario text alone.
#[derive(Clone)]
struct TextViews {
    text: String,
    settings: Html,
    code: Html,
    version: String,
    seed: String,
}

/// A fault the learner can arm on the selected record: a hook of the scenario format and the
/// action it fires, in words.
struct ArmPreset {
    label: &'static str,
    hook: &'static str,
    action: &'static str,
    target: Option<&'static str>,
}

const ARMS: &[ArmPreset] = &[
    ArmPreset { label: "lose the ack of {} (drop its produce response)", hook: "request", action: "drop-response", target: None },
    ArmPreset { label: "lose the produce request of {}", hook: "request", action: "drop-request", target: None },
    ArmPreset { label: "kill the leader right after it acks {}", hook: "ack", action: "kill-broker", target: Some("leader") },
    ArmPreset {
        label: "kill the leader as soon as it appends {}, before it answers",
        hook: "leader-append",
        action: "kill-broker",
        target: Some("leader"),
    },
    ArmPreset { label: "crash the producer right after send({})", hook: "send", action: "crash-producer", target: None },
    ArmPreset { label: "crash the producer once the ack of {} reaches it", hook: "response", action: "crash-producer", target: None },
    ArmPreset {
        label: "crash the producer when it commits the transaction of {}",
        hook: "commit-transaction",
        action: "crash-producer",
        target: None,
    },
    ArmPreset {
        label: "kill the transaction coordinator after PrepareCommit of {}",
        hook: "prepare-commit",
        action: "kill-broker",
        target: Some("coordinator"),
    },
    ArmPreset { label: "crash the consumer right after poll() returns {}", hook: "poll", action: "crash-consumer", target: None },
    ArmPreset { label: "crash the consumer right after it processes {}", hook: "process", action: "crash-consumer", target: None },
    ArmPreset {
        label: "crash the consumer right after its offset commit past {}",
        hook: "offset-commit",
        action: "crash-consumer",
        target: None,
    },
];

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

fn storage() -> Option<web_sys::Storage> {
    window()?.local_storage().ok()?
}

/// Where the page starts: the link in the URL (decoded before the lab mounts, as the browser
/// inflates it asynchronously), else the last sandbox, else the first lesson. Anything
/// unreadable is said, never fatal.
fn initial_state(opened: Option<&Result<LinkState, String>>) -> (LinkState, Option<String>) {
    let default = LinkState { scenario: LESSONS[0].text.to_string(), stop: 0, record: None };
    match opened {
        Some(Ok(s)) => (s.clone(), None),
        Some(Err(e)) => {
            let (s, _) = stored_state(default);
            (s, Some(format!("The link could not be opened: {e}. The lab shows your last sandbox instead.")))
        }
        None => stored_state(default),
    }
}

/// The link the page was opened with, if its URL has a fragment, decoded.
pub async fn opened_link() -> Option<Result<LinkState, String>> {
    let hash = window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    let frag = hash.trim_start_matches('#');
    if frag.is_empty() {
        return None;
    }
    Some(link::decode(frag).await)
}

/// What the lab starts from: the link it was opened with, decoded (`None`: no link).
#[derive(Properties, PartialEq, Default)]
pub struct Start {
    #[prop_or_default]
    pub link: Option<Rc<Result<LinkState, String>>>,
}

fn stored_state(default: LinkState) -> (LinkState, Option<String>) {
    let Some(raw) = storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten()) else { return (default, None) };
    // Read as links are: one JSON reader in the page, not two.
    match crate::link::from_json(raw.as_bytes()) {
        Ok(s) => (s, None),
        Err(_) => (
            default,
            Some(
                "The saved sandbox in this browser was unreadable (perhaps from another version); the first lesson is shown instead."
                    .into(),
            ),
        ),
    }
}

/// What the screen reader hears when fates change: each record when a few change (a step),
/// counts per fate when many do (a jump across a long run would otherwise put thousands of
/// sentences in the live region, which no one can listen to and the page must lay out).
fn announcement(changed: &[(&str, &str)]) -> String {
    const LISTED: usize = 5;
    if changed.len() <= LISTED {
        return changed.iter().map(|(id, fate)| format!("{id} is now {fate}")).collect::<Vec<_>>().join("; ");
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for &(_, fate) in changed {
        match counts.iter_mut().find(|(f, _)| *f == fate) {
            Some((_, n)) => *n += 1,
            None => counts.push((fate, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(f, n)| format!("{n} now {f}")).collect();
    format!("{} records changed fate: {}", changed.len(), parts.join(", "))
}

fn fate_icon(f: &str) -> &'static str {
    match f {
        "committed" => "✔",
        "lost" => "✖",
        // Not "⧉" (two joined squares): DejaVu, the font many Linux machines fall back to,
        // has no glyph for it, and the fate showed as an empty box.
        "duplicated" => "❏",
        "reordered" => "⇅",
        "rejected" => "⊘",
        "pending" => "…",
        "aborted" => "⌀",
        "aborted-read" => "⚠",
        _ => "?",
    }
}

/// A transaction state short enough for an offset cell (its full name is in the cell's title).
fn short_state(state: &str) -> &str {
    match state {
        "Ongoing" => "Ongoing",
        "PrepareCommit" => "Prep.C",
        "PrepareAbort" => "Prep.A",
        "CompleteCommit" => "Done.C",
        "CompleteAbort" => "Done.A",
        other => other,
    }
}

fn fate_colour(f: &str) -> &'static str {
    match f {
        "committed" => "#009E73",
        "lost" => "#D55E00",
        "duplicated" => "#CC79A7",
        "reordered" => "#E69F00",
        "rejected" => "#0072B2",
        "aborted" => "#56B4E9",
        "aborted-read" => "#b8a000",
        _ => "#6b6b6b",
    }
}

fn download(name: &str, mime: &str, body: &str) -> Result<(), String> {
    let arr = js_sys::Array::new();
    arr.push(&wasm_bindgen::JsValue::from_str(body));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&arr, &opts).map_err(|_| "the browser refused to build the file")?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| "the browser refused to build the file")?;
    let doc = window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = doc.create_element("a").map_err(|_| "no anchor")?.dyn_into().map_err(|_| "no anchor")?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

impl App {
    fn load(&mut self, text: String, stop: usize, record: Option<String>) -> bool {
        match Run::new(&text) {
            Ok(run) => {
                let run = Rc::new(run);
                self.text = text;
                self.error = None;
                self.stop = stop.min(run.stops.len() - 1);
                self.selected = record.filter(|r| run.final_report.records.iter().any(|x| *x.id == **r));
                self.run = Some(run);
                // The moment shown so far belongs to the old run: never step it forward.
                self.sim = None;
                self.refresh();
                self.save();
                true
            }
            Err(e) => {
                // Keep the last good run on screen and the user's text in the editor.
                self.text = text;
                self.error = Some(e.to_string());
                self.playing = false;
                self.timer = None;
                true
            }
        }
    }

    fn refresh(&mut self) {
        let Some(run) = &self.run else { return };
        let stop = run.stops[self.stop];
        let sim = run.advance(self.sim.take(), stop.events);
        let report = Report::build_view(&sim, self.selected.as_deref(), PARTITION_CELLS);
        if let Some(old) = &self.report {
            let changed: Vec<(&str, &str)> = report
                .records
                .iter()
                .zip(old.records.iter())
                .filter(|(a, b)| a.id == b.id && a.fate != b.fate)
                .map(|(a, _)| (&*a.id, a.fate))
                .collect();
            if !changed.is_empty() {
                self.announce = announcement(&changed);
            }
        }
        self.report = Some(report);
        self.sim = Some(sim);
    }

    fn save(&self) {
        let state = LinkState { scenario: self.text.clone(), stop: self.stop, record: self.selected.clone() };
        if let (Some(s), Ok(json)) = (storage(), serde_json::to_string(&state)) {
            let _ = s.set_item(STORAGE_KEY, &json);
        }
    }

    fn now_ms(&self) -> u64 {
        self.sim.as_ref().map(|s| s.now.div_ceil(1000)).unwrap_or(0)
    }

    /// The user changed the scenario, so the URL's link (if the page was opened with one, or
    /// one was copied) no longer shows this lab: remove it, so that a reload opens the saved
    /// sandbox with the change instead of the link without it, and so that opening the same
    /// link again is a change of fragment the page hears.
    fn forget_link(&mut self) {
        self.link.clear();
        let Some(w) = window() else { return };
        if w.location().hash().map(|h| h.len() > 1).unwrap_or(false) {
            let path = w.location().pathname().unwrap_or_default() + &w.location().search().unwrap_or_default();
            if let Ok(h) = w.history() {
                let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
            }
        }
    }

    fn edit(&mut self, r: Result<String, String>) -> bool {
        match r {
            Ok(t) => {
                self.forget_link();
                let stop = self.stop;
                self.load(t, stop, self.selected.clone())
            }
            Err(e) => {
                self.error = Some(e);
                true
            }
        }
    }

    fn set_playing(&mut self, ctx: &Context<Self>, on: bool) {
        self.playing = on;
        self.timer = if on {
            let link = ctx.link().clone();
            let ms = (600 / self.speed.max(1)).max(30);
            Some(Interval::new(ms, move || link.send_message(Msg::Tick)))
        } else {
            None
        };
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = Start;

    fn create(ctx: &Context<Self>) -> Self {
        let (state, notice) = initial_state(ctx.props().link.as_deref());
        let link = ctx.link().clone();
        let keys = window().and_then(|w| w.document()).map(|doc| {
            // Not passive: space must not scroll the page while it plays the lab.
            EventListener::new_with_options(&doc, "keydown", gloo_events::EventListenerOptions::enable_prevent_default(), move |e| {
                if let Some(k) = e.dyn_ref::<KeyboardEvent>() {
                    link.send_message(Msg::Key(k.clone()));
                }
            })
        });
        let link2 = ctx.link().clone();
        let hash = window().map(|w| EventListener::new(&w, "hashchange", move |_| link2.send_message(Msg::HashChanged)));
        let mut app = App {
            text: String::new(),
            run: None,
            stop: 0,
            sim: None,
            report: None,
            error: None,
            notice,
            selected: None,
            playing: false,
            speed: 2,
            timer: None,
            _keys: keys,
            _hash: hash,
            filter: String::new(),
            find: String::new(),
            ledger_first: 0,
            large: false,
            link: String::new(),
            reader: None,
            announce: String::new(),
            text_panels: std::cell::RefCell::new(None),
            log_open: false,
            arm_choice: 0,
            warm_timer: None,
            warm_return: None,
            warmed: false,
        };
        app.load(state.scenario, state.stop, state.record);
        if app.run.is_none() {
            // The linked or stored scenario does not run: say so, and start from a lesson.
            let why = app.error.take().unwrap_or_default();
            app.notice = Some(format!(
                "The saved scenario could not be run ({why}); it is kept in the editor below, and the first lesson is shown."
            ));
            let kept = app.text.clone();
            app.load(LESSONS[0].text.to_string(), 0, None);
            app.text = kept;
        }
        app
    }

    fn rendered(&mut self, ctx: &Context<Self>, _first_render: bool) {
        // Yew runs this before the browser paints, and the message it sends is handled and
        // drawn in the same task: the warm-up's far moment is replaced before any paint.
        if let Some((stop, announce)) = self.warm_return.take() {
            ctx.link().send_message(Msg::WarmUpDone(stop, announce));
        } else if !self.warmed && self.warm_timer.is_none() && self.run.as_ref().is_some_and(|r| r.stops.len() >= WARM_UP_STOPS) {
            let link = ctx.link().clone();
            self.warm_timer = Some(Timeout::new(WARM_UP_DELAY_MS, move || link.send_message(Msg::WarmUp)));
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Load { text, stop, record } => self.load(text, stop, record),
            Msg::EditText(t) => {
                self.text = t;
                false
            }
            Msg::RunEditor => {
                self.forget_link();
                let t = self.text.clone();
                self.load(t, 0, None)
            }
            Msg::Lesson(i) => {
                self.set_playing(ctx, false);
                self.report = None;
                self.forget_link();
                self.load(LESSONS.get(i).map(|l| l.text).unwrap_or(LESSONS[0].text).to_string(), 0, None)
            }
            Msg::Set(w, key, v) => {
                let r = settings::set(&self.text, w, key, v.as_deref());
                self.edit(r)
            }
            Msg::Step(d) => {
                let Some(run) = &self.run else { return false };
                let max = run.stops.len() - 1;
                let next = (self.stop as i64 + d as i64).clamp(0, max as i64) as usize;
                if next == self.stop {
                    if self.playing {
                        self.set_playing(ctx, false);
                        return true;
                    }
                    return false;
                }
                self.stop = next;
                self.refresh();
                self.save();
                true
            }
            Msg::WarmUp => {
                self.warm_timer = None;
                let Some(run) = &self.run else { return false };
                let n = run.stops.len();
                if self.warmed || self.playing || n < WARM_UP_STOPS {
                    return false;
                }
                self.warmed = true;
                self.warm_return = Some((self.stop, self.announce.clone()));
                // The moment farthest from the one shown, so the jump is as long as any.
                self.stop = if self.stop < n / 2 { n - 1 - n / 20 } else { n / 20 };
                self.refresh();
                true
            }
            Msg::WarmUpDone(stop, announce) => {
                self.stop = stop;
                self.refresh();
                self.announce = announce;
                true
            }
            Msg::Seek(i) => {
                let max = self.run.as_ref().map(|r| r.stops.len() - 1).unwrap_or(0);
                self.stop = i.min(max);
                self.refresh();
                self.save();
                true
            }
            Msg::TogglePlay => {
                let on = !self.playing;
                if on {
                    if let Some(run) = &self.run {
                        if self.stop + 1 >= run.stops.len() {
                            self.stop = 0;
                            self.refresh();
                        }
                    }
                }
                self.set_playing(ctx, on);
                true
            }
            Msg::Tick => {
                ctx.link().send_message(Msg::Step(1));
                false
            }
            Msg::Speed(s) => {
                self.speed = s;
                if self.playing {
                    self.set_playing(ctx, true);
                }
                true
            }
            Msg::LogOpen(open) => {
                let changed = self.log_open != open;
                self.log_open = open;
                changed
            }
            Msg::Select(r) => {
                self.selected = r;
                // The moment's report carries the selected record's why-chain only.
                self.refresh();
                self.save();
                true
            }
            Msg::JumpTime(t) => {
                if let Some(run) = &self.run {
                    self.stop = run.stop_at_time(t);
                    self.refresh();
                }
                true
            }
            Msg::Broker(action, b) => {
                let extra: &[(&str, i64)] = if action == "slow-follower" { &[("duration_ms", 40000)] } else { &[] };
                let r = settings::add_fault(&self.text, self.now_ms(), action, Some(&format!("b{}", b + 1)), extra);
                self.notice = Some(format!(
                    "Added a fault at t={} ms: {action} b{}. The run was replayed from the start; what follows is a new future.",
                    self.now_ms(),
                    b + 1
                ));
                self.edit(r)
            }
            Msg::Controller(action) => {
                let r = settings::add_fault(&self.text, self.now_ms(), action, Some("controller"), &[]);
                self.notice = Some(format!(
                    "Added a fault at t={} ms: {action} controller. The run was replayed; what follows is a new future.",
                    self.now_ms()
                ));
                self.edit(r)
            }
            Msg::Producer(action) => {
                let r = settings::add_fault(&self.text, self.now_ms(), action, None, &[]);
                self.notice =
                    Some(format!("Added a fault at t={} ms: {action}. The run was replayed; what follows is a new future.", self.now_ms()));
                self.edit(r)
            }
            Msg::DropMessage(hook, record) => {
                let action = if hook == "request" { "drop-request" } else { "drop-response" };
                let r = settings::add_hook_fault(&self.text, hook, &record, action, None);
                self.notice = Some(format!(
                    "Added a fault: on the {hook} of {record}, {action}. The run was replayed; what follows is a new future."
                ));
                self.edit(r)
            }
            Msg::Consumer(action, name) => {
                let r = settings::add_fault(&self.text, self.now_ms(), action, Some(&name), &[]);
                self.notice = Some(format!(
                    "Added a fault at t={} ms: {action} {name}. The run was replayed; what follows is a new future.",
                    self.now_ms()
                ));
                self.edit(r)
            }
            Msg::Send(n, transaction) => {
                let used: klab::vecmap::VecSet<String> =
                    self.run.as_ref().map(|r| r.final_report.records.iter().map(|x| x.id.to_string()).collect()).unwrap_or_default();
                let ids: Vec<String> = (1..).map(|i| format!("x{i}")).filter(|c| !used.contains(c)).take(n).collect();
                let r = settings::add_send(&self.text, self.now_ms(), &ids, transaction);
                let what = match transaction {
                    Some("commit") => " in a transaction it then commits",
                    Some(_) => " in a transaction it then aborts",
                    None => "",
                };
                self.notice = Some(format!("The application sends {}{what} at t={} ms.", ids.join(", "), self.now_ms()));
                self.edit(r)
            }
            Msg::ArmChoice(i) => {
                self.arm_choice = i.min(ARMS.len() - 1);
                false
            }
            Msg::Arm(record) => {
                let arm = &ARMS[self.arm_choice];
                let r = settings::add_hook_fault(&self.text, arm.hook, &record, arm.action, arm.target);
                self.notice = Some(format!(
                    "Armed: {} (on = \"{}\", record = \"{record}\", do = \"{}\"). The run was replayed; what follows is a new future.",
                    arm.label.replace("{}", &record),
                    arm.hook,
                    arm.action
                ));
                self.edit(r)
            }
            Msg::CopyLink => {
                let state = LinkState { scenario: self.text.clone(), stop: self.stop, record: self.selected.clone() };
                let link = ctx.link().clone();
                wasm_bindgen_futures::spawn_local(async move {
                    link.send_message(match link::encode(&state).await {
                        Some(frag) => Msg::LinkMade(frag),
                        None => Msg::LinkFailed(
                            "The link could not be made: this browser cannot compress it (the lab needs CompressionStream).".into(),
                        ),
                    });
                });
                false
            }
            Msg::LinkMade(frag) => {
                if let Some(w) = window() {
                    let base = w.location().href().unwrap_or_default();
                    let base = base.split('#').next().unwrap_or("").to_string();
                    self.link = format!("{base}#{frag}");
                    if let Ok(h) = w.history() {
                        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("#{frag}")));
                    }
                    let _ = w.navigator().clipboard().write_text(&self.link);
                }
                true
            }
            Msg::LinkFailed(notice) => {
                self.notice = Some(notice);
                true
            }
            Msg::ExportToml => {
                if let Err(e) = download("scenario.toml", "application/toml", &self.text) {
                    self.error = Some(e);
                }
                true
            }
            Msg::ExportReport => {
                if let Some(r) = &self.run {
                    if let Err(e) = download("report.json", "application/json", &r.full_report().to_json()) {
                        self.error = Some(e);
                    }
                }
                true
            }
            Msg::ImportFile(file) => {
                if let Some(f) = file {
                    let name = f.name();
                    let link = ctx.link().clone();
                    let gf = gloo_file::File::from(f);
                    self.reader = Some(gloo_file::callbacks::read_as_text(&gf, move |res| {
                        link.send_message(Msg::Imported(name, res.map_err(|e| e.to_string())));
                    }));
                }
                false
            }
            Msg::Imported(name, res) => {
                self.reader = None;
                match res {
                    Ok(t) => {
                        self.forget_link();
                        let ok = self.load(t, 0, None);
                        if self.error.is_some() {
                            self.error = Some(format!("{name} could not be run: {}", self.error.take().unwrap_or_default()));
                        }
                        ok
                    }
                    Err(e) => {
                        self.error = Some(format!("{name} could not be read: {e}"));
                        true
                    }
                }
            }
            Msg::Filter(f) => {
                self.filter = f;
                true
            }
            Msg::LedgerPage(d) => {
                // From the page shown (the run may have fewer records than when it was chosen).
                let shown = self.ledger_page_start(self.ledger_matching().len());
                self.ledger_first = if d < 0 { shown.saturating_sub(LEDGER_ROWS) } else { shown + LEDGER_ROWS };
                true
            }
            Msg::Find(f) => {
                self.find = f;
                self.ledger_first = 0;
                true
            }

            Msg::ToggleLarge => {
                self.large = !self.large;
                if let Some(body) = window().and_then(|w| w.document()).and_then(|d| d.body()) {
                    let _ = body.class_list().toggle_with_force("large", self.large);
                }
                true
            }
            Msg::Key(e) => {
                let tag = e.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).map(|el| el.tag_name()).unwrap_or_default();
                if matches!(tag.as_str(), "TEXTAREA" | "INPUT" | "SELECT") {
                    return false;
                }
                match e.key().as_str() {
                    " " => {
                        e.prevent_default();
                        ctx.link().send_message(Msg::TogglePlay);
                    }
                    "ArrowRight" => ctx.link().send_message(Msg::Step(1)),
                    "ArrowLeft" => ctx.link().send_message(Msg::Step(-1)),
                    "Home" => ctx.link().send_message(Msg::Seek(0)),
                    "End" => ctx.link().send_message(Msg::Seek(usize::MAX)),
                    _ => {}
                }
                false
            }
            Msg::DismissNotice => {
                self.notice = None;
                true
            }
            Msg::HashChanged => {
                let hash = window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
                let frag = hash.trim_start_matches('#').to_string();
                // The lab's own "Copy link" uses replaceState, which fires no hashchange: a
                // change here is always someone opening a link, even the one just copied.
                if frag.is_empty() {
                    return false;
                }
                let link = ctx.link().clone();
                wasm_bindgen_futures::spawn_local(async move {
                    link.send_message(match link::decode(&frag).await {
                        Ok(s) => Msg::Load { text: s.scenario, stop: s.stop, record: s.record },
                        Err(e) => Msg::LinkFailed(format!("The link could not be opened: {e}. The lab keeps what it showed.")),
                    });
                });
                false
            }
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let TextViews { settings, code, version, seed, .. } = self.text_panels(ctx);
        html! {
            <div class="app">
                { self.view_header(ctx, &version, &seed) }
                <main class="cols">
                    <div class="side">
                        <div class="messages">{ self.view_messages(ctx) }</div>
                        { settings }
                        <section class="panel" aria-labelledby="h-editor">
                            <h2 id="h-editor">{ "Scenario file" }</h2>
                            <textarea class="editor" aria-label="Scenario (TOML)" spellcheck="false" value={self.text.clone()}
                                oninput={link.callback(|e: InputEvent| Msg::EditText(e.target_unchecked_into::<HtmlTextAreaElement>().value()))} />
                            <button onclick={link.callback(|_| Msg::RunEditor)}>{ "Run scenario" }</button>
                        </section>
                    </div>
                    <div>
                        { self.view_diagram(ctx) }
                        { code }
                    </div>
                    <div>{ self.view_records(ctx) }</div>
                </main>
                { self.view_time(ctx) }
                <div class="sr-only" aria-live="polite">{ self.announce.clone() }</div>
            </div>
        }
    }
}

impl App {
    fn text_panels(&self, ctx: &Context<Self>) -> TextViews {
        let mut cache = self.text_panels.borrow_mut();
        if cache.as_ref().map(|v| v.text != self.text).unwrap_or(true) {
            *cache = Some(TextViews {
                text: self.text.clone(),
                settings: self.view_settings(ctx),
                code: self.view_code(),
                version: settings::get(&self.text, Where::Top, "kafka").unwrap_or_else(|| "4.0".into()),
                seed: settings::get(&self.text, Where::Top, "seed").unwrap_or_else(|| "0".into()),
            });
        }
        cache.clone().expect("just filled")
    }

    fn view_header(&self, ctx: &Context<Self>, version: &str, seed: &str) -> Html {
        let link = ctx.link();
        let title = self.run.as_ref().map(|r| r.final_report.title.clone()).unwrap_or_default();
        let lesson_idx = LESSONS.iter().position(|l| l.text == self.text);
        html! {
            <header class="top">
                <h1>{ "Kafka Delivery Lab" }</h1>
                <label>{ "Lesson " }
                    <select aria-label="Lesson" onchange={link.callback(|e: Event| Msg::Lesson(e.target_unchecked_into::<HtmlSelectElement>().value().parse().unwrap_or(0)))}>
                        <option value="" selected={lesson_idx.is_none()} disabled=true>{ "(your scenario)" }</option>
                        { for LESSONS.iter().enumerate().map(|(i, l)| html!{ <option value={i.to_string()} selected={lesson_idx == Some(i)}>{ l.title }</option> }) }
                    </select>
                </label>
                <label>{ "Kafka " }
                    <select aria-label="Kafka version" onchange={link.callback(|e: Event| Msg::Set(Where::Top, "kafka", Some(e.target_unchecked_into::<HtmlSelectElement>().value())))}>
                        // One entry per behaviour profile; a release the file names that is
                        // not one of these values (say "3.7") is kept as its own entry.
                        if !KAFKA_MENU.iter().any(|(v, _)| *v == version) {
                            <option value={version.to_string()} selected=true>{ version }</option>
                        }
                        { for KAFKA_MENU.iter().map(|(v, label)| html!{ <option value={*v} selected={version == *v}>{ *label }</option> }) }
                    </select>
                </label>
                <label>{ "seed " }
                    <input type="number" min="0" aria-label="Seed" style="width:7em" value={seed.to_string()}
                        onchange={link.callback(|e: Event| Msg::Set(Where::Top, "seed", Some(e.target_unchecked_into::<HtmlInputElement>().value())))} />
                </label>
                <button onclick={link.callback(|_| Msg::CopyLink)}>{ "Copy link" }</button>
                <button onclick={link.callback(|_| Msg::ExportToml)}>{ "Export TOML" }</button>
                <label class="import">{ "Import TOML " }
                    <input type="file" accept=".toml,text/plain" aria-label="Import TOML file"
                        onchange={link.callback(|e: Event| Msg::ImportFile(e.target_unchecked_into::<HtmlInputElement>().files().and_then(|f| f.get(0))))} />
                </label>
                <button onclick={link.callback(|_| Msg::ExportReport)}>{ "Export report JSON" }</button>
                <button aria-pressed={self.large.to_string()} onclick={link.callback(|_| Msg::ToggleLarge)}>{ "Large text" }</button>
                <span class="title" aria-label="Scenario title">{ title }</span>
                if !self.link.is_empty() {
                    <input readonly=true aria-label="Link to this moment" value={self.link.clone()} style="width:16em" />
                }
            </header>
        }
    }

    fn view_messages(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        html! {
            <>
                if let Some(e) = &self.error {
                    <div class="error" role="alert" aria-label="Error">
                        <strong>{ "Kafka would refuse this: " }</strong>{ e.clone() }
                        <div><small>{ "The last working run stays on screen; fix the scenario and run it again." }</small></div>
                    </div>
                }
                if let Some(n) = &self.notice {
                    <div class="note" role="status">{ n.clone() }{ " " }<button onclick={link.callback(|_| Msg::DismissNotice)}>{ "Dismiss" }</button></div>
                }
                if let Some(r) = self.run.as_ref() {
                    { for r.final_report.notes.iter().map(|n| html!{ <div class="note" role="note">{ n.clone() }</div> }) }
                }
            </>
        }
    }

    fn select(
        &self,
        ctx: &Context<Self>,
        label: &'static str,
        kafka: &'static str,
        w: Where,
        options: &[(&'static str, &'static str)],
    ) -> Html {
        let cur = settings::get(&self.text, w, kafka).unwrap_or_default();
        // A value the file has but the menu does not offer is shown as itself, never as
        // "default".
        let other = (!cur.is_empty() && !options.iter().any(|(v, _)| *v == cur)).then(|| cur.clone());
        let cb = ctx.link().callback(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            Msg::Set(w, kafka, if v.is_empty() { None } else { Some(v) })
        });
        html! {
            <label>
                <span>{ label }<small>{ kafka }</small></span>
                <select aria-label={label} onchange={cb}>
                    { for options.iter().map(|(v, t)| html!{ <option value={*v} selected={cur == *v}>{ *t }</option> }) }
                    if let Some(o) = other {
                        <option value={o.clone()} selected=true>{ o }</option>
                    }
                </select>
            </label>
        }
    }

    fn view_settings(&self, ctx: &Context<Self>) -> Html {
        let sc = klab::Scenario::parse(&self.text).ok();
        let eff = sc.as_ref().and_then(|s| s.producers.first().cloned());
        let eff_text = eff
            .map(|p| {
                format!(
                    "in effect: acks={}, idempotence {}, max.in.flight {}, linger.ms {}",
                    match p.acks {
                        -1 => "all",
                        0 => "0",
                        _ => "1",
                    },
                    if p.idempotence { "on" } else { "off" },
                    p.max_in_flight,
                    p.linger_ms
                )
            })
            .unwrap_or_default();
        html! {
            <section class="panel settings" aria-labelledby="h-settings">
                <h2 id="h-settings">{ "Settings" }</h2>
                <h3>{ "Producer" }</h3>
                { self.select(ctx, "Acknowledgements", "acks", Where::Producer, &[("", "version default"), ("0", "0: none"), ("1", "1: leader only"), ("all", "all: the ISR")]) }
                { self.select(ctx, "Idempotence", "enable.idempotence", Where::Producer, &[("", "version default"), ("true", "true"), ("false", "false")]) }
                { self.select(ctx, "Requests in flight", "max.in.flight.requests.per.connection", Where::Producer, &[("", "default (5)"), ("1", "1"), ("2", "2"), ("5", "5"), ("6", "6")]) }
                { self.select(ctx, "Retries", "retries", Where::Producer, &[("", "default (max)"), ("0", "0: never"), ("3", "3")]) }
                { self.select(ctx, "Give up after", "delivery.timeout.ms", Where::Producer, &[("", "default (120000)"), ("5000", "5 s"), ("30000", "30 s")]) }
                { self.select(ctx, "Wait to batch", "linger.ms", Where::Producer, &[("", "version default"), ("0", "0 ms"), ("5", "5 ms"), ("100", "100 ms")]) }
                { self.select(ctx, "Transactions", "transactional.id", Where::Producer, &[("", "none"), ("tx-1", "tx-1")]) }
                <p><small aria-label="Producer settings in effect">{ eff_text }</small></p>
                <h3>{ "Topic" }</h3>
                { self.select(ctx, "Replicas", "replication.factor", Where::Topic, &[("", "default"), ("1", "1"), ("2", "2"), ("3", "3")]) }
                { self.select(ctx, "Minimum in-sync replicas", "min.insync.replicas", Where::Topic, &[("", "default (1)"), ("1", "1"), ("2", "2"), ("3", "3")]) }
                <h3>{ "Cluster" }</h3>
                { self.select(ctx, "Brokers", "brokers", Where::Cluster, &[("", "default (3)"), ("1", "1"), ("2", "2"), ("3", "3"), ("4", "4"), ("5", "5")]) }
                { self.select(ctx, "Unclean leader election", "unclean.leader.election.enable", Where::Cluster, &[("", "default (false)"), ("false", "false"), ("true", "true")]) }
                { self.select(ctx, "Out of the ISR after", "replica.lag.time.max.ms", Where::Cluster, &[("", "default (30000)"), ("10000", "10 s"), ("60000", "60 s")]) }
                if sc.as_ref().map(|s| !s.consumers.is_empty()).unwrap_or(false) {
                    <h3>{ "Consumer" }</h3>
                    { self.select(ctx, "Reads", "isolation.level", Where::Consumer, &[("", "default"), ("read_uncommitted", "read_uncommitted"), ("read_committed", "read_committed")]) }
                    { self.select(ctx, "Offsets committed", "commit", Where::Consumer, &[("", "format default"), ("before-processing", "before processing"), ("after-processing", "after processing"), ("auto", "auto-commit"), ("in-sink", "in the sink"), ("transaction", "in a transaction")]) }
                    { self.select(ctx, "Auto-commit", "enable.auto.commit", Where::Consumer, &[("", "default (true)"), ("true", "true"), ("false", "false")]) }
                    { self.select(ctx, "Start with no offset at", "auto.offset.reset", Where::Consumer, &[("", "default (latest)"), ("earliest", "earliest"), ("latest", "latest")]) }
                    { self.select(ctx, "Database sink", "sink", Where::Consumer, &[("", "none"), ("insert", "insert (a row each time)"), ("upsert", "upsert (by key)")]) }
                }
            </section>
        }
    }

    fn view_diagram(&self, ctx: &Context<Self>) -> Html {
        let (Some(sim), Some(report)) = (&self.sim, &self.report) else { return html! {} };
        let link = ctx.link();
        let empty = klab::vecmap::VecMap::new();
        let fates = self.run.as_ref().map(|r| &r.final_fates).unwrap_or(&empty);
        html! {
            <section class="panel diagram" aria-labelledby="h-cluster">
                <h2 id="h-cluster">{ "Cluster" }</h2>
                { for sim.producer_views().iter().map(|p| self.view_producer(ctx, p)) }
                <div class="node-menu" role="group" aria-label="Application">
                    <button onclick={link.callback(|_| Msg::Send(1, None))}>{ "Send a record now" }</button>
                    <button onclick={link.callback(|_| Msg::Send(10, None))}>{ "Send 10 records" }</button>
                    if sim.producers.first().map(|p| p.cfg.transactional_id.is_some()).unwrap_or(false) {
                        <button onclick={link.callback(|_| Msg::Send(3, Some("commit")))}>{ "Send 3 records in a transaction, then commit it" }</button>
                        <button onclick={link.callback(|_| Msg::Send(3, Some("abort")))}>{ "Send 3 records in a transaction, then abort it" }</button>
                    }
                </div>
                { for (0..sim.brokers.len()).map(|b| {
                    let br = &sim.brokers[b];
                    let state = if !br.alive { "down" } else if !br.caught_up { "starting, not yet registered" } else if br.isolated { "isolated" } else if sim.is_slow(b) { "slow" } else { "up" };
                    let fenced = sim.ctrl.fenced[b];
                    let name = format!("b{}", b + 1);
                    html! {
                        <div class="node-menu" role="group" aria-label={format!("Broker {name}")}>
                            <strong>{ format!("{name}: {state}{}", if fenced { ", fenced by the controller" } else { "" }) }</strong>
                            { menu_buttons(link, node_actions(br.alive, br.isolated), &name, move |a| Msg::Broker(a, b)) }
                        </div>
                    }
                }) }
                <div class="node-menu" role="group" aria-label="Controller">
                    <strong>{ format!("controller: {} ({} of {} voters up)", match (sim.ctrl.alive, sim.ctrl.isolated, sim.ctrl.has_quorum()) {
                        (true, true, _) => "isolated",
                        (true, false, _) => "up",
                        (false, _, true) => "electing",
                        (false, _, false) => "down, no quorum",
                    }, sim.ctrl.voters_up, klab::sim::CONTROLLER_VOTERS) }</strong>
                    { menu_buttons(link, controller_actions(sim.ctrl.voters_up, sim.ctrl.alive, sim.ctrl.isolated), "the controller", Msg::Controller) }
                </div>
                { for (0..sim.consumers.len()).map(|c| self.view_consumer(ctx, sim, c)) }
                { self.view_wire(ctx, sim) }
                if !sim.txn_ids.is_empty() {
                    <div class="node-menu" role="group" aria-label="Transaction coordinator">
                        <strong>{ "transaction coordinator" }</strong>
                        { for sim.txn_ids.iter().map(|(id, m)| {
                            let on = sim.coordinator_of(id).map(|b| klab::sim::Sim::bname(b).to_string()).unwrap_or_else(|| "no live broker".into());
                            let groups = m.groups.iter().map(|&g| format!("offsets of {}", sim.groups[g].name));
                            let parts = m.parts.iter().map(|&p| sim.parts[p].name.to_string()).chain(groups).collect::<Vec<_>>().join(", ");
                            html!{
                                <span class="chip">{ format!("{id} (coordinator on {on}, __transaction_state-{}): pid {} · epoch {} · {} · {}", sim.txn_log_partition(id), m.pid, m.epoch, m.state.name(), if parts.is_empty() { "no partitions".to_string() } else { parts }) }</span>
                            }
                        }) }
                    </div>
                }

                { for report.partitions.iter().map(|p| self.view_partition(p, sim, fates)) }
                if !sim.txn_ids.is_empty() {
                    <h3 class="sub">{ "__transaction_state: each coordinator state change is a write that must replicate" }</h3>
                    { for klab::report::transaction_log_partitions(sim).iter().map(|p| self.view_partition(p, sim, fates)) }
                }
            </section>
        }
    }

    fn view_producer(&self, ctx: &Context<Self>, p: &ProducerView) -> Html {
        let link = ctx.link();
        let state = if p.crashed {
            "crashed"
        } else if p.closed {
            "closed"
        } else {
            "running"
        };
        let id = if p.idempotent { format!("pid {} · epoch {}", p.pid, p.epoch) } else { "not idempotent".into() };
        html! {
            <div class="node-menu" role="group" aria-label={format!("Producer {}", p.name)}>
                <strong>{ format!("{} ({state}; {id})", p.name) }</strong>
                { for p.in_flight.iter().map(|r| html!{
                    <span class="chip">{ format!("→{}: {}{}{}", r.broker, id_list(&r.recs, r.total), r.seq.map(|s| format!(" seq {s}")).unwrap_or_default(), if r.attempts > 0 { format!(" ⟳{}", r.attempts) } else { String::new() }) }</span>
                }) }
                if p.buffered_total > 0 { <span>{ format!("buffered: {}", id_list(&p.buffered, p.buffered_total)) }</span> }
                if p.of_consumer {
                    <span>{ "(the read-process-write application's own producer: crash or restart its consumer)" }</span>
                } else if p.crashed || p.closed {
                    <button onclick={link.callback(|_| Msg::Producer("restart-producer"))}>{ "restart producer" }</button>
                } else if !p.closed {
                    <button onclick={link.callback(|_| Msg::Producer("crash-producer"))}>{ "crash producer" }</button>
                    if p.transactional {
                        <button aria-label={format!("Start a zombie of {}", p.name)} onclick={link.callback(|_| Msg::Producer("start-zombie"))}>{ "start a second instance (zombie)" }</button>
                    }
                }
            </div>
        }
    }

    fn view_wire(&self, ctx: &Context<Self>, sim: &Sim) -> Html {
        let wire = sim.wire();
        let link = ctx.link();
        html! {
            <div class="wire" role="group" aria-label="On the wire">
                <strong>{ format!("On the wire ({})", wire.len()) }</strong>
                if wire.is_empty() { <span>{ " nothing in flight" }</span> }
                { self.view_network(ctx, sim, &wire) }
                <ul>
                    { for wire.into_iter().take(12).map(|w| {
                        let drop = w.droppable.clone();
                        html! {
                            <li>
                                { format!("{} → {}: {} (arrives t={} ms) ", w.from, w.to, w.what, klab::sim::fmt_time(w.arrives_us)) }
                                if let Some((hook, rec)) = drop {
                                    <button aria-label={format!("Drop the {} of {rec}", if hook == "request" { "produce request" } else { "produce response" })}
                                        onclick={link.callback(move |_| Msg::DropMessage(hook, rec.clone()))}>{ "drop" }</button>
                                }
                            </li>
                        }
                    }) }
                </ul>
            </div>
        }
    }

    /// The system as a map: producers on the left, brokers in the middle, the controller and
    /// coordinators beside them, consumers on the right. Each message in flight is a dot on
    /// the line from its sender to its receiver, placed by the simulated time (requests on one
    /// side of the line, answers on the other). It is the engine's state at this moment,
    /// drawn: playing moves the dots.
    fn view_network(&self, ctx: &Context<Self>, sim: &Sim, wire: &[klab::sim::WireView]) -> Html {
        let link = ctx.link();
        // (name, column, row within the column)
        let mut nodes: Vec<(String, usize, usize)> = Vec::new();
        for (i, p) in sim.producers.iter().enumerate() {
            nodes.push((p.cfg.name.clone(), 0, i));
        }
        for b in 0..sim.brokers.len() {
            nodes.push((Sim::bname(b).to_string(), 1, b));
        }
        let mut side = vec!["controller".to_string()];
        if !sim.txn_ids.is_empty() || sim.producers.iter().any(|p| p.cfg.transactional_id.is_some()) {
            side.push("transaction coordinator".into());
        }
        if !sim.consumers.is_empty() {
            side.push("group coordinator".into());
        }
        for (i, n) in side.into_iter().enumerate() {
            nodes.push((n, 2, i));
        }
        for (i, c) in sim.consumers.iter().enumerate() {
            nodes.push((c.cfg.name.clone(), 3, i));
        }
        let rows = nodes.iter().map(|n| n.2 + 1).max().unwrap_or(1);
        let (w, row_h, top) = (760.0, 46.0, 24.0);
        let h = top * 2.0 + row_h * (rows as f64 - 1.0);
        let cols = [70.0, 300.0, 520.0, 690.0];
        let pos = |name: &str| {
            let (_, c, r) = nodes.iter().find(|n| n.0 == name)?;
            let in_col = nodes.iter().filter(|n| n.1 == *c).count() as f64;
            // A column with fewer nodes is centred against the tallest one.
            let y = top + row_h * (*r as f64 + (rows as f64 - in_col) / 2.0);
            Some((cols[*c], y))
        };
        let short = |n: &str| match n {
            "transaction coordinator" => "txn coordinator".to_string(),
            o if o.chars().count() > 14 => format!("{}…", o.chars().take(13).collect::<String>()),
            o => o.to_string(),
        };
        let links: klab::vecmap::VecSet<(String, String)> =
            wire.iter().map(|m| if m.from < m.to { (m.from.clone(), m.to.clone()) } else { (m.to.clone(), m.from.clone()) }).collect();
        let now = sim.now;
        html! {
            <svg class="network" viewBox={format!("0 0 {} {}", px(w), px(h))} role="img"
                aria-label={format!("Messages in flight between the nodes: {}", wire.len())}>
                { for links.iter().filter_map(|(a, b)| {
                    let ((x0, y0), (x1, y1)) = (pos(a)?, pos(b)?);
                    Some(html! { <line x1={px(x0)} y1={px(y0)} x2={px(x1)} y2={px(y1)} stroke="#c8cdd2" stroke-width="1.5" /> })
                }) }
                { for nodes.iter().filter_map(|(n, _, _)| {
                    let (x, y) = pos(n)?;
                    let down = (n == "controller" && !sim.ctrl.alive)
                        || (n.starts_with('b') && n[1..].parse::<usize>().ok().map(|b| !sim.brokers[b - 1].alive).unwrap_or(false));
                    Some(html! { <g>
                        <rect x={px(x - 60.0)} y={px(y - 12.0)} width="120" height="24" rx="4"
                            fill={if down { "#eee" } else { "#f4f8fb" }} stroke={if down { "#bbb" } else { "#678" }} stroke-dasharray={if down { "3 2" } else { "" }} />
                        <text x={px(x)} y={px(y + 4.0)} font-size="11" text-anchor="middle">{ format!("{}{}", short(n), if down { " (down)" } else { "" }) }</text>
                    </g> })
                }) }
                { for wire.iter().filter_map(|m| {
                    let ((x0, y0), (x1, y1)) = (pos(&m.from)?, pos(&m.to)?);
                    let span = m.arrives_us.saturating_sub(m.sent_us).max(1) as f64;
                    let t = (now.saturating_sub(m.sent_us) as f64 / span).clamp(0.0, 1.0);
                    let answer = m.what.contains("response");
                    // Off the line by a few pixels, on the left of the direction of travel, so
                    // that a request and its answer on one link do not hide each other.
                    let (dx, dy) = (x1 - x0, y1 - y0);
                    let len = (dx * dx + dy * dy).sqrt().max(1.0);
                    let (nx, ny) = (-dy / len * 5.0, dx / len * 5.0);
                    let (x, y) = (x0 + dx * t + nx, y0 + dy * t + ny);
                    let colour = if m.what.contains("marker") || m.what.contains("Marker") {
                        "#CC79A7"
                    } else if m.what.starts_with("produce") {
                        if answer { "#009E73" } else { "#0072B2" }
                    } else if m.what.contains("fetch") {
                        "#999"
                    } else {
                        "#E69F00"
                    };
                    // A message a wire fault can reach is dropped by clicking its dot (the list
                    // below has the same action as a button, for the keyboard).
                    let drop = m.droppable.clone();
                    let onclick = drop.map(|(hook, rec)| link.callback(move |_| Msg::DropMessage(hook, rec.clone())));
                    let droppable = onclick.is_some();
                    Some(html! { <circle cx={px(x)} cy={px(y)} r={if droppable { "6" } else { "5" }} fill={colour} stroke="#333" stroke-width="0.5"
                        class={if droppable { "droppable" } else { "" }} {onclick}>
                        <title>{ format!("{} → {}: {}{}", m.from, m.to, m.what, if droppable { " (click to drop it)" } else { "" }) }</title>
                    </circle> })
                }) }
            </svg>
        }
    }

    fn view_consumer(&self, ctx: &Context<Self>, sim: &Sim, c: usize) -> Html {
        let cs = &sim.consumers[c];
        let g = &sim.groups[cs.group];
        let name = cs.cfg.name.clone();
        let state = if cs.crashed {
            "crashed"
        } else if cs.closed {
            "closed"
        } else if cs.alive {
            "running"
        } else {
            "not started"
        };
        let parts: Vec<String> = cs
            .assigned
            .iter()
            .map(|&p| {
                let committed = if cs.cfg.commit == "in-sink" { g.sink_offsets.get(&p) } else { g.committed.get(&p) };
                format!(
                    "{}: position {} · committed {}",
                    sim.parts[p].name,
                    cs.position.get(&p).copied().unwrap_or(0),
                    committed.map(|o| o.to_string()).unwrap_or_else(|| "none".into())
                )
            })
            .collect();
        let rows: u32 = match g.sink.as_str() {
            "insert" => g.rows.values().sum(),
            "upsert" => g.upserts.len() as u32,
            _ => 0,
        };
        // The sink's rows themselves (the first few): a record inserted twice shows "×2"; an
        // upsert row is its key and the record that last wrote it.
        const SHOWN: usize = 16;
        let mut row_chips: Vec<String> = match g.sink.as_str() {
            "insert" => g
                .rows
                .iter()
                .filter(|(_, &n)| n > 0)
                .map(|(r, &n)| format!("{}{}", sim.recs[r as usize].id, if n > 1 { format!(" ×{n}") } else { String::new() }))
                .collect(),
            "upsert" => g.upserts.iter().map(|(k, &r)| format!("{k} = {}", sim.recs[r as usize].id)).collect(),
            _ => Vec::new(),
        };
        let more = row_chips.len().saturating_sub(SHOWN);
        row_chips.truncate(SHOWN);
        let link = ctx.link();
        let (n1, n2, n3) = (name.clone(), name.clone(), name.clone());
        html! {
            <div class="node-menu" role="group" aria-label={format!("Consumer {name}")}>
                <strong>{ format!("consumer {name} (group {}, {state}; commit {}{})", g.name, cs.cfg.commit, if cs.cfg.read_committed { ", read_committed" } else { "" }) }</strong>
                { for parts.into_iter().map(|p| html!{ <span class="chip">{ p }</span> }) }
                if g.sink != "none" {
                    <span role="group" aria-label={format!("Sink rows of {}", g.name)}>
                        { format!("sink ({}): {rows} row(s) ", g.sink) }
                        { for row_chips.into_iter().map(|c| html!{ <span class="chip">{ c }</span> }) }
                        if more > 0 { <span>{ format!("… {more} more") }</span> }
                    </span>
                }
                if cs.alive {
                    <button onclick={link.callback(move |_| Msg::Consumer("crash-consumer", n1.clone()))}>{ "crash consumer" }</button>
                    <button onclick={link.callback(move |_| Msg::Consumer("close-consumer", n2.clone()))}>{ "close consumer" }</button>
                } else if cs.crashed || cs.closed {
                    <button onclick={link.callback(move |_| Msg::Consumer("restart-consumer", n3.clone()))}>{ "restart consumer" }</button>
                }
            </div>
        }
    }

    fn view_partition(&self, p: &PartitionReport, sim: &Sim, fates: &klab::vecmap::VecMap<String, String>) -> Html {
        // The report lists each replica's log from `log_start`: the newest offsets only.
        let longest = p.replicas.iter().map(|r| r.log_start + r.log.len()).max().unwrap_or(0);
        // The newest offsets only, few enough that a cell keeps its text legible at the
        // panel's width (and that a jump on the time line redraws hundreds of elements, not
        // thousands); the caption says which offsets are drawn.
        let shown = longest.min(PARTITION_CELLS);
        let first = longest - shown;
        let cell = 38.0;
        let left = 120.0;
        let row = 46.0;
        let width = left + cell * (PARTITION_CELLS as f64) + 40.0;
        let height = 24.0 + row * p.replicas.len() as f64;
        let label = format!(
            "{}/{} — leader {} (epoch {}), ISR [{}]",
            p.topic,
            p.partition,
            p.leader.clone().unwrap_or_else(|| "none".into()),
            p.leader_epoch,
            p.isr.join(", ")
        );
        let window = if first > 0 { format!(" · offsets {first}–{} of {longest} drawn", longest - 1) } else { String::new() };
        html! {
            <figure aria-label={format!("Partition {}/{}", p.topic, p.partition)}>
                <figcaption>{ label.clone() }<small>{ window }</small></figcaption>
                <svg viewBox={format!("0 0 {} {}", px(width), px(height))} role="img" aria-label={label}>
                    { for p.replicas.iter().enumerate().map(|(i, r)| {
                        let y = 20.0 + row * i as f64;
                        let b: usize = r.broker.trim_start_matches('b').parse::<usize>().unwrap_or(1) - 1;
                        let leader = p.leader.as_deref() == Some(r.broker.as_str());
                        let in_isr = p.isr.contains(&r.broker);
                        let status = if !r.alive { " ☠ down" } else if !sim.brokers[b].caught_up { " · starting" } else if sim.brokers[b].isolated { " ⚡ isolated" } else if sim.is_slow(b) { " 🐢 slow" } else { "" };
                        let title = format!("{}{}", r.broker, if leader { " ★ leader" } else { "" });
                        let sub = format!("{}{}", if in_isr { "in ISR" } else { "out of ISR" }, status);
                        let hw_x = left + cell * (r.high_watermark.saturating_sub(first as u64) as f64);
                        let leo_x = left + cell * (r.log_end_offset.saturating_sub(first as u64) as f64);
                        let (hw_before, leo_before) = (r.high_watermark < first as u64, r.log_end_offset < first as u64);
                        html! {
                            <g opacity={if r.alive { "1" } else { "0.45" }}>
                                <text x="4" y={px(y + 13.0)} font-size="13" font-weight={if leader { "700" } else { "400" }}>{ title }</text>
                                <text x="4" y={px(y + 28.0)} font-size="11" fill="#555">{ sub }</text>
                                // Every replica draws the same PARTITION_CELLS slots, written or not: an
                                // offset not written yet is an empty slot, so filling it later changes
                                // attributes instead of creating elements.
                                { for (first..first + PARTITION_CELLS).map(|off| {
                                    let x = left + cell * (off - first) as f64;
                                    let Some(id) = off.checked_sub(r.log_start).and_then(|i| r.log.get(i)) else {
                                        return html! {
                                            <g>
                                                <title>{ format!("offset {off}: not written on {}", r.broker) }</title>
                                                <rect class="cell slot" x={px(x)} y={px(y + 2.0)} width={px(cell - 2.0)} height="24" rx="3" />
                                                <text x={px(x + 3.0)} y={px(y + 19.0)}></text>
                                            </g>
                                        };
                                    };
                                    let id: &str = id;
                                    // A `__transaction_state` entry ("<id> <state> epoch <e>") is drawn as its state.
                                    let label = match id.split(' ').nth(1) {
                                        Some(state) => short_state(state),
                                        None => id,
                                    };
                                    let marker = id == "COMMIT" || id == "ABORT" || label != id;
                                    // A read-process-write output ("r1->invoices") is drawn as "r1→", and
                                    // any other long id cut, so the text stays legible; the title has it whole.
                                    let label = match label.split_once("->") {
                                        Some((src, _)) if !marker => format!("{src}→"),
                                        _ if !marker && label.chars().count() > 7 => format!("{}…", label.chars().take(6).collect::<String>()),
                                        _ => label.to_string(),
                                    };
                                    let fate = if id == "COMMIT" { "committed" } else if id == "ABORT" { "lost" } else { fates.get(id).map(String::as_str).unwrap_or("pending") };
                                    let committed = (off as u64) < r.high_watermark;
                                    let sel = self.selected.as_deref() == Some(id);
                                    html! {
                                        <g>
                                            <title>{ format!("offset {off}: {id} ({}{})", if committed { "below the high watermark" } else { "above the high watermark: not yet committed" }, if marker { String::new() } else { format!("; final fate {fate}") }) }</title>
                                            <rect class="cell" x={px(x)} y={px(y + 2.0)} width={px(cell - 2.0)} height="24" rx="3"
                                                fill={fate_colour(fate)} fill-opacity={if committed { "0.35" } else { "0.12" }}
                                                stroke={if sel { "#000" } else { "#888" }} stroke-width={if sel { "3" } else { "1" }}
                                                stroke-dasharray={if committed { "" } else { "3 2" }} />
                                            <text x={px(x + 3.0)} y={px(y + 19.0)} font-size={if marker { "8".to_string() } else { fit_font(&label) }} font-weight={if marker { "700" } else { "400" }} font-family="monospace">{ label }</text>
                                        </g>
                                    }
                                }) }
                                <line x1={px(hw_x)} x2={px(hw_x)} y1={px(y)} y2={px(y + 30.0)} stroke="#0072B2" stroke-width="3" />
                                // A marker before the offsets drawn (a replica that fell behind) sits at
                                // the left edge with its offset, so it is not read as pointing there.
                                <text x={px(if hw_before { left + 3.0 } else { hw_x - 18.0 })} y={px(y + 38.0)} font-size="10" fill="#0072B2">
                                    { match (hw_before, leo_before) {
                                        (true, true) => format!("◀ HW {}, LEO {}", r.high_watermark, r.log_end_offset),
                                        (true, false) => format!("◀ HW {}", r.high_watermark),
                                        _ => "HW".to_string(),
                                    } }
                                </text>
                                <line x1={px(leo_x)} x2={px(leo_x)} y1={px(y)} y2={px(y + 30.0)} stroke="#555" stroke-width="1" stroke-dasharray="2 2" />
                                if r.last_stable_offset < r.high_watermark {
                                    <line x1={px(left + cell * (r.last_stable_offset.saturating_sub(first as u64) as f64))} x2={px(left + cell * (r.last_stable_offset.saturating_sub(first as u64) as f64))} y1={px(y)} y2={px(y + 30.0)} stroke="#CC79A7" stroke-width="3" />
                                    <text x={px(left + cell * (r.last_stable_offset.saturating_sub(first as u64) as f64) - 22.0)} y={px(y - 1.0)} font-size="10" fill="#CC79A7">{ "LSO" }</text>
                                }
                                if !leo_before {
                                    <text x={px(leo_x + 2.0)} y={px(y + 38.0)} font-size="10" fill="#555">{ "LEO" }</text>
                                }
                            </g>
                        }
                    }) }
                </svg>
            </figure>
        }
    }

    fn view_code(&self) -> Html {
        let Ok(sc) = klab::Scenario::parse(&self.text) else { return html! {} };
        let Some(p) = sc.producers.first() else { return html! {} };
        let acks = match p.acks {
            -1 => "all",
            0 => "0",
            _ => "1",
        };
        let java = format!(
            "acks={acks}\nenable.idempotence={}\nmax.in.flight.requests.per.connection={}\nretries={}\ndelivery.timeout.ms={}\nrequest.timeout.ms={}\nlinger.ms={}\nbatch.size={}{}",
            p.idempotence,
            p.max_in_flight,
            p.retries,
            p.delivery_timeout_ms,
            p.request_timeout_ms,
            p.linger_ms,
            p.batch_size,
            p.transactional_id.as_ref().map(|t| format!("\ntransactional.id={t}")).unwrap_or_default()
        );
        let confluent = format!(
            "Producer({{\n    'acks': '{acks}',\n    'enable.idempotence': {},\n    'max.in.flight.requests.per.connection': {},\n    'delivery.timeout.ms': {},\n    'request.timeout.ms': {},\n    'linger.ms': {},\n}})",
            if p.idempotence { "True" } else { "False" },
            p.max_in_flight,
            p.delivery_timeout_ms,
            p.request_timeout_ms,
            p.linger_ms
        );
        let kpy = format!(
            "KafkaProducer(\n    acks={},\n    retries={},\n    max_in_flight_requests_per_connection={},\n    request_timeout_ms={},\n    linger_ms={},\n    batch_size={},\n)",
            if acks == "all" { "'all'".to_string() } else { acks.to_string() },
            p.retries,
            p.max_in_flight,
            p.request_timeout_ms,
            p.linger_ms,
            p.batch_size
        );
        html! {
            <details class="panel code">
                <summary><h2 style="display:inline">{ "Copy as code" }</h2></summary>
                <p><small>{ format!("The settings in effect for Kafka {} (defaults filled in), for {}.", sc.version.name(), p.name) }</small></p>
                <h3>{ "Java client (producer.properties)" }</h3>
                <pre aria-label="Java properties">{ java }</pre>
                <h3>{ "Python: confluent-kafka" }</h3>
                <pre>{ confluent }</pre>
                <p class="note">{ "librdkafka-based clients such as confluent-kafka have their own defaults: enable.idempotence is false there unless you set it, so write every setting out rather than rely on the Java defaults. On the consumer side, librdkafka defaults isolation.level to read_committed where the Java client uses read_uncommitted." }</p>
                <h3>{ "Python: kafka-python" }</h3>
                <pre>{ kpy }</pre>
                { for sc.consumers.iter().map(|c| {
                    let java = format!(
                        "group.id={}\nisolation.level={}\nenable.auto.commit={}\nauto.commit.interval.ms={}\nauto.offset.reset={}\nmax.poll.records={}\nsession.timeout.ms={}",
                        c.group_id, if c.read_committed { "read_committed" } else { "read_uncommitted" }, c.enable_auto_commit, c.auto_commit_interval_ms, c.auto_offset_reset, c.max_poll_records, c.session_timeout_ms
                    );
                                        let confluent = format!(
                        "Consumer({{\n    'group.id': '{}',\n    'isolation.level': '{}',\n    'enable.auto.commit': {},\n    'auto.offset.reset': '{}',\n}})",
                        c.group_id, if c.read_committed { "read_committed" } else { "read_uncommitted" }, if c.enable_auto_commit { "True" } else { "False" }, c.auto_offset_reset
                    );
                    let kpy = format!(
                        "KafkaConsumer(\n    group_id='{}',\n    isolation_level='{}',\n    enable_auto_commit={},\n    auto_commit_interval_ms={},\n    auto_offset_reset='{}',\n    max_poll_records={},\n    session_timeout_ms={},\n    max_poll_interval_ms={},\n)",
                        c.group_id,
                        if c.read_committed { "read_committed" } else { "read_uncommitted" },
                        if c.enable_auto_commit { "True" } else { "False" },
                        c.auto_commit_interval_ms,
                        c.auto_offset_reset,
                        c.max_poll_records,
                        c.session_timeout_ms,
                        c.max_poll_interval_ms
                    );
                    html! {
                        <>
                            <h3>{ format!("Consumer {} (Java client, consumer.properties)", c.name) }</h3>
                            <pre>{ java }</pre>
                                                        <h3>{ "Python: confluent-kafka" }</h3>
                            <pre>{ confluent }</pre>
                            <h3>{ "Python: kafka-python" }</h3>
                            <pre aria-label={format!("kafka-python consumer {}", c.name)}>{ kpy }</pre>
                            <p class="note">{ "isolation.level is written out on purpose: the Java client defaults to read_uncommitted, librdkafka (confluent-kafka) to read_committed, so the same code reads different records unless it says which it wants." }</p>
                        </>
                    }
                }) }

                if p.idempotence {
                    <p class="note">{ "kafka-python supports idempotence only in recent releases (enable_idempotence=True); check yours, or the producer above is not idempotent there." }</p>
                }
            </details>

        }
    }

    /// The records the ledger's finder matches, in ledger order.
    fn ledger_matching(&self) -> Vec<&klab::report::RecordReport> {
        let Some(report) = &self.report else { return Vec::new() };
        let find = self.find.to_ascii_lowercase();
        report.records.iter().filter(|r| find.is_empty() || r.id.to_ascii_lowercase().contains(&find)).collect()
    }

    /// The first row of the ledger page shown, of `total` matching records.
    fn ledger_page_start(&self, total: usize) -> usize {
        self.ledger_first.min(total.saturating_sub(1) / LEDGER_ROWS * LEDGER_ROWS)
    }

    fn view_records(&self, ctx: &Context<Self>) -> Html {
        let (Some(report), Some(run)) = (&self.report, &self.run) else { return html! {} };
        let link = ctx.link();
        let sel = self.selected.clone();
        let finals = &run.final_fates;
        let rec = sel.as_ref().and_then(|id| report.records.iter().find(|r| *r.id == **id));
        let has_consumer = self.sim.as_ref().map(|s| !s.consumers.is_empty()).unwrap_or(false);
        let has_sink = self.sim.as_ref().map(|s| s.groups.iter().any(|g| g.sink != "none")).unwrap_or(false);
        let has_output = self.sim.as_ref().map(|s| s.consumers.iter().any(|c| c.cfg.output_topic.is_some())).unwrap_or(false);

        // Long runs: draw one page of LEDGER_ROWS rows (of those the finder matches), plus
        // the selection.
        let matching = self.ledger_matching();
        let total = matching.len();
        let first = self.ledger_page_start(total);
        let end = (first + LEDGER_ROWS).min(total);
        let mut rows: Vec<&klab::report::RecordReport> = matching[first..end].to_vec();
        if let Some(r) = rec {
            if !rows.iter().any(|x| x.id == r.id) {
                rows.push(r);
            }
        }
        html! {
            <>
            <section class="panel" aria-labelledby="h-records">
                <h2 id="h-records">{ "Records" }</h2>
                if report.records.len() > LEDGER_ROWS {
                    <input type="search" placeholder="find a record by id" aria-label="Find a record" value={self.find.clone()}
                        oninput={link.callback(|e: InputEvent| Msg::Find(e.target_unchecked_into::<HtmlInputElement>().value()))} />
                }
                if total > LEDGER_ROWS {
                    <nav class="pages" aria-label="Ledger pages">
                        <button aria-label="Previous records" disabled={first == 0} onclick={link.callback(|_| Msg::LedgerPage(-1))}>{ "◀" }</button>
                        <span aria-live="polite">{ format!(" records {}–{end} of {total} ", first + 1) }</span>
                        <button aria-label="Next records" disabled={end >= total} onclick={link.callback(|_| Msg::LedgerPage(1))}>{ "▶" }</button>
                    </nav>
                }
                // Wide ledgers (a consumer, a sink and outputs add columns) scroll sideways
                // inside the panel instead of being cut off by its paint containment.
                <div class="ledger-wrap">
                <table class="ledger" aria-label="Record fates">
                    <thead><tr><th>{ "record" }</th><th>{ "now" }</th><th>{ "at the end" }</th><th>{ "producer told" }</th><th>{ "copies" }</th>
                        if has_consumer { <th>{ "processed" }</th> }
                        if has_sink { <th>{ "sink rows" }</th> }
                        if has_output { <th><abbr title="committed outputs: the record's copies in the output topic">{ "outputs" }</abbr></th> }
                    </tr></thead>
                    <tbody>
                        { for rows.into_iter().map(|r| {
                            let id = r.id.to_string();
                            let is_sel = sel.as_deref() == Some(&*r.id);
                            let fin = finals.get(&*r.id).map(String::as_str).unwrap_or("pending");
                            html! {
                                <tr class={if is_sel { "sel" } else { "" }} aria-label={format!("Record {}", r.id)}>
                                    <td><button class="rec" aria-pressed={is_sel.to_string()} onclick={link.callback(move |_| Msg::Select(if is_sel { None } else { Some(id.clone()) }))}>{ r.id.to_string() }</button></td>
                                    <td class={format!("fate fate-{}", r.fate)}>{ format!("{} {}", fate_icon(r.fate), r.fate) }</td>
                                    <td class={format!("fate fate-{fin}")} aria-label={format!("final fate of {}", r.id)}>{ format!("{} {fin}", fate_icon(fin)) }</td>
                                    <td>{ r.producer }</td>
                                    <td>{ r.copies }</td>
                                    if has_consumer { <td>{ r.processed }</td> }
                                    if has_sink { <td>{ r.sink_rows }</td> }
                                    if has_output { <td>{ r.outputs }</td> }
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
                </div>
            </section>
            if let Some(r) = rec {
                <section class="panel" aria-labelledby="h-why">
                    <h2 id="h-why">{ format!("Why {} is {} (so far)", r.id, r.fate) }</h2>
                    { self.view_arm(ctx, &r.id) }
                    <ol class="why" aria-label="Why chain">
                        { for self.why_so_far(&r.id, r.why.last()).iter().map(|w| {
                            let t = line_time_us(w);
                            match (t, w.split_once("ms ")) {
                                (Some(t), Some((when, what))) => { let when = when.trim_start_matches("t=").to_string(); html!{
                                    <li><button class="when" aria-label={format!("Jump to {when} ms")} onclick={link.callback(move |_| Msg::JumpTime(t))}>{ format!("{when} ms") }</button>{ " " }{ what.to_string() }</li>
                                } },

                                _ => html!{ <li>{ w.clone() }</li> },
                            }

                        }) }
                    </ol>
                </section>
            }
            </>
        }
    }

    /// Arm a fault on a hook of the selected record ("crash the consumer right after it
    /// processes it", "lose its ack", ...): a fault added to the scenario, replayed from the start.
    fn view_arm(&self, ctx: &Context<Self>, id: &str) -> Html {
        let link = ctx.link();
        let rec = id.to_string();
        html! {
            <div class="node-menu" role="group" aria-label={format!("Arm a fault on {id}")}>
                <select aria-label={format!("Fault to arm on {id}")}
                    onchange={link.callback(|e: Event| Msg::ArmChoice(e.target_unchecked_into::<HtmlSelectElement>().value().parse().unwrap_or(0)))}>
                    { for ARMS.iter().enumerate().map(|(i, a)| html! {
                        <option value={i.to_string()} selected={i == self.arm_choice}>{ a.label.replace("{}", id) }</option>
                    }) }
                </select>
                <button onclick={link.callback(move |_| Msg::Arm(rec.clone()))}>{ "Arm" }</button>
            </div>
        }
    }

    /// The final why-chain of a record, cut at the moment shown, and the fate sentence of
    /// that moment.
    fn why_so_far(&self, id: &str, fate_now: Option<&String>) -> Vec<String> {
        let (Some(run), Some(sim)) = (&self.run, &self.sim) else { return Vec::new() };
        let now = sim.now;
        let mut out: Vec<String> =
            run.final_why(id).into_iter().filter(|w| w.starts_with('…') || line_time_us(w).map(|t| t <= now).unwrap_or(false)).collect();
        if let Some(f) = fate_now {
            out.push(f.clone());
        }
        out
    }

    fn view_time(&self, ctx: &Context<Self>) -> Html {
        let Some(run) = &self.run else { return html! {} };
        let link = ctx.link();
        let max = run.stops.len() - 1;
        let stop = run.stops[self.stop];
        let now_events = stop.events;
        let f = self.filter.to_ascii_lowercase();
        // trace_at is sorted: the last line written at or before this moment.
        let current_line = run.trace_at.partition_point(|&e| e <= now_events).checked_sub(1);
        // Draw a window of the log around the current moment (or the first matches of a
        // filter), so long runs stay quick to scrub.
        let centre = current_line.unwrap_or(0);
        let (from, to) = if f.is_empty() {
            (centre.saturating_sub(LOG_WINDOW / 2), (centre + LOG_WINDOW / 2).min(run.trace.len()))
        } else {
            (0, run.trace.len())
        };
        // A closed event log draws no lines: they would be rebuilt and diffed at every moment.
        let shown = if self.log_open { &run.trace[from..to] } else { &run.trace[..0] };
        let lines: Vec<Html> = shown
            .iter()
            .enumerate()
            .map(|(i, l)| (i + from, l))
            .filter(|(_, l)| f.is_empty() || l.to_ascii_lowercase().contains(&f))
            .take(LOG_WINDOW)
            .map(|(i, l)| {
                let class = if Some(i) == current_line {
                    "now"
                } else if run.trace_at[i] <= now_events {
                    "past"
                } else {
                    "future"
                };
                html! { <div class={class}>{ l.clone() }</div> }
            })
            .collect();
        let marks: Vec<Html> = run
            .fault_stops
            .iter()
            .map(|&s| {
                let x = 100.0 * s as f64 / max.max(1) as f64;
                html! { <line x1={format!("{}%", px(x))} x2={format!("{}%", px(x))} y1="0" y2="10" stroke="#D55E00" stroke-width="2" /> }
            })
            .collect();
        html! {
            <footer class="time" aria-label="Time">
                <div class="controls">
                    <button aria-label="Jump to start" onclick={link.callback(|_| Msg::Seek(0))}>{ "|◀ start" }</button>
                    <button aria-label="Step back" onclick={link.callback(|_| Msg::Step(-1))}>{ "◀ step" }</button>
                    <button aria-label={if self.playing { "Pause" } else { "Play" }} onclick={link.callback(|_| Msg::TogglePlay)}>{ if self.playing { "⏸ pause" } else { "▶ play" } }</button>
                    <button aria-label="Step forward" onclick={link.callback(|_| Msg::Step(1))}>{ "step ▶" }</button>
                    <button aria-label="Jump to end" onclick={link.callback(|_| Msg::Seek(usize::MAX))}>{ "end ▶|" }</button>

                    <label>{ "speed " }
                        <select aria-label="Speed" onchange={link.callback(|e: Event| Msg::Speed(e.target_unchecked_into::<HtmlSelectElement>().value().parse().unwrap_or(2)))}>
                            { for [1u32, 2, 5, 20].iter().map(|s| html!{ <option value={s.to_string()} selected={self.speed == *s}>{ format!("×{s}") }</option> }) }
                        </select>
                    </label>
                    <input type="range" min="0" max={max.to_string()} value={self.stop.to_string()} aria-label="Time line"
                        oninput={link.callback(|e: InputEvent| Msg::Seek(e.target_unchecked_into::<HtmlInputElement>().value().parse().unwrap_or(0)))} />
                    <span aria-label="Current time">{ format!("t = {} ms · step {} of {}", klab::sim::fmt_time(stop.time_us), self.stop, max) }</span>
                </div>
                <svg height="10" width="100%" aria-hidden="true">{ for marks }</svg>
                <details open={self.log_open}
                    ontoggle={link.callback(|e: Event| Msg::LogOpen(e.target_unchecked_into::<web_sys::HtmlDetailsElement>().open()))}>
                    <summary>{ format!("Event log ({} lines)", run.trace.len()) }</summary>
                    <input type="search" placeholder="filter: a record, a broker, a word" aria-label="Filter the event log" value={self.filter.clone()}
                        oninput={link.callback(|e: InputEvent| Msg::Filter(e.target_unchecked_into::<HtmlInputElement>().value()))} />
                    <div class="log" role="log" aria-label="Event log">{ for lines }</div>
                </details>
            </footer>
        }
    }
}

/// The font size (12 at most) at which a record id fits in its 36-wide cell: monospace
/// digits are about 0.6 of the size wide, so "r19239" is drawn at 8.9 and "r1" at 12.
/// "r1 r2 r3", or "r1 … r8 +92 more" when the view lists only the first of `total` ids.
fn id_list(ids: &[String], total: usize) -> String {
    let shown = ids.join(" ");
    if total > ids.len() {
        format!("{shown} +{} more", total - ids.len())
    } else {
        shown
    }
}

fn fit_font(label: &str) -> String {
    px((32.0 / (label.chars().count().max(1) as f64 * 0.6)).min(12.0))
}

/// An SVG coordinate to one decimal place: a tenth of a pixel is finer than the eye sees,
/// and short attributes keep the drawn DOM small (a partition view has hundreds of them).
fn px(v: f64) -> String {
    let tenths = (v * 10.0).round() as i64;
    let (sign, t) = if tenths < 0 { ("-", -tenths) } else { ("", tenths) };
    if t % 10 == 0 {
        format!("{sign}{}", t / 10)
    } else {
        format!("{sign}{}.{}", t / 10, t % 10)
    }
}

#[cfg(test)]
mod announce_tests {
    #[test]
    fn a_few_changes_are_named_and_many_are_counted() {
        assert_eq!(super::announcement(&[("r1", "lost"), ("r2", "committed")]), "r1 is now lost; r2 is now committed");
        let many: Vec<(String, &str)> = (0..9).map(|i| (format!("r{i}"), if i < 7 { "committed" } else { "lost" })).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        assert_eq!(super::announcement(&many), "9 records changed fate: 7 now committed, 2 now lost");
    }
}

#[cfg(test)]
mod px_tests {
    #[test]
    fn coordinates_keep_one_decimal_at_most() {
        assert_eq!(super::px(12.0), "12");
        assert_eq!(super::px(12.349), "12.3");
        assert_eq!(super::px(-0.26), "-0.3");
        assert_eq!(super::px(0.04), "0");
    }
    #[test]
    fn long_record_ids_get_a_smaller_font_to_fit_their_cell() {
        assert_eq!(super::fit_font("r1"), "12");
        assert_eq!(super::fit_font("r19239"), "8.9");
    }
}
