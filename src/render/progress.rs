//! Progress of image copies on stderr, as a [`registry::copy::Progress`](crate::registry::copy::Progress):
//! on a terminal one indicatif bar per image with bytes; otherwise (CI, tests, pipes) plain lines:
//! one when an image starts, at most one per image every [`LINE_INTERVAL`] while it copies, one when
//! it finishes. Each blob counts once: the bytes an image reports are those that reached the target
//! (a retried blob's first attempt taken back), and an image none of whose bytes moved (every blob
//! mounted or already there) says `mounted`, not `copied` ([`finished_line`]).
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::registry::copy::Progress;

/// Minimum time between two plain progress lines of one image.
pub const LINE_INTERVAL: Duration = Duration::from_secs(2);

/// What one image has done so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Bytes of the image's blobs (each blob once).
    pub total: u64,
    /// Blob bytes that reached the target through this process.
    pub moved: u64,
    /// Bytes of blobs found in the target without moving (mounted or already there).
    pub linked: u64,
    /// Some of them were mounted from another repository.
    pub mounted: bool,
}

impl Tally {
    fn done(&self) -> u64 {
        self.moved.saturating_add(self.linked)
    }
}

/// The line that ends an image: `copied IMAGE (6.00 MiB)` when bytes moved (with how much was
/// mounted or already there besides), `mounted IMAGE (6.00 MiB already in the registry, nothing
/// transferred)` when none did, `FAILED IMAGE (...)` when it failed.
pub fn finished_line(image: &str, ok: bool, t: &Tally) -> String {
    let how = if t.mounted {
        "mounted"
    } else {
        "already there"
    };
    match (ok, t.moved, t.linked) {
        (false, moved, _) => format!("FAILED {image} ({} transferred)", HumanBytes(moved)),
        (true, 0, 0) => format!("copied {image} (no blobs to transfer)"),
        (true, 0, linked) => format!(
            "mounted {image} ({} already in the registry, nothing transferred)",
            HumanBytes(linked)
        ),
        (true, moved, 0) => format!("copied {image} ({})", HumanBytes(moved)),
        (true, moved, linked) => format!(
            "copied {image} ({}; {} {how})",
            HumanBytes(moved),
            HumanBytes(linked)
        ),
    }
}

enum Mode {
    Bars {
        multi: MultiProgress,
        bars: HashMap<String, ProgressBar>,
    },
    /// Plain lines to stderr, or to a writer.
    Lines(Option<Box<dyn Write + Send>>),
}

struct State {
    mode: Mode,
    images: HashMap<String, (Tally, Option<Instant>)>,
}

/// Draws copy progress on stderr.
pub struct CopyProgress {
    state: Mutex<State>,
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
            Mode::Lines(None)
        };
        Self::with_mode(mode)
    }

    /// Plain lines to `out` instead of stderr.
    pub fn lines_to(out: Box<dyn Write + Send>) -> Self {
        Self::with_mode(Mode::Lines(Some(out)))
    }

    fn with_mode(mode: Mode) -> Self {
        CopyProgress {
            state: Mutex::new(State {
                mode,
                images: HashMap::new(),
            }),
        }
    }

    /// Prints a status line on stderr without tearing the bars.
    pub fn println(&self, line: &str) {
        match self.state.lock().as_deref_mut() {
            Ok(State { mode, .. }) => emit(mode, line),
            Err(_) => eprintln!("{line}"),
        }
    }

    fn style() -> ProgressStyle {
        ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }

    /// Updates `image`'s tally with `f`, then its bar (or, at most every [`LINE_INTERVAL`], a line
    /// when `report`).
    fn update(&self, image: &str, report: bool, f: impl FnOnce(&mut Tally)) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let State { mode, images } = &mut *state;
        let Some((tally, last)) = images.get_mut(image) else {
            return;
        };
        f(tally);
        match mode {
            Mode::Bars { bars, .. } => {
                if let Some(bar) = bars.get(image) {
                    bar.set_length(tally.total.max(tally.done()));
                    bar.set_position(tally.done());
                }
            }
            Mode::Lines(_) if report => {
                let now = Instant::now();
                if last.is_none_or(|t| now.duration_since(t) >= LINE_INTERVAL) {
                    *last = Some(now);
                    let line = format!(
                        "copying {image}: {} of about {}",
                        HumanBytes(tally.done()),
                        HumanBytes(tally.total.max(tally.done()))
                    );
                    emit(mode, &line);
                }
            }
            Mode::Lines(_) => {}
        }
    }
}

