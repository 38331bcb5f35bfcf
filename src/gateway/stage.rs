//! The filter stage of the data path, between the ESME session and
//! routing: reassembly of concatenated messages, the verdict, blocking,
//! and the automated suspension of accounts that keep sending abuse.
//!
//! * A message that is not a segment is judged at once, in the session's
//!   reader, and then forwarded (allow, flag) or answered with the
//!   configured status (block).
//! * Segments (UDH 8/16-bit, SAR) are held, bounded in time and memory,
//!   until their set is whole; the set is judged as one text and all its
//!   segments are forwarded, or all rejected. A set that times out (or is
//!   pushed out by the bounds) is judged on what arrived. Other messages
//!   never wait behind held segments.
//! * Every verdict is counted per account and rule; a blocked message's
//!   normalised text goes to [`Suspensions`] (the only place any text is
//!   kept, and only briefly), which may suspend the account: its binds are
//!   unbound, new binds are refused, a notice is logged, counted and
//!   posted to the webhook, until a person reinstates it.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use telegate_smpp::pdu::{Body, Pdu};
use telegate_smpp::tlv::TlvList;
use telegate_smpp::{CommandId, CommandStatus};

use super::{AccountRt, Core, Direct, Runtime};
use crate::admin::ReviewError;
use crate::filter::engine::Velocity;
use crate::filter::engine::{message_text, Action, Engine, Message, Verdict};
use crate::filter::reassembly::{concat_info, Offer, Reassembler, SetKey};
use crate::filter::suspension::{Evidence, Notice, Recorded, SuspensionPolicy, Suspensions};
use crate::filter::webhook::Webhook;
use crate::ids::format_id;
use crate::metrics::{self, MessageResult};
use crate::smpp::io::Out;

/// The filter's state that lives as long as the gateway (reloads replace
/// only the [`Engine`] in the runtime).
pub(crate) struct FilterCore {
    pub(crate) velocity: Velocity,
    reassembly: std::sync::Mutex<Reassembler<Segment>>,
    pub(crate) suspensions: Arc<Suspensions>,
    webhook: Option<Webhook>,
}

impl std::fmt::Debug for FilterCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterCore").finish_non_exhaustive()
    }
}

/// A held segment: the submit and what the verdict needs.
pub(crate) struct Segment {
    d: Box<Direct>,
    text: Option<String>,
    source: (u8, u8, Bytes),
}

/// What the filter needs of a submit, read before its body is dropped.
pub(crate) struct Extracted {
    text: Option<String>,
    source: (u8, u8, Bytes),
    concat: Option<(u16, u8, u8)>,
}

impl Extracted {
    /// Reads text, source and concatenation of a submit_sm or data_sm.
    pub(crate) fn of(body: &Body) -> Option<Extracted> {
        match body {
            Body::SubmitSm(sm) => Some(Extracted {
                text: message_text(
                    sm.data_coding,
                    sm.esm_class,
                    &sm.short_message,
                    sm.tlvs.message_payload().map(|b| &b[..]),
                ),
                source: (sm.source.ton.0, sm.source.npi.0, sm.source.addr.clone()),
                concat: concat_info(sm),
            }),
            Body::DataSm(sm) => Some(Extracted {
                text: message_text(
                    sm.data_coding,
                    sm.esm_class,
                    &[],
                    sm.tlvs.message_payload().map(|b| &b[..]),
                ),
                source: (sm.source.ton.0, sm.source.npi.0, sm.source.addr.clone()),
                concat: sm
                    .tlvs
                    .sar()
                    .filter(|&(_, total, seq)| total >= 2 && seq >= 1 && seq <= total),
            }),
            _ => None,
        }
    }
}

impl FilterCore {
    /// The filter state for `config` (whether or not `[filter]` is on: a
    /// reload may turn it on).
    pub(crate) fn new(
        config: &crate::config::Config,
        suspensions: Suspensions,
    ) -> Result<FilterCore, String> {
        let f = config.filter.clone().unwrap_or_default();
        let webhook = match &config.suspension.webhook {
            Some(url) => Some(Webhook::spawn(url).map_err(|e| format!("suspension.webhook: {e}"))?),
            None => None,
        };
        Ok(FilterCore {
            velocity: Velocity::new(
                f.campaign_window.get(),
                (f.campaign_recipients as usize).max(1) + 1,
            ),
            reassembly: std::sync::Mutex::new(Reassembler::new(
                f.reassembly_timeout.get(),
                f.reassembly_max_sets as usize,
                f.reassembly_max_bytes.0 as usize,
            )),
            suspensions: Arc::new(suspensions),
            webhook,
        })
    }

