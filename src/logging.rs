//! Logging: one `tracing` subscriber for the process, writing human text
//! or JSON lines to standard output, with a level filter that a config
//! reload can change.
//!
//! The level comes from `[log].level`, unless the `TELEGATE_LOG`
//! environment variable is set: then that wins, also across reloads, so
//! an operator debugging a live gateway is not reset by a SIGHUP.
//!
//! What may be logged is set by DESIGN.md: account SIDs, gateway message
//! ids, carrier names — never passwords, message text or phone numbers.
//! `tests/logs_privacy.rs` checks that at debug level.

use std::fmt;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::config::{LogConfig, LogFormat};

/// The environment variable whose level filter overrides `[log].level`.
pub const ENV_VAR: &str = "TELEGATE_LOG";

/// Changes the level filter of the installed subscriber. Cheap to clone.
#[derive(Clone)]
pub struct LogHandle {
    inner: Arc<Inner>,
}

struct Inner {
    filter: reload::Handle<EnvFilter, Registry>,
    /// `TELEGATE_LOG` set the level: [`LogHandle::set_level`] changes
    /// nothing.
    from_env: bool,
    /// The level filter in force, as written.
    level: Mutex<String>,
    /// An ignored level change was logged already.
    told: AtomicBool,
}

impl fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogHandle")
            .field("level", &self.level())
            .field("from_env", &self.inner.from_env)
            .finish()
    }
}

impl LogHandle {
    /// Sets the level filter (`tracing` syntax, as `[log].level`). Does
    /// nothing when `TELEGATE_LOG` is set, which it logs the first time.
    pub fn set_level(&self, level: &str) -> Result<(), String> {
        let filter = parse(level).map_err(|e| format!("log.level: {e}"))?;
        let mut current = self.inner.level.lock().unwrap_or_else(|e| e.into_inner());
        if self.inner.from_env {
            if *current != level && !self.inner.told.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    "{ENV_VAR} is set and takes precedence over [log].level; the level stays {:?}",
                    *current
                );
            }
            return Ok(());
        }
        if *current == level {
            return Ok(());
        }
        self.inner
            .filter
            .reload(filter)
            .map_err(|e| format!("cannot change the log level: {e}"))?;
        tracing::info!(filter = level, "log level changed");
        *current = level.to_owned();
        Ok(())
    }

    /// The level filter in force.
    pub fn level(&self) -> String {
        self.inner
            .level
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether `TELEGATE_LOG` set the level, so `[log].level` is ignored
    /// (a reload can report that).
    pub fn level_overridden(&self) -> bool {
        self.inner.from_env
    }
}

/// Installs the process's subscriber as `cfg` says: format from
/// `cfg.format`, level from `TELEGATE_LOG` or else `cfg.level`. Fails on
/// a level that does not parse (naming where it came from) or when a
/// subscriber is installed already.
pub fn init(cfg: &LogConfig) -> Result<LogHandle, String> {
    let env = std::env::var(ENV_VAR).ok().filter(|v| !v.trim().is_empty());
    let ansi = std::io::stdout().is_terminal();
    let (subscriber, handle) = build(cfg, env, std::io::stdout, ansi)?;
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    if handle.inner.from_env {
        tracing::info!(
            filter = %handle.level(),
            "log level set by {ENV_VAR}; [log].level is ignored, also on reload"
        );
    }
    Ok(handle)
}

type BoxSubscriber = Box<dyn tracing::Subscriber + Send + Sync>;

/// The subscriber and its handle, writing to `writer`; `env` is the value
/// of `TELEGATE_LOG`, if set.
fn build<W>(
    cfg: &LogConfig,
    env: Option<String>,
    writer: W,
    ansi: bool,
) -> Result<(BoxSubscriber, LogHandle), String>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let (level, from_env) = match env {
        Some(v) => (v, true),
        None => (cfg.level.clone(), false),
    };
    let filter = parse(&level).map_err(|e| {
        if from_env {
            format!("{ENV_VAR}: {e}")
        } else {
            format!("log.level: {e}")
        }
    })?;
    let (filter, reload) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let subscriber: BoxSubscriber = match cfg.format {
        LogFormat::Text => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_target(false)
                    .with_ansi(ansi),
            ),
        ),
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(writer),
            ),
        ),
    };
    let handle = LogHandle {
        inner: Arc::new(Inner {
            filter: reload,
            from_env,
            level: Mutex::new(level),
            told: AtomicBool::new(false),
        }),
    };
    Ok((subscriber, handle))
}

