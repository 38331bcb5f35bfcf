//! The systemd notify protocol (`sd_notify(3)`), spoken by hand.
//!
//! Under `Type=notify` systemd passes `NOTIFY_SOCKET`: an `AF_UNIX` datagram socket, a path or an
//! abstract name written `@name`. The service sends it newline-separated `KEY=VALUE` lines, one
//! datagram per message: `READY=1` once it serves, `RELOADING=1` with `MONOTONIC_USEC=` when a
//! reload starts (and `READY=1` again when it is over, applied or not), `STOPPING=1` when shutdown
//! starts, `STATUS=` free text shown by `systemctl status`, and `WATCHDOG=1` keep-alives at least
//! every `WATCHDOG_USEC` when the unit sets `WatchdogSec=`.
//!
//! Without `NOTIFY_SOCKET` (run from a shell, in tests) every call is a no-op returning `Ok`, so
//! the daemon calls these unconditionally. Sends never block (a full socket buffer is an error,
//! not a wait) and are best-effort: errors are returned for the caller to log, never fatal.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// A handle on the service manager's notification socket.
///
/// Cheap to clone (clones share one socket). Built from the environment with
/// [`Notifier::from_env`]; a notifier without a socket ([`Notifier::disabled`], or `from_env`
/// outside systemd) turns every call into a no-op.
#[derive(Clone, Debug)]
pub struct Notifier {
    /// `None`: not under a service manager, every call is a no-op.
    inner: Option<Arc<Inner>>,
    /// The watchdog timeout (`WATCHDOG_USEC`); pings go out at half of it.
    watchdog: Option<Duration>,
}

#[derive(Debug)]
struct Inner {
    target: Target,
    /// Created once, so a watchdog ping still goes out when the process is out of descriptors;
    /// `None` if creating it failed, and then each send tries a fresh socket.
    socket: Option<UnixDatagram>,
}

/// Where `NOTIFY_SOCKET` points.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A socket file.
    Path(PathBuf),
    /// A Linux abstract socket name (the part after `@`).
    Abstract(Vec<u8>),
}

impl Target {
    /// Reads `NOTIFY_SOCKET`'s syntax: an absolute path, or `@` and an abstract name. Anything
    /// else (empty, relative, `vsock:`) is not supported and means no notifications.
    fn parse(s: &OsStr) -> Option<Target> {
        match s.as_bytes() {
            [b'@', name @ ..] => Some(Target::Abstract(name.to_vec())),
            [b'/', ..] => Some(Target::Path(PathBuf::from(s))),
            _ => None,
        }
    }
}

impl Notifier {
    /// A notifier that sends nothing: every call returns `Ok(())` at once.
    pub fn disabled() -> Notifier {
        Notifier {
            inner: None,
            watchdog: None,
        }
    }

    /// The notifier systemd asked for through the environment.
    ///
    /// Reads `NOTIFY_SOCKET` (an absolute path, or `@name` for an abstract socket; unset, empty
    /// or any other form gives a disabled notifier), `WATCHDOG_USEC` and `WATCHDOG_PID`: the
    /// watchdog is on only when `WATCHDOG_USEC` is a positive number and `WATCHDOG_PID` is absent
    /// or our own pid. The variables are read, never unset (unsetting is unsound once threads
    /// run); a child process that must not notify should have them removed from its `Command`.
    pub fn from_env() -> Notifier {
        Notifier::from_vars(
            std::env::var_os("NOTIFY_SOCKET").as_deref(),
            std::env::var_os("WATCHDOG_USEC").as_deref(),
            std::env::var_os("WATCHDOG_PID").as_deref(),
            std::process::id(),
        )
    }

