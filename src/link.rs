//! Permalinks: the scenario, the moment shown and the selected record, compressed into the
//! URL fragment (`#v1.<base64url(deflate(json))>`), so any screen is a link and a link never
//! leaves the page (a fragment is not sent to the server).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

pub const PREFIX: &str = "v1.";

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    pub scenario: String,
    #[serde(default)]
    pub stop: usize,
    #[serde(default)]
    pub record: Option<String>,
}

pub fn encode(s: &LinkState) -> String {
    let json = serde_json::to_vec(s).unwrap_or_default();
    let packed = miniz_oxide::deflate::compress_to_vec(&json, 9);
    format!("{PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(packed))
}

/// Decodes a fragment (without `#`); the error says what is wrong with the link.
pub fn decode(fragment: &str) -> Result<LinkState, String> {
    let body = fragment.strip_prefix(PREFIX).ok_or_else(|| {
        if fragment.starts_with('v') && fragment.contains('.') {
            "this link was made by a newer or older version of the lab, which this page cannot read".to_string()
        } else {
            "this link does not hold a lab state (it should start with #v1.)".to_string()
        }
    })?;
    let packed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| "the link is damaged: it is not valid base64 (was it cut short when copied?)".to_string())?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, 4 << 20)
        .map_err(|_| "the link is damaged: its data does not decompress (was it cut short when copied?)".to_string())?;
    serde_json::from_slice(&json).map_err(|e| format!("the link's data is not a lab state: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn round_trip_and_damage() {
        let s = LinkState { scenario: "format = 1\n".into(), stop: 7, record: Some("r1".into()) };
        let e = encode(&s);
        assert_eq!(decode(&e).unwrap(), s);
        assert!(decode(&e[..e.len() - 5]).is_err());
        assert!(decode("hello").unwrap_err().contains("#v1."));
        assert!(decode("v9.abc").unwrap_err().contains("version"));
    }
}
