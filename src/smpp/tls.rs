//! TLS for ESME listeners (server) and carrier binds (client), with rustls.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::config::CarrierConfig;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut pem.as_slice()).collect();
    let certs = certs.map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate found", path.display()));
    }
    Ok(certs)
}

/// A TLS acceptor from PEM certificate chain and key files.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs = read_certs(cert)?;
    let pem = std::fs::read(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| format!("{}: {e}", key.display()))?
        .ok_or_else(|| format!("{}: no PEM private key found", key.display()))?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate/key: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// Connects TLS to a carrier, verifying it against `tls_ca`.
pub(crate) async fn connect(
    cfg: &CarrierConfig,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let ca = cfg
        .tls_ca
        .as_deref()
        .ok_or_else(|| "tls = true needs tls_ca".to_owned())?;
    for c in read_certs(ca)? {
        roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let host = match &cfg.tls_server_name {
        Some(n) => n.clone(),
        None => host_of(&cfg.address).to_owned(),
    };
    let name =
        ServerName::try_from(host.clone()).map_err(|e| format!("server name {host}: {e}"))?;
    TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))
}

/// The host part of `host:port` (IPv6 in brackets allowed).
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_of() {
        assert_eq!(super::host_of("smsc.example:2775"), "smsc.example");
        assert_eq!(super::host_of("[::1]:2775"), "::1");
    }
}
