//! `meter-agent register`: announces each source's public key, nameplate, location and zone to
//! the platform (`POST {platform}/v1/devices`).

use std::time::Duration;

use crate::config::Config;
use crate::error::{AgentError, Result};
use crate::signer::load_key;
use crate::uplink::http::{post_json, HttpUrl};

/// The registration body of one source.
pub fn registration(
    cfg: &Config,
    name: &str,
    public_key_hex: &str,
    device_id: &str,
    nameplate_w: u32,
) -> serde_json::Value {
    serde_json::json!({
        "public_key": public_key_hex,
        "device_id": device_id,
        "name": name,
        "nameplate_w": nameplate_w,
        "latitude": cfg.site.latitude,
        "longitude": cfg.site.longitude,
        "zone": cfg.site.zone,
        "agent_version": env!("CARGO_PKG_VERSION"),
    })
}

/// Registers every source; returns one line per source for the operator.
pub async fn register_all(cfg: &Config, platform: &str) -> Result<Vec<String>> {
    let url = HttpUrl::parse(platform)?;
    let mut out = Vec::new();
    for s in &cfg.sources {
        let key = load_key(&cfg.key_file(s))?;
        let pk = key.public_key().to_hex();
        let body = registration(
            cfg,
            &s.name,
            &pk,
            &key.device_id().to_string(),
            s.nameplate_w,
        );
        let resp = post_json(
            &url,
            "/v1/devices",
            &body.to_string(),
            Duration::from_secs(15),
        )
        .await?;
        let text = String::from_utf8_lossy(&resp.body).to_string();
        if !(200..300).contains(&resp.status) {
            return Err(AgentError::Uplink(format!(
                "registering {}: HTTP {}: {}",
                s.name,
                resp.status,
                text.chars().take(300).collect::<String>()
            )));
        }
        out.push(format!(
            "{}: registered device {} (HTTP {})",
            s.name,
            key.device_id(),
            resp.status
        ));
    }
    Ok(out)
}
