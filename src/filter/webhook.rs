//! Posts suspension [`Notice`]s to an operator's webhook (issue 5, item 6).
//!
//! [`Webhook::post`] never waits: notices go into a bounded queue (256) read
//! by one tokio task, and a full queue drops the notice with a warning. The
//! task POSTs each notice as JSON (`content-type: application/json`), one
//! HTTP/1.1 request per connection, with a 5 s limit per attempt and up to
//! three attempts (1 s, then 2 s apart) on connection errors, timeouts, 429
//! and 5xx answers.
//!
//! `https://` URLs are verified with rustls against the system's CA bundle
//! (`SSL_CERT_FILE`, or the usual distribution paths), or against roots
//! given to [`Webhook::spawn_with_roots`] for a private CA.
//!
//! Logs name the account and the webhook's host only: never the notice
//! body, nor the URL's path and query (which often carry a token).

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use super::suspension::Notice;

/// Notices queued at most; more are dropped.
pub const QUEUE: usize = 256;

/// Why a webhook could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not an absolute `http://` or `https://` URL (the URL
    /// itself is not repeated: it may hold a token).
    #[error("webhook URL: {0}")]
    Url(&'static str),
    /// No CA roots for an `https://` URL.
    #[error("webhook TLS: {0}")]
    Tls(String),
    /// Not called inside a tokio runtime.
    #[error("webhook: no tokio runtime to run in")]
    NoRuntime,
}

/// Retry and timeout settings (fixed in production, short in tests).
#[derive(Debug, Clone, Copy)]
struct Settings {
    timeout: Duration,
    attempts: u32,
    backoff: Duration,
}

const SETTINGS: Settings = Settings {
    timeout: Duration::from_secs(5),
    attempts: 3,
    backoff: Duration::from_secs(1),
};

