//! The TLS listener: an ESME binds over TLS (self-signed certificate made
//! with rcgen), submits and gets its receipt.

mod common;

use std::sync::Arc;

use common::*;
use telegate::sim::{BindType, Client};
use telegate::smpp_codec::CommandStatus;

/// A client config trusting only `cert_der`.
fn client_config(cert_der: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))
        .expect("test certificate is valid");
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(cfg)
}

/// A self-signed certificate for `localhost`, written as PEM files.
struct TestCert {
    certified: rcgen::CertifiedKey,
    dir: tempfile::TempDir,
}

impl TestCert {
    fn new() -> TestCert {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).expect("write cert");
        std::fs::write(
            dir.path().join("key.pem"),
            certified.key_pair.serialize_pem(),
        )
        .expect("write key");
        TestCert { certified, dir }
    }

    /// Adds the TLS listener keys to `cfg`.
    fn configure(&self, cfg: GatewayConfig) -> GatewayConfig {
        let path = |f: &str| q(&self.dir.path().join(f).display().to_string());
        cfg.server("tls_listen", r#"["127.0.0.1:0"]"#)
            .server("tls_cert", path("cert.pem"))
            .server("tls_key", path("key.pem"))
    }

    async fn connect(&self, addr: std::net::SocketAddr) -> Client {
        Client::connect_tls(
            addr,
            client_config(self.certified.cert.der()),
            "localhost",
            client_opts(),
        )
        .await
        .expect("TLS connect")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_accepts_binds_and_submits() {
    let cert = TestCert::new();
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    // TLS only.
    let cfg = cert
        .configure(GatewayConfig::simple(smsc.addr()))
        .server("listen", "[]")
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    assert_eq!(gw.tls_addrs().len(), 1);
    assert!(gw.esme_addrs().is_empty());

    let mut esme = cert.connect(gw.tls_addrs()[0]).await;
    let st = esme
        .bind(BindType::Transceiver, "esme1", PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_ROK);
    let id = submit_ok(&esme, DEST, b"over tls", true).await;
    expect_receipt(&mut esme, &id).await;

    // A client that does not trust the certificate gets no session.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
    let r = Client::connect_tls(
        gw.tls_addrs()[0],
        client_config(other.cert.der()),
        "localhost",
        client_opts(),
    )
    .await;
    assert!(
        r.is_err(),
        "TLS handshake with an untrusted certificate succeeded"
    );

    drop(esme);
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_plain_listeners_side_by_side() {
    // Both on 127.0.0.1 port 0: two different ephemeral ports, no clash.
    let cert = TestCert::new();
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = cert
        .configure(GatewayConfig::simple(smsc.addr()))
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    assert_eq!(gw.tls_addrs().len(), 1);
    assert_eq!(gw.esme_addrs().len(), 1);

    let tls = cert.connect(gw.tls_addrs()[0]).await;
    let st = tls
        .bind(BindType::Transmitter, "esme1", PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_ROK);
    submit_ok(&tls, DEST, b"over tls", false).await;
    let plain = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    submit_ok(&plain, DEST, b"plain", false).await;
    drop((tls, plain));
    stop(gw).await;
}
