//! Shared helpers of the gateway integration tests: a config builder,
//! carrier simulators, gateway start-up and ESME client shortcuts.
//!
//! Every test starts its own gateway and simulators on 127.0.0.1 port 0,
//! so tests are independent and may run in parallel.

// Each test file uses a different subset of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use telegate::config::Config;
use telegate::gateway::Gateway;
use telegate::sim::client::PendingResponse;
use telegate::sim::{BindType, Client, ClientOptions, Mode, Smsc, SmscConfig, SmscHandle};
use telegate::smpp_codec::pdu::SubmitSm;
use telegate::smpp_codec::receipt::Receipt;
use telegate::smpp_codec::tlv::TlvList;
use telegate::smpp_codec::{Body, CommandId, CommandStatus, Pdu};

/// How long any single wait in a test may take before it counts as a
/// failure. Generous: tests never assert timings, only outcomes.
pub const WAIT: Duration = Duration::from_secs(15);

/// The password of every test account.
pub const PASSWORD: &str = "secret";

/// The destination every default route covers (Germany, mobile).
pub const DEST: &str = "+491511234567";

/// A source address for test messages.
pub const SOURCE: &str = "+447700900001";

/// The argon2 hash of [`PASSWORD`], computed once per test binary (argon2
/// is deliberately slow).
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| telegate::auth::hash_password(PASSWORD))
}

/// Logs to the test output when `RUST_LOG` is set (e.g.
/// `RUST_LOG=telegate=debug cargo test --test gateway_flow`).
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A TOML string literal.
pub fn q(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// One TOML table as ordered `key = value` lines (values are raw TOML).
#[derive(Debug, Clone, Default)]
pub struct Table(Vec<(String, String)>);

impl Table {
    /// Sets `key` (replacing an earlier value) to the raw TOML `value`.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    fn render(&self, header: &str, out: &mut String) {
        out.push_str(header);
        out.push('\n');
        for (k, v) in &self.0 {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push('\n');
    }
}

/// Builds a gateway configuration as TOML text, with short timeouts fit
/// for tests. Values are raw TOML (`"5"`, `"[\"tx\"]"`, `q("1s")`).
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    server: Table,
    dlr: Table,
    metrics: Table,
    filter: Option<Table>,
    suspension: Table,
    admin: Table,
    cdr: Option<Table>,
    accounts: Vec<Table>,
    carriers: Vec<Table>,
    routes: Vec<Table>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig::new()
    }
}

