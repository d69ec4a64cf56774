//! TLS client configuration (build feature `tls`): rustls with the ring provider, the bundled
//! Mozilla roots and optionally one extra CA file for a self-hosted platform or broker.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::error::{AgentError, Result};

/// A client config trusting the bundled roots plus the certificates in `ca_file` (PEM).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| AgentError::io(path, e))?;
        let mut n = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert =
                cert.map_err(|e| AgentError::Config(format!("CA file {}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| AgentError::Config(format!("CA file {}: {e}", path.display())))?;
            n += 1;
        }
        if n == 0 {
            return Err(AgentError::Config(format!(
                "CA file {} holds no PEM certificate",
                path.display()
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AgentError::Config(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}
