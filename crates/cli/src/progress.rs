//! Progress on stderr, drawn only when stderr is a terminal (hidden otherwise, so logs and
//! test transcripts stay clean).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn visible() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar over `total` bytes; its message says what is being worked on.
pub fn bytes(total: u64) -> ProgressBar {
    if !visible() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    // The message (a file name of any length) takes the room left and is cut to the terminal width,
    // so the bar never wraps.
    let style =
        ProgressStyle::with_template("{wide_msg} [{bar:20}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}, {eta} left")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

/// A spinner counting bytes, for work whose total is not known up front.
pub fn spinner(msg: &'static str) -> ProgressBar {
    if !visible() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} {binary_bytes} {binary_bytes_per_sec}  {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    pb.set_style(style);
    pb.set_message(msg);
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A progress callback of the shared use cases (`(done, total)` bytes) that moves `pb`.
pub fn track(pb: &ProgressBar) -> impl FnMut(u64, u64) -> bool + '_ {
    |done, total| {
        pb.set_length(total);
        pb.set_position(done);
        true
    }
}
