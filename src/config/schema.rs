//! The configuration file's shape. Every table denies unknown keys; values
//! are checked further in `validate`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;

use super::units::{ByteSize, Duration, Secret};

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The SMPP listener ESMEs bind to.
    #[serde(default)]
    pub server: ServerConfig,
    /// Destination normalisation.
    #[serde(default)]
    pub routing: RoutingConfig,
    /// ESME accounts.
    #[serde(default, rename = "account")]
    pub accounts: Vec<AccountConfig>,
    /// Upstream carriers.
    #[serde(default, rename = "carrier")]
    pub carriers: Vec<CarrierConfig>,
    /// Routes: destination prefix → carriers.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// Delivery-receipt mapping and held receipts.
    #[serde(default)]
    pub dlr: DlrConfig,
    /// The Prometheus exporter.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The local HTTP admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// The content filter; off when the table is absent.
    #[serde(default)]
    pub filter: Option<FilterConfig>,
    /// Automated suspension and its review.
    #[serde(default)]
    pub suspension: SuspensionConfig,
    /// Call detail records; none are written when the table is absent.
    #[serde(default)]
    pub cdr: Option<CdrConfig>,
}

/// `[cdr]`: minimal-metadata call detail records (one per message
/// segment): pseudonymised numbers, no content, and an expiry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdrConfig {
    /// Directory of the hourly partition files (created 0700). Not
    /// reloadable.
    #[serde(default = "default_cdr_dir")]
    pub dir: PathBuf,
    /// How long records are kept; `[[account]] retention` overrides it.
    #[serde(default = "default_cdr_retention")]
    pub retention: Duration,
    /// The HMAC key numbers are pseudonymised with. It must live outside
    /// `dir`; replacing it (and reloading) starts a new key id, and
    /// destroying the old key unlinks the older records.
    pub pseudonym_key: Secret,
    /// Records queued for the writer; when full, ESMEs are throttled
    /// (no record is dropped). Not reloadable.
    #[serde(default = "default_cdr_queue")]
    pub queue: u32,
    /// Longest time a written record waits for its fsync.
    #[serde(default = "default_cdr_fsync")]
    pub fsync_interval: Duration,
    /// How often expired records are swept.
    #[serde(default = "default_cdr_sweep")]
    pub sweep_interval: Duration,
    /// Audit log of sweeps, erasures, exports and holds; default
    /// `audit.log` beside `dir` (`<dir>.audit.log`), never inside it, so an
    /// erased account leaves no trace in `dir`. Not reloadable.
    #[serde(default)]
    pub audit_log: Option<PathBuf>,
}

fn default_cdr_dir() -> PathBuf {
    PathBuf::from("/var/lib/telegate/cdr")
}

fn default_cdr_retention() -> Duration {
    Duration::secs(30 * 24 * 3600)
}

fn default_cdr_queue() -> u32 {
    65_536
}

fn default_cdr_fsync() -> Duration {
    Duration::secs(1)
}

fn default_cdr_sweep() -> Duration {
    Duration::secs(3600)
}

impl CdrConfig {
    /// The audit log's path.
    pub fn audit_log(&self) -> PathBuf {
        self.audit_log.clone().unwrap_or_else(|| {
            let mut name = self
                .dir
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_else(|| "cdr".into());
            name.push(".audit.log");
            self.dir.with_file_name(name)
        })
    }
}

/// `[filter]`: the inline spam and abuse filter. Everything here reloads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// Whether messages are filtered at all.
    pub enabled: bool,
    /// Rules file (TOML; lists in plain-text files beside it). Default:
    /// the rules built into the binary (`conf/filter/rules.toml`).
    pub rules: Option<PathBuf>,
    /// Classifier weights (`telegate filter train`). Default: the model
    /// built into the binary (`conf/filter/model.bin`).
    pub model: Option<PathBuf>,
    /// Whether the classifier is used.
    pub classifier: bool,
    /// Block at or above this total score.
    pub block_score: f32,
    /// Flag (forward, count as evidence) at or above this score.
    pub flag_score: f32,
    /// The classifier's contribution at its threshold, as a share of
    /// `block_score` (1: the classifier alone blocks at its threshold).
    pub classifier_base: f32,
    /// The classifier's contribution per logit unit above or below its
    /// threshold.
    pub classifier_weight: f32,
    /// Replaces the threshold stored in the model.
    pub classifier_threshold: Option<f32>,
    /// command_status of a blocked message's response.
    pub block_status: u32,
    /// Near-identical text to this many distinct recipients within
    /// `campaign_window`, across accounts, is flagged (0: off).
    pub campaign_recipients: u32,
    /// See `campaign_recipients`. Not reloadable.
    pub campaign_window: Duration,
    /// Score a campaign hit adds.
    pub campaign_score: f32,
    /// Messages per second from one account that flag (0: off).
    pub max_per_second: u32,
    /// Distinct recipients per minute from one account that flag (0: off).
    pub max_recipients_per_minute: u32,
    /// Score an account-rate hit adds.
    pub rate_score: f32,
    /// Entries of each worker thread's verdict cache: the content signals
    /// of a text judged recently, keyed by a keyed hash of it (0: off).
    pub verdict_cache: u32,
    /// How long the segments of a concatenated message wait for the rest
    /// of their set before being judged on what arrived.
    pub reassembly_timeout: Duration,
    /// Most concatenated sets held at once.
    pub reassembly_max_sets: u32,
    /// Most octets of segments held at once.
    pub reassembly_max_bytes: ByteSize,
}