    fn reassembly(&self) -> std::sync::MutexGuard<'_, Reassembler<Segment>> {
        self.reassembly.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The suspension policy of `[suspension]`.
pub(crate) fn suspension_policy(c: &crate::config::SuspensionConfig) -> SuspensionPolicy {
    SuspensionPolicy {
        window: c.window.get(),
        min_blocked: c.min_blocked,
        max_blocked_ratio: c.max_blocked_ratio,
        evidence_max: c.evidence_max as usize,
        evidence_ttl: c.evidence_ttl.get(),
    }
}

/// The block status configured.
/// Puts a verdict into a submit's CDR: the action, and the rules that
/// mattered (those of flagged and blocked messages).
fn note_verdict(d: &mut Direct, v: &crate::filter::engine::Verdict) {
    if let Some(c) = d.cdr.as_mut() {
        c.verdict = super::cdrs::verdict_of(v.action);
        if v.action != Action::Allow {
            c.rules = v.hits.iter().map(|h| h.rule.clone()).collect();
        }
    }
}

fn block_status(rt: &Runtime) -> CommandStatus {
    CommandStatus(rt.config.filter.as_ref().map_or(0x45, |f| f.block_status))
}

impl Core {
    /// The filter stage for one submit_sm or data_sm. Returns the submit
    /// when it is to be forwarded now; `None` when the filter answered it
    /// (blocked) or holds it (a segment waiting for its set).
    pub(super) fn filter_submit(
        self: &Arc<Self>,
        rt: &Runtime,
        engine: &Engine,
        d: Box<Direct>,
        x: Extracted,
    ) -> Option<Box<Direct>> {
        if let Some((reference, total, seq)) = x.concat {
            let key = SetKey {
                account: d.account().idx,
                source: x.source.2.to_vec().into_boxed_slice(),
                dest: d.dest.to_vec().into_boxed_slice(),
                reference,
                total,
            };
            let bytes = d.frame.len() + x.text.as_ref().map_or(0, String::len);
            let seg = Segment {
                d,
                text: x.text,
                source: x.source,
            };
            let offer = {
                let mut r = self.filter.reassembly();
                let o = r.offer(key, seq, bytes, seg, Instant::now());
                metrics::set_filter_held_sets(r.len());
                o
            };
            match offer {
                Offer::Held => return None,
                Offer::Complete(parts) => {
                    self.judge_set(rt, engine, parts);
                    return None;
                }
                // The same segment twice: judged on its own.
                Offer::Duplicate(seg) => {
                    return self.judge_one(rt, engine, seg.d, seg.text.as_deref(), &seg.source)
                }
            }
        }
        self.judge_one(rt, engine, d, x.text.as_deref(), &x.source)
    }

    fn judge_one(
        self: &Arc<Self>,
        rt: &Runtime,
        engine: &Engine,
        mut d: Box<Direct>,
        text: Option<&str>,
        source: &(u8, u8, Bytes),
    ) -> Option<Box<Direct>> {
        let msg = Message {
            text,
            source: (source.0, source.1, &source.2),
            recipients: &[&d.dest[..]],
        };
        let v = self.judge(rt, engine, d.account(), &msg, &[d.gw]);
        note_verdict(&mut d, &v);
        if v.action == Action::Block {
            self.block(d, block_status(rt));
            None
        } else {
            Some(d)
        }
    }

    /// Judges a whole (or timed-out) set of segments as one text; all are
    /// forwarded or all answered with the block status.
    fn judge_set(self: &Arc<Self>, rt: &Runtime, engine: &Engine, parts: Vec<Segment>) {
        let Some(first) = parts.first() else {
            return;
        };
        let text: Option<String> = if parts.iter().any(|p| p.text.is_some()) {
            Some(
                parts
                    .iter()
                    .filter_map(|p| p.text.as_deref())
                    .collect::<String>(),
            )
        } else {
            None
        };
        let account = first.d.account().clone();
        let source = first.source.clone();
        let dest = first.d.dest.clone();
        let ids: Vec<u64> = parts.iter().map(|p| p.d.gw).collect();
        let msg = Message {
            text: text.as_deref(),
            source: (source.0, source.1, &source.2),
            recipients: &[&dest[..]],
        };
        let v = self.judge(rt, engine, &account, &msg, &ids);
        if v.action == Action::Block {
            let status = block_status(rt);
            for mut p in parts {
                note_verdict(&mut p.d, &v);
                self.block(p.d, status);
            }
        } else {
            for mut p in parts {
                note_verdict(&mut p.d, &v);
                self.dispatch_direct(p.d);
            }
        }
    }

