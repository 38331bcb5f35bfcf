//! Configuration reload: under load nothing is lost or duplicated and new
//! routes take effect; a bad file changes nothing; sessions of removed or
//! re-passworded accounts are unbound while the others get their new
//! limits at once; unchanged carriers keep their binds, changed ones
//! rebind and removed ones unbind.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use telegate::sim::{esme, BindType, EsmeConfig, SmscHandle};
use telegate::smpp_codec::{Body, CommandId, CommandStatus, Pdu};

/// `esme1` plus carriers `c1` and `c2`, every destination routed to
/// `route_to`; `throughput` for esme1 and the session `window`.
fn two_carriers(
    c1: &SmscHandle,
    c2: &SmscHandle,
    route_to: &str,
    throughput: u32,
    window: u32,
) -> GatewayConfig {
    GatewayConfig::new()
        .server("window", window.to_string())
        .account("esme1", &[("throughput", &throughput.to_string())])
        .carrier("c1", &c1.addr().to_string(), &[])
        .carrier("c2", &c2.addr().to_string(), &[])
        .route("", &[route_to])
}

fn recording() -> impl FnOnce(&mut telegate::sim::SmscConfig) {
    |c| c.record_submits = 100_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_loses_nothing_and_new_routes_apply() {
    let c1 = start_smsc(recording()).await;
    let c2 = start_smsc(recording()).await;
    let dir = store_dir();
    let gw = start_gateway(two_carriers(&c1, &c2, "c1", 0, 64).build(dir.path())).await;
    assert_eq!(gw.config_version(), 1);

    // A steady load: 1,500 messages at 600 msg/s over two binds.
    const COUNT: u64 = 1_500;
    let load = tokio::spawn(esme::run(EsmeConfig {
        addr: esme_addr(&gw).to_string(),
        system_id: "esme1".into(),
        password: PASSWORD.into(),
        bind_type: BindType::Transceiver,
        binds: 2,
        count: COUNT,
        window: 16,
        to: "4915100000000".into(),
        receipts: false,
        rate: 600,
        response_timeout: WAIT,
        ..EsmeConfig::default()
    }));

    // Five reloads, once the load is flowing, that move the route between
    // carriers and change the account's throughput and the session window,
    // and one bad file.
    assert!(
        eventually(WAIT, || c1.stats().accepted > 0).await,
        "load started"
    );
    let bad = dir.path().join("bad.toml");
    for k in 0..5u32 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let to = if k % 2 == 0 { "c2" } else { "c1" };
        let cfg = two_carriers(&c1, &c2, to, 5_000 + k * 1_000, 32 + k * 8).build(dir.path());
        let out = gw.reload(cfg).await.expect("reload accepted");
        assert_eq!(out.version, u64::from(k) + 2);
        assert!(out.ignored.is_empty(), "{:?}", out.ignored);
        assert!(
            out.changes.iter().any(|c| c.starts_with("routes")),
            "{:?}",
            out.changes
        );
        if k == 2 {
            // A route to a carrier that does not exist: refused whole.
            let mut text = two_carriers(&c1, &c2, "c1", 1, 1).toml(dir.path());
            text.push_str("\n[[route]]\nprefix = \"44\"\ncarriers = [\"nope\"]\n");
            std::fs::write(&bad, text).expect("write");
            let err = gw.reload_file(&bad).await.expect_err("bad file refused");
            assert!(err.contains("bad.toml"), "names the file: {err}");
            assert!(err.contains("route[1]"), "names the key: {err}");
            assert_eq!(gw.config_version(), u64::from(k) + 2, "version unchanged");
        }
    }
    let report = load.await.expect("load task");
    assert_eq!(report.sent, COUNT, "{report}");
    assert_eq!(report.unanswered, 0, "every message answered: {report}");
    assert_eq!(report.ok, COUNT, "every message accepted: {report}");

    // Each message reached exactly one carrier, once.
    let mut dests = HashSet::new();
    let mut total = 0;
    for s in c1.submits().iter().chain(c2.submits().iter()) {
        total += 1;
        dests.insert(s.submit.dest.addr.clone());
    }
    assert_eq!(total, COUNT as usize, "no duplicates at the carriers");
    assert_eq!(dests.len(), COUNT as usize, "every message delivered once");
    assert!(
        !c1.submits().is_empty() && !c2.submits().is_empty(),
        "both routes were used: c1 {} c2 {} in {:?} {:?}",
        c1.submits().len(),
        c2.submits().len(),
        report.elapsed,
        c1.stats()
    );

    println!(
        "reload under load: sent {} ok {} unanswered {} other {:?}; at c1 {} at c2 {}; \
         {:.0} msg/s over {:?}; latency p50 {:?} p99 {:?} max {:?}",
        report.sent,
        report.ok,
        report.unanswered,
        report.errors_by_status,
        c1.submits().len(),
        c2.submits().len(),
        report.throughput,
        report.elapsed,
        report.latency.p50,
        report.latency.p99,
        report.latency.max
    );

    // The last good reload routes everything to c2; the bad one after it
    // changed nothing.
    assert_eq!(gw.config_version(), 6);
    let (a1, a2) = (c1.stats().accepted, c2.stats().accepted);
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    for i in 0..20 {
        submit_ok(&esme, DEST, format!("after reload {i}").as_bytes(), false).await;
    }
    assert_eq!(c1.stats().accepted, a1, "old route no longer used");
    assert_eq!(c2.stats().accepted, a2 + 20, "new route used");
    drop(esme);
    stop(gw).await;
}