fn parse(level: &str) -> Result<EnvFilter, String> {
    EnvFilter::builder()
        .parse(level)
        .map_err(|e| format!("not a valid level filter {level:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buf {
        type Writer = Buf;
        fn make_writer(&'w self) -> Buf {
            self.clone()
        }
    }

    impl Buf {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    fn cfg(level: &str, format: LogFormat) -> LogConfig {
        LogConfig {
            level: level.into(),
            format,
        }
    }

    #[test]
    fn text_with_reloadable_level() {
        let buf = Buf::default();
        let (sub, h) = build(&cfg("info", LogFormat::Text), None, buf.clone(), false).unwrap();
        tracing::subscriber::with_default(sub, || {
            tracing::debug!("hidden");
            tracing::info!(carrier = "c1", "shown");
            let out = buf.take();
            assert!(!out.contains("hidden"), "{out}");
            assert!(out.contains("INFO"), "{out}");
            assert!(out.contains("shown carrier=\"c1\""), "{out}");
            assert!(!out.contains('\x1b'), "no colours: {out:?}");

            h.set_level("debug").unwrap();
            assert_eq!(h.level(), "debug");
            tracing::debug!("now shown");
            assert!(buf.take().contains("now shown"));

            assert!(h.set_level("warn,=nonsense[").is_err());
            assert_eq!(h.level(), "debug", "a bad level changes nothing");
            h.set_level("warn").unwrap();
            tracing::info!("hidden again");
            assert!(!buf.take().contains("hidden again"));
        });
        assert!(!h.level_overridden());
        let dbg = format!("{h:?}");
        assert!(dbg.contains("LogHandle") && dbg.contains("warn"), "{dbg}");
    }

    #[test]
    fn json_lines() {
        let buf = Buf::default();
        let (sub, _h) = build(&cfg("info", LogFormat::Json), None, buf.clone(), true).unwrap();
        tracing::subscriber::with_default(sub, || {
            tracing::info!(account = "acme", count = 3, "ESME bound");
            tracing::warn!("second");
        });
        let out = buf.take();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 2, "{out}");
        // Fields nest under "fields", so none can clash with "level" and
        // the other keys of the line.
        assert_eq!(lines[0]["fields"]["message"], "ESME bound");
        assert_eq!(lines[0]["fields"]["account"], "acme");
        assert_eq!(lines[0]["fields"]["count"], 3);
        assert_eq!(lines[0]["level"], "INFO");
        assert!(lines[0]["timestamp"].is_string());
        assert_eq!(lines[1]["level"], "WARN");
    }

    #[test]
    fn env_takes_precedence_over_config_and_reload() {
        let buf = Buf::default();
        let (sub, h) = build(
            &cfg("warn", LogFormat::Text),
            Some("debug".into()),
            buf.clone(),
            false,
        )
        .unwrap();
        assert!(h.level_overridden());
        tracing::subscriber::with_default(sub, || {
            tracing::debug!("debug shown");
            assert!(buf.take().contains("debug shown"));
            h.set_level("error").unwrap();
            h.set_level("warn").unwrap();
            let out = buf.take();
            assert_eq!(out.matches("takes precedence").count(), 1, "{out}");
            tracing::debug!("still shown");
            assert!(buf.take().contains("still shown"));
        });
        assert_eq!(h.level(), "debug");
    }

    #[test]
    fn bad_levels_name_their_source() {
        let err = |r: Result<(BoxSubscriber, LogHandle), String>| r.err().expect("refused");
        let e = err(build(
            &cfg("info", LogFormat::Text),
            Some("=[".into()),
            Buf::default(),
            false,
        ));
        assert!(e.starts_with("TELEGATE_LOG: "), "{e}");
        let e = err(build(
            &cfg("=[", LogFormat::Text),
            None,
            Buf::default(),
            false,
        ));
        assert!(e.starts_with("log.level: "), "{e}");
    }
}
