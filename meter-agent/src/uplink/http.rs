//! HTTP batch uplink: `POST {platform}/v1/readings`, a small hand-rolled HTTP/1.1 client over
//! tokio (no web framework, no HTTP stack dependency; one request per connection). `https://`
//! needs the `tls` build feature.

use std::time::Duration;

use reading::SignedReading;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{ReadingResult, Uplink};
use crate::error::{AgentError, Result};

/// Responses larger than this are not a platform answer.
const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// `http://host[:port][/base]` or `https://…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub base_path: String,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<HttpUrl> {
        let bad = |r: &str| AgentError::Uplink(format!("URL {url:?}: {r}"));
        let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            if !cfg!(feature = "tls") {
                return Err(bad(
                    "https needs a build with the `tls` feature (cargo build --features tls)",
                ));
            }
            (true, r)
        } else {
            return Err(bad("must start with http:// or https://"));
        };
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("bad port"))?),
            None => (hostport, if tls { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        Ok(HttpUrl {
            tls,
            host: host.to_string(),
            port,
            base_path: path.to_string(),
        })
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// How to reach an `https://` platform (build feature `tls`).
#[derive(Clone, Default)]
pub struct TlsSettings {
    #[cfg(feature = "tls")]
    pub config: Option<std::sync::Arc<tokio_rustls::rustls::ClientConfig>>,
}

/// POSTs a JSON body and returns the response; `Connection: close`, whole exchange bounded by `timeout`.
pub async fn post_json(
    url: &HttpUrl,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<HttpResponse> {
    post_json_tls(url, path, body, timeout, &TlsSettings::default()).await
}

/// [`post_json`] with TLS settings for `https://` URLs.
pub async fn post_json_tls(
    url: &HttpUrl,
    path: &str,
    body: &str,
    timeout: Duration,
    tls: &TlsSettings,
) -> Result<HttpResponse> {
    let fut = async {
        let s = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|e| AgentError::Uplink(format!("connect {}:{}: {e}", url.host, url.port)))?;
        if !url.tls {
            return exchange(s, url, path, body).await;
        }
        #[cfg(feature = "tls")]
        {
            let cfg = match &tls.config {
                Some(c) => c.clone(),
                None => crate::tls::client_config(None)?,
            };
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(url.host.clone())
                .map_err(|e| AgentError::Uplink(format!("TLS server name {:?}: {e}", url.host)))?;
            let stream = tokio_rustls::TlsConnector::from(cfg)
                .connect(name, s)
                .await
                .map_err(|e| AgentError::Uplink(format!("TLS handshake with {}: {e}", url.host)))?;
            exchange(stream, url, path, body).await
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (s, tls);
            Err(AgentError::Uplink(
                "https needs a build with the `tls` feature".into(),
            ))
        }
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| AgentError::Uplink(format!("no response within {timeout:?}")))?
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    url: &HttpUrl,
    path: &str,
    body: &str,
) -> Result<HttpResponse> {
    let req = format!(
        "POST {}{} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: meter-agent/{}\r\n\r\n",
        url.base_path,
        path,
        url.host,
        url.port,
        body.len(),
        env!("CARGO_PKG_VERSION")
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| AgentError::Uplink(format!("send: {e}")))?;
    s.write_all(body.as_bytes())
        .await
        .map_err(|e| AgentError::Uplink(format!("send: {e}")))?;
    s.flush()
        .await
        .map_err(|e| AgentError::Uplink(format!("send: {e}")))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(n) => n,
            // a TLS peer that closes without close_notify after a complete answer is common
            Err(e) if !buf.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(AgentError::Uplink(format!("receive: {e}"))),
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            return Err(AgentError::Uplink("response larger than 4 MiB".into()));
        }
        if let Some(resp) = parse_response(&buf)? {
            return Ok(resp);
        }
    }
    parse_response(&buf)?
        .ok_or_else(|| AgentError::Uplink("connection closed before a whole response".into()))
}

