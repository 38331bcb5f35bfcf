//! The local HTTP admin API: `GET /health`, `GET /status`, `POST /reload`,
//! and the review of suspended accounts:
//!
//! - `GET /suspensions`: every suspended account;
//! - `GET /suspensions/{sid}`: one, with its evidence (the normalised text
//!   of its last blocked messages, rule hits and times); the view is
//!   audited;
//! - `POST /suspensions/{sid}` with `{"by": "...", "note": "..."}`:
//!   suspend an account by hand;
//! - `POST /suspensions/{sid}/reinstate` with `{"by": "...", "note":
//!   "..."}`: reinstate it (the note is required: it records the review).
//!
//! The server only speaks HTTP; what the answers say comes from an
//! [`AdminBackend`] the gateway implements (its reload controller, its
//! carrier pools). Answers are JSON. When a token is configured every
//! request must carry `Authorization: Bearer <token>`, else `401`.
//!
//! Everything a client controls is bounded: connections at once, the
//! request head (size and read time), the request body (size and read
//! time). [`client`] is the other end, used by `telegate admin`.

pub mod client;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Connections served at once; more are closed at accept.
const MAX_CONNECTIONS: usize = 32;
/// Largest request head (request line and headers) read.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send a request head.
const HEAD_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body read; no route needs one.
const MAX_BODY: usize = 4 * 1024;
/// How long a client may take to send a request body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Whether the gateway is ready, and its carriers' binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Ready to take traffic: started, and not shutting down. `GET
    /// /health` answers 503 when false.
    pub ready: bool,
    /// Every configured carrier.
    pub carriers: Vec<CarrierHealth>,
}

/// One carrier's binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierHealth {
    /// The carrier's name (`[[carrier]].name`).
    pub name: String,
    /// Binds currently up.
    pub binds_up: u32,
    /// Binds configured (`[[carrier]].binds`).
    pub binds_configured: u32,
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadOutcome {
    /// The config version now in force (counts successful loads).
    pub version: u64,
    /// What changed, one item each (`carrier c1: window 32 -> 64`).
    pub changes: Vec<String>,
    /// Changes that need a restart and were not applied
    /// (`server.listen`).
    pub ignored: Vec<String>,
}

/// What the admin API asks of the gateway.
pub trait AdminBackend: Send + Sync + 'static {
    /// Readiness and per-carrier binds, for `GET /health`.
    fn health(&self) -> Health;

    /// Everything worth looking at (binds, windows, queue depths, config
    /// version…), for `GET /status`. Never message text or phone numbers.
    fn status(&self) -> serde_json::Value;

    /// Re-reads the config file and applies it, for `POST /reload`. On
    /// error the old config stays in force and the message says what is
    /// wrong (file, line and key).
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<ReloadOutcome, String>> + Send + '_>>;

    /// Every suspended account, for `GET /suspensions`.
    fn suspensions(&self) -> serde_json::Value;

    /// One suspension with its evidence, viewed by `by`, for `GET
    /// /suspensions/{sid}`.
    fn suspension(&self, sid: &str, by: &str) -> Result<serde_json::Value, ReviewError>;

    /// Suspends an account by hand.
    fn suspend(&self, sid: &str, by: &str, note: &str) -> Result<serde_json::Value, ReviewError>;

    /// Reinstates a suspended account after review.
    fn reinstate(&self, sid: &str, by: &str, note: &str) -> Result<serde_json::Value, ReviewError>;

    /// A CDR request (`/cdr…` routes). Without CDRs: [`CdrApiError::Off`].
    fn cdr(
        &self,
        req: CdrRequest,
    ) -> Pin<Box<dyn Future<Output = Result<CdrAnswer, CdrApiError>> + Send + '_>> {
        let _ = req;
        Box::pin(async { Err(CdrApiError::Off) })
    }
}

