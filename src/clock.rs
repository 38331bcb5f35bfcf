//! Coarse clocks: the kernel's last tick (a few milliseconds of
//! resolution), read at a fraction of the precise clocks' cost. For times
//! the data path takes per message where milliseconds do not matter.

use rustix::time::{clock_gettime, ClockId};

fn ms(clock: ClockId) -> u64 {
    let t = clock_gettime(clock);
    let ms = i128::from(t.tv_sec) * 1000 + i128::from(t.tv_nsec) / 1_000_000;
    u64::try_from(ms).unwrap_or(0)
}

/// Milliseconds since the Unix epoch (`CLOCK_REALTIME_COARSE`).
pub(crate) fn realtime_ms() -> u64 {
    ms(ClockId::RealtimeCoarse)
}

/// Milliseconds of `CLOCK_MONOTONIC_COARSE`: only differences mean
/// anything.
pub(crate) fn monotonic_ms() -> u64 {
    ms(ClockId::MonotonicCoarse)
}
