//! Measuring the tools: child processes run a bounded number at a time, their wall time, CPU time,
//! peak RSS (`wait4` rusage) and bytes written (`/proc/PID/io`, read before reaping).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// What one measured run (one or more child processes) cost.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Measure {
    pub(crate) wall: Duration,
    /// Largest peak RSS of the children, KiB.
    pub(crate) max_rss_kib: u64,
    /// CPU time (user + system) of the children.
    pub(crate) cpu: Duration,
    pub(crate) written_bytes: u64,
}

/// `/proc/PID/io` rchar and wchar. wchar counts every write(2)/writev(2), sockets included, so it
/// is the bytes a tool sent; rchar misses recv(2) (which tokio reads sockets with), so reads are
/// not compared.
fn proc_io(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("rchar:"), field("wchar:"))
}

/// Waits for `child` to exit, reads its I/O counters before reaping it, then reaps it with
/// `wait4` for its rusage. Returns (exit ok, peak RSS KiB, bytes written, CPU time).
fn reap(child: Child) -> Result<(bool, u64, u64, Duration)> {
    let pid = child.id();
    // SAFETY: plain syscalls on our own child's pid with zeroed out-parameters.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        if libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) != 0 {
            bail!("waitid: {}", std::io::Error::last_os_error());
        }
        let (_, written) = proc_io(pid);
        let mut status = 0;
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) < 0 {
            bail!("wait4: {}", std::io::Error::last_os_error());
        }
        std::mem::forget(child);
        let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        let time = |t: libc::timeval| {
            Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
                + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
        };
        let cpu = time(usage.ru_utime) + time(usage.ru_stime);
        Ok((
            ok,
            u64::try_from(usage.ru_maxrss).unwrap_or(0),
            written,
            cpu,
        ))
    }
}

/// Runs the commands, at most `parallel` at a time, and measures them together. Each
/// command's stderr goes to `log` (appended); a failure names the log.
pub(crate) fn run_measured(commands: Vec<Command>, parallel: usize, log: &Path) -> Result<Measure> {
    let start = Instant::now();
    let mut m = Measure::default();
    let mut queue = commands.into_iter();
    let mut running: Vec<Child> = Vec::new();
    let mut failed = false;
    loop {
        while running.len() < parallel {
            let Some(mut cmd) = queue.next() else { break };
            let log_file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)?;
            cmd.stdin(Stdio::null())
                .stdout(log_file.try_clone()?)
                .stderr(log_file);
            running.push(cmd.spawn().with_context(|| format!("starting {cmd:?}"))?);
        }
        if running.is_empty() {
            break;
        }
        // Reap whichever child exits first (bounded: each child is reaped exactly once).
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waits for any of our children without reaping it.
        if unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOWAIT) } != 0 {
            bail!("waitid: {}", std::io::Error::last_os_error());
        }
        // SAFETY: si_pid is valid for an exited child.
        let pid = unsafe { info.si_pid() } as u32;
        let Some(pos) = running.iter().position(|c| c.id() == pid) else {
            bail!("an unexpected child {pid} exited");
        };
        let (ok, rss, written, cpu) = reap(running.swap_remove(pos))?;
        failed |= !ok;
        m.cpu += cpu;
        m.max_rss_kib = m.max_rss_kib.max(rss);
        m.written_bytes += written;
    }
    m.wall = start.elapsed();
    if failed {
        // The work dir is removed on exit: the error carries the log's end.
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        bail!(
            "a measured command failed; {} ends:\n{}",
            log.display(),
            lines[lines.len().saturating_sub(20)..].join("\n")
        );
    }
    Ok(m)
}