/// A request about CDRs.
#[derive(Debug, Clone, PartialEq)]
pub enum CdrRequest {
    /// `GET /cdr?account=&from=&to=&carrier=&status=&receipt=&id=&limit=`:
    /// records and totals.
    Query(crate::cdr::store::Query),
    /// `GET /cdr/export?account=&from=&to=&format=jsonl|csv`: an account's
    /// copy of its records; the viewer (`x-review-by`) is audited.
    Export {
        /// The account's SID.
        account: String,
        /// Submit time bounds, unix ms.
        from_ms: Option<u64>,
        /// Submit time bounds, unix ms.
        to_ms: Option<u64>,
        /// JSON lines or CSV.
        format: crate::cdr::store::ExportFormat,
        /// Who asks, for the audit log.
        by: String,
    },
    /// `POST /cdr/erase` `{"account", "until"?, "by"}`: erases an
    /// account's records (and, without `until`, its DLR mappings and
    /// filter evidence).
    Erase {
        /// The account's SID.
        account: String,
        /// Only records up to this time (unix ms).
        until_ms: Option<u64>,
        /// Who acts.
        by: String,
    },
    /// `POST /cdr/holds/{sid}` (set) and `POST /cdr/holds/{sid}/release`.
    Hold {
        /// The account's SID.
        account: String,
        /// Set (true) or lift (false).
        on: bool,
        /// Who acts.
        by: String,
        /// Why (the legal matter).
        note: String,
    },
    /// `GET /cdr/holds`: the legal holds.
    Holds,
    /// `POST /cdr/sweep` `{"by"}`: a retention sweep now.
    Sweep {
        /// Who asks.
        by: String,
    },
}

/// The answer to a [`CdrRequest`].
#[derive(Debug, Clone, PartialEq)]
pub enum CdrAnswer {
    /// A JSON document.
    Json(serde_json::Value),
    /// An export.
    Data {
        /// Its media type.
        content_type: &'static str,
        /// Its bytes.
        body: Vec<u8>,
    },
}

/// Why a CDR request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdrApiError {
    /// The gateway writes no CDRs.
    #[error("CDRs are off: the gateway has no [cdr] table")]
    Off,
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with a legal hold.
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error("{0}")]
    Failed(String),
}

/// A time in a request: unix milliseconds, an RFC 3339 time, or a date
/// (`2026-11-29`, midnight UTC).
pub fn parse_time_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let t = if s.len() == 10 {
        crate::filter::suspension::parse_rfc3339(&format!("{s}T00:00:00Z"))
    } else {
        crate::filter::suspension::parse_rfc3339(s)
    }?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_millis()).ok())
}

/// A CDR query from `/cdr` parameters (`account`, `from`, `to`, `carrier`,
/// `status`, `receipt`, `id`, `limit`); the message names what is wrong.
pub fn cdr_query_of(params: &[(String, String)]) -> Result<crate::cdr::store::Query, String> {
    match cdr_query(params)? {
        CdrRequest::Query(q) => Ok(q),
        _ => Err("not a query".to_owned()),
    }
}

/// Reads `/cdr` query parameters (`k=v&…`, percent-escaped).
fn cdr_query(params: &[(String, String)]) -> Result<CdrRequest, String> {
    let mut q = crate::cdr::store::Query {
        limit: 100,
        ..Default::default()
    };
    for (k, v) in params {
        let time = || parse_time_ms(v).ok_or_else(|| format!("{k}: not a time: {v:?}"));
        match k.as_str() {
            "account" => q.account = Some(v.clone()),
            "from" => q.from_ms = Some(time()?),
            "to" => q.to_ms = Some(time()?),
            "carrier" => q.carrier = Some(v.clone()),
            "status" => {
                let n = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => v.parse().ok(),
                };
                q.status = Some(n.ok_or_else(|| format!("status: not a number: {v:?}"))?);
            }
            "receipt" => {
                q.receipt = Some(
                    crate::cdr::record::ReceiptState::from_name(v)
                        .ok_or_else(|| format!("receipt: not a receipt state: {v:?}"))?,
                )
            }
            "id" => {
                q.gateway_id = Some(
                    crate::ids::parse_id(v.as_bytes())
                        .ok_or_else(|| format!("id: not a message id: {v:?}"))?,
                )
            }
            "limit" => {
                q.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n <= 10_000)
                    .ok_or_else(|| format!("limit: 0 to 10000, not {v:?}"))?
            }
            _ => return Err(format!("unknown parameter {k:?}")),
        }
    }
    Ok(CdrRequest::Query(q))
}

fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let unplus = |s: &str| percent_decode(&s.replace('+', " "));
            (unplus(k), unplus(v))
        })
        .collect()
}

/// The body of `POST /cdr/erase`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseBody {
    account: String,
    #[serde(default)]
    until: Option<String>,
    by: String,
}