    /// A notifier sending to `path`, for tests and for callers that know the socket.
    ///
    /// `path` follows `NOTIFY_SOCKET`'s syntax (a leading `@` names an abstract socket).
    /// `watchdog` is the watchdog timeout as systemd would give it in `WATCHDOG_USEC`;
    /// [`Notifier::run_watchdog`] pings at half of it. `None` or zero: no watchdog.
    pub fn with_socket(path: impl Into<PathBuf>, watchdog: Option<Duration>) -> Notifier {
        let path = path.into();
        let target = Target::parse(path.as_os_str()).unwrap_or(Target::Path(path));
        Notifier::new(Some(target), watchdog.filter(|d| !d.is_zero()))
    }

    fn from_vars(
        notify_socket: Option<&OsStr>,
        watchdog_usec: Option<&OsStr>,
        watchdog_pid: Option<&OsStr>,
        our_pid: u32,
    ) -> Notifier {
        let target = notify_socket.and_then(Target::parse);
        let for_us = match watchdog_pid {
            None => true,
            Some(pid) => pid.to_str().and_then(|p| p.parse::<u32>().ok()) == Some(our_pid),
        };
        let watchdog = watchdog_usec
            .and_then(OsStr::to_str)
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
            .map(Duration::from_micros);
        Notifier::new(target, watchdog)
    }

    fn new(target: Option<Target>, watchdog: Option<Duration>) -> Notifier {
        let Some(target) = target else {
            return Notifier::disabled();
        };
        Notifier {
            inner: Some(Arc::new(Inner {
                target,
                socket: new_socket().ok(),
            })),
            watchdog,
        }
    }

    /// Whether notifications go anywhere (a socket was given).
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Start-up is complete: sends `READY=1` and `STATUS=Serving`. Also ends a reload
    /// announced with [`Notifier::reloading`], whether the new config was applied or not.
    pub fn ready(&self) -> io::Result<()> {
        self.send("READY=1\nSTATUS=Serving")
    }

    /// A reload starts: sends `RELOADING=1` and `MONOTONIC_USEC=` (`CLOCK_MONOTONIC` now, in
    /// microseconds, which systemd uses to match the reload to its request). Call
    /// [`Notifier::ready`] when the reload is over.
    pub fn reloading(&self) -> io::Result<()> {
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()))
    }

    /// Shutdown starts: sends `STOPPING=1`.
    pub fn stopping(&self) -> io::Result<()> {
        self.send("STOPPING=1")
    }

    /// Sends `STATUS=text`, the one-line status `systemctl status` shows. Newlines in `text`
    /// become spaces (a newline would start another assignment).
    pub fn status(&self, text: &str) -> io::Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        self.send(&format!("STATUS={}", text.replace(['\n', '\r'], " ")))
    }

    /// Sends one watchdog keep-alive, `WATCHDOG=1`.
    pub fn watchdog(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }

    /// How often [`Notifier::run_watchdog`] pings: half the watchdog timeout, as `sd_notify(3)`
    /// recommends. `None` when no watchdog is configured or the notifier is disabled.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.inner.as_ref()?;
        self.watchdog.map(|d| (d / 2).max(Duration::from_micros(1)))
    }

    /// Sends `WATCHDOG=1` every [`Notifier::watchdog_interval`] while `healthy()` says so, until
    /// `shutdown` is cancelled; returns at once when no watchdog is configured.
    ///
    /// That this task runs at all shows the runtime schedules tasks; `healthy` adds what the
    /// caller knows beyond that (say, that the main loop ticked recently). While it returns
    /// `false` no ping is sent, so systemd kills and restarts the service when the timeout runs
    /// out; pings resume if it recovers first. Failed sends are logged, once per run of failures.
    pub async fn run_watchdog(self, healthy: impl Fn() -> bool, shutdown: CancellationToken) {
        let Some(every) = self.watchdog_interval() else {
            return;
        };
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut was_healthy = true;
        let mut send_failing = false;
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if !healthy() {
                if was_healthy {
                    tracing::warn!("unhealthy: withholding systemd watchdog pings");
                }
                was_healthy = false;
                continue;
            }
            if !was_healthy {
                tracing::info!("healthy again: systemd watchdog pings resume");
                was_healthy = true;
            }
            match self.watchdog() {
                Ok(()) => send_failing = false,
                Err(e) => {
                    if !send_failing {
                        tracing::warn!(error = %e, "systemd watchdog ping failed");
                    }
                    send_failing = true;
                }
            }
        }
    }

    /// Sends one datagram; `Ok` without a socket.
    fn send(&self, msg: &str) -> io::Result<()> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let sent = match &inner.socket {
            Some(socket) => send_to(socket, &inner.target, msg.as_bytes())?,
            None => send_to(&new_socket()?, &inner.target, msg.as_bytes())?,
        };
        if sent != msg.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "notification datagram truncated",
            ));
        }
        Ok(())
    }
}

