//! Progress of long steps (installing packages, building the kernel, the root task, the
//! components): a spinner on standard error with the step's name and the time elapsed.
//!
//! Shown only when standard error is a terminal and `CI` is unset, and never in verbose mode
//! (where the tools' own output is the progress): logs and pipes get no control characters.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// How often the spinner redraws.
const TICK_MS: u64 = 120;

/// Whether spinners are drawn at all: standard error is a terminal and `CI` is unset.
pub fn shown() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none_or(|v| v.is_empty())
}

/// A long step in progress; the spinner goes away when it finishes or is dropped.
pub struct Step(Option<ProgressBar>);

impl Step {
    /// Start a step named `name` (e.g. "building the seL4 kernel"); quiet when `verbose`.
    pub fn start(name: &str, verbose: bool) -> Step {
        if verbose || !shown() {
            return Step(None);
        }
        let bar = ProgressBar::new_spinner();
        let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})").unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(TICK_MS));
        Step(Some(bar))
    }

    /// End the step and clear its line.
    pub fn finish(self) {}
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}
