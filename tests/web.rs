//! Tests that run in headless Chromium (wasm-bindgen-test): the engine compiled to wasm must
//! produce the very trace the native build produces, and the app must render a working lab.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;
wasm_bindgen_test_configure!(run_in_browser);

fn golden_hash(name: &str) -> String {
    include_str!("../scenarios/golden/HASHES").lines().find_map(|l| l.strip_prefix(&format!("{name} "))).unwrap_or("(missing)").to_string()
}

#[wasm_bindgen_test]
fn wasm_trace_hashes_equal_the_native_ones() {
    let (sim, report) = klab::run(include_str!("../scenarios/acks1-leader-dies-after-ack.toml"), true).expect("runs");
    assert_eq!(format!("{:016x}", sim.trace_hash), golden_hash("acks1-leader-dies-after-ack"));
    assert_eq!(report.records[0].fate, "lost");
    let (bench, _) = klab::run(&klab::bench::workload(2000), true).expect("runs");
    assert_eq!(format!("{:016x}", bench.trace_hash), golden_hash("bench-2000"));
}

async fn mount() -> web_sys::Element {
    let doc = web_sys::window().unwrap().document().unwrap();
    let _ = web_sys::window().unwrap().local_storage().unwrap().unwrap().clear();
    let div = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&div).unwrap();
    yew::Renderer::<kafka_delivery_lab::app::App>::with_root(div.clone()).render();
    gloo_timers::future::TimeoutFuture::new(100).await;
    div
}

fn click_button(root: &web_sys::Element, label: &str) {
    use wasm_bindgen::JsCast;
    let buttons = root.query_selector_all("button").unwrap();
    for i in 0..buttons.length() {
        let b: web_sys::HtmlElement = buttons.item(i).unwrap().dyn_into().unwrap();
        if b.get_attribute("aria-label").as_deref() == Some(label) || b.text_content().as_deref() == Some(label) {
            b.click();
            return;
        }
    }
    panic!("no button {label}");
}

#[wasm_bindgen_test]
async fn the_first_lesson_renders_its_fate_ledger() {
    let root = mount().await;
    let text = root.text_content().unwrap();
    assert!(text.contains("Records"), "{text}");
    let ledger = root.query_selector("table.ledger").unwrap().expect("a fate ledger");
    let rows = ledger.text_content().unwrap();
    assert!(rows.contains("r1") && rows.contains("✖ lost"), "{rows}");
}

#[wasm_bindgen_test]
async fn selecting_a_record_shows_its_why_chain() {
    let root = mount().await;
    click_button(&root, "r1");
    gloo_timers::future::TimeoutFuture::new(50).await;
    let why = root.query_selector("ol.why").unwrap().expect("a why chain").text_content().unwrap();
    assert!(why.contains("fate: pending"), "at t=0 nothing has happened yet: {why}");
    for _ in 0..6 {
        click_button(&root, "Step forward");
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    let why = root.query_selector("ol.why").unwrap().expect("a why chain").text_content().unwrap();
    assert!(why.contains("application called producer.send()") && why.contains("appended it at offset 0"), "{why}");
}

#[wasm_bindgen_test]
async fn a_link_round_trips_through_the_browsers_compression_and_damage_is_named() {
    use kafka_delivery_lab::link::{decode, encode, LinkState};
    let s = LinkState { scenario: "format = 1\n".into(), stop: 7, record: Some("r1".into()) };
    let frag = encode(&s).await.expect("the browser compresses");
    assert!(frag.starts_with("v1."), "{frag}");
    assert_eq!(decode(&frag).await.unwrap(), s);
    // Cut short, as a careless copy does: the deflate stream ends early.
    let cut = decode(&frag[..frag.len() - 5]).await.unwrap_err();
    assert!(cut.contains("damaged"), "{cut}");
    // A link made by Node's zlib (as the benchmark makes them) opens too: the same raw deflate.
    let node = decode("v1.q1YqTk7NSyzKzFeyUkrLL8pNLFGwVTCMyVPSUSouyS9QsjKqBQA").await.unwrap();
    assert_eq!((node.scenario.as_str(), node.stop), ("format = 1\n", 2));
}