/// Reads a CDR route; `None` if `path` is not one.
fn cdr_route(
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    by: Option<String>,
) -> Option<Result<CdrRequest, Box<Response<Body>>>> {
    fn bad<T>(m: String) -> Result<T, Box<Response<Body>>> {
        Err(Box::new(error(StatusCode::BAD_REQUEST, &m)))
    }
    let need = |want: Method| -> Result<(), Box<Response<Body>>> {
        if *method == want {
            return Ok(());
        }
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        r.headers_mut().insert(
            ALLOW,
            HeaderValue::from_static(if want == Method::POST { "POST" } else { "GET" }),
        );
        Err(Box::new(r))
    };
    let params = || query_params(query);
    let who = |by: &str| -> Result<String, Box<Response<Body>>> {
        let by = by.trim();
        if by.is_empty() || by.len() > 128 {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "\"by\" must name who acts (1 to 128 characters)",
            )));
        }
        Ok(by.to_owned())
    };
    let r = match path {
        "/cdr" => need(Method::GET).and_then(|()| cdr_query(&params()).or_else(bad)),
        "/cdr/holds" => need(Method::GET).map(|()| CdrRequest::Holds),
        "/cdr/export" => need(Method::GET).and_then(|()| {
            let (mut account, mut from_ms, mut to_ms) = (None, None, None);
            let mut format = crate::cdr::store::ExportFormat::Jsonl;
            for (k, v) in params() {
                let time = || parse_time_ms(&v).ok_or_else(|| format!("{k}: not a time: {v:?}"));
                match k.as_str() {
                    "account" => account = Some(v.clone()),
                    "from" => from_ms = Some(time().or_else(bad)?),
                    "to" => to_ms = Some(time().or_else(bad)?),
                    "format" => match v.as_str() {
                        "jsonl" => format = crate::cdr::store::ExportFormat::Jsonl,
                        "csv" => format = crate::cdr::store::ExportFormat::Csv,
                        _ => return bad(format!("format: jsonl or csv, not {v:?}")),
                    },
                    _ => return bad(format!("unknown parameter {k:?}")),
                }
            }
            let Some(account) = account else {
                return bad("account is required".into());
            };
            Ok(CdrRequest::Export {
                account,
                from_ms,
                to_ms,
                format,
                by: by.clone().unwrap_or_else(|| "admin api".to_owned()),
            })
        }),
        "/cdr/erase" => need(Method::POST).and_then(|()| {
            let b: EraseBody = serde_json::from_slice(body).or_else(|e| {
                bad(format!(
                    "body must be {{\"account\": \"...\", \"until\": \"...\" (optional), \"by\": \"...\"}}: {e}"
                ))
            })?;
            let until_ms = match &b.until {
                Some(u) => Some(parse_time_ms(u).ok_or(()).or_else(|()| bad(format!("until: not a time: {u:?}")))?),
                None => None,
            };
            Ok(CdrRequest::Erase {
                account: b.account,
                until_ms,
                by: who(&b.by)?,
            })
        }),
        "/cdr/sweep" => need(Method::POST).and_then(|()| {
            let r: ReviewRequest = serde_json::from_slice(body)
                .or_else(|e| bad(format!("body must be {{\"by\": \"...\"}}: {e}")))?;
            Ok(CdrRequest::Sweep { by: who(&r.by)? })
        }),
        p => {
            let rest = p.strip_prefix("/cdr/holds/")?;
            let (sid, on) = match rest.split_once('/') {
                None => (rest, true),
                Some((sid, "release")) => (sid, false),
                Some(_) => return None,
            };
            if sid.is_empty() {
                return None;
            }
            need(Method::POST).and_then(|()| {
                let r: ReviewRequest = serde_json::from_slice(body).or_else(|e| {
                    bad(format!(
                        "body must be {{\"by\": \"...\", \"note\": \"...\"}}: {e}"
                    ))
                })?;
                if r.note.trim().is_empty() {
                    return bad("a legal hold needs a note naming the matter".into());
                }
                Ok(CdrRequest::Hold {
                    account: percent_decode(sid),
                    on,
                    by: who(&r.by)?,
                    note: r.note,
                })
            })
        }
    };
    Some(r)
}

/// Why a review action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// No such account, or not suspended.
    #[error("{0}")]
    NotFound(String),
    /// The action does not fit the account's state (already suspended).
    #[error("{0}")]
    Conflict(String),
    /// The state could not be written.
    #[error("{0}")]
    Failed(String),
}

/// The body of a review action.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// Who acts (a person's name or login), for the audit log.
    pub by: String,
    /// Why.
    #[serde(default)]
    pub note: String,
}

