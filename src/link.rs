//! Permalinks: the scenario, the moment shown and the selected record, compressed into the
//! URL fragment (`#v1.<base64url(deflate-raw(json))>`), so any screen is a link and a link
//! never leaves the page (a fragment is not sent to the server).
//!
//! The browser compresses (`CompressionStream`, in every current browser): a deflate coder
//! compiled into the page cost about 6 KB of its 350 KB download budget. The format is raw
//! deflate either way, so links made before still open.

use serde::Serialize;

pub const PREFIX: &str = "v1.";

/// The most a link may inflate to: a scenario is a few KB, and a hostile link must not make
/// the page allocate gigabytes.
const MAX_JSON: u32 = 4 << 20;

/// Written by serde, read by `from_json`.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    pub scenario: String,
    pub stop: usize,
    pub record: Option<String>,
}

#[cfg(target_arch = "wasm32")]
mod stream {
    use wasm_bindgen::prelude::*;

    // Reading the stream in chunks lets inflate stop at the size limit, which
    // `Response.arrayBuffer()` cannot. A damaged stream rejects the promise.
    #[wasm_bindgen(inline_js = r#"
const pipe = (bytes, t) => new Blob([bytes]).stream().pipeThrough(t);
export async function klab_deflate(bytes) {
  return new Uint8Array(await new Response(pipe(bytes, new CompressionStream('deflate-raw'))).arrayBuffer());
}
export async function klab_inflate(bytes, limit) {
  const r = pipe(bytes, new DecompressionStream('deflate-raw')).getReader();
  const parts = [];
  let n = 0;
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    n += value.length;
    if (n > limit) { r.cancel().catch(() => {}); throw new Error('too large'); }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
"#)]
    extern "C" {
        #[wasm_bindgen(catch)]
        async fn klab_deflate(bytes: &[u8]) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch)]
        async fn klab_inflate(bytes: &[u8], limit: u32) -> Result<JsValue, JsValue>;
    }

    pub async fn deflate(bytes: &[u8]) -> Option<Vec<u8>> {
        klab_deflate(bytes).await.ok().map(|v| js_sys::Uint8Array::new(&v).to_vec())
    }

    pub async fn inflate(bytes: &[u8], limit: u32) -> Option<Vec<u8>> {
        klab_inflate(bytes, limit).await.ok().map(|v| js_sys::Uint8Array::new(&v).to_vec())
    }
}

/// Outside a browser (the app's native unit tests) there is nothing to compress with.
#[cfg(not(target_arch = "wasm32"))]
mod stream {
    pub async fn deflate(_: &[u8]) -> Option<Vec<u8>> {
        None
    }
    pub async fn inflate(_: &[u8], _: u32) -> Option<Vec<u8>> {
        None
    }
}

/// The fragment (without `#`) for a state; `None` only if the browser cannot compress.
pub async fn encode(s: &LinkState) -> Option<String> {
    let json = serde_json::to_vec(s).ok()?;
    let packed = stream::deflate(&json).await?;
    Some(format!("{PREFIX}{}", b64url_encode(&packed)))
}

/// Decodes a fragment (without `#`); the error says what is wrong with the link.
pub async fn decode(fragment: &str) -> Result<LinkState, String> {
    let packed = unwrap_fragment(fragment)?;
    let json = stream::inflate(&packed, MAX_JSON)
        .await
        .ok_or_else(|| "the link is damaged: its data does not decompress (was it cut short when copied?)".to_string())?;
    from_json(&json)
}

/// The compressed bytes of a fragment: checks its version prefix and its base64.
pub fn unwrap_fragment(fragment: &str) -> Result<Vec<u8>, String> {
    let body = fragment.strip_prefix(PREFIX).ok_or_else(|| {
        if fragment.starts_with('v') && fragment.contains('.') {
            "this link was made by a newer or older version of the lab, which this page cannot read".to_string()
        } else {
            "this link does not hold a lab state (it should start with #v1.)".to_string()
        }
    })?;
    b64url_decode(body).ok_or_else(|| "the link is damaged: it is not valid base64 (was it cut short when copied?)".to_string())
}

