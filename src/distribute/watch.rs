//! A node that keeps up: a [`Puller`] round every interval (with jitter, so that a fleet
//! started together does not poll in step), and at once when a push notice says the
//! channel moved past what the node holds. `pull --watch` and `serve --pull-from` run
//! this loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::error::DistributeError;
use super::notice::{Listener, Noticed};
use super::pull::{PullReport, Puller};

/// The shortest polling interval: below it the store's request costs grow for nothing a
/// till can notice (push notices are the way to react faster).
pub const MIN_INTERVAL: Duration = Duration::from_millis(500);

/// Rounds a notice can trigger are at least this far apart, so that a flood of notices
/// (or forged ones) costs the store at most four conditional requests a second per node.
const MIN_GAP: Duration = Duration::from_millis(250);

/// How a node keeps pulling.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Poll this often (at least [`MIN_INTERVAL`]).
    pub interval: Duration,
    /// Each wait is the interval times a random factor in `1 ± jitter` (0 to 0.5).
    pub jitter: f64,
    /// Listen for push notices at this NATS URL.
    pub nats: Option<String>,
    /// The channel whose notices count.
    pub channel: String,
}

impl WatchOptions {
    /// Polling every `interval`, ±20 %, no push.
    pub fn every(interval: Duration, channel: &str) -> WatchOptions {
        WatchOptions {
            interval,
            jitter: 0.2,
            nats: None,
            channel: channel.to_string(),
        }
    }
}

/// Why a round ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The first round, at start.
    Start,
    /// The polling interval passed.
    Poll,
    /// A notice named a sequence above the one held.
    Notice(u64),
}

/// Runs rounds of `puller` until `stop` is set, handing each result to `each`. A NATS
/// server that cannot be reached leaves polling to do the work.
pub fn watch(
    puller: &mut Puller,
    options: &WatchOptions,
    stop: &AtomicBool,
    mut each: impl FnMut(&mut Puller, Trigger, &Result<PullReport, DistributeError>),
) -> Result<(), DistributeError> {
    if options.interval < MIN_INTERVAL {
        return Err(DistributeError::Invalid(format!(
            "a polling interval of {:?} is below the {MIN_INTERVAL:?} floor; use push notices (--nats) to react faster",
            options.interval
        )));
    }
    if !(0.0..=0.5).contains(&options.jitter) {
        return Err(DistributeError::Invalid(format!(
            "jitter {} is outside 0 to 0.5",
            options.jitter
        )));
    }
    let noticed: Arc<Noticed> = match &options.nats {
        Some(url) => Listener::start(url, &options.channel)?.leak_noticed(),
        None => Arc::new(Noticed::default()),
    };
    let mut random = Jitter::seeded();
    let mut trigger = Trigger::Start;
    let mut last_round = Instant::now() - MIN_GAP;
    while !stop.load(Ordering::Relaxed) {
        let since = last_round.elapsed();
        if since < MIN_GAP {
            std::thread::sleep(MIN_GAP - since);
        }
        last_round = Instant::now();
        let result = puller.round();
        each(puller, trigger, &result);
        // Wait for the next poll, or a notice of something newer than what is held.
        let due = last_round + random.around(options.interval, options.jitter);
        trigger = Trigger::Poll;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= due {
                break;
            }
            // Short waits, so that a stop is seen within a second.
            let wait = (due - now).min(Duration::from_secs(1));
            if let Some(sequence) = noticed.wait(wait)
                && sequence > puller.held_sequence()
            {
                trigger = Trigger::Notice(sequence);
                break;
            }
        }
    }
    Ok(())
}

impl Listener {
    /// The shared notice state; the listening thread runs as long as the process.
    fn leak_noticed(self) -> Arc<Noticed> {
        let noticed = self.noticed.clone();
        // The thread holds its own reference; dropping the handle detaches it.
        drop(self);
        noticed
    }
}

/// A small random source for jitter (no cryptographic use).
struct Jitter(u64);

impl Jitter {
    fn seeded() -> Jitter {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Jitter(nanos ^ (u64::from(std::process::id()) << 32) | 1)
    }

    /// A number in [0, 1).
    fn next(&mut self) -> f64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `interval` times a factor in `1 ± jitter`.
    fn around(&mut self, interval: Duration, jitter: f64) -> Duration {
        interval.mul_f64(1.0 + jitter * (2.0 * self.next() - 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_band_and_spreads() {
        let mut j = Jitter::seeded();
        let waits: Vec<f64> = (0..1000)
            .map(|_| j.around(Duration::from_secs(10), 0.2).as_secs_f64())
            .collect();
        assert!(waits.iter().all(|w| (8.0..=12.0).contains(w)));
        let below = waits.iter().filter(|w| **w < 10.0).count();
        assert!((350..650).contains(&below), "{below}");
    }
}
