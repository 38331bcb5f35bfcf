//! An async SMPP client (ESME side) for tests and the load tool.
//!
//! One reader task matches responses to requests by `sequence_number`;
//! everything else the peer sends (its requests such as `deliver_sm`,
//! responses nobody waits for, undecodable PDUs) is queued for
//! [`Client::next_pdu`]. Writes go through the batching writer task.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use telegate_smpp::pdu::{Bind, SubmitSm, MAX_SEQUENCE};
use telegate_smpp::{Body, CommandId, CommandStatus, DecodeError, EncodeError, Pdu};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{spawn_writer, FrameReader};

/// What went wrong talking to the peer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// Nothing arrived in time.
    #[error("timed out")]
    Timeout,
    /// The PDU to send breaks a spec limit.
    #[error("cannot encode PDU: {0}")]
    Encode(#[from] EncodeError),
    /// The peer sent something that does not decode.
    #[error("peer sent a bad PDU: {0}")]
    Decode(DecodeError),
    /// The peer answered with an unexpected command.
    #[error("unexpected response {0:?}")]
    Unexpected(CommandId),
}

/// The three bind operations (SMPP 3.4 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BindType {
    /// bind_transmitter: submits only.
    Transmitter,
    /// bind_receiver: deliveries only.
    Receiver,
    /// bind_transceiver: both.
    #[default]
    Transceiver,
}

impl BindType {
    /// The bind request body for these credentials (interface version 3.4).
    pub fn body(self, system_id: &str, password: &str) -> Body {
        let b = Bind {
            system_id: Bytes::copy_from_slice(system_id.as_bytes()),
            password: Bytes::copy_from_slice(password.as_bytes()),
            interface_version: 0x34,
            ..Bind::default()
        };
        match self {
            BindType::Transmitter => Body::BindTransmitter(Box::new(b)),
            BindType::Receiver => Body::BindReceiver(Box::new(b)),
            BindType::Transceiver => Body::BindTransceiver(Box::new(b)),
        }
    }

    /// Whether this bind may submit.
    pub fn can_send(self) -> bool {
        self != BindType::Receiver
    }

    /// Whether this bind gets deliveries.
    pub fn can_receive(self) -> bool {
        self != BindType::Transmitter
    }
}

impl FromStr for BindType {
    type Err = String;

    /// `tx`/`transmitter`, `rx`/`receiver`, `trx`/`transceiver`.
    fn from_str(s: &str) -> Result<BindType, String> {
        match s.to_ascii_lowercase().as_str() {
            "tx" | "transmitter" => Ok(BindType::Transmitter),
            "rx" | "receiver" => Ok(BindType::Receiver),
            "trx" | "transceiver" => Ok(BindType::Transceiver),
            _ => Err(format!("unknown bind type {s:?} (tx, rx or trx)")),
        }
    }
}

/// Client behaviour.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Largest PDU accepted from the peer.
    pub max_pdu_len: u32,
    /// How long [`Client::request`] waits for the response.
    pub response_timeout: Duration,
    /// Answer the peer's `enquire_link` automatically (it is then not
    /// queued for [`Client::next_pdu`]).
    pub auto_enquire_link_resp: bool,
    /// Answer the peer's `deliver_sm` with an OK `deliver_sm_resp`
    /// automatically (it is still queued for [`Client::next_pdu`]).
    pub auto_deliver_sm_resp: bool,
    /// Bound of the queue behind [`Client::next_pdu`]. When it is full the
    /// reader waits, so responses wait too: read the queue or keep the
    /// peer quiet.
    pub incoming_capacity: usize,
    /// Bound of the outgoing queue to the writer task.
    pub outgoing_capacity: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_pdu_len: telegate_smpp::frame::DEFAULT_MAX_PDU_LEN,
            response_timeout: Duration::from_secs(10),
            auto_enquire_link_resp: true,
            auto_deliver_sm_resp: false,
            incoming_capacity: 65_536,
            outgoing_capacity: 4096,
        }
    }
}

/// A response matched to a request, with when the reader saw it.
#[derive(Debug, Clone)]
pub struct Response {
    /// The response PDU (possibly a `generic_nack`).
    pub pdu: Pdu,
    /// When it was read off the socket.
    pub received_at: Instant,
}

/// A request on the wire whose response has not been awaited yet
/// (see [`Client::send_request`]). Resolves to the response, or
/// [`ClientError::Closed`] if the connection ends first.
#[derive(Debug)]
pub struct PendingResponse {
    /// The request's sequence number.
    pub sequence_number: u32,
    /// When the request was handed to the writer.
    pub sent_at: Instant,
    rx: oneshot::Receiver<Response>,
}

impl Future for PendingResponse {
    type Output = Result<Response, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.map_err(|_| ClientError::Closed))
    }
}

#[derive(Debug)]
struct Shared {
    pending: Mutex<HashMap<u32, oneshot::Sender<Response>>>,
    closed: AtomicBool,
    seq: AtomicU32,
}