impl Default for FilterConfig {
    fn default() -> FilterConfig {
        FilterConfig {
            enabled: true,
            rules: None,
            model: None,
            classifier: true,
            block_score: 1.0,
            flag_score: 0.6,
            classifier_base: 0.8,
            classifier_weight: 0.35,
            classifier_threshold: None,
            block_status: 0x45,
            campaign_recipients: 200,
            campaign_window: Duration::secs(600),
            campaign_score: 0.3,
            max_per_second: 0,
            max_recipients_per_minute: 0,
            rate_score: 0.2,
            verdict_cache: 4096,
            reassembly_timeout: Duration::secs(5),
            reassembly_max_sets: 10_000,
            reassembly_max_bytes: ByteSize(16 << 20),
        }
    }
}

impl SuspensionConfig {
    /// `state_dir`, or its default beside the DLR store `dlr_store`.
    pub fn state_dir(&self, dlr_store: &std::path::Path) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| {
            dlr_store
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join("review")
        })
    }

    /// `audit_log`, or its default in the state directory.
    pub fn audit_log(&self, dlr_store: &std::path::Path) -> PathBuf {
        self.audit_log
            .clone()
            .unwrap_or_else(|| self.state_dir(dlr_store).join("audit.log"))
    }
}

/// `[suspension]`: automated suspension of accounts that keep sending
/// blocked messages, and the human review of it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuspensionConfig {
    /// Whether the filter may suspend accounts automatically (manual
    /// suspension through the admin API always works).
    pub enabled: bool,
    /// The sliding window blocked messages are counted over.
    pub window: Duration,
    /// Blocked messages in the window that, together with the ratio,
    /// suspend.
    pub min_blocked: u32,
    /// Share of the window's messages that must be blocked.
    pub max_blocked_ratio: f64,
    /// Blocked messages kept as evidence per account under review.
    pub evidence_max: u32,
    /// How long evidence is kept.
    pub evidence_ttl: Duration,
    /// Where suspensions and evidence are kept across restarts; default
    /// `review` beside the DLR store (`/var/lib/telegate/review`). Not
    /// reloadable.
    pub state_dir: Option<PathBuf>,
    /// Append-only audit log of every suspension, reinstatement and
    /// evidence view; default `audit.log` in `state_dir`. Not reloadable.
    pub audit_log: Option<PathBuf>,
    /// URL a JSON notice is POSTed to when an account is suspended. Not
    /// reloadable.
    pub webhook: Option<String>,
}

impl Default for SuspensionConfig {
    fn default() -> SuspensionConfig {
        SuspensionConfig {
            enabled: true,
            window: Duration::secs(600),
            min_blocked: 20,
            max_blocked_ratio: 0.2,
            evidence_max: 50,
            evidence_ttl: Duration::secs(7 * 24 * 3600),
            state_dir: None,
            audit_log: None,
            webhook: None,
        }
    }
}

/// `[metrics]`: the Prometheus exporter.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served; no exporter when absent. Not
    /// reloadable.
    pub listen: Option<SocketAddr>,
}

/// `[admin]`: the HTTP admin API (`/health`, `/status`, `/reload`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Where the API is served; no API when absent. Not reloadable.
    pub listen: Option<SocketAddr>,
    /// Bearer token every request must carry. Required when `listen` is
    /// not a loopback address.
    pub token: Option<Secret>,
}

