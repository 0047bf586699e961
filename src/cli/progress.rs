//! A terminal progress bar for long builds (hidden when stderr is not a terminal).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use cisgate::progress::Progress;

/// Drives an indicatif bar from library progress events.
pub struct TerminalProgress {
    bar: ProgressBar,
}

impl TerminalProgress {
    /// A bar on stderr if it is a terminal, else a hidden one.
    pub fn new() -> Self {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        TerminalProgress { bar }
    }
}

impl Progress for TerminalProgress {
    fn stage(&self, name: &str, total: u64) {
        self.bar.reset();
        self.bar.set_length(total);
        let template = if total > 0 {
            "{msg:>22} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta})"
        } else {
            "{msg:>22} {spinner} {elapsed}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
        self.bar.set_message(name.to_string());
        self.bar.tick();
    }
    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