fn emit(mode: &mut Mode, line: &str) {
    match mode {
        Mode::Bars { multi, .. } => {
            if multi.println(line).is_err() {
                eprintln!("{line}");
            }
        }
        Mode::Lines(None) => eprintln!("{line}"),
        Mode::Lines(Some(out)) => {
            let _ = writeln!(out, "{line}");
        }
    }
}

impl Progress for CopyProgress {
    fn image_started(&self, image: &str) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let State { mode, images } = &mut *state;
        images.insert(image.to_string(), (Tally::default(), None));
        match mode {
            Mode::Bars { multi, bars } => {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(Self::style());
                bar.set_prefix(image.to_string());
                bars.insert(image.to_string(), bar);
            }
            Mode::Lines(_) => emit(mode, &format!("copying {image} ...")),
        }
    }

    fn add_total(&self, image: &str, n: u64) {
        self.update(image, false, |t| t.total = t.total.saturating_add(n));
    }

    fn bytes(&self, image: &str, n: u64) {
        self.update(image, true, |t| t.moved = t.moved.saturating_add(n));
    }

    fn discard(&self, image: &str, n: u64) {
        self.update(image, false, |t| t.moved = t.moved.saturating_sub(n));
    }

    fn linked(&self, image: &str, size: u64, mounted: bool) {
        self.update(image, true, |t| {
            t.linked = t.linked.saturating_add(size);
            t.mounted |= mounted;
        });
    }

    fn image_finished(&self, image: &str, ok: bool) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let State { mode, images } = &mut *state;
        let tally = images.remove(image).map(|(t, _)| t).unwrap_or_default();
        let line = finished_line(image, ok, &tally);
        if let Mode::Bars { multi, bars } = mode
            && let Some(bar) = bars.remove(image)
        {
            bar.finish_and_clear();
            multi.remove(&bar);
        }
        emit(mode, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(moved: u64, linked: u64, mounted: bool) -> Tally {
        Tally {
            total: moved + linked,
            moved,
            linked,
            mounted,
        }
    }

    #[test]
    fn the_last_line_says_what_moved() {
        let mib = 1024 * 1024;
        assert_eq!(
            finished_line("acme/a:1", true, &tally(6 * mib, 0, false)),
            "copied acme/a:1 (6.00 MiB)"
        );
        assert_eq!(
            finished_line("acme/a:1", true, &tally(0, 6 * mib, true)),
            "mounted acme/a:1 (6.00 MiB already in the registry, nothing transferred)"
        );
        assert_eq!(
            finished_line("acme/a:1", true, &tally(0, 6 * mib, false)),
            "mounted acme/a:1 (6.00 MiB already in the registry, nothing transferred)"
        );
        assert_eq!(
            finished_line("acme/a:1", true, &tally(4 * mib, 2 * mib, true)),
            "copied acme/a:1 (4.00 MiB; 2.00 MiB mounted)"
        );
        assert_eq!(
            finished_line("acme/a:1", true, &tally(4 * mib, 2 * mib, false)),
            "copied acme/a:1 (4.00 MiB; 2.00 MiB already there)"
        );
        assert_eq!(
            finished_line("acme/a:1", false, &tally(mib, 0, false)),
            "FAILED acme/a:1 (1.00 MiB transferred)"
        );
    }

    /// A buffer the progress writes its lines to.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_retried_blob_counts_once() {
        let buf = Buf::default();
        let p = CopyProgress::lines_to(Box::new(buf.clone()));
        p.image_started("acme/a:1");
        p.add_total("acme/a:1", 3000);
        p.bytes("acme/a:1", 1500);
        // The first attempt of the 2000-byte blob broke after 1500 bytes; the second went through.
        p.discard("acme/a:1", 1500);
        p.bytes("acme/a:1", 2000);
        p.linked("acme/a:1", 1000, true);
        p.image_finished("acme/a:1", true);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let last = out.lines().last().unwrap();
        assert_eq!(last, "copied acme/a:1 (1.95 KiB; 1000 B mounted)");
    }
}