/// Where notices go.
struct Target {
    /// Host to connect to (IPv6 without brackets).
    host: String,
    port: u16,
    /// `Host` header value.
    authority: String,
    /// Request target: path and query.
    path: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl fmt::Debug for Target {
    /// Host and port only: the path may carry a token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// A handle on the webhook task; cheap to clone. The task ends when the
/// last handle is dropped and the queue is empty.
#[derive(Debug, Clone)]
pub struct Webhook {
    tx: mpsc::Sender<Notice>,
    dropped: Arc<AtomicU64>,
}

impl Webhook {
    /// Starts the webhook task for `url` on the current tokio runtime;
    /// `https://` is verified against the system's CA bundle.
    pub fn spawn(url: &str) -> Result<Webhook, WebhookError> {
        Webhook::spawn_inner(url, None, SETTINGS)
    }

    /// Like [`spawn`](Webhook::spawn), verifying `https://` against `roots`
    /// (a private CA) instead of the system's.
    pub fn spawn_with_roots(
        url: &str,
        roots: rustls::RootCertStore,
    ) -> Result<Webhook, WebhookError> {
        Webhook::spawn_inner(url, Some(roots), SETTINGS)
    }

    fn spawn_inner(
        url: &str,
        roots: Option<rustls::RootCertStore>,
        settings: Settings,
    ) -> Result<Webhook, WebhookError> {
        let target = parse(url, roots)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WebhookError::NoRuntime)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        runtime.spawn(run(target, rx, settings));
        Ok(Webhook {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queues `notice` for posting without waiting. Returns false (and
    /// warns) if the queue is full or the task is gone.
    pub fn post(&self, notice: &Notice) -> bool {
        match self.tx.try_send(notice.clone()) {
            Ok(()) => true,
            Err(e) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                let why = match e {
                    mpsc::error::TrySendError::Full(_) => "queue full",
                    mpsc::error::TrySendError::Closed(_) => "webhook task gone",
                };
                tracing::warn!(account = %notice.account, why, "suspension notice not posted to the webhook");
                false
            }
        }
    }

    /// Notices dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Checks the URL and builds the TLS connector for `https://`.
fn parse(url: &str, roots: Option<rustls::RootCertStore>) -> Result<Target, WebhookError> {
    let uri: Uri = url.parse().map_err(|_| WebhookError::Url("not a URL"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(WebhookError::Url("the scheme must be http or https")),
    };
    let authority = uri.authority().ok_or(WebhookError::Url("no host"))?;
    if authority.as_str().contains('@') {
        return Err(WebhookError::Url(
            "credentials in the URL are not supported; put a token in the path or query",
        ));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() {
        return Err(WebhookError::Url("no host"));
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let tls = if https {
        let roots = match roots {
            Some(r) => r,
            None => system_roots()?,
        };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| WebhookError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(host.clone())
                .map_err(|_| WebhookError::Url("the host is not a valid TLS server name"))?,
        };
        Some((TlsConnector::from(Arc::new(config)), name))
    } else {
        None
    };
    Ok(Target {
        host,
        port,
        authority: authority.as_str().to_owned(),
        path,
        tls,
    })
}

/// The system's CA bundle: `SSL_CERT_FILE`, else the first of the usual
/// distribution paths that holds certificates.
fn system_roots() -> Result<rustls::RootCertStore, WebhookError> {
    const PATHS: &[&str] = &[
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ];
    let env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    let candidates = env
        .into_iter()
        .chain(PATHS.iter().map(std::path::PathBuf::from));
    for path in candidates {
        let Ok(pem) = std::fs::read(&path) else {
            continue;
        };
        let mut roots = rustls::RootCertStore::empty();
        let mut reader = pem.as_slice();
        let certs = rustls_pemfile::certs(&mut reader).filter_map(Result::ok);
        roots.add_parsable_certificates(certs);
        if !roots.is_empty() {
            return Ok(roots);
        }
    }
    Err(WebhookError::Tls(
        "no CA bundle found for https (set SSL_CERT_FILE)".to_owned(),
    ))
}

/// The webhook task: posts each queued notice, with retries.
async fn run(target: Target, mut rx: mpsc::Receiver<Notice>, settings: Settings) {
    while let Some(notice) = rx.recv().await {
        let body = match serde_json::to_vec(&notice) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                tracing::error!(account = %notice.account, error = %e, "cannot encode a suspension notice");
                continue;
            }
        };
        let mut delay = settings.backoff;
        for attempt in 1..=settings.attempts {
            let outcome =
                tokio::time::timeout(settings.timeout, post_once(&target, body.clone())).await;
            let retry = match outcome {
                Ok(Ok(status)) if status.is_success() => {
                    tracing::info!(account = %notice.account, host = %target.host, "suspension notice posted to the webhook");
                    break;
                }
                Ok(Ok(status)) => {
                    tracing::warn!(account = %notice.account, host = %target.host, status = status.as_u16(), attempt, "webhook refused a suspension notice");
                    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
                }
                Ok(Err(e)) => {
                    tracing::warn!(account = %notice.account, host = %target.host, error = %e, attempt, "cannot post a suspension notice");
                    true
                }
                Err(_) => {
                    tracing::warn!(account = %notice.account, host = %target.host, attempt, "webhook did not answer in time");
                    true
                }
            };
            if !retry || attempt == settings.attempts {
                tracing::error!(account = %notice.account, host = %target.host, "suspension notice not delivered to the webhook");
                break;
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }
}

/// One attempt: connect, TLS if asked, one request; the answer's status.
async fn post_once(target: &Target, body: Bytes) -> Result<StatusCode, String> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    match &target.tls {
        Some((connector, name)) => {
            let tls = connector
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            send(TokioIo::new(tls), target, body).await
        }
        None => send(TokioIo::new(tcp), target, body).await,
    }
}

async fn send<I>(io: I, target: &Target, body: Bytes) -> Result<StatusCode, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let req = Request::post(target.path.as_str())
        .header(HOST, target.authority.as_str())
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, concat!("telegate/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    // The connection is driven here rather than spawned, so a timeout that
    // drops this future also closes the socket.
    let answer = sender.send_request(req);
    tokio::pin!(conn, answer);
    let resp = tokio::select! {
        biased;
        r = &mut answer => r,
        // The connection may finish (answer read, socket closed) before the
        // answer future is polled again: the answer is waiting in it.
        _ = &mut conn => answer.await,
    };
    resp.map(|r| r.status()).map_err(|e| format!("HTTP: {e}"))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::Mutex;

    use http_body_util::BodyExt;
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper::Response;
    use tokio::net::TcpListener;

    use super::*;

    /// What the test server saw of one request.
    #[derive(Debug)]
    struct Seen {
        method: String,
        target: String,
        content_type: String,
        body: Bytes,
    }

    fn notice(account: &str) -> Notice {
        Notice {
            account: account.to_owned(),
            time: "2024-05-01T12:00:00.000Z".to_owned(),
            actor: "auto".to_owned(),
            reason: "20 of 20 messages blocked within 600 s".to_owned(),
            blocked: 20,
            total: 20,
        }
    }

    fn fast() -> Settings {
        Settings {
            timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_millis(10),
        }
    }

    /// Answers each request with the next of `statuses` (then 200) and
    /// reports it.
    async fn serve<I>(io: I, statuses: Arc<Mutex<VecDeque<u16>>>, seen: mpsc::UnboundedSender<Seen>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let svc = service_fn(move |req: hyper::Request<Incoming>| {
            let statuses = Arc::clone(&statuses);
            let seen = seen.clone();
            async move {
                let method = req.method().to_string();
                let target = req.uri().to_string();
                let content_type = req
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = req.into_body().collect().await.expect("body").to_bytes();
                let _ = seen.send(Seen {
                    method,
                    target,
                    content_type,
                    body,
                });
                let status = statuses
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop_front()
                    .unwrap_or(200);
                Ok::<_, Infallible>(
                    Response::builder()
                        .status(status)
                        .body(Full::new(Bytes::new()))
                        .expect("response"),
                )
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(io), svc)
            .await;
    }

    async fn server(
        statuses: &[u16],
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let statuses = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (statuses, tx) = (Arc::clone(&statuses), tx.clone());
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(tcp).await {
                                serve(s, statuses, tx).await;
                            }
                        }
                        None => serve(tcp, statuses, tx).await,
                    }
                });
            }
        });
        (addr, rx)
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a request in time")
            .expect("server running")
    }

    #[tokio::test]
    async fn posts_the_notice_as_json() {
        let (addr, mut rx) = server(&[], None).await;
        let hook =
            Webhook::spawn(&format!("http://{addr}/hooks/telegate?token=t0k")).expect("spawn");
        assert!(hook.post(&notice("acme")));
        let seen = next(&mut rx).await;
        assert_eq!(seen.method, "POST");
        assert_eq!(seen.target, "/hooks/telegate?token=t0k");
        assert_eq!(seen.content_type, "application/json");
        let got: Notice = serde_json::from_slice(&seen.body).expect("JSON body");
        assert_eq!(got, notice("acme"));
        let v: serde_json::Value = serde_json::from_slice(&seen.body).expect("JSON");
        assert_eq!(v["account"], "acme");
        assert_eq!(v["blocked"], 20);
        assert_eq!(hook.dropped(), 0);
    }

    #[tokio::test]
    async fn retries_server_errors_but_not_client_errors() {
        let (addr, mut rx) = server(&[503, 500, 400], None).await;
        let url = format!("http://{addr}/");
        let hook = Webhook::spawn_inner(&url, None, fast()).expect("spawn");
        hook.post(&notice("one"));
        hook.post(&notice("two"));
        let accounts: Vec<String> = [
            next(&mut rx).await,
            next(&mut rx).await,
            next(&mut rx).await,
            next(&mut rx).await,
        ]
        .into_iter()
        .map(|s| {
            serde_json::from_slice::<Notice>(&s.body)
                .expect("json")
                .account
        })
        .collect();
        // "one": 503, 500, then 400 (given up); "two": 200 at once.
        assert_eq!(accounts, ["one", "one", "one", "two"]);
        assert!(
            tokio::time::timeout(Duration::from_millis(200), rx.recv())
                .await
                .is_err(),
            "no more attempts"
        );
    }

    #[tokio::test]
    async fn a_full_queue_drops_without_blocking() {
        // Accepts connections and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hook = Webhook::spawn(&format!("http://{addr}/")).expect("spawn");
        // On this single-threaded runtime the task cannot run before the
        // loop yields: exactly the queue's capacity is taken.
        let accepted = (0..QUEUE + 44)
            .filter(|_| hook.post(&notice("acme")))
            .count();
        assert_eq!(accepted, QUEUE);
        assert_eq!(hook.dropped(), 44);
        drop(listener);
    }

    #[tokio::test]
    async fn posts_over_https_to_a_private_ca() {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (addr, mut rx) = server(&[], Some(acceptor)).await;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certified.cert.der().clone()).expect("root");
        let url = format!("https://localhost:{}/tls", addr.port());
        let hook = Webhook::spawn_with_roots(&url, roots).expect("spawn");
        hook.post(&notice("acme"));
        let seen = next(&mut rx).await;
        assert_eq!(seen.target, "/tls");
        let got: Notice = serde_json::from_slice(&seen.body).expect("JSON body");
        assert_eq!(got.account, "acme");
    }

    #[tokio::test]
    async fn bad_urls_are_refused_without_echoing_them() {
        for url in [
            "ftp://example.com/",
            "not a url",
            "/relative",
            "http://user:s3cret@example.com/",
        ] {
            let err = Webhook::spawn(url).expect_err(url).to_string();
            assert!(!err.contains("s3cret"), "{err}");
        }
        assert!(matches!(
            parse("http://[::1]:8080/x", None),
            Ok(Target { ref host, port: 8080, .. }) if host == "::1"
        ));
    }

    #[test]
    fn spawn_needs_a_runtime() {
        assert!(matches!(
            Webhook::spawn("http://127.0.0.1:9/"),
            Err(WebhookError::NoRuntime)
        ));
    }
}
