//! Figures from measurements: percentiles of latencies (chapter 23).
//!
//! It lives in the helper, not in chapter 23's listing, so that the tests can check it on known
//! data (a test file cannot call into a binary), and so that any chapter that measures
//! latencies reports them the same way.

use std::time::Duration;

// ANCHOR: percentile
/// The `p`-th percentile of `sorted` (smallest first), by the nearest-rank method: the
/// smallest value that at least `p` percent of the values are less than or equal to. For
/// 1, 2, ..., 100 ms, p50 is 50 ms, p99 is 99 ms and p100 is the maximum. `None` when there
/// is no value at all.
///
/// `p` may have one decimal (p99.9). It is counted in tenths of a percent, in integers,
/// because 99.9 has no exact binary form: `99.9 * 1000.0 / 100.0` is a hair above 999, and
/// rounding that up would pick the wrong value.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let tenths = (p.clamp(0.0, 100.0) * 10.0).round() as usize; // 99.9 -> 999
    // The rank counts from 1: the smallest rank that covers p percent of the values.
    let rank = (sorted.len() * tenths).div_ceil(1000).max(1);
    Some(sorted[rank - 1])
}
// ANCHOR_END: percentile
