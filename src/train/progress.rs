//! Progress bars that draw only on a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar over `total` units, hidden unless asked for and stderr is a
/// terminal (so logs, CI and notebooks stay clean).
#[derive(Debug)]
pub struct Progress(ProgressBar);

impl Progress {
    pub fn new(total: u64, show: bool, what: &str) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if show && std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]") {
                bar.set_style(style);
            }
            bar.set_prefix(what.to_string());
        }
        Progress(bar)
    }

    /// One unit done; `loss` is shown beside the bar.
    pub fn step(&self, loss: f64) {
        self.0.inc(1);
        if self.0.position() % 10 == 0 {
            self.0.set_message(format!("loss {loss:.4}"));
        }
    }

    /// Jump to `pos` units done (a resumed run).
    pub fn set_position(&self, pos: u64) {
        self.0.set_position(pos);
    }

    /// One unit done with a message.
    pub fn step_with(&self, msg: String) {
        self.0.inc(1);
        self.0.set_message(msg);
    }

    /// Print a line above the bar (or plainly when there is no bar).
    pub fn println(&self, line: &str) {
        if self.0.is_hidden() {
            println!("{line}");
        } else {
            self.0.println(line);
        }
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
