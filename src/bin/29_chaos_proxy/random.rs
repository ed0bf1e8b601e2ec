//! 29_chaos_proxy, part 2 of 4: the dice. Every random choice of the proxy, the size of a
//! piece (tcp.rs) and whether a datagram is dropped or duplicated (udp.rs), comes from this
//! small generator, started from `--seed`. The same seed gives the same choices, so the same
//! chaos.

// ANCHOR: xorshift
/// A tiny pseudo-random number generator (xorshift64*, chapter 12's xorshift plus one
/// multiplication). The same seed gives the same numbers, so a run that broke something can
/// be run again, exactly.
pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // Mixes the bits: without it a small seed (1, 2, 3) gives tiny first numbers, and
        // `chance` would say yes at first, whatever the rate.
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number in 1..=max.
    pub fn size(&mut self, max: usize) -> usize {
        1 + (self.next() % max as u64) as usize
    }
    /// True with probability `rate`: the top 53 bits as a fraction in [0, 1).
    pub fn chance(&mut self, rate: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < rate
    }
}
// ANCHOR_END: xorshift
