//! A minimal progress bar on stderr: redrawn in place on a terminal; on a file or a pipe, one
//! line per item for short lists and about twenty lines in all for long ones, so logs stay
//! readable.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Progress over a known number of items.
pub struct Progress {
    total: usize,
    done: usize,
    start_done: usize,
    start: Instant,
    tty: bool,
    enabled: bool,
}

impl Progress {
    /// A bar for `total` items; hidden when there is a single item.
    pub fn new(total: usize) -> Self {
        Self::starting_at(0, total)
    }

    /// A bar for `total` items of which `done` are already done (a resumed run).
    pub fn starting_at(done: usize, total: usize) -> Self {
        Progress {
            total,
            done,
            start_done: done,
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            enabled: total > 1,
        }
    }

    /// Marks one more item done, with a short label.
    pub fn tick(&mut self, label: &str) {
        self.advance(1, label);
    }

    /// Marks `n` more items done, with a short label.
    pub fn advance(&mut self, n: usize, label: &str) {
        self.done = (self.done + n).min(self.total);
        if !self.enabled {
            return;
        }
        let elapsed = self.start.elapsed().as_secs_f64();
        let rate = (self.done - self.start_done) as f64 / elapsed.max(1e-9);
        let eta = (self.total - self.done) as f64 / rate.max(1e-9);
        let width = 30;
        let filled = width * self.done / self.total.max(1);
        let bar: String = "#".repeat(filled) + &"-".repeat(width - filled);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(
                err,
                "\r[{bar}] {}/{} {:.0}s left  {:<40.40}",
                self.done, self.total, eta, label
            );
            if self.done == self.total {
                let _ = writeln!(err);
            }
        } else {
            let every = (self.total / 20).max(1);
            if self.total <= 50 || self.done.is_multiple_of(every) || self.done == self.total {
                let _ = writeln!(
                    err,
                    "[{}/{}] {label} ({:.0}s left)",
                    self.done, self.total, eta
                );
            }
        }
    }
}
