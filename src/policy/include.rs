//! Files the policy names (`full_description_file`, a mirror's `verify` key and trusted root): read
//! only from inside the policy's directory tree, only when they are regular files, and never more
//! than each kind's limit allows ([`read`] for full descriptions, [`read_confined`] for the rest).
//!
//! The policy comes from a pull request, so the path in it is hostile: an absolute path
//! (`/proc/self/environ`), a `../` escape or a symlink committed into the repository could otherwise
//! put the runner's environment into the plan, a device (`/dev/zero`) could fill memory and a FIFO
//! could block the load forever. The checks, in order: the path is relative; it resolves (symlinks
//! included) to a place under the canonical policy directory; it is a regular file before and after
//! opening (opened non-blocking, so a FIFO swapped in between cannot hang); at most
//! `4 * FULL_DESCRIPTION_MAX` bytes plus one are read, so no file costs more than that in memory.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::rules::FULL_DESCRIPTION_MAX;

/// A UTF-8 character is at most 4 bytes: a file longer than this has more than the allowed characters.
const MAX_BYTES: usize = 4 * FULL_DESCRIPTION_MAX;

/// Why a named file was refused: the headline, the caret label and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refused {
    pub message: String,
    pub label: String,
    pub help: String,
}

fn refused(message: String, label: impl Into<String>, help: impl Into<String>) -> Refused {
    Refused {
        message,
        label: label.into(),
        help: help.into(),
    }
}

const INSIDE_HELP: &str = "name a file in the policy file's directory or below it, relative to the policy file (symlinks are followed and must stay inside too)";

/// What kind of non-regular file `t` is, for the message.
fn kind(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading without blocking on a FIFO (O_NONBLOCK has no effect on regular files).
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Reads the text file `written` (as written in the policy, relative to `base`, the directory of the
/// policy file; `""` is the current directory) within the limits above.
pub(super) fn read(base: &Path, written: &str) -> Result<String, Refused> {
    let shown = written;
    let bytes = read_confined(base, written, "full description file", MAX_BYTES)?;
    let too_long = |n: String| {
        refused(
            format!(
                "`{shown}` is {n} characters long; Docker Hub allows at most {FULL_DESCRIPTION_MAX} in a full description"
            ),
            "file too long",
            "shorten the file, or link to the full text from a shorter one",
        )
    };
    if bytes.len() > MAX_BYTES {
        return Err(too_long(format!("more than {FULL_DESCRIPTION_MAX}")));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        refused(
            format!(
                "`{shown}` is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "not UTF-8",
            "save the file as UTF-8",
        )
    })?;
    let n = text.chars().count();
    if n > FULL_DESCRIPTION_MAX {
        return Err(too_long(n.to_string()));
    }
    Ok(text)
}

/// Reads the file `written` (relative to `base`, as for [`read`]) confined to the policy's
/// directory tree, refusing anything but a regular file; at most `max_bytes + 1` bytes are read, so
/// a caller sees a longer file as longer than `max_bytes`. `what` names the kind of file in messages.
pub(super) fn read_confined(
    base: &Path,
    written: &str,
    what: &str,
    max_bytes: usize,
) -> Result<Vec<u8>, Refused> {
    let shown = written;
    let unreadable_label = format!("unreadable {what}");
    let rel = Path::new(written);
    if rel.is_absolute() || rel.components().any(|c| matches!(c, Component::Prefix(_))) {
        return Err(refused(
            format!(
                "`{shown}` is an absolute path; files named by the policy must be inside its repository"
            ),
            "absolute path",
            INSIDE_HELP,
        ));
    }
    let dir = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let root = dir.canonicalize().map_err(|e| {
        refused(
            format!(
                "cannot resolve the policy's directory `{}`: {e}",
                dir.display()
            ),
            &unreadable_label,
            "run vetted where the policy's directory is readable",
        )
    })?;
    let joined: PathBuf = base.join(rel);
    let resolved = joined.canonicalize().map_err(|e| {
        refused(
            format!("cannot read `{}`: {e}", joined.display()),
            &unreadable_label,
            "the path is relative to the policy file",
        )
    })?;
    if !resolved.starts_with(&root) {
        return Err(refused(
            format!(
                "`{shown}` resolves to `{}`, outside the policy's directory `{}`",
                resolved.display(),
                root.display()
            ),
            "outside the policy's directory",
            INSIDE_HELP,
        ));
    }
    let not_regular = |t: std::fs::FileType| {
        refused(
            format!("`{shown}` is {}, not a regular file", kind(t)),
            "not a regular file",
            format!("name a regular file (a {what} in the repository)"),
        )
    };
    let unreadable = |e: std::io::Error| {
        refused(
            format!("cannot read `{}`: {e}", joined.display()),
            &unreadable_label,
            "the path is relative to the policy file",
        )
    };
    let meta = std::fs::metadata(&resolved).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let file = open(&resolved).map_err(unreadable)?;
    // The path may have been swapped between the check and the open: check what was opened.
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let mut bytes =
        Vec::with_capacity(usize::try_from(meta.len()).map_or(max_bytes, |n| n.min(max_bytes + 1)));
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    Ok(bytes)
}