type Body = Full<Bytes>;

struct State {
    backend: Arc<dyn AdminBackend>,
    /// SHA-256 of the token: comparing digests takes the same time
    /// whatever the lengths of the token and the guess.
    token: Option<[u8; 32]>,
}

/// Serves the admin API on `listener` until `shutdown` is cancelled, then
/// lets open requests finish for a few seconds.
///
/// With a `token`, every request needs `Authorization: Bearer <token>`.
pub async fn serve(
    listener: TcpListener,
    backend: Arc<dyn AdminBackend>,
    token: Option<String>,
    shutdown: CancellationToken,
) {
    let state = Arc::new(State {
        backend,
        token: token.map(|t| digest(t.as_bytes())),
    });
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, token = state.token.is_some(), "admin API listening");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let tracker = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "admin API: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(peer = %peer.ip(), "admin API: connection limit reached; refusing");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let state = state.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, peer, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_READ_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            let r = tokio::select! {
                r = conn.as_mut() => r,
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    match tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await {
                        Ok(r) => r,
                        Err(_) => Ok(()),
                    }
                }
            };
            if let Err(e) = r {
                tracing::debug!(peer = %peer.ip(), error = %e, "admin API: connection error");
            }
        });
    }
    drop(listener);
    tracker.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await;
}

