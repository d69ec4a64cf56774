//! The web page: plain HTML, CSS and ES modules from `platform/web/`, compiled into the binary
//! so `sunmesh serve` is the whole installation (no build step, nothing fetched at run time).
//!
//! Serves `GET /` and `GET /assets/{name}` only. The page talks to the public JSON API like any
//! other client; it is not part of the OpenAPI document. Every response carries a strict
//! Content-Security-Policy naming no origin but this one.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::error::ApiError;

/// Scripts, styles, images and connections (fetch and the WebSocket stream) from this origin
/// only; no inline script or style, no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

/// Assets are revalidated on every load; the ETag makes that a 304 with no body.
const CACHE_CONTROL: &str = "no-cache";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("../web/index.html"),
};

const JS: &str = "text/javascript; charset=utf-8";

/// Everything under /assets/. Adding a file to platform/web/ means adding it here.
const ASSETS: [Asset; 9] = [
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../web/style.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../web/icon.svg"),
    },
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_bytes!("../web/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: JS,
        body: include_bytes!("../web/api.js"),
    },
    Asset {
        name: "dom.js",
        content_type: JS,
        body: include_bytes!("../web/dom.js"),
    },
    Asset {
        name: "charts.js",
        content_type: JS,
        body: include_bytes!("../web/charts.js"),
    },
    Asset {
        name: "neighbour.js",
        content_type: JS,
        body: include_bytes!("../web/neighbour.js"),
    },
    Asset {
        name: "operator.js",
        content_type: JS,
        body: include_bytes!("../web/operator.js"),
    },
    Asset {
        name: "live.js",
        content_type: JS,
        body: include_bytes!("../web/live.js"),
    },
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/assets/{name}", web::get().to(asset));
}

async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, &INDEX, etag(usize::MAX))
}

async fn asset(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (i, found) = ASSETS
        .iter()
        .enumerate()
        .find(|(_, a)| a.name == name.as_str())
        .ok_or_else(|| ApiError::not_found("no such asset; the page is at /"))?;
    Ok(serve(&req, found, etag(i)))
}

fn serve(req: &HttpRequest, asset: &Asset, etag: &str) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if fresh {
        response.finish()
    } else {
        response
            .insert_header((header::CONTENT_TYPE, asset.content_type))
            .body(asset.body)
    }
}

/// The ETag of asset `i` (`usize::MAX` is the index page): a hash of its bytes, computed once.
fn etag(i: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .chain(std::iter::once(&INDEX))
            .map(|a| {
                let digest = ring::digest::digest(&ring::digest::SHA256, a.body);
                format!("\"{}\"", hex::encode(&digest.as_ref()[..12]))
            })
            .collect()
    });
    let at = if i == usize::MAX { ASSETS.len() } else { i };
    tags.get(at).map_or("\"\"", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_served() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).unwrap_or("");
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(from) = line.split("from \"./").nth(1) else {
                    panic!(
                        "{}: imports must be `from \"./name.js\"`: {line}",
                        asset.name
                    );
                };
                let target = from.split('"').next().unwrap_or("");
                assert!(
                    ASSETS.iter().any(|a| a.name == target),
                    "{} imports {target}, which is not in ASSETS",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn the_page_names_no_external_origin() {
        for asset in ASSETS.iter().chain(std::iter::once(&INDEX)) {
            let text = std::str::from_utf8(asset.body).unwrap_or("");
            for scheme in ["http://", "https://", "//cdn", "wss://"] {
                let hits: Vec<&str> = text
                    .lines()
                    .filter(|l| l.contains(scheme) && !l.contains("http://www.w3.org/"))
                    .collect();
                assert!(
                    hits.is_empty(),
                    "{} refers to {scheme}: {hits:?}",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn etags_differ_per_asset() {
        let mut tags: Vec<&str> = (0..ASSETS.len()).map(etag).collect();
        tags.push(etag(usize::MAX));
        let count = tags.len();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), count);
    }
}