    /// Judges one message for `account`, counts the verdict, and records
    /// it for the account's suspension window.
    pub(super) fn judge(
        &self,
        rt: &Runtime,
        engine: &Engine,
        account: &AccountRt,
        msg: &Message<'_>,
        ids: &[u64],
    ) -> Verdict {
        let now = Instant::now();
        let policy = account.filter_policy.load();
        let v = engine.judge(
            msg,
            &policy,
            Some((&account.rate, &self.filter.velocity)),
            now,
        );
        account.metrics.verdict(v.action);
        // Rules are counted where they mattered: in flagged and blocked
        // messages (a hashed lookup per hit is not worth it for every
        // message allowed).
        if v.action != Action::Allow {
            for h in &v.hits {
                metrics::rule_hit(&h.rule);
            }
        }
        let rules = || {
            v.hits
                .iter()
                .map(|h| &*h.rule)
                .collect::<Vec<_>>()
                .join(",")
        };
        let id = || {
            ids.iter()
                .map(|&g| String::from_utf8_lossy(&format_id(g)).into_owned())
                .collect::<Vec<_>>()
                .join(",")
        };
        let recorded = match v.action {
            Action::Block => {
                tracing::info!(account = %account.sid, id = %id(), score = %format_args!("{:.2}", v.score), rules = %rules(), "message blocked by the filter");
                Recorded::Blocked(Evidence {
                    normalized_text: v.evidence.clone(),
                    hits: v
                        .hits
                        .iter()
                        .map(|h| (h.rule.to_string(), h.score))
                        .collect(),
                    at: SystemTime::now(),
                })
            }
            Action::Flag => {
                tracing::debug!(account = %account.sid, id = %id(), score = %format_args!("{:.2}", v.score), rules = %rules(), "message flagged by the filter");
                Recorded::Allowed
            }
            Action::Allow => Recorded::Allowed,
        };
        // With automatic suspension off the window is not kept, so nothing
        // can suspend; an account already suspended (by hand) still gets
        // its blocked messages added to the evidence.
        if rt.config.suspension.enabled || self.filter.suspensions.is_suspended(&account.sid) {
            if let Some(notice) = self.filter.suspensions.record(&account.sid, recorded, now) {
                self.on_suspended(&notice, "auto");
            }
        }
        v
    }

    /// Answers a blocked submit with `status`.
    #[allow(clippy::boxed_local)] // segments and submits travel boxed
    fn block(&self, mut d: Box<Direct>, status: CommandStatus) {
        if let Some(c) = d.cdr.take() {
            let sid = d.account().sid.clone();
            let none = super::cdrs::SentTo::default();
            self.finish_cdr(
                c,
                &sid,
                d.gw,
                d.registered_delivery,
                status,
                none,
                Instant::now(),
            );
        }
        self.stats
            .submit_failed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        d.account().metrics.message(None, MessageResult::Blocked);
        d.guard
            .answer(Out::Pdu(Pdu::error_response(d.command, d.esme_seq, status)));
        d.account()
            .metrics
            .submit_latency
            .record(d.received.elapsed());
    }

    /// The filter stage for a submit_multi: one verdict for its text, over
    /// all its destinations. `Err` is the status to answer with.
    pub(super) fn filter_multi(
        &self,
        account: &AccountRt,
        m: &telegate_smpp::pdu::SubmitMulti,
        dests: &[&[u8]],
        gw: u64,
    ) -> Result<(), CommandStatus> {
        let rt = self.rt.load_full();
        let Some(engine) = rt.filter.clone() else {
            return Ok(());
        };
        if self.is_suspended(account) {
            account.metrics.message(None, MessageResult::Blocked);
            return Err(CommandStatus::ESME_RSUBMITFAIL);
        }
        let text = message_text(
            m.data_coding,
            m.esm_class,
            &m.short_message,
            m.tlvs.message_payload().map(|b| &b[..]),
        );
        let msg = Message {
            text: text.as_deref(),
            source: (m.source.ton.0, m.source.npi.0, &m.source.addr),
            recipients: dests,
        };
        let v = self.judge(&rt, &engine, account, &msg, &[gw]);
        if v.action == Action::Block {
            account.metrics.message(None, MessageResult::Blocked);
            return Err(block_status(&rt));
        }
        Ok(())
    }

