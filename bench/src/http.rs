//! The legacy HTTP Onramp, as a Data Highway client calls it.

use std::sync::OnceLock;

use crate::stage::Result;

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

/// POSTs a JSON array; returns the per-message answers.
pub async fn post_json(url: &str, body: String) -> Result<Vec<serde_json::Value>> {
    let response =
        client().post(url).header("content-type", "application/json").body(body).send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}
