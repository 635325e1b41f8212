//! Kafka Delivery Lab in the browser. The engine (`klab`) runs here as wasm; this crate only
//! draws its state and turns clicks into scenario edits.

pub mod app;
pub mod link;
pub mod model;
pub mod settings;

use wasm_bindgen::JsCast;

/// A panic would stop the wasm instance: show what happened, with a report to copy and a way
/// back, instead of a page that silently stopped responding.
fn install_panic_panel() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
        let Some(panel) = doc.get_element_by_id("panic") else { return };
        let report = format!(
            "Kafka Delivery Lab {}\n{info}\nlocation: {}",
            env!("CARGO_PKG_VERSION"),
            web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default()
        );
        let escaped = report.replace('&', "&amp;").replace('<', "&lt;");
        panel.set_inner_html(&format!(
            "<h2>The lab stopped because of a bug</h2><p>Your scenario is saved in this browser. Copy this report into an issue, then reload.</p><textarea readonly aria-label=\"Error report\">{escaped}</textarea><p><button onclick=\"location.hash='';location.reload()\">Reload the lab</button></p>"
        ));
        if let Ok(el) = panel.dyn_into::<web_sys::HtmlElement>() {
            el.set_hidden(false);
        }
    }));
}

/// The wasm instance's linear memory in bytes, for the benchmark script (the JS heap figure
/// Chromium gives does not include it).
#[cfg(feature = "bench")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn wasm_memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) * 65536) as f64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}

/// Starts the page: the lab, or in a build with the `bench` feature and `?bench=N`, the
/// benchmark of N records (the same workload as `kafka-lab bench`), whose figures appear in
/// an element with id `bench`. The lab's own build leaves the benchmark out: it is code no
/// learner runs, and it would be downloaded by every one.
pub fn start() {
    install_panic_panel();
    #[cfg(feature = "bench")]
    {
        let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
        if let Some(n) = search.strip_prefix("?bench=").and_then(|n| n.parse::<u64>().ok()) {
            run_bench(n);
            return;
        }
    }
    // A link is inflated by the browser, asynchronously: the lab mounts once it is read, so
    // it opens on the linked screen rather than flashing another one first.
    wasm_bindgen_futures::spawn_local(async {
        let link = app::opened_link().await.map(std::rc::Rc::new);
        yew::Renderer::<app::App>::with_props(app::Start { link }).render();
    });
}

#[cfg(feature = "bench")]
fn run_bench(n: u64) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let perf = web_sys::window().and_then(|w| w.performance());
    let now = || perf.as_ref().map(|p| p.now()).unwrap_or(0.0);
    // The same two workloads as `kafka-lab bench`: the standard one and read-process-write.
    let line = klab::bench::standard_runs(n)
        .iter()
        .map(|(label, recs, text, explain)| {
            match klab::bench::measure(text, *explain, klab::bench::REPEATS, now, |t0| (now() - t0) / 1000.0) {
                Ok(m) => format!("wasm: {label}{recs} records, {}", m.summary()),
                Err(e) => format!("wasm bench failed: {e}"),
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    if let Ok(el) = doc.create_element("pre") {
        el.set_id("bench");
        el.set_text_content(Some(&line));
        if let Some(body) = doc.body() {
            let _ = body.append_child(&el);
        }
    }
}