/// The base64url alphabet (RFC 4648 §5); links carry it without padding.
const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// base64url is written out here rather than taken from the `base64` crate: the crate's
// general engine was 2.4 KB of the page's 350 KB download (gzipped), this is a tenth of it.
fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        // 1, 2 or 3 bytes make 2, 3 or 4 characters.
        for i in 0..=chunk.len() {
            out.push(B64URL[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// `None` for a character outside the alphabet (padding included), a length no whole number
/// of bytes gives, or stray bits in the last character: the checks the `base64` crate made.
fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        acc = acc << 6 | B64URL.iter().position(|&x| x == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (bits < 6 && acc == 0).then_some(out)
}

/// Reads a lab state, naming the field that is wrong. The fields are read by hand rather than
/// by serde's derive so that no error of serde_json's is ever displayed: its `Display` drags
/// every `std::io::ErrorKind` name into the page (about 300 bytes gzipped) for an I/O error
/// that parsing bytes in memory cannot have.
pub fn from_json(json: &[u8]) -> Result<LinkState, String> {
    let bad = |what: &str| format!("the link's data is not a lab state: {what}");
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| bad(&format!("it is not JSON (line {}, column {})", e.line(), e.column())))?;
    let Some(scenario) = v.get("scenario").and_then(|s| s.as_str()) else {
        return Err(bad("it has no \"scenario\" text"));
    };
    let stop = match v.get("stop") {
        None => 0,
        Some(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| bad("\"stop\" is not a whole number"))?,
    };
    let record = match v.get("record") {
        None | Some(serde_json::Value::Null) => None,
        Some(r) => Some(r.as_str().ok_or_else(|| bad("\"record\" is not a record id"))?.to_string()),
    };
    Ok(LinkState { scenario: scenario.to_string(), stop, record })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_the_rfc_vectors_and_round_trips() {
        // RFC 4648 §10, without padding.
        for (plain, coded) in
            [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(b64url_encode(plain.as_bytes()), coded);
            assert_eq!(b64url_decode(coded).unwrap(), plain.as_bytes());
        }
        // The two characters that differ from base64: 62 is '-', 63 is '_'.
        assert_eq!(b64url_encode(&[0xfb, 0xff]), "-_8");
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for n in 0..all.len() {
            assert_eq!(b64url_decode(&b64url_encode(&all[..n])).unwrap(), &all[..n]);
        }
    }

    // Compression needs a browser: the round trip through it is tested in tests/web.rs.
    #[test]
    fn a_fragment_says_what_is_wrong_with_it() {
        assert!(unwrap_fragment("hello").unwrap_err().contains("#v1."));
        assert!(unwrap_fragment("v9.abc").unwrap_err().contains("version"));
        assert!(unwrap_fragment("v1.a*b").unwrap_err().contains("base64"));
        assert_eq!(unwrap_fragment("v1.AQI").unwrap(), vec![1, 2]);
        // A length no bytes give, padding, and stray bits in the last character.
        assert!(unwrap_fragment("v1.AQIDB").unwrap_err().contains("base64"));
        assert!(unwrap_fragment("v1.AQI=").unwrap_err().contains("base64"));
        assert!(unwrap_fragment("v1.AQJ").unwrap_err().contains("base64"));
        assert!(from_json(b"{\"stop\": 3}").unwrap_err().contains("no \"scenario\""));
        assert!(from_json(b"{\"scenario\": 7}").unwrap_err().contains("no \"scenario\""));
        assert!(from_json(b"{\"scenario\": \"\",\n \"stop\": -1}").unwrap_err().contains("\"stop\" is not a whole number"));
        assert!(from_json(br#"{"scenario": "", "record": 5}"#).unwrap_err().contains("\"record\""));
        assert!(from_json(b"{\n \"scenario\": ]").unwrap_err().ends_with("not a lab state: it is not JSON (line 2, column 14)"));
        assert_eq!(from_json(br#"{"scenario": "", "record": null}"#).unwrap().record, None);
        let s = from_json(br#"{"scenario": "format = 1\n", "stop": 3}"#).unwrap();
        assert_eq!((s.stop, s.record), (3, None));
    }
}
