//! Progress of image copies on stderr, as a [`registry::copy::Progress`](crate::registry::copy::Progress):
//! on a terminal one indicatif bar per image with bytes; otherwise (CI, tests, pipes) plain lines:
//! one when an image starts, at most one per image every [`LINE_INTERVAL`] while it copies, one when
//! it finishes.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::registry::copy::Progress;

/// Minimum time between two plain progress lines of one image.
pub const LINE_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Plain {
    total: u64,
    done: u64,
    last: Option<Instant>,
}

enum Mode {
    Bars {
        multi: MultiProgress,
        bars: HashMap<String, ProgressBar>,
    },
    Lines(HashMap<String, Plain>),
}

/// Draws copy progress on stderr.
pub struct CopyProgress {
    mode: Mutex<Mode>,
}

impl CopyProgress {
    /// Bars when `terminal` (stderr is a TTY), plain lines otherwise.
    pub fn new(terminal: bool) -> Self {
        let mode = if terminal {
            Mode::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: HashMap::new(),
            }
        } else {
            Mode::Lines(HashMap::new())
        };
        CopyProgress {
            mode: Mutex::new(mode),
        }
    }

    /// Prints a status line on stderr without tearing the bars.
    pub fn println(&self, line: &str) {
        match self.mode.lock().as_deref() {
            Ok(Mode::Bars { multi, .. }) => {
                if multi.println(line).is_err() {
                    eprintln!("{line}");
                }
            }
            _ => eprintln!("{line}"),
        }
    }

    fn style() -> ProgressStyle {
        ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }
}

impl Progress for CopyProgress {
    fn image_started(&self, image: &str) {
        let Ok(mut mode) = self.mode.lock() else {
            return;
        };
        match &mut *mode {
            Mode::Bars { multi, bars } => {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(Self::style());
                bar.set_prefix(image.to_string());
                bars.insert(image.to_string(), bar);
            }
            Mode::Lines(state) => {
                state.insert(image.to_string(), Plain::default());
                eprintln!("copying {image} ...");
            }
        }
    }

    fn add_total(&self, image: &str, n: u64) {
        let Ok(mut mode) = self.mode.lock() else {
            return;
        };
        match &mut *mode {
            Mode::Bars { bars, .. } => {
                if let Some(bar) = bars.get(image) {
                    bar.inc_length(n);
                }
            }
            Mode::Lines(state) => {
                if let Some(s) = state.get_mut(image) {
                    s.total += n;
                }
            }
        }
    }

    fn bytes(&self, image: &str, n: u64) {
        let Ok(mut mode) = self.mode.lock() else {
            return;
        };
        match &mut *mode {
            Mode::Bars { bars, .. } => {
                if let Some(bar) = bars.get(image) {
                    bar.inc(n);
                }
            }
            Mode::Lines(state) => {
                if let Some(s) = state.get_mut(image) {
                    s.done += n;
                    let now = Instant::now();
                    let due = s
                        .last
                        .is_none_or(|t| now.duration_since(t) >= LINE_INTERVAL);
                    if due {
                        s.last = Some(now);
                        eprintln!(
                            "copying {image}: {} of about {}",
                            HumanBytes(s.done),
                            HumanBytes(s.total.max(s.done))
                        );
                    }
                }
            }
        }
    }

    fn image_finished(&self, image: &str, ok: bool) {
        let Ok(mut mode) = self.mode.lock() else {
            return;
        };
        let verdict = if ok { "copied" } else { "FAILED" };
        match &mut *mode {
            Mode::Bars { multi, bars } => {
                if let Some(bar) = bars.remove(image) {
                    let done = bar.position();
                    bar.finish_and_clear();
                    multi.remove(&bar);
                    let _ = multi.println(format!("{verdict} {image} ({})", HumanBytes(done)));
                }
            }
            Mode::Lines(state) => {
                let done = state.remove(image).map(|s| s.done).unwrap_or(0);
                eprintln!("{verdict} {image} ({})", HumanBytes(done));
            }
        }
    }
}