/// Waits for the gateway's unbind on `c`, answers it, and checks the
/// session ends.
async fn expect_unbound(c: &mut telegate::sim::Client, who: &str) {
    let p = c
        .next_pdu(WAIT)
        .await
        .unwrap_or_else(|e| panic!("{who}: no unbind: {e}"));
    assert!(matches!(p.body, Body::Unbind), "{who}: got {p:?}");
    c.send(&Pdu::new(p.sequence_number, Body::UnbindResp))
        .await
        .expect("unbind_resp");
    c.wait_closed(WAIT).await.expect("session closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_unbinds_removed_and_repassworded_accounts_only() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let base = |esme1_throughput: &str| {
        GatewayConfig::new()
            .account("esme1", &[("throughput", esme1_throughput)])
            .carrier("c1", &smsc.addr().to_string(), &[])
            .route("", &["c1"])
    };
    let cfg = base("0").account("esme2", &[]).account("esme3", &[]);
    let gw = start_gateway(cfg.build(dir.path())).await;
    let e1 = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    let mut e2 = bind(esme_addr(&gw), BindType::Transceiver, "esme2").await;
    let mut e3 = bind(esme_addr(&gw), BindType::Transceiver, "esme3").await;
    submit_ok(&e1, DEST, b"before", false).await;

    // esme2 removed, esme3's password changed, esme1 limited to 1 msg/s.
    let other_hash = telegate::auth::hash_password("other-pw");
    let hash_key = format!("\"{other_hash}\"");
    let cfg = base("1").account("esme3", &[("password_hash", hash_key.as_str())]);
    let out = gw.reload(cfg.build(dir.path())).await.expect("reload");
    assert_eq!(out.version, 2);
    expect_unbound(&mut e2, "esme2").await;
    expect_unbound(&mut e3, "esme3").await;

    // esme1 carries on, with its new throughput applied at once: a burst
    // of one, then ESME_RTHROTTLED.
    let mut statuses = Vec::new();
    for i in 0..3 {
        let r = submit(&e1, DEST, format!("limited {i}").as_bytes(), false).await;
        statuses.push(r.command_status);
    }
    assert_eq!(statuses[0], CommandStatus::ESME_ROK, "{statuses:?}");
    assert!(
        statuses.contains(&CommandStatus::ESME_RTHROTTLED),
        "new limit applies: {statuses:?}"
    );

    // The removed account cannot bind again; esme3 binds with its new
    // password only.
    let c = connect(esme_addr(&gw)).await;
    let st = c.bind(BindType::Transceiver, "esme2", PASSWORD).await;
    assert_eq!(st.expect("answered"), CommandStatus::ESME_RINVSYSID);
    let c = connect(esme_addr(&gw)).await;
    let st = c.bind(BindType::Transceiver, "esme3", PASSWORD).await;
    assert_eq!(st.expect("answered"), CommandStatus::ESME_RINVPASWD);
    let c = connect(esme_addr(&gw)).await;
    let st = c.bind(BindType::Transceiver, "esme3", "other-pw").await;
    assert_eq!(st.expect("answered"), CommandStatus::ESME_ROK);
    drop((e1, c));
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_unchanged_carriers_rebinds_changed_unbinds_removed() {
    let (sa, sb, sc) = (
        start_smsc(|_| {}).await,
        start_smsc(|_| {}).await,
        start_smsc(|_| {}).await,
    );
    let dir = store_dir();
    let cfg = GatewayConfig::new()
        .account("esme1", &[])
        .carrier("a", &sa.addr().to_string(), &[])
        .carrier("b", &sb.addr().to_string(), &[])
        .carrier("c", &sc.addr().to_string(), &[])
        .route("", &["a", "b", "c"]);
    let gw = start_gateway(cfg.build(dir.path())).await;
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    submit_ok(&esme, DEST, b"before", false).await;
    let before = (sa.stats().connections, sb.stats().connections);

    let cfg = GatewayConfig::new()
        .account("esme1", &[])
        .carrier("a", &sa.addr().to_string(), &[])
        .carrier("b", &sb.addr().to_string(), &[("window", "32")])
        .route("", &["a", "b"]);
    let out = gw.reload(cfg.build(dir.path())).await.expect("reload");
    assert!(
        out.changes.iter().any(|c| c.contains("carrier b")),
        "{:?}",
        out.changes
    );
    assert!(
        out.changes.iter().any(|c| c.contains("carrier c: removed")),
        "{:?}",
        out.changes
    );
    assert!(
        eventually(WAIT, || sc.stats().open_connections == 0).await,
        "removed carrier unbound: {:?}",
        sc.stats()
    );
    assert!(
        eventually(WAIT, || sb.stats().connections == before.1 + 1
            && sb.stats().open_connections == 1)
        .await,
        "changed carrier bound anew: {:?}",
        sb.stats()
    );
    assert!(gw.wait_carriers_bound(WAIT).await);
    assert_eq!(sa.stats().connections, before.0, "unchanged carrier kept");
    let names: Vec<String> = gw
        .carrier_bind_states()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(
        eventually(WAIT, || gw.health().ready).await,
        "{:?}",
        gw.health()
    );
    let st = gw.status();
    assert_eq!(st.config_version, 2);
    let carriers: Vec<&str> = st.carriers.iter().map(|c| c.name.as_str()).collect();
    assert!(carriers.starts_with(&["a", "b"]), "{carriers:?}");
    assert_eq!(st.accounts.len(), 1);
    assert_eq!(st.accounts[0].binds, 1);
    // Messages still flow through the kept carrier.
    let a = sa.stats().accepted;
    submit_ok(&esme, DEST, b"after", false).await;
    assert_eq!(sa.stats().accepted, a + 1);
    drop(esme);
    stop(gw).await;
}

/// `[server].window` is read on every request from a copy the reload
/// refreshes: a narrower window applies to the sessions already bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloaded_server_window_applies_to_bound_sessions() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = |window: &str| {
        GatewayConfig::new()
            .server("window", window)
            // The stalled two are answered (with an error) soon.
            .server("submit_deadline", q("1500ms"))
            .account("esme1", &[])
            .carrier("c1", &smsc.addr().to_string(), &[])
            .route("", &["c1"])
    };
    let gw = start_gateway(cfg("3").build(dir.path())).await;
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    // The carrier hangs: two submits stay outstanding, within the window.
    let [p1, p2] = two_outstanding_at_stalled_carrier(&esme, &smsc).await;
    // Window 3 would let a third through; after the reload it is full.
    gw.reload(cfg("2").build(dir.path())).await.expect("reload");
    let r3 = submit(&esme, DEST, b"three", false).await;
    assert_eq!(
        status_of(&r3, CommandId::SUBMIT_SM_RESP),
        CommandStatus::ESME_RTHROTTLED
    );
    assert_eq!(smsc.stats().stalled, 2, "the third reached the carrier");
    for p in [p1, p2] {
        let _ = tokio::time::timeout(WAIT, p).await;
    }
    drop(esme);
    stop(gw).await;
}
