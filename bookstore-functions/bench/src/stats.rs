//! Percentiles and how the table prints durations, sizes and ratios.

use std::time::Duration;

/// A set of timings, sorted once.
#[derive(Debug, Clone)]
pub struct Samples {
    sorted: Vec<Duration>,
}

impl Samples {
    /// Sorts `samples`; panics on an empty set (a section that measured nothing is a bug).
    pub fn new(mut samples: Vec<Duration>) -> Self {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_unstable();
        Self { sorted: samples }
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The `q`-quantile (0.0..=1.0), nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "sample counts are far below 2^52 and q is in 0..=1"
        )]
        let rank = ((q * self.sorted.len() as f64).ceil() as usize).clamp(1, self.sorted.len());
        self.sorted[rank - 1]
    }

    /// The median.
    pub fn p50(&self) -> Duration {
        self.quantile(0.5)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }
}

/// `a / b` as a float (durations).
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

/// A duration the way a person reads it: µs below 1 ms, ms with a sensible precision.
pub fn fmt_dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 10_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else if us < 1_000_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// Bytes as MiB with two decimals.
pub fn fmt_mib(bytes: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "sizes here are far below 2^52")]
    let mib = bytes as f64 / (1024.0 * 1024.0);
    format!("{mib:.2} MiB")
}

/// Bytes as decimal MB with two decimals (the artifact target is in MB).
pub fn fmt_mb(bytes: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "sizes here are far below 2^52")]
    let mb = bytes as f64 / 1e6;
    format!("{mb:.2} MB")
}