    /// Releases segment sets whose time is up (or that the bounds pushed
    /// out), judging each on what arrived. Runs every 100 ms.
    pub(super) async fn reassembly_sweeper(self: Arc<Self>) {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep_evidence = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.shutdown.cancelled() => break,
            }
            let now = Instant::now();
            let expired = {
                let mut r = self.filter.reassembly();
                let e = r.take_expired(now);
                if !e.is_empty() {
                    metrics::set_filter_held_sets(r.len());
                }
                e
            };
            if !expired.is_empty() {
                let rt = self.rt.load_full();
                for parts in expired {
                    match rt.filter.clone() {
                        Some(engine) => self.judge_set(&rt, &engine, parts),
                        // The filter was turned off meanwhile.
                        None => parts.into_iter().for_each(|p| self.dispatch_direct(p.d)),
                    }
                }
            }
            if now.duration_since(sweep_evidence) >= std::time::Duration::from_secs(5) {
                sweep_evidence = now;
                self.filter.suspensions.sweep(now);
            }
        }
        // Shutting down: what is held is judged on what arrived, so every
        // ESME request still gets its answer.
        let rest: Vec<Vec<Segment>> = {
            let mut r = self.filter.reassembly();
            let far = Instant::now() + std::time::Duration::from_secs(86_400 * 365);
            r.take_expired(far)
        };
        let rt = self.rt.load_full();
        for parts in rest {
            match rt.filter.clone() {
                Some(engine) => self.judge_set(&rt, &engine, parts),
                None => parts.into_iter().for_each(|p| self.dispatch_direct(p.d)),
            }
        }
    }

    /// An account was suspended (by the filter or an admin): unbind its
    /// sessions, log, count and post the notice.
    pub(crate) fn on_suspended(&self, notice: &Notice, by: &'static str) {
        let rt = self.rt();
        if let Some(a) = rt.accounts().find(|a| *a.sid == *notice.account) {
            a.suspend();
        }
        let n = self.filter.suspensions.list().len();
        metrics::suspension(&notice.account, by, n);
        tracing::warn!(account = %notice.account, by, reason = %notice.reason, "account suspended pending review; its binds are closed and new binds refused");
        if let Some(w) = &self.filter.webhook {
            w.post(notice);
        }
    }

    /// An account was reinstated after review.
    pub(crate) fn on_reinstated(&self, sid: &str) {
        let n = self.filter.suspensions.list().len();
        metrics::reinstatement(sid, n);
        tracing::warn!(account = %sid, "account reinstated after review; it may bind again");
    }

    /// Whether `account` is suspended (binds refused, submits blocked).
    pub(crate) fn is_suspended(&self, account: &AccountRt) -> bool {
        self.filter.suspensions.is_suspended(&account.sid)
    }
}

/// A submit of a suspended account that raced its unbind.
pub(super) fn suspended_answer(command: CommandId, seq: u32) -> Pdu {
    Pdu::error_response(command, seq, CommandStatus::ESME_RSUBMITFAIL)
}

/// The review actions of the admin API and `telegate admin`.
impl Core {
    /// Every suspended account.
    pub(crate) fn review_list(&self) -> serde_json::Value {
        serde_json::json!({ "suspensions": self.filter.suspensions.list() })
    }

    /// One suspension and its evidence (the view is audited).
    pub(crate) fn review_show(
        &self,
        sid: &str,
        by: &str,
    ) -> Result<serde_json::Value, ReviewError> {
        let info = self
            .filter
            .suspensions
            .list()
            .into_iter()
            .find(|s| s.account == sid)
            .ok_or_else(|| ReviewError::NotFound(format!("account {sid:?} is not suspended")))?;
        let evidence = self
            .filter
            .suspensions
            .evidence(sid, by)
            .map_err(|e| ReviewError::Failed(format!("evidence not shown: {e}")))?
            .unwrap_or_default();
        Ok(serde_json::json!({ "suspension": info, "evidence": evidence }))
    }

    /// Suspends an account by hand.
    pub(crate) fn review_suspend(
        &self,
        sid: &str,
        by: &str,
        note: &str,
    ) -> Result<serde_json::Value, ReviewError> {
        if !self.rt().accounts().any(|a| *a.sid == *sid) {
            return Err(ReviewError::NotFound(format!("no account {sid:?}")));
        }
        let notice = self
            .filter
            .suspensions
            .suspend(sid, by, note)
            .map_err(review_error)?;
        self.on_suspended(&notice, "manual");
        Ok(serde_json::json!({ "suspended": notice }))
    }

    /// Reinstates a suspended account.
    pub(crate) fn review_reinstate(
        &self,
        sid: &str,
        by: &str,
        note: &str,
    ) -> Result<serde_json::Value, ReviewError> {
        self.filter
            .suspensions
            .reinstate(sid, by, note)
            .map_err(review_error)?;
        self.on_reinstated(sid);
        Ok(serde_json::json!({ "reinstated": sid }))
    }
}

fn review_error(e: crate::filter::suspension::SuspensionError) -> ReviewError {
    use crate::filter::suspension::SuspensionError as E;
    match e {
        E::NotSuspended(_) => ReviewError::NotFound(e.to_string()),
        E::AlreadySuspended(_) => ReviewError::Conflict(e.to_string()),
        other => ReviewError::Failed(other.to_string()),
    }
}