/// An SMPP client connection. Dropping it closes the connection.
#[derive(Debug)]
pub struct Client {
    shared: Arc<Shared>,
    out: mpsc::Sender<Bytes>,
    incoming: mpsc::Receiver<Result<Pdu, DecodeError>>,
    opts: ClientOptions,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

impl Client {
    /// Connects over TCP with default options.
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<Client, ClientError> {
        Client::connect_with(addr, ClientOptions::default()).await
    }

    /// Connects over TCP.
    pub async fn connect_with(
        addr: impl ToSocketAddrs,
        opts: ClientOptions,
    ) -> Result<Client, ClientError> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        Ok(Client::from_halves(r, w, opts))
    }

    /// Connects over TLS; `server_name` is checked against the certificate.
    pub async fn connect_tls(
        addr: impl ToSocketAddrs,
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
        opts: ClientOptions,
    ) -> Result<Client, ClientError> {
        let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, s)
            .await?;
        let (r, w) = tokio::io::split(tls);
        Ok(Client::from_halves(r, w, opts))
    }

    /// A client over any byte stream halves.
    pub fn from_halves<R, W>(r: R, w: W, opts: ClientOptions) -> Client
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (out, out_rx) = mpsc::channel(opts.outgoing_capacity.max(1));
        let (in_tx, incoming) = mpsc::channel(opts.incoming_capacity.max(1));
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            seq: AtomicU32::new(1),
        });
        let writer = spawn_writer(w, out_rx);
        let reader = tokio::spawn(read_loop(
            FrameReader::new(r, opts.max_pdu_len),
            shared.clone(),
            in_tx,
            out.clone(),
            opts.clone(),
        ));
        Client {
            shared,
            out,
            incoming,
            opts,
            reader,
            writer,
        }
    }

    /// A fresh sequence number (1..=0x7FFFFFFF, wrapping).
    pub fn next_sequence(&self) -> u32 {
        loop {
            let s = self.shared.seq.fetch_add(1, Ordering::Relaxed) & MAX_SEQUENCE;
            if s != 0 {
                return s;
            }
        }
    }

    /// Binds and returns the bind_resp's status.
    pub async fn bind(
        &self,
        kind: BindType,
        system_id: &str,
        password: &str,
    ) -> Result<CommandStatus, ClientError> {
        let r = self.request(kind.body(system_id, password)).await?;
        match r.body {
            Body::BindTransmitterResp(_)
            | Body::BindReceiverResp(_)
            | Body::BindTransceiverResp(_)
            | Body::GenericNack => Ok(r.command_status),
            _ => Err(ClientError::Unexpected(r.command_id())),
        }
    }

    /// Sends a request with the next sequence number and waits for its
    /// response (at most `response_timeout`).
    pub async fn request(&self, body: Body) -> Result<Pdu, ClientError> {
        self.request_timeout(body, self.opts.response_timeout).await
    }

    /// As [`Client::request`] with an explicit timeout. A response that
    /// arrives after the timeout is queued for [`Client::next_pdu`].
    pub async fn request_timeout(&self, body: Body, timeout: Duration) -> Result<Pdu, ClientError> {
        let p = self.send_request(body).await?;
        let seq = p.sequence_number;
        match tokio::time::timeout(timeout, p).await {
            Ok(r) => r.map(|r| r.pdu),
            Err(_) => {
                self.shared.pending.lock().expect("poisoned").remove(&seq);
                Err(ClientError::Timeout)
            }
        }
    }

    /// Sends a request with the next sequence number and returns at once;
    /// await the [`PendingResponse`] for the answer. For pipelining.
    pub async fn send_request(&self, body: Body) -> Result<PendingResponse, ClientError> {
        let seq = self.next_sequence();
        let bytes = Pdu::new(seq, body).to_bytes()?;
        let (tx, rx) = oneshot::channel();
        self.shared
            .pending
            .lock()
            .expect("poisoned")
            .insert(seq, tx);
        if self.shared.closed.load(Ordering::SeqCst) {
            self.shared.pending.lock().expect("poisoned").remove(&seq);
            return Err(ClientError::Closed);
        }
        let sent_at = Instant::now();
        if self.out.send(bytes).await.is_err() {
            self.shared.pending.lock().expect("poisoned").remove(&seq);
            return Err(ClientError::Closed);
        }
        Ok(PendingResponse {
            sequence_number: seq,
            sent_at,
            rx,
        })
    }

    /// Sends a PDU as it is (its own sequence number, any status): a
    /// response, or a request whose answer is read with
    /// [`Client::next_pdu`].
    pub async fn send(&self, pdu: &Pdu) -> Result<(), ClientError> {
        let bytes = pdu.to_bytes()?;
        self.send_raw(bytes).await
    }

    /// Sends raw bytes, e.g. a malformed PDU.
    pub async fn send_raw(&self, bytes: impl Into<Bytes>) -> Result<(), ClientError> {
        self.out
            .send(bytes.into())
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Answers a peer request with its `_resp` (empty body, e.g. a
    /// `deliver_sm_resp` with an empty message_id) and `status`.
    pub async fn respond(&self, request: &Pdu, status: CommandStatus) -> Result<(), ClientError> {
        let resp = Pdu::error_response(request.command_id(), request.sequence_number, status);
        self.send(&resp).await
    }

    /// The next PDU from the peer that is not a response to a pending
    /// request: its requests (`deliver_sm`, `unbind`, …), unmatched
    /// responses (`generic_nack` to raw bytes, late responses).
    /// [`ClientError::Decode`] for a PDU that did not decode,
    /// [`ClientError::Closed`] once the connection has ended and the queue
    /// is empty, [`ClientError::Timeout`] if nothing came in time.
    pub async fn next_pdu(&mut self, timeout: Duration) -> Result<Pdu, ClientError> {
        match tokio::time::timeout(timeout, self.incoming.recv()).await {
            Err(_) => Err(ClientError::Timeout),
            Ok(None) => Err(ClientError::Closed),
            Ok(Some(Ok(p))) => Ok(p),
            Ok(Some(Err(e))) => Err(ClientError::Decode(e)),
        }
    }

    /// As [`Client::next_pdu`] without a timeout; `None` once closed.
    /// Cancel-safe, for `select!`.
    pub async fn recv(&mut self) -> Option<Result<Pdu, DecodeError>> {
        self.incoming.recv().await
    }

    /// Waits until the peer closes the connection, discarding what it
    /// sends meanwhile.
    pub async fn wait_closed(&mut self, timeout: Duration) -> Result<(), ClientError> {
        tokio::time::timeout(timeout, async {
            while self.incoming.recv().await.is_some() {}
        })
        .await
        .map_err(|_| ClientError::Timeout)
    }

    /// Whether the read side has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Sends `enquire_link` and waits for the response.
    pub async fn enquire_link(&self) -> Result<Pdu, ClientError> {
        self.request(Body::EnquireLink).await
    }

    /// Sends `unbind` and waits for `unbind_resp`.
    pub async fn unbind(&self) -> Result<Pdu, ClientError> {
        self.request(Body::Unbind).await
    }

    /// Submits every message keeping at most `window` unanswered, and
    /// returns the responses in submission order. Stops at the first
    /// connection error.
    pub async fn submit_many(
        &self,
        msgs: impl IntoIterator<Item = SubmitSm>,
        window: usize,
    ) -> Result<Vec<Response>, ClientError> {
        let window = window.max(1);
        let mut inflight: VecDeque<PendingResponse> = VecDeque::with_capacity(window);
        let mut out = Vec::new();
        for sm in msgs {
            if inflight.len() >= window {
                if let Some(p) = inflight.pop_front() {
                    out.push(self.await_response(p).await?);
                }
            }
            inflight.push_back(self.send_request(Body::SubmitSm(Box::new(sm))).await?);
        }
        for p in inflight {
            out.push(self.await_response(p).await?);
        }
        Ok(out)
    }

    async fn await_response(&self, p: PendingResponse) -> Result<Response, ClientError> {
        let seq = p.sequence_number;
        match tokio::time::timeout(self.opts.response_timeout, p).await {
            Ok(r) => r,
            Err(_) => {
                self.shared.pending.lock().expect("poisoned").remove(&seq);
                Err(ClientError::Timeout)
            }
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut reader: FrameReader<R>,
    shared: Arc<Shared>,
    incoming: mpsc::Sender<Result<Pdu, DecodeError>>,
    out: mpsc::Sender<Bytes>,
    opts: ClientOptions,
) {
    'conn: loop {
        loop {
            let frame = match reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    let _ = incoming.send(Err(e)).await;
                    break 'conn;
                }
            };
            let pdu = match Pdu::decode(&frame) {
                Ok(p) => p,
                Err(e) => {
                    if incoming.send(Err(e)).await.is_err() {
                        break 'conn;
                    }
                    continue;
                }
            };
            let id = pdu.command_id();
            if id.is_response() {
                let waiter = shared
                    .pending
                    .lock()
                    .expect("poisoned")
                    .remove(&pdu.sequence_number);
                if let Some(tx) = waiter {
                    let r = Response {
                        pdu,
                        received_at: Instant::now(),
                    };
                    // The waiter may have given up; then the response is lost
                    // to nobody's harm.
                    let _ = tx.send(r);
                    continue;
                }
            } else if id == CommandId::ENQUIRE_LINK && opts.auto_enquire_link_resp {
                let resp = Pdu::new(pdu.sequence_number, Body::EnquireLinkResp);
                if let Ok(b) = resp.to_bytes() {
                    let _ = out.send(b).await;
                }
                continue;
            } else if id == CommandId::DELIVER_SM && opts.auto_deliver_sm_resp {
                let resp = Pdu::error_response(id, pdu.sequence_number, CommandStatus::ESME_ROK);
                if let Ok(b) = resp.to_bytes() {
                    let _ = out.send(b).await;
                }
            }
            if incoming.send(Ok(pdu)).await.is_err() {
                break 'conn;
            }
        }
        match reader.fill().await {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
    }
    shared.closed.store(true, Ordering::SeqCst);
    shared.pending.lock().expect("poisoned").clear();
}