/// Parses a complete response from `buf`; `Ok(None)` when more bytes are needed.
pub fn parse_response(buf: &[u8]) -> Result<Option<HttpResponse>> {
    let Some(hdr_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..hdr_end])
        .map_err(|_| AgentError::Uplink("non-UTF-8 response header".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| AgentError::Uplink(format!("bad status line {status_line:?}")))?;
    let mut content_length = None;
    let mut chunked = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim();
            if k == "content-length" {
                content_length = v.parse::<usize>().ok();
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let body = &buf[hdr_end + 4..];
    if chunked {
        return Ok(dechunk(body).map(|b| HttpResponse { status, body: b }));
    }
    match content_length {
        Some(n) if body.len() >= n => Ok(Some(HttpResponse {
            status,
            body: body[..n].to_vec(),
        })),
        Some(_) => Ok(None),
        // no length: the body runs to the end of the connection
        None => Ok(None),
    }
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if body.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[derive(Deserialize)]
struct BatchAnswer {
    results: Vec<ReadingResult>,
}

/// The HTTP uplink.
pub struct HttpUplink {
    url: HttpUrl,
    timeout: Duration,
    tls: TlsSettings,
}

impl HttpUplink {
    pub fn new(url: &str, timeout: Duration) -> Result<Self> {
        Self::with_ca_file(url, timeout, None)
    }

    /// With an extra trusted CA (PEM) for `https://` (build feature `tls`).
    pub fn with_ca_file(
        url: &str,
        timeout: Duration,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self> {
        let url = HttpUrl::parse(url)?;
        #[cfg(feature = "tls")]
        let tls = TlsSettings {
            config: if url.tls {
                Some(crate::tls::client_config(ca_file)?)
            } else {
                None
            },
        };
        #[cfg(not(feature = "tls"))]
        let tls = {
            let _ = ca_file;
            TlsSettings::default()
        };
        Ok(HttpUplink { url, timeout, tls })
    }
}

/// The request body: `{"readings":[<JSON form>, ...]}`.
pub fn batch_body(batch: &[SignedReading]) -> String {
    let mut s = String::from("{\"readings\":[");
    for (i, r) in batch.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&r.to_json());
    }
    s.push_str("]}");
    s
}

#[async_trait::async_trait]
impl Uplink for HttpUplink {
    async fn ship(&mut self, batch: &[SignedReading]) -> Result<Vec<ReadingResult>> {
        let resp = post_json_tls(
            &self.url,
            "/v1/readings",
            &batch_body(batch),
            self.timeout,
            &self.tls,
        )
        .await?;
        if !(200..300).contains(&resp.status) {
            let text = String::from_utf8_lossy(&resp.body);
            return Err(AgentError::Uplink(format!(
                "platform answered HTTP {}: {}",
                resp.status,
                text.chars().take(200).collect::<String>()
            )));
        }
        let a: BatchAnswer = serde_json::from_slice(&resp.body).map_err(|e| {
            AgentError::Uplink(format!("platform answer is not {{\"results\":[...]}}: {e}"))
        })?;
        Ok(a.results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            HttpUrl::parse("http://p.example:8080/api/").unwrap(),
            HttpUrl {
                tls: false,
                host: "p.example".into(),
                port: 8080,
                base_path: "/api".into()
            }
        );
        assert_eq!(HttpUrl::parse("http://p").unwrap().port, 80);
        #[cfg(not(feature = "tls"))]
        assert!(HttpUrl::parse("https://p")
            .unwrap_err()
            .to_string()
            .contains("tls"));
        #[cfg(feature = "tls")]
        assert_eq!(HttpUrl::parse("https://p").unwrap().port, 443);
        assert!(HttpUrl::parse("ftp://p").is_err());
    }

    #[test]
    fn responses() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap()
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok")
                .unwrap()
                .is_none()
        );
        let c = parse_response(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n").unwrap().unwrap();
        assert_eq!(c.body, b"abc");
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
    }
}