async fn handle(state: &State, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    if let Some(want) = &state.token {
        if !authorized(want, req.headers().get(AUTHORIZATION)) {
            tracing::info!(peer = %peer.ip(), "admin API: request without a valid token refused");
            let mut r = error(StatusCode::UNAUTHORIZED, "unauthorized");
            r.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    let path = req.uri().path().to_owned();
    if path == "/cdr" || path.starts_with("/cdr/") {
        let method = req.method().clone();
        let query = req.uri().query().map(str::to_owned);
        let by = req
            .headers()
            .get("x-review-by")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().chars().take(128).collect::<String>())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| format!("admin api {}", peer.ip()));
        let body = Limited::new(req.into_body(), MAX_BODY).collect();
        let body = match tokio::time::timeout(BODY_READ_TIMEOUT, body).await {
            Ok(Ok(b)) => b.to_bytes(),
            Ok(Err(_)) => return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            Err(_) => return error(StatusCode::REQUEST_TIMEOUT, "request body too slow"),
        };
        let req = match cdr_route(&method, &path, query.as_deref(), &body, Some(by)) {
            None => return error(StatusCode::NOT_FOUND, "not found"),
            Some(Err(resp)) => return *resp,
            Some(Ok(r)) => r,
        };
        tracing::info!(peer = %peer.ip(), path = %path, "admin API: CDR request");
        return match state.backend.cdr(req).await {
            Ok(CdrAnswer::Json(v)) => json(StatusCode::OK, &v),
            Ok(CdrAnswer::Data { content_type, body }) => {
                let mut r = Response::new(Full::new(Bytes::from(body)));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                r
            }
            Err(e @ CdrApiError::Off) => error(StatusCode::NOT_FOUND, &e.to_string()),
            Err(e @ CdrApiError::BadRequest(_)) => error(StatusCode::BAD_REQUEST, &e.to_string()),
            Err(e @ CdrApiError::Refused(_)) => error(StatusCode::CONFLICT, &e.to_string()),
            Err(e @ CdrApiError::Failed(_)) => {
                error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
            }
        };
    }
    let route = match path.as_str() {
        "/health" => Route::Health,
        "/status" => Route::Status,
        "/reload" => Route::Reload,
        "/suspensions" => Route::Suspensions,
        p => match p.strip_prefix("/suspensions/") {
            Some(rest) => match rest.split_once('/') {
                None if !rest.is_empty() => {
                    if *req.method() == Method::POST {
                        Route::Suspend
                    } else {
                        Route::Suspension
                    }
                }
                Some((_, "reinstate")) => Route::Reinstate,
                _ => return error(StatusCode::NOT_FOUND, "not found"),
            },
            None => return error(StatusCode::NOT_FOUND, "not found"),
        },
    };
    let sid = path
        .strip_prefix("/suspensions/")
        .map(|r| r.split('/').next().unwrap_or_default())
        .map(percent_decode)
        .unwrap_or_default();
    let allowed = route.method();
    if req.method() != allowed {
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        r.headers_mut().insert(
            ALLOW,
            HeaderValue::from_static(if allowed == Method::POST {
                "POST"
            } else {
                "GET"
            }),
        );
        return r;
    }
    // Who views evidence (`GET /suspensions/{sid}`), for the audit log.
    let req_by = req
        .headers()
        .get("x-review-by")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().chars().take(128).collect::<String>())
        .filter(|v| !v.is_empty());
    // Review actions take a JSON body; other routes' bodies are read (and
    // ignored) so the connection stays usable.
    let body = Limited::new(req.into_body(), MAX_BODY).collect();
    let body = match tokio::time::timeout(BODY_READ_TIMEOUT, body).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
        Err(_) => return error(StatusCode::REQUEST_TIMEOUT, "request body too slow"),
    };
    let review = |r: Result<serde_json::Value, ReviewError>| match r {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e @ ReviewError::NotFound(_)) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e @ ReviewError::Conflict(_)) => error(StatusCode::CONFLICT, &e.to_string()),
        Err(e @ ReviewError::Failed(_)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let action = || -> Result<ReviewRequest, Box<Response<Body>>> {
        let r: ReviewRequest = serde_json::from_slice(&body).map_err(|e| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                &format!("body must be {{\"by\": \"...\", \"note\": \"...\"}}: {e}"),
            ))
        })?;
        if r.by.trim().is_empty() || r.by.len() > 128 {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "\"by\" must name who acts (1 to 128 characters)",
            )));
        }
        Ok(r)
    };
    match route {
        Route::Suspensions => json(StatusCode::OK, &state.backend.suspensions()),
        Route::Suspension => {
            let by = req_by.unwrap_or_else(|| format!("admin api {}", peer.ip()));
            review(state.backend.suspension(&sid, &by))
        }
        Route::Suspend => match action() {
            Ok(r) => {
                tracing::info!(peer = %peer.ip(), account = %sid, "admin API: manual suspension");
                review(state.backend.suspend(&sid, &r.by, &r.note))
            }
            Err(resp) => *resp,
        },
        Route::Reinstate => match action() {
            Ok(r) if r.note.trim().is_empty() => error(
                StatusCode::BAD_REQUEST,
                "a reinstatement needs a note saying what the review found",
            ),
            Ok(r) => {
                tracing::info!(peer = %peer.ip(), account = %sid, "admin API: reinstatement");
                review(state.backend.reinstate(&sid, &r.by, &r.note))
            }
            Err(resp) => *resp,
        },
        Route::Health => {
            let h = state.backend.health();
            let status = if h.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            json(status, &h)
        }
        Route::Status => json(StatusCode::OK, &state.backend.status()),
        Route::Reload => {
            tracing::info!(peer = %peer.ip(), "admin API: reload requested");
            match state.backend.reload().await {
                Ok(outcome) => json(StatusCode::OK, &outcome),
                // The request was fine; the config file it asked to load
                // was not, and the old one stays.
                Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, &e),
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Health,
    Status,
    Reload,
    Suspensions,
    Suspension,
    Suspend,
    Reinstate,
}

impl Route {
    fn method(self) -> Method {
        match self {
            Route::Health | Route::Status | Route::Suspensions | Route::Suspension => Method::GET,
            Route::Reload | Route::Suspend | Route::Reinstate => Method::POST,
        }
    }
}

/// Decodes `%XX` escapes of a path segment (an account sid may hold any
/// printable character); invalid escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn digest(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// Whether `header` is `Bearer <token>` for the token whose digest is
/// `want`, compared in constant time.
fn authorized(want: &[u8; 32], header: Option<&HeaderValue>) -> bool {
    let Some(v) = header.map(HeaderValue::as_bytes) else {
        return false;
    };
    let Some((scheme, token)) = v.split_at_checked(7) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return false;
    }
    let got = digest(token);
    let diff = want
        .iter()
        .zip(got.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(diff) == 0
}

fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(mut body) => {
            body.push(b'\n');
            let mut r = Response::new(Full::new(Bytes::from(body)));
            *r.status_mut() = status;
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot encode the answer: {e}"),
        ),
    }
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    #[derive(Serialize)]
    struct Error<'a> {
        error: &'a str,
    }
    let mut body = serde_json::to_vec(&Error { error: message }).unwrap_or_default();
    body.push(b'\n');
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[cfg(test)]
mod tests {
    use super::client::{request, ClientError};
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TOKEN: &str = "0123456789abcdef-token";

