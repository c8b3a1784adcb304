//! Measurements of the desktop app as a process: cold start to a ready screen, and memory.
//!
//! The app prints `OMNITILL_READY ms=<n>` on stdout once its first screen has rendered. Cold
//! start is the wall time from spawning `omnitill --data-dir DIR --exit-when-ready` to reading
//! that line. Memory is read from `/proc` one second after the line, for the app process and
//! for every process below it (WebKit's web and network processes), before the app is stopped.
//! The app's stderr goes to a log file whose tail is quoted when it fails to start.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The longest wait for the ready line before a start counts as failed.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest wait for the app to exit after it was told to.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after the ready line memory is read.
const SETTLE: Duration = Duration::from_secs(1);

/// The app binary and the data directory it runs on.
pub struct App {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

/// Resident memory once ready, in KiB.
pub struct Memory {
    pub app_kib: u64,
    /// The app's `RssAnon`, `RssFile` and `RssShmem` lines, to say where its memory is.
    pub app_breakdown: String,
    /// Proportional set size: shared library pages counted once across the processes sharing
    /// them (WebKitGTK's libraries are shared with its web process).
    pub app_pss_kib: Option<u64>,
    /// The app's own anonymous memory (heap, stacks), `RssAnon`.
    pub app_anon_kib: Option<u64>,
    pub descendants_kib: u64,
    /// The processes below the app, as (pid, name, KiB).
    pub descendants: Vec<(u32, String, u64)>,
}

impl App {
    /// Spawns the app and waits for its ready line. Returns the child and the time to the line.
    fn launch(&self, exit_when_ready: bool) -> Result<(Child, Duration)> {
        let log = File::create(&self.log)
            .with_context(|| format!("cannot create the app log {}", self.log.display()))?;
        let mut command = Command::new(&self.binary);
        command
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        if exit_when_ready {
            command.arg("--exit-when-ready");
        }
        let started = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("the app's stdout was not captured")?;
        let (ready_tx, ready_rx) = mpsc::channel();
        // The reader keeps draining stdout after the ready line, so the app never blocks on it.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("OMNITILL_READY") {
                    let _ = ready_tx.send(Instant::now());
                }
            }
        });
        match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(at) => Ok((child, at.duration_since(started))),
            Err(reason) => {
                let _ = child.kill();
                let _ = child.wait();
                let why = match reason {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("no ready line within {READY_TIMEOUT:?}")
                    }
                    mpsc::RecvTimeoutError::Disconnected => {
                        "it exited without a ready line".to_owned()
                    }
                };
                bail!(
                    "the app did not become ready: {why}; its stderr ends with:\n{}",
                    self.log_tail()
                )
            }
        }
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// One cold start: spawn with `--exit-when-ready`, time to the ready line, wait for exit.
    pub fn cold_start(&self) -> Result<Duration> {
        let (mut child, ready) = self.launch(true)?;
        if !wait_for_exit(&mut child, EXIT_TIMEOUT)? {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the app was ready after {ready:?} but did not exit within {EXIT_TIMEOUT:?}");
        }
        Ok(ready)
    }

    /// Starts the app, reads its resident memory a second after it is ready, and stops it.
    pub fn memory(&self) -> Result<Memory> {
        let (mut child, _) = self.launch(false)?;
        thread::sleep(SETTLE);
        let pid = child.id();
        let measured = read_memory(pid);
        let helpers = descendants_of(pid);
        stop(&mut child, &helpers)?;
        measured
    }
}

/// Resident memory of the app and of every process below it.
fn read_memory(pid: u32) -> Result<Memory> {
    let app_kib = vm_rss_kib(pid).context("reading the app's VmRSS")?;
    let descendants: Vec<(u32, String, u64)> = descendants_of(pid)
        .into_iter()
        .filter_map(|child| {
            let rss = vm_rss_kib(child).ok()?;
            Some((child, process_name(child), rss))
        })
        .collect();
    let app_breakdown = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("Rss"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ");
    let app_pss_kib = kib_line(&format!("/proc/{pid}/smaps_rollup"), "Pss:");
    let app_anon_kib = kib_line(&format!("/proc/{pid}/status"), "RssAnon:");
    Ok(Memory {
        app_kib,
        app_breakdown,
        app_pss_kib,
        app_anon_kib,
        descendants_kib: descendants.iter().map(|(_, _, rss)| rss).sum(),
        descendants,
    })
}

/// Waits up to `timeout` for the child to exit; returns whether it did.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the app with SIGTERM (SIGKILL if it lingers), then any of its helper processes that
/// outlive it.
fn stop(child: &mut Child, helpers: &[u32]) -> Result<()> {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    if !wait_for_exit(child, Duration::from_secs(5))? {
        child.kill().context("cannot kill the app")?;
        child.wait()?;
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while helpers
        .iter()
        .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(50));
    }
    for pid in helpers {
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
    }
    Ok(())
}

/// The KiB figure of the first line starting with `label` in a /proc file.
fn kib_line(path: &str, label: &str) -> Option<u64> {
    fs::read_to_string(path)
        .ok()?
        .lines()
        .find(|line| line.starts_with(label))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `VmRSS` of a process, in KiB.
fn vm_rss_kib(pid: u32) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .context("no VmRSS line")?;
    let kib = line
        .split_whitespace()
        .nth(1)
        .context("an empty VmRSS line")?
        .parse()?;
    Ok(kib)
}

fn process_name(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

/// The parent pid from the text of `/proc/<pid>/stat`. The name in parentheses may hold
/// spaces and parentheses, so fields are counted after the last ')'.
fn parent_of(stat: &str) -> Option<u32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Every process below `root`, children and their children.
pub fn descendants_of(root: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parent_of(&stat)?))
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_pid_is_read_after_the_process_name() {
        assert_eq!(
            parent_of("42 (omnitill) S 7 42 42 0"),
            Some(7),
            "the field after the state is the parent"
        );
        assert_eq!(
            parent_of("43 (Web Content (x)) S 42 1 1 0"),
            Some(42),
            "a name with spaces and parentheses must not shift the fields"
        );
        assert_eq!(parent_of("garbage"), None, "a malformed line has no parent");
    }

    #[test]
    fn this_process_has_a_resident_size() {
        let kib = vm_rss_kib(std::process::id()).unwrap_or(0);
        assert!(kib > 0, "a running process must report a VmRSS above zero");
    }
}