/// `[log]`: logging.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Level filter in `tracing` syntax (`info`, `warn,telegate=debug`).
    /// Reloadable. The `TELEGATE_LOG` environment variable, when set,
    /// takes precedence.
    pub level: String,
    /// `text` (human) or `json` (one object per line). Not reloadable.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[server]`: the SMPP listener for ESMEs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Plain TCP listen addresses.
    pub listen: Vec<SocketAddr>,
    /// TLS listen addresses; need `tls_cert` and `tls_key`.
    pub tls_listen: Vec<SocketAddr>,
    /// PEM certificate chain for the TLS listeners.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for the TLS listeners.
    pub tls_key: Option<PathBuf>,
    /// Outstanding requests accepted per session; more get ESME_RTHROTTLED.
    pub window: u32,
    /// Outstanding deliver_sm the gateway sends to one ESME session.
    pub deliver_window: u32,
    /// How often the gateway sends enquire_link to an idle ESME.
    pub enquire_link_interval: Duration,
    /// A session with no PDU from the ESME for this long is unbound.
    pub inactivity_timeout: Duration,
    /// A connection must bind within this time.
    pub bind_timeout: Duration,
    /// How long the ESME has to answer a deliver_sm.
    pub response_timeout: Duration,
    /// How long a submit may spend on retries and failover before the
    /// ESME gets an error.
    pub submit_deadline: Duration,
    /// Delay before answering a bind with wrong credentials.
    pub auth_failure_delay: Duration,
    /// Failed binds from one IP address within `auth_failure_window`
    /// before that address is refused for `auth_lockout`.
    pub auth_max_failures: u32,
    /// See `auth_max_failures`.
    pub auth_failure_window: Duration,
    /// See `auth_max_failures`.
    pub auth_lockout: Duration,
    /// Connections accepted at once, across listeners.
    pub max_connections: u32,
    /// Largest PDU accepted (command_length).
    pub max_pdu_len: ByteSize,
    /// system_id in bind responses.
    pub system_id: String,
    /// How long a graceful shutdown (SIGTERM) may take before the
    /// remaining sessions are closed.
    pub shutdown_grace: Duration,
    /// Threads that run sessions and binds; 0 = one per CPU core.
    pub workers: u32,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 2775))],
            tls_listen: Vec::new(),
            tls_cert: None,
            tls_key: None,
            window: 64,
            deliver_window: 64,
            enquire_link_interval: Duration::secs(30),
            inactivity_timeout: Duration::secs(120),
            bind_timeout: Duration::secs(10),
            response_timeout: Duration::secs(30),
            submit_deadline: Duration::secs(10),
            auth_failure_delay: Duration::secs(1),
            auth_max_failures: 5,
            auth_failure_window: Duration::secs(60),
            auth_lockout: Duration::secs(300),
            max_connections: 20_000,
            max_pdu_len: ByteSize(65_536),
            system_id: "telegate".to_owned(),
            shutdown_grace: Duration::secs(30),
            workers: 0,
        }
    }
}

/// `[routing]`: how destinations are normalised to E.164 digits before
/// lookup.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Country code for national numbers (TON 2, or TON 0 starting with
    /// `national_prefix`); without it they are routed as written.
    pub country_code: Option<String>,
    /// Trunk prefix of national numbers, replaced by `country_code`.
    pub national_prefix: String,
    /// International call prefix stripped from TON 0 numbers.
    pub international_prefix: String,
}

impl Default for RoutingConfig {
    fn default() -> RoutingConfig {
        RoutingConfig {
            country_code: None,
            national_prefix: "0".to_owned(),
            international_prefix: "00".to_owned(),
        }
    }
}

/// The kind of bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindType {
    /// bind_transmitter: submits only.
    Tx,
    /// bind_receiver: deliveries only.
    Rx,
    /// bind_transceiver: both.
    Trx,
}

impl BindType {
    /// Whether this bind may submit.
    pub fn can_submit(self) -> bool {
        matches!(self, BindType::Tx | BindType::Trx)
    }

    /// Whether this bind may receive deliver_sm.
    pub fn can_receive(self) -> bool {
        matches!(self, BindType::Rx | BindType::Trx)
    }

    /// `tx`, `rx` or `trx`.
    pub fn as_str(self) -> &'static str {
        match self {
            BindType::Tx => "tx",
            BindType::Rx => "rx",
            BindType::Trx => "trx",
        }
    }
}

fn all_bind_types() -> Vec<BindType> {
    vec![BindType::Tx, BindType::Rx, BindType::Trx]
}

/// `[[account]]`: an ESME account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The system_id the ESME binds with.
    pub system_id: String,
    /// Stable account id for CDRs, logs and metrics; defaults to system_id.
    #[serde(default)]
    pub sid: Option<String>,
    /// argon2 PHC string from `telegate hash-password`.
    pub password_hash: String,
    /// Token-bucket rate in messages per second (0: unlimited).
    #[serde(default = "default_throughput")]
    pub throughput: u32,
    /// Simultaneous binds.
    #[serde(default = "default_max_binds")]
    pub max_binds: u32,
    /// Source networks allowed to bind (empty: any).
    #[serde(default)]
    pub allowed_ips: Vec<IpNet>,
    /// Bind types allowed.
    #[serde(default = "all_bind_types")]
    pub bind_types: Vec<BindType>,
    /// Per-session window override.
    #[serde(default)]
    pub window: Option<u32>,
    /// Numbers and short codes whose MO messages go to this account.
    #[serde(default)]
    pub mo_numbers: Vec<String>,
    /// Filter rule ids this account is exempt from (a verified
    /// transactional sender); never all of them.
    #[serde(default)]
    pub filter_exempt: Vec<String>,
    /// Alphanumeric sender ids registered to this account: the filter's
    /// brand-imitation check lets them pass.
    #[serde(default)]
    pub senders: Vec<String>,
    /// CDR retention for this account (default `[cdr].retention`).
    #[serde(default)]
    pub retention: Option<Duration>,
    /// A legal hold: this account's CDRs are not expired while it is set
    /// (holds can also be set through the admin API).
    #[serde(default)]
    pub legal_hold: bool,
}

