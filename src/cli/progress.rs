//! Progress of long operations on stderr: a bar on a terminal, a plain line every few
//! seconds otherwise (a log, a CI job, a pipe), and Ctrl-C as a request to stop cleanly.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use cisgate::progress::Progress;

/// How often the plain progress line is printed (`CISGATE_PROGRESS_MS` overrides it).
const PLAIN_EVERY: Duration = Duration::from_secs(5);

fn plain_every() -> Duration {
    std::env::var("CISGATE_PROGRESS_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(PLAIN_EVERY, Duration::from_millis)
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Makes Ctrl-C (and SIGTERM) ask the running operation to stop: it then publishes
/// nothing and removes its files. A second Ctrl-C quits at once.
pub fn stop_on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ncisgate: stopping (Ctrl-C again to quit at once)");
    });
}

/// A rate, rounded for people: `870/s`, `260 K/s`, `1.4 M/s`.
fn human_rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.1} M/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.0} K/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.0}/s")
    }
}

/// A count with thousands separators.
fn human_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where a stage stands, for the plain line.
struct Stage {
    name: String,
    total: u64,
    done: u64,
    started: Instant,
}

impl Stage {
    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = human_rate(self.done as f64 / secs.max(1e-3));
        if self.total > 0 {
            format!(
                "cisgate: {}: {} of {} ({:.0} %), {rate}, {secs:.0} s",
                self.name,
                human_count(self.done),
                human_count(self.total),
                self.done as f64 * 100.0 / self.total as f64
            )
        } else {
            format!("cisgate: {}: {secs:.0} s", self.name)
        }
    }
}

/// Drives a bar (stderr is a terminal) or plain periodic lines (it is not) from library
/// progress events.
pub struct TerminalProgress {
    bar: Option<ProgressBar>,
    stage: Arc<Mutex<Stage>>,
    ticker: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl TerminalProgress {
    /// A bar if stderr is a terminal, else a line every few seconds.
    pub fn new() -> Self {
        let stage = Arc::new(Mutex::new(Stage {
            name: "starting".into(),
            total: 0,
            done: 0,
            started: Instant::now(),
        }));
        if std::io::stderr().is_terminal() {
            return TerminalProgress {
                bar: Some(ProgressBar::new(0)),
                stage,
                ticker: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = Arc::clone(&stage);
        let every = plain_every();
        let ticker = std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let line = shared.lock().unwrap_or_else(|e| e.into_inner()).line();
                eprintln!("{line}");
            }
        });
        TerminalProgress {
            bar: None,
            stage,
            ticker: Some((stop, ticker)),
        }
    }

    fn stop_ticker(&mut self) {
        if let Some((stop, thread)) = self.ticker.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}

impl Drop for TerminalProgress {
    fn drop(&mut self) {
        self.stop_ticker();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for TerminalProgress {
    fn stage(&self, name: &str, total: u64) {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = Stage {
            name: name.to_string(),
            total,
            done: 0,
            started: Instant::now(),
        };
        let Some(bar) = &self.bar else { return };
        // The style first: a length set under the previous stage's style drew "0/0".
        let template = if total > 0 {
            "{msg:>22} [{bar:40}] {human_pos}/{human_len} ({rate}, {eta})"
        } else {
            "{msg:>22} {spinner} {elapsed}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            let style = style
                .with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&human_rate(state.per_sec()));
                    },
                )
                .progress_chars("=> ");
            bar.set_style(style);
        }
        bar.set_message(name.to_string());
        bar.reset();
        bar.set_length(total);
        bar.tick();
    }

    fn advance(&self, n: u64) {
        self.stage.lock().unwrap_or_else(|e| e.into_inner()).done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn cancelled(&self) -> bool {
        INTERRUPTED.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_counts_are_rounded_for_people() {
        assert_eq!(human_rate(260_494.001_6), "260 K/s");
        assert_eq!(human_rate(1_430_000.0), "1.4 M/s");
        assert_eq!(human_rate(870.4), "870/s");
        assert_eq!(human_count(10_000_000), "10,000,000");
        assert_eq!(human_count(999), "999");
        assert_eq!(human_count(1_000), "1,000");
    }
}