impl GatewayConfig {
    /// A config with no accounts, carriers or routes.
    pub fn new() -> GatewayConfig {
        let mut server = Table::default();
        server.set("listen", r#"["127.0.0.1:0"]"#);
        server.set("auth_failure_delay", q("50ms"));
        server.set("submit_deadline", q("3s"));
        server.set("response_timeout", q("2s"));
        server.set("bind_timeout", q("10s"));
        let mut dlr = Table::default();
        dlr.set("commit_interval", q("2ms"));
        dlr.set("match_wait", q("2s"));
        GatewayConfig {
            server,
            dlr,
            metrics: Table::default(),
            filter: None,
            suspension: Table::default(),
            admin: Table::default(),
            cdr: None,
            accounts: Vec::new(),
            carriers: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// The usual test set-up: account `esme1` and one carrier `c1` at
    /// `carrier` that every destination is routed to.
    pub fn simple(carrier: SocketAddr) -> GatewayConfig {
        GatewayConfig::new()
            .account("esme1", &[])
            .carrier("c1", &carrier.to_string(), &[])
            .route("", &["c1"])
    }

    /// Sets a `[server]` key.
    pub fn server(mut self, key: &str, value: impl Into<String>) -> Self {
        self.server.set(key, value);
        self
    }

    /// Sets a `[metrics]` key (e.g. `listen`, `q("127.0.0.1:0")`).
    pub fn metrics(mut self, key: &str, value: impl Into<String>) -> Self {
        self.metrics.set(key, value);
        self
    }

    /// Turns the content filter on and sets a `[filter]` key (`enabled`
    /// sets it on with no other key).
    pub fn filter(mut self, key: &str, value: impl Into<String>) -> Self {
        self.filter
            .get_or_insert_with(Table::default)
            .set(key, value);
        self
    }

    /// Sets a `[suspension]` key.
    pub fn suspension(mut self, key: &str, value: impl Into<String>) -> Self {
        self.suspension.set(key, value);
        self
    }

    /// Sets an `[admin]` key.
    pub fn admin(mut self, key: &str, value: impl Into<String>) -> Self {
        self.admin.set(key, value);
        self
    }

    /// Turns CDRs on and sets a `[cdr]` key (`dir` and `pseudonym_key`
    /// are needed).
    pub fn cdr(mut self, key: &str, value: impl Into<String>) -> Self {
        self.cdr.get_or_insert_with(Table::default).set(key, value);
        self
    }

    /// Sets a `[dlr]` key.
    pub fn dlr(mut self, key: &str, value: impl Into<String>) -> Self {
        self.dlr.set(key, value);
        self
    }

    /// Adds an account with password [`PASSWORD`], unlimited throughput
    /// and 8 binds, plus `extra` keys.
    pub fn account(mut self, system_id: &str, extra: &[(&str, &str)]) -> Self {
        let mut t = Table::default();
        t.set("system_id", q(system_id));
        t.set("password_hash", q(password_hash()));
        t.set("throughput", "0");
        t.set("max_binds", "8");
        for (k, v) in extra {
            t.set(k, *v);
        }
        self.accounts.push(t);
        self
    }

    /// Adds a carrier at `address` (`host:port`) with short timeouts and
    /// fast reconnects, plus `extra` keys.
    pub fn carrier(mut self, name: &str, address: &str, extra: &[(&str, &str)]) -> Self {
        let mut t = Table::default();
        t.set("name", q(name));
        t.set("address", q(address));
        t.set("system_id", q("telegate"));
        t.set("password", q("pw"));
        t.set("window", "64");
        t.set("response_timeout", q("2s"));
        t.set("reconnect", r#"{ min = "50ms", max = "500ms" }"#);
        for (k, v) in extra {
            t.set(k, *v);
        }
        self.carriers.push(t);
        self
    }

    /// Adds a route: `prefix` → `carriers` in failover order.
    pub fn route(mut self, prefix: &str, carriers: &[&str]) -> Self {
        let list: Vec<String> = carriers.iter().map(|c| q(c)).collect();
        let mut t = Table::default();
        t.set("prefix", q(prefix));
        t.set("carriers", format!("[{}]", list.join(", ")));
        self.routes.push(t);
        self
    }

    /// Adds a route given as raw keys (e.g. with `weights` or `accounts`).
    pub fn route_with(mut self, keys: &[(&str, &str)]) -> Self {
        let mut t = Table::default();
        for (k, v) in keys {
            t.set(k, *v);
        }
        self.routes.push(t);
        self
    }

    /// The TOML text, with the DLR store in `store`.
    pub fn toml(&self, store: &Path) -> String {
        let mut dlr = self.dlr.clone();
        dlr.set("store", q(&store.display().to_string()));
        let mut out = String::new();
        self.server.render("[server]", &mut out);
        dlr.render("[dlr]", &mut out);
        if !self.metrics.0.is_empty() {
            self.metrics.render("[metrics]", &mut out);
        }
        if let Some(f) = &self.filter {
            f.render("[filter]", &mut out);
        }
        if !self.suspension.0.is_empty() {
            self.suspension.render("[suspension]", &mut out);
        }
        if !self.admin.0.is_empty() {
            self.admin.render("[admin]", &mut out);
        }
        if let Some(c) = &self.cdr {
            c.render("[cdr]", &mut out);
        }
        for a in &self.accounts {
            a.render("[[account]]", &mut out);
        }
        for c in &self.carriers {
            c.render("[[carrier]]", &mut out);
        }
        for r in &self.routes {
            r.render("[[route]]", &mut out);
        }
        out
    }

    /// Parses the config without validating it (for a reload that must be
    /// refused by the gateway itself).
    pub fn build_unchecked(&self, store: &Path) -> Config {
        toml::from_str(&self.toml(store)).expect("config parses")
    }

    /// Parses and validates the config (panics with the error if it is
    /// refused).
    pub fn build(&self, store: &Path) -> Config {
        let text = self.toml(store);
        match Config::from_toml(&text) {
            Ok(c) => c,
            Err(e) => panic!("test config refused: {e}\n--- config ---\n{text}"),
        }
    }
}

/// A temporary directory for a gateway's DLR store.
pub fn store_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Starts a carrier simulator on 127.0.0.1 port 0, after `f` adjusted its
/// settings.
pub async fn start_smsc(f: impl FnOnce(&mut SmscConfig)) -> SmscHandle {
    let mut cfg = SmscConfig::default();
    f(&mut cfg);
    Smsc::start(cfg).await.expect("simulator starts")
}

/// An address nothing listens on (a port just closed).
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a
}

/// Starts a gateway without waiting for its carriers.
pub async fn start_gateway_nowait(cfg: Config) -> Gateway {
    init_tracing();
    match Gateway::start(cfg).await {
        Ok(g) => g,
        Err(e) => panic!("gateway does not start: {e}"),
    }
}

/// Starts a gateway and waits until every carrier has a bind up.
pub async fn start_gateway(cfg: Config) -> Gateway {
    let gw = start_gateway_nowait(cfg).await;
    assert!(
        gw.wait_carriers_bound(WAIT).await,
        "carriers did not bind: {:?}",
        gw.carrier_bind_states()
    );
    gw
}

/// The gateway's first plain-TCP ESME address.
pub fn esme_addr(gw: &Gateway) -> SocketAddr {
    gw.esme_addrs()[0]
}

/// Client options for tests: deliver_sm is acknowledged automatically
/// (and still queued for `next_pdu`).
pub fn client_opts() -> ClientOptions {
    ClientOptions {
        auto_deliver_sm_resp: true,
        response_timeout: WAIT,
        ..ClientOptions::default()
    }
}

/// Connects without binding.
pub async fn connect(addr: SocketAddr) -> Client {
    Client::connect_with(addr, client_opts())
        .await
        .expect("connects to the gateway")
}

/// Connects and binds as `system_id` with [`PASSWORD`]; panics unless the
/// bind is accepted.
pub async fn bind(addr: SocketAddr, kind: BindType, system_id: &str) -> Client {
    let c = connect(addr).await;
    let st = c
        .bind(kind, system_id, PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_ROK, "bind of {system_id} refused");
    c
}

/// A submit_sm body.
pub fn submit_body(to: &str, text: &[u8], receipt: bool) -> Body {
    Body::SubmitSm(Box::new(telegate::sim::submit_sm(
        SOURCE, to, text, receipt,
    )))
}

/// Stalls the carrier and sends two submits ("one", "two") that reach it
/// and stay outstanding; their responses are left to the caller.
pub async fn two_outstanding_at_stalled_carrier(
    esme: &Client,
    smsc: &SmscHandle,
) -> [PendingResponse; 2] {
    smsc.set_mode(Mode::Stall);
    let p1 = esme
        .send_request(submit_body(DEST, b"one", false))
        .await
        .expect("sent");
    let p2 = esme
        .send_request(submit_body(DEST, b"two", false))
        .await
        .expect("sent");
    assert!(
        eventually(WAIT, || smsc.stats().stalled >= 2).await,
        "both submits reached the carrier"
    );
    [p1, p2]
}

/// Submits one message and returns the response.
pub async fn submit(c: &Client, to: &str, text: &[u8], receipt: bool) -> Pdu {
    c.request(submit_body(to, text, receipt))
        .await
        .expect("submit answered")
}

/// The message_id of an OK submit_sm_resp (panics otherwise).
pub fn message_id(p: &Pdu) -> String {
    assert_eq!(
        p.command_status,
        CommandStatus::ESME_ROK,
        "submit not accepted: {p:?}"
    );
    match &p.body {
        Body::SubmitSmResp(r) | Body::DataSmResp(r) => {
            String::from_utf8(r.message_id.to_vec()).expect("ascii id")
        }
        b => panic!("not a submit_sm_resp: {b:?}"),
    }
}

/// Submits and returns the gateway id of the accepted message.
pub async fn submit_ok(c: &Client, to: &str, text: &[u8], receipt: bool) -> String {
    let id = message_id(&submit(c, to, text, receipt).await);
    assert_gateway_id(&id);
    id
}

/// Asserts the gateway's id format: 16 lowercase hex characters.
pub fn assert_gateway_id(id: &str) {
    assert_eq!(id.len(), 16, "gateway id {id:?} is not 16 characters");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "gateway id {id:?} is not lowercase hex"
    );
}

/// The status of a response, checking its command.
pub fn status_of(p: &Pdu, expected: CommandId) -> CommandStatus {
    assert_eq!(p.command_id(), expected, "unexpected response {p:?}");
    p.command_status
}

/// The next deliver_sm from the gateway (other PDUs are skipped).
pub async fn next_deliver(c: &mut Client, timeout: Duration) -> Option<Box<SubmitSm>> {
    let until = Instant::now() + timeout;
    loop {
        let left = until.checked_duration_since(Instant::now())?;
        match c.next_pdu(left).await {
            Ok(Pdu {
                body: Body::DeliverSm(sm),
                ..
            }) => return Some(sm),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// A receipt's ids: the receipted_message_id TLV and the text's `id:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptIds {
    /// receipted_message_id TLV.
    pub tlv: Option<String>,
    /// `id:` of the Appendix B text.
    pub text: Option<String>,
}

/// Reads both ids of a receipt deliver_sm.
pub fn receipt_ids(sm: &SubmitSm) -> ReceiptIds {
    let tlv = sm
        .tlvs
        .receipted_message_id()
        .map(|b| String::from_utf8_lossy(b).into_owned());
    let text = Receipt::parse(&sm.short_message)
        .ok()
        .map(|r| String::from_utf8_lossy(&r.id).into_owned());
    ReceiptIds { tlv, text }
}

/// Whether a deliver_sm is a delivery receipt (esm_class message type).
pub fn is_receipt(sm: &SubmitSm) -> bool {
    sm.esm_class & 0x3C == 0x04
}

/// Waits for the receipt of `id` and checks both of its ids.
pub async fn expect_receipt(c: &mut Client, id: &str) -> Box<SubmitSm> {
    let sm = next_deliver(c, WAIT)
        .await
        .unwrap_or_else(|| panic!("no receipt for {id}"));
    assert!(is_receipt(&sm), "not a receipt: {sm:?}");
    let ids = receipt_ids(&sm);
    assert_eq!(ids.tlv.as_deref(), Some(id), "receipted_message_id TLV");
    assert_eq!(ids.text.as_deref(), Some(id), "id: in the receipt text");
    sm
}

/// Reads receipts until every id in `want` has one (or the time is up);
/// returns the ids seen, and receipts for ids not in `want`.
pub async fn collect_receipts(
    c: &mut Client,
    want: &HashSet<String>,
    timeout: Duration,
) -> (HashSet<String>, Vec<String>) {
    let until = Instant::now() + timeout;
    let mut seen = HashSet::new();
    let mut stray = Vec::new();
    while seen.len() < want.len() {
        let Some(left) = until.checked_duration_since(Instant::now()) else {
            break;
        };
        let Some(sm) = next_deliver(c, left).await else {
            break;
        };
        let ids = receipt_ids(&sm);
        let Some(id) = ids.tlv.or(ids.text) else {
            stray.push(format!("{sm:?}"));
            continue;
        };
        if want.contains(&id) {
            seen.insert(id);
        } else {
            stray.push(id);
        }
    }
    (seen, stray)
}

/// Polls `f` until it holds or `timeout` passes; returns its last value.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Raw bytes of a PDU with `command_length` fixed up after `body`.
pub fn raw_pdu(command_id: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let len = (16 + body.len()) as u32;
    let mut v = Vec::with_capacity(len as usize);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&command_id.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Stops the gateway after the clients are gone.
pub async fn stop(gw: Gateway) {
    gw.shutdown(Duration::from_secs(5)).await;
}

/// Every file under `dir`, recursively (none if it does not exist).
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `GET /metrics` of a Prometheus listener: the response head and body.
pub async fn scrape(addr: SocketAddr) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut raw = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut raw))
        .await
        .expect("scrape answered")
        .expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP response");
    (head.to_owned(), body.to_owned())
}