/// An unbound datagram socket that never blocks (close-on-exec, as std makes all sockets).
fn new_socket() -> io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn send_to(socket: &UnixDatagram, target: &Target, buf: &[u8]) -> io::Result<usize> {
    match target {
        Target::Path(path) => socket.send_to(buf, path),
        Target::Abstract(name) => send_to_abstract(socket, name, buf),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_to_abstract(socket: &UnixDatagram, name: &[u8], buf: &[u8]) -> io::Result<usize> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(buf, &addr)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_to_abstract(_socket: &UnixDatagram, _name: &[u8], _buf: &[u8]) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract unix sockets exist only on Linux",
    ))
}

/// `CLOCK_MONOTONIC` in microseconds, the clock `MONOTONIC_USEC=` is read against.
fn monotonic_usec() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let micros = u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000;
    secs.saturating_mul(1_000_000).saturating_add(micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Generous: only bounds a hang, never asserts speed.
    const PATIENCE: Duration = Duration::from_secs(10);

    fn listener() -> (tempfile::TempDir, PathBuf, UnixDatagram) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(PATIENCE)).unwrap();
        (dir, path, sock)
    }

    fn recv(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn each_message_is_one_datagram_with_the_exact_payload() {
        let (_dir, path, sock) = listener();
        let n = Notifier::with_socket(&path, None);
        assert!(n.is_enabled());

        n.ready().unwrap();
        assert_eq!(recv(&sock), "READY=1\nSTATUS=Serving");
        n.stopping().unwrap();
        assert_eq!(recv(&sock), "STOPPING=1");
        n.status("3 carriers bound").unwrap();
        assert_eq!(recv(&sock), "STATUS=3 carriers bound");
        n.status("two\nlines\r").unwrap();
        assert_eq!(recv(&sock), "STATUS=two lines ");
        n.watchdog().unwrap();
        assert_eq!(recv(&sock), "WATCHDOG=1");

        let before = monotonic_usec();
        n.clone().reloading().unwrap();
        let after = monotonic_usec();
        let msg = recv(&sock);
        let usec: u64 = msg
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .unwrap_or_else(|| panic!("unexpected reloading message {msg:?}"))
            .parse()
            .unwrap();
        assert!(
            before <= usec && usec <= after,
            "{before} <= {usec} <= {after}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket_from_the_at_syntax() {
        let name = format!("telegate-notify-test-{}", std::process::id());
        let addr = {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap()
        };
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        sock.set_read_timeout(Some(PATIENCE)).unwrap();

        let at = format!("@{name}");
        let n = Notifier::from_vars(Some(OsStr::new(&at)), None, None, 1);
        n.ready().unwrap();
        assert_eq!(recv(&sock), "READY=1\nSTATUS=Serving");
        Notifier::with_socket(&at, None).stopping().unwrap();
        assert_eq!(recv(&sock), "STOPPING=1");
    }

    #[test]
    fn send_errors_are_returned_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let n = Notifier::with_socket(dir.path().join("nobody-listens"), None);
        assert!(n.ready().is_err());
        assert!(n.watchdog().is_err());
    }

    #[tokio::test]
    async fn disabled_notifier_is_a_no_op() {
        for n in [
            Notifier::disabled(),
            Notifier::from_vars(None, Some(OsStr::new("30000000")), None, 1),
            Notifier::from_vars(Some(OsStr::new("")), None, None, 1),
            Notifier::from_vars(Some(OsStr::new("relative/path")), None, None, 1),
            Notifier::from_vars(Some(OsStr::new("vsock:2:1234")), None, None, 1),
        ] {
            assert!(!n.is_enabled());
            n.ready().unwrap();
            n.reloading().unwrap();
            n.stopping().unwrap();
            n.status("x").unwrap();
            n.watchdog().unwrap();
            assert_eq!(n.watchdog_interval(), None);
            let never = CancellationToken::new();
            tokio::time::timeout(PATIENCE, n.run_watchdog(|| true, never))
                .await
                .expect("run_watchdog returns at once without a watchdog");
        }
    }

    #[test]
    fn environment_parsing() {
        let sock = Some(OsStr::new("/run/systemd/notify"));
        let usec = Some(OsStr::new("30000000"));
        let n = Notifier::from_vars(sock, usec, None, 42);
        assert_eq!(
            n.inner.as_ref().map(|i| i.target.clone()),
            Some(Target::Path(PathBuf::from("/run/systemd/notify")))
        );
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(15)));

        let at = Some(OsStr::new("@/org/freedesktop/systemd1/notify"));
        let n = Notifier::from_vars(at, None, None, 42);
        assert_eq!(
            n.inner.as_ref().map(|i| i.target.clone()),
            Some(Target::Abstract(
                b"/org/freedesktop/systemd1/notify".to_vec()
            ))
        );
        assert_eq!(n.watchdog_interval(), None);

        // WATCHDOG_PID names the process the watchdog is for.
        let ours = Notifier::from_vars(sock, usec, Some(OsStr::new("42")), 42);
        assert_eq!(ours.watchdog_interval(), Some(Duration::from_secs(15)));
        for pid in ["43", "", "x"] {
            let n = Notifier::from_vars(sock, usec, Some(OsStr::new(pid)), 42);
            assert!(n.is_enabled());
            assert_eq!(n.watchdog_interval(), None, "WATCHDOG_PID={pid:?}");
        }
        for bad in ["0", "", "-5", "1.5s"] {
            let n = Notifier::from_vars(sock, Some(OsStr::new(bad)), None, 42);
            assert_eq!(n.watchdog_interval(), None, "WATCHDOG_USEC={bad:?}");
        }

        let n = Notifier::with_socket("/tmp/x", Some(Duration::ZERO));
        assert_eq!(n.watchdog_interval(), None);
    }

    #[tokio::test]
    async fn watchdog_pings_while_healthy_and_stops_on_cancel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = tokio::net::UnixDatagram::bind(&path).unwrap();
        let n = Notifier::with_socket(&path, Some(Duration::from_millis(40)));
        assert_eq!(n.watchdog_interval(), Some(Duration::from_millis(20)));

        let shutdown = CancellationToken::new();
        let task = tokio::spawn(n.run_watchdog(|| true, shutdown.clone()));
        let mut buf = [0u8; 64];
        for _ in 0..2 {
            let len = tokio::time::timeout(PATIENCE, sock.recv(&mut buf))
                .await
                .expect("a watchdog ping")
                .unwrap();
            assert_eq!(&buf[..len], b"WATCHDOG=1");
        }
        shutdown.cancel();
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("run_watchdog returns on cancel")
            .unwrap();
    }

    #[tokio::test]
    async fn no_pings_while_unhealthy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = tokio::net::UnixDatagram::bind(&path).unwrap();
        let n = Notifier::with_socket(&path, Some(Duration::from_millis(20)));

        let asked = Arc::new(AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(n.run_watchdog(
            {
                let asked = Arc::clone(&asked);
                move || {
                    asked.fetch_add(1, Ordering::Relaxed);
                    false
                }
            },
            shutdown.clone(),
        ));
        tokio::time::timeout(PATIENCE, async {
            while asked.load(Ordering::Relaxed) < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("healthy() consulted on every tick");
        shutdown.cancel();
        tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();

        let mut buf = [0u8; 64];
        let err = sock.try_recv(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }
}
