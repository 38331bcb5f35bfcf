//! A minimal client of the admin API, for `telegate admin` and tests: one
//! request per connection, plain HTTP/1.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where `telegate admin` connects without `--url` or `--config`.
pub const DEFAULT_URL: &str = "http://127.0.0.1:9776";

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the answer may take once connected; a reload that loads
/// large filter models can take a while.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest answer read.
const MAX_ANSWER: usize = 8 << 20;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing accepted the connection (or not in time).
    #[error("cannot connect to the admin API at {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The connection broke or the answer was not HTTP.
    #[error("admin API at {addr}: {source}")]
    Http {
        /// The server.
        addr: SocketAddr,
        /// The cause.
        source: hyper::Error,
    },
    /// No whole answer within the time limit.
    #[error("admin API at {addr} did not answer in time")]
    Timeout {
        /// The server.
        addr: SocketAddr,
    },
    /// The answer body was larger than the client reads.
    #[error("admin API at {addr} sent an answer larger than {MAX_ANSWER} bytes")]
    TooLarge {
        /// The server.
        addr: SocketAddr,
    },
    /// The request could not be built (a token that is not a valid header
    /// value, a bad path).
    #[error("bad request: {0}")]
    Request(String),
}

/// Sends one request and returns the status code and the body.
///
/// `path` is the request target (`/health`); `token`, when given, goes in
/// `Authorization: Bearer`.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> Result<(u16, String), ClientError> {
    request_with(addr, method, path, token, None, &[]).await
}

/// [`request`] with a JSON `body` and extra `headers`.
pub async fn request_with(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
    headers: &[(&str, &str)],
) -> Result<(u16, String), ClientError> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string());
    if let Some(t) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(v) => {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(v).unwrap_or_default())
        }
        None => Bytes::new(),
    };
    // The error would show the header value: say only what was wrong.
    let req = req
        .body(Full::new(body))
        .map_err(|_| ClientError::Request("invalid path or token characters".into()))?;

    let connect_err = |source| ClientError::Connect { addr, source };
    let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(r) => r.map_err(connect_err)?,
        Err(_) => return Err(connect_err(std::io::ErrorKind::TimedOut.into())),
    };
    let _ = tcp.set_nodelay(true);
    let exchange = async {
        let http = |source| ClientError::Http { addr, source };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(http)?;
        let driver = tokio::spawn(conn);
        let resp = sender.send_request(req).await.map_err(http)?;
        let status = resp.status().as_u16();
        let body = match Limited::new(resp.into_body(), MAX_ANSWER).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                driver.abort();
                return match e.downcast::<hyper::Error>() {
                    Ok(e) => Err(http(*e)),
                    Err(_) => Err(ClientError::TooLarge { addr }),
                };
            }
        };
        driver.abort();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    };
    match tokio::time::timeout(ANSWER_TIMEOUT, exchange).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout { addr }),
    }
}

/// The address to connect to for an `http://host:port` URL (a trailing
/// `/` is allowed; a bare `host:port` too). The host is resolved; the
/// first address is used.
pub fn resolve_url(url: &str) -> Result<SocketAddr, String> {
    let rest = if let Some(r) = url.strip_prefix("http://") {
        r
    } else if url.starts_with("https://") {
        return Err(format!(
            "{url}: the admin API speaks plain HTTP (serve it on a local address)"
        ));
    } else if url.contains("://") {
        return Err(format!("{url}: not an http:// URL"));
    } else {
        url
    };
    let authority = match rest.split_once('/') {
        Some((a, "")) => a,
        Some(_) => return Err(format!("{url}: give only http://host:port, no path")),
        None => rest,
    };
    if authority.contains('@') {
        return Err(format!(
            "{url}: no credentials in the URL (use --token-file)"
        ));
    }
    let has_port = authority.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && !h.ends_with(':') && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
    });
    if !has_port {
        return Err(format!("{url}: the port is missing (http://host:port)"));
    }
    authority
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: the host has no address"))
}

/// Where to connect to reach a server listening on `listen`: a wildcard
/// address (`0.0.0.0`, `::`) is reached over loopback.
pub fn connect_addr(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port())
        }
        _ => listen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let a: SocketAddr = "127.0.0.1:9776".parse().unwrap();
        assert_eq!(resolve_url(DEFAULT_URL), Ok(a));
        assert_eq!(resolve_url("http://127.0.0.1:9776/"), Ok(a));
        assert_eq!(resolve_url("127.0.0.1:9776"), Ok(a));
        assert_eq!(
            resolve_url("http://[::1]:9776"),
            Ok("[::1]:9776".parse().unwrap())
        );
        assert_eq!(resolve_url("http://localhost:9776").unwrap().port(), 9776);
        for bad in [
            "https://127.0.0.1:9776",
            "ftp://127.0.0.1:9776",
            "http://127.0.0.1",
            "http://127.0.0.1:",
            "http://[::1]",
            "http://127.0.0.1:9776/health",
            "http://u:p@127.0.0.1:9776",
            "http://127.0.0.1:99999",
        ] {
            assert!(resolve_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcard_listen_is_reached_over_loopback() {
        let p = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(connect_addr(p("0.0.0.0:9776")), p("127.0.0.1:9776"));
        assert_eq!(connect_addr(p("[::]:9776")), p("[::1]:9776"));
        assert_eq!(connect_addr(p("10.0.0.1:9776")), p("10.0.0.1:9776"));
    }

    #[tokio::test]
    async fn connect_refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        match request(addr, Method::GET, "/health", None).await {
            Err(ClientError::Connect { addr: a, .. }) => assert_eq!(a, addr),
            r => panic!("{r:?}"),
        }
    }

    #[tokio::test]
    async fn token_is_not_echoed_in_errors() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let e = request(addr, Method::GET, "/health", Some("zq\nzq"))
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Request(_)), "{e:?}");
        assert!(!e.to_string().contains("zq"), "{e}");
    }
}
