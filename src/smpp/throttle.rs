//! Token buckets for account throughput and carrier TPS caps.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `rate` tokens a second, holding at most `burst`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// `None` for rate 0 (unlimited).
    pub(crate) fn new(rate: u32, burst: u32) -> Option<TokenBucket> {
        (rate > 0).then(|| {
            let burst = f64::from(burst.max(1));
            TokenBucket {
                rate: f64::from(rate),
                burst,
                state: Mutex::new((burst, Instant::now())),
            }
        })
    }

    fn refill(&self, s: &mut (f64, Instant), now: Instant) {
        let dt = now.saturating_duration_since(s.1).as_secs_f64();
        s.0 = (s.0 + dt * self.rate).min(self.burst);
        s.1 = now;
    }

    /// Takes a token, or says how long until one is available.
    pub(crate) fn take(&self) -> Result<(), Duration> {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.refill(&mut s, now);
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - s.0) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_throttle() {
        let b = TokenBucket::new(10, 10).unwrap();
        for _ in 0..10 {
            assert!(b.take().is_ok());
        }
        let wait = b.take().unwrap_err();
        assert!(wait <= Duration::from_millis(100));
        assert!(TokenBucket::new(0, 1).is_none());
    }
}
