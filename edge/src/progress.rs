//! A minimal progress bar on stderr: redrawn in place on a terminal, one line per item when
//! stderr is a file or a pipe (so logs stay readable).

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Progress over a known number of items.
pub struct Progress {
    total: usize,
    done: usize,
    start: Instant,
    tty: bool,
    enabled: bool,
}

impl Progress {
    /// A bar for `total` items; hidden when there is a single item.
    pub fn new(total: usize) -> Self {
        Progress {
            total,
            done: 0,
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            enabled: total > 1,
        }
    }

    /// Marks one more item done, with a short label.
    pub fn tick(&mut self, label: &str) {
        self.done += 1;
        if !self.enabled {
            return;
        }
        let elapsed = self.start.elapsed().as_secs_f64();
        let eta = elapsed / self.done as f64 * (self.total - self.done) as f64;
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
            let _ = writeln!(err, "[{}/{}] {label}", self.done, self.total);
        }
    }
}