    #[derive(Debug, Default)]
    struct Fake {
        ready: AtomicBool,
        fail_reload: AtomicBool,
        version: AtomicU64,
    }

    impl AdminBackend for Fake {
        fn suspensions(&self) -> serde_json::Value {
            serde_json::json!({ "suspensions": [] })
        }

        fn suspension(&self, sid: &str, by: &str) -> Result<serde_json::Value, ReviewError> {
            match sid {
                "acme co" => Ok(serde_json::json!({ "account": sid, "viewed_by": by })),
                _ => Err(ReviewError::NotFound(format!(
                    "account {sid:?} is not suspended"
                ))),
            }
        }

        fn suspend(
            &self,
            sid: &str,
            by: &str,
            note: &str,
        ) -> Result<serde_json::Value, ReviewError> {
            Err(ReviewError::Conflict(format!("{sid} {by} {note}")))
        }

        fn reinstate(
            &self,
            sid: &str,
            by: &str,
            note: &str,
        ) -> Result<serde_json::Value, ReviewError> {
            Ok(serde_json::json!({ "reinstated": sid, "by": by, "note": note }))
        }

        fn health(&self) -> Health {
            Health {
                ready: self.ready.load(Ordering::SeqCst),
                carriers: vec![CarrierHealth {
                    name: "c1".into(),
                    binds_up: 1,
                    binds_configured: 2,
                }],
            }
        }

        fn status(&self) -> serde_json::Value {
            serde_json::json!({ "config_version": self.version.load(Ordering::SeqCst) })
        }