fn default_throughput() -> u32 {
    100
}

fn default_max_binds() -> u32 {
    4
}

impl AccountConfig {
    /// The account's stable id.
    pub fn sid(&self) -> &str {
        self.sid.as_deref().unwrap_or(&self.system_id)
    }
}

/// Reconnect backoff bounds.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// First delay.
    pub min: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            min: Duration::secs(1),
            max: Duration::secs(60),
        }
    }
}

/// `[[carrier]]`: an upstream SMSC.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierConfig {
    /// Name used in routes, logs and metrics.
    pub name: String,
    /// `host:port` of the SMSC.
    pub address: String,
    /// Connect with TLS.
    #[serde(default)]
    pub tls: bool,
    /// PEM CA bundle to verify the carrier with (default: webpki roots are
    /// not bundled, so TLS carriers need this).
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    /// Name to verify in the carrier's certificate (default: the host of
    /// `address`).
    #[serde(default)]
    pub tls_server_name: Option<String>,
    /// system_id to bind with.
    pub system_id: String,
    /// Password to bind with.
    pub password: Secret,
    /// system_type to bind with.
    #[serde(default)]
    pub system_type: String,
    /// Kind of bind.
    #[serde(default = "default_carrier_bind")]
    pub bind: BindType,
    /// Persistent binds kept open.
    #[serde(default = "one")]
    pub binds: u32,
    /// Outstanding submits per bind.
    #[serde(default = "default_carrier_window")]
    pub window: u32,
    /// Messages per second across all binds (0: unlimited).
    #[serde(default)]
    pub throughput: u32,
    /// enquire_link interval on idle binds.
    #[serde(default = "default_enquire")]
    pub enquire_link_interval: Duration,
    /// How long to wait for any response.
    #[serde(default = "default_response_timeout")]
    pub response_timeout: Duration,
    /// Reconnect backoff (exponential, with jitter).
    #[serde(default)]
    pub reconnect: Backoff,
}

fn default_carrier_bind() -> BindType {
    BindType::Trx
}

fn one() -> u32 {
    1
}

fn default_carrier_window() -> u32 {
    32
}

fn default_enquire() -> Duration {
    Duration::secs(30)
}

fn default_response_timeout() -> Duration {
    Duration::secs(10)
}

/// `[[route]]`: a destination prefix and its carriers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// E.164 digits; the longest matching prefix wins. `""` matches all.
    pub prefix: String,
    /// Carriers in failover order.
    #[serde(default)]
    pub carriers: Vec<String>,
    /// Instead of `carriers`: carrier → weight. The first carrier is picked
    /// by weight, the rest follow by descending weight for failover.
    #[serde(default)]
    pub weights: BTreeMap<String, u32>,
    /// Only for these accounts (system_id); empty: all accounts.
    #[serde(default)]
    pub accounts: Vec<String>,
}

/// `[dlr]`: receipt mapping store and held receipts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DlrConfig {
    /// Directory of the durable mapping store.
    pub store: PathBuf,
    /// How long a mapping is kept waiting for its receipt.
    pub ttl: Duration,
    /// How long a mapping is kept after its final receipt (for query_sm).
    pub final_ttl: Duration,
    /// Most mappings kept; the oldest go first beyond this.
    pub max_entries: u64,
    /// How long a receipt that arrives before its submit_sm_resp waits for
    /// the mapping.
    pub match_wait: Duration,
    /// Group-commit interval of the store.
    pub commit_interval: Duration,
    /// Receipts and MO held per account while it has no receiver bind.
    pub held_per_account: u32,
    /// How long a held receipt or MO is kept.
    pub held_ttl: Duration,
}

impl Default for DlrConfig {
    fn default() -> DlrConfig {
        DlrConfig {
            store: PathBuf::from("/var/lib/telegate/dlr"),
            ttl: Duration::secs(72 * 3600),
            final_ttl: Duration::secs(3600),
            max_entries: 10_000_000,
            match_wait: Duration::secs(2),
            commit_interval: Duration::millis(5),
            held_per_account: 10_000,
            held_ttl: Duration::secs(24 * 3600),
        }
    }
}