        fn reload(
            &self,
        ) -> Pin<Box<dyn Future<Output = Result<ReloadOutcome, String>> + Send + '_>> {
            Box::pin(async move {
                if self.fail_reload.load(Ordering::SeqCst) {
                    return Err("/etc/telegate.toml: line 7: carrier[0].window: must be > 0".into());
                }
                let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(ReloadOutcome {
                    version,
                    changes: vec!["route count 1 -> 2".into()],
                    ignored: vec!["server.listen".into()],
                })
            })
        }
    }

    async fn start(token: Option<&str>) -> (SocketAddr, Arc<Fake>, CancellationToken) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let fake = Arc::new(Fake::default());
        fake.ready.store(true, Ordering::SeqCst);
        let stop = CancellationToken::new();
        tokio::spawn(serve(
            l,
            fake.clone(),
            token.map(str::to_owned),
            stop.clone(),
        ));
        (addr, fake, stop)
    }

    fn parse(body: &str) -> serde_json::Value {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
    }

    #[tokio::test]
    async fn routes() {
        let (addr, fake, stop) = start(None).await;

        let (st, body) = request(addr, Method::GET, "/health", None).await.unwrap();
        assert_eq!(st, 200);
        let h: Health = serde_json::from_str(&body).unwrap();
        assert!(h.ready);
        assert_eq!(h.carriers[0].name, "c1");
        assert_eq!(h.carriers[0].binds_up, 1);
        assert_eq!(h.carriers[0].binds_configured, 2);

        fake.ready.store(false, Ordering::SeqCst);
        let (st, body) = request(addr, Method::GET, "/health", None).await.unwrap();
        assert_eq!(st, 503);
        assert_eq!(parse(&body)["ready"], false);
        assert_eq!(parse(&body)["carriers"][0]["binds_up"], 1);

        let (st, body) = request(addr, Method::GET, "/status", None).await.unwrap();
        assert_eq!(st, 200);
        assert_eq!(parse(&body)["config_version"], 0);

        let (st, body) = request(addr, Method::POST, "/reload", None).await.unwrap();
        assert_eq!(st, 200);
        let o: ReloadOutcome = serde_json::from_str(&body).unwrap();
        assert_eq!(o.version, 1);
        assert_eq!(o.ignored, ["server.listen"]);

        fake.fail_reload.store(true, Ordering::SeqCst);
        let (st, body) = request(addr, Method::POST, "/reload", None).await.unwrap();
        assert_eq!(st, 422);
        let e = parse(&body);
        assert!(
            e["error"]
                .as_str()
                .unwrap()
                .contains("line 7: carrier[0].window"),
            "{e}"
        );
        // The failed reload did not move the version.
        let (_, body) = request(addr, Method::GET, "/status", None).await.unwrap();
        assert_eq!(parse(&body)["config_version"], 1);

        let (st, body) = request(addr, Method::GET, "/nope", None).await.unwrap();
        assert_eq!(st, 404);
        assert_eq!(parse(&body)["error"], "not found");
        let (st, _) = request(addr, Method::GET, "/health/x", None).await.unwrap();
        assert_eq!(st, 404);

        let (st, _) = request(addr, Method::GET, "/reload", None).await.unwrap();
        assert_eq!(st, 405);
        let (st, _) = request(addr, Method::POST, "/health", None).await.unwrap();
        assert_eq!(st, 405);
        let (st, _) = request(addr, Method::DELETE, "/status", None)
            .await
            .unwrap();
        assert_eq!(st, 405);

        // Query strings do not change the route.
        let (st, _) = request(addr, Method::GET, "/status?x=1", None)
            .await
            .unwrap();
        assert_eq!(st, 200);
        stop.cancel();
    }

    #[tokio::test]
    async fn token_required() {
        let (addr, _fake, stop) = start(Some(TOKEN)).await;
        for (method, path) in [
            (Method::GET, "/health"),
            (Method::GET, "/status"),
            (Method::POST, "/reload"),
            (Method::GET, "/nope"),
        ] {
            let (st, body) = request(addr, method.clone(), path, None).await.unwrap();
            assert_eq!(st, 401, "{method} {path} without a token");
            assert_eq!(parse(&body)["error"], "unauthorized");
            for wrong in ["", "x", "0123456789abcdef-tokem", "0123456789abcdef-token2"] {
                let (st, _) = request(addr, method.clone(), path, Some(wrong))
                    .await
                    .unwrap();
                assert_eq!(st, 401, "{method} {path} with {wrong:?}");
            }
        }
        let (st, _) = request(addr, Method::GET, "/health", Some(TOKEN))
            .await
            .unwrap();
        assert_eq!(st, 200);
        let (st, _) = request(addr, Method::POST, "/reload", Some(TOKEN))
            .await
            .unwrap();
        assert_eq!(st, 200);
        let (st, _) = request(addr, Method::GET, "/nope", Some(TOKEN))
            .await
            .unwrap();
        assert_eq!(st, 404);
        stop.cancel();
    }

    #[test]
    fn bearer_parsing() {
        let want = digest(TOKEN.as_bytes());
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        assert!(authorized(&want, Some(&h(&format!("Bearer {TOKEN}")))));
        assert!(authorized(&want, Some(&h(&format!("bearer {TOKEN}")))));
        assert!(!authorized(&want, None));
        assert!(!authorized(&want, Some(&h(TOKEN))));
        assert!(!authorized(&want, Some(&h(&format!("Basic {TOKEN}")))));
        assert!(!authorized(&want, Some(&h(&format!("Bearer  {TOKEN}")))));
        assert!(!authorized(&want, Some(&h("Bearer"))));
    }

    /// Raw request bytes in, the whole raw answer out (the server closes
    /// because of `Connection: close`).
    async fn raw(addr: SocketAddr, req: &[u8]) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(req).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .expect("answer in time")
            .unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn bounded_requests() {
        let (addr, _fake, stop) = start(None).await;
        // A body over the limit.
        let big = "x".repeat(MAX_BODY + 1);
        let req = format!(
            "POST /reload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{big}",
            big.len()
        );
        let ans = raw(addr, req.as_bytes()).await;
        assert!(ans.starts_with("HTTP/1.1 413"), "{ans}");

        // A head over the limit is refused without a response body from
        // the backend (hyper answers 431 or closes).
        let req = format!(
            "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "y".repeat(MAX_HEAD + 1)
        );
        let ans = raw(addr, req.as_bytes()).await;
        assert!(ans.is_empty() || ans.starts_with("HTTP/1.1 431"), "{ans}");

        // A body within the limit is read and ignored.
        let ans = raw(
            addr,
            b"POST /reload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        )
        .await;
        assert!(ans.starts_with("HTTP/1.1 200"), "{ans}");
        stop.cancel();
    }

    #[tokio::test]
    async fn shutdown_stops_serving() {
        let (addr, _fake, stop) = start(None).await;
        let (st, _) = request(addr, Method::GET, "/health", None).await.unwrap();
        assert_eq!(st, 200);
        stop.cancel();
        let mut refused = false;
        for _ in 0..200 {
            if let Err(ClientError::Connect { .. }) =
                request(addr, Method::GET, "/health", None).await
            {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused, "still serving after shutdown");
    }
}
