//! The harness that runs the real till window for a UI test. `TillWindow::start` starts
//! everything a UI test needs and `Drop` stops it again: its own Xvfb on a free display (of the
//! size asked for), `tauri-driver` (which starts `WebKitWebDriver`, which starts the app) on
//! free loopback ports in a process group of its own, and a session whose application is
//! `target/debug/omnitill --data-dir <temporary dir> --seed-demo`. A failing test leaves a
//! screenshot and the drivers' log in `target/ui-shots/<test>/`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::json;

use super::webdriver::{POLL_INTERVAL, WebDriver};

/// The debug build of the till, next to this test binary (target/debug/deps/it-… → target/debug).
pub fn app_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let app = profile_dir.join("omnitill");
    assert!(
        app.is_file(),
        "the till app {} is missing; build it first with `npm --prefix ui run build && cargo build -p omnitill`",
        app.display()
    );
    app
}

/// target/ (the parent of target/debug).
pub fn target_dir() -> PathBuf {
    app_binary()
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("target/debug has a parent")
}

/// tauri-driver on PATH, in $CARGO_HOME/bin or in ~/.cargo/bin.
fn tauri_driver_binary() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("tauri-driver"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        candidates.push(PathBuf::from(cargo_home).join("bin/tauri-driver"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin/tauri-driver"));
    }
    candidates.into_iter().find(|c| c.is_file()).unwrap_or_else(|| {
        panic!("tauri-driver is needed for UI tests; install it with `cargo install tauri-driver --version ^2 --locked`")
    })
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a loopback port can be bound");
    listener
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}

/// A child process started in its own process group, so that everything it starts in turn
/// can be ended with it.
fn spawn_in_own_group(command: &mut Command, what: &str) -> Child {
    command
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{what} could not be started: {e}"))
}

/// Ends a process group we started: SIGTERM, then SIGKILL if it lingers, and reaps the leader.
fn end_group(child: &mut Child) {
    let Ok(pgid) = i32::try_from(child.id()) else {
        return;
    };
    if child.try_wait().ok().flatten().is_none() {
        // SAFETY: kill(2) with a negative pid signals only the process group this harness
        // created with process_group(0); it has no memory-safety preconditions.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
            sleep(POLL_INTERVAL);
        }
    }
    // The leader may be gone while its children (WebKitWebDriver, the app) still run.
    // SAFETY: as above; a group with no members left makes kill return ESRCH, which is fine.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
}

/// An Xvfb server on a display of its own.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Starts a server whose one screen is `screen` pixels (`WIDTHxHEIGHT`).
    fn start(log: &Path, screen: &str) -> Xvfb {
        let mut last_failure = String::new();
        for _ in 0..20 {
            let number = 100 + rand::random_range(0..800u32);
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            let lock = PathBuf::from(format!("/tmp/.X{number}-lock"));
            if socket.exists() || lock.exists() {
                continue;
            }
            let log_file = std::fs::File::create(log).expect("the Xvfb log file can be created");
            let mut child = spawn_in_own_group(
                Command::new("Xvfb")
                    .arg(format!(":{number}"))
                    .args([
                        "-screen",
                        "0",
                        &format!("{screen}x24"),
                        "-nolisten",
                        "tcp",
                        "-noreset",
                    ])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(log_file),
                "Xvfb (apt-get install xvfb)",
            );
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(status)) = child.try_wait() {
                    last_failure = format!("Xvfb :{number} exited with {status}");
                    break;
                }
                if socket.exists() {
                    return Xvfb {
                        child,
                        display: format!(":{number}"),
                    };
                }
                sleep(POLL_INTERVAL);
            }
            end_group(&mut child);
            if last_failure.is_empty() {
                last_failure =
                    format!("Xvfb :{number} did not create {} in 10 s", socket.display());
            }
        }
        let log_text = std::fs::read_to_string(log).unwrap_or_default();
        panic!("no Xvfb display could be started; last failure: {last_failure}\n{log_text}");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        end_group(&mut self.child);
    }
}

/// The till app running in its real window under tauri-driver, on its own Xvfb display, with
/// a fresh demo ledger in a temporary directory.
pub struct TillWindow {
    // Field order is drop order after `Drop::drop`: the session is deleted there, then
    // tauri-driver ends, then Xvfb, then the data directory is removed.
    driver: WebDriver,
    tauri_driver: Child,
    _xvfb: Xvfb,
    data_dir: tempfile::TempDir,
    shots: PathBuf,
    shot_count: std::cell::Cell<u32>,
}

impl TillWindow {
    /// Starts Xvfb, tauri-driver and the app; `name` names the folder for screenshots and
    /// logs, target/ui-shots/<name>/.
    pub fn start(name: &str) -> TillWindow {
        TillWindow::start_with_args(name, &[])
    }

    /// As `start`, with more command-line arguments for the app (an enrolment, say).
    pub fn start_with_args(name: &str, extra_args: &[&str]) -> TillWindow {
        TillWindow::start_on_screen(name, "1280x800", extra_args)
    }

    /// As `start_with_args`, on a screen of `screen` pixels (`WIDTHxHEIGHT`).
    pub fn start_on_screen(name: &str, screen: &str, extra_args: &[&str]) -> TillWindow {
        let app = app_binary();
        let shots = target_dir().join("ui-shots").join(name);
        std::fs::create_dir_all(&shots).expect("the screenshot folder can be created");
        for entry in std::fs::read_dir(&shots)
            .expect("the screenshot folder can be read")
            .flatten()
        {
            if entry.path().extension().is_some_and(|e| e == "png") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let data_dir = tempfile::Builder::new()
            .prefix("omnitill-ui-")
            .tempdir()
            .expect("a temporary data directory can be made");

        let xvfb = Xvfb::start(&shots.join("xvfb.log"), screen);
        let port = free_port();
        let mut native_port = free_port();
        while native_port == port {
            native_port = free_port();
        }
        let driver_log_path = shots.join("driver.log");
        let driver_log =
            std::fs::File::create(&driver_log_path).expect("the driver log can be created");
        let mut tauri_driver = spawn_in_own_group(
            Command::new(tauri_driver_binary())
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ])
                .args(["--native-host", "127.0.0.1"])
                .env("DISPLAY", &xvfb.display)
                .env_remove("WAYLAND_DISPLAY")
                .env("GDK_BACKEND", "x11")
                // No accessibility bus under Xvfb; without this GTK waits for it at start-up.
                .env("NO_AT_BRIDGE", "1")
                .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
                .stdin(Stdio::null())
                .stdout(
                    driver_log
                        .try_clone()
                        .expect("the log file handle can be cloned"),
                )
                .stderr(driver_log),
            "tauri-driver",
        );

        // tauri-driver listens at once; WebKitWebDriver, which it starts, a little later.
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        for listening in [
            address,
            SocketAddr::from((Ipv4Addr::LOCALHOST, native_port)),
        ] {
            let started = Instant::now();
            loop {
                if let Ok(Some(status)) = tauri_driver.try_wait() {
                    let log = std::fs::read_to_string(&driver_log_path).unwrap_or_default();
                    panic!("tauri-driver exited with {status} before {listening} listened:\n{log}");
                }
                if TcpStream::connect_timeout(&listening, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if started.elapsed() > Duration::from_secs(15) {
                    end_group(&mut tauri_driver);
                    let log = std::fs::read_to_string(&driver_log_path).unwrap_or_default();
                    panic!(
                        "nothing listened on {listening} within 15 s of starting tauri-driver:\n{log}"
                    );
                }
                sleep(POLL_INTERVAL);
            }
        }

        let mut app_args = vec![
            json!("--data-dir"),
            json!(data_dir.path()),
            json!("--seed-demo"),
        ];
        app_args.extend(extra_args.iter().map(|arg| json!(arg)));
        let capabilities = json!({
            "alwaysMatch": {
                "tauri:options": {
                    "application": app,
                    "args": app_args,
                }
            }
        });
        // The native driver may still be starting behind tauri-driver's port; retry briefly.
        let base = format!("http://{address}");
        let mut attempt = 0;
        let driver = loop {
            attempt += 1;
            match WebDriver::new_session(&base, capabilities.clone()) {
                Ok(driver) => break driver,
                Err(e) if attempt < 5 => {
                    eprintln!("new WebDriver session failed (attempt {attempt}), retrying: {e}");
                    sleep(Duration::from_millis(500));
                }
                Err(e) => {
                    end_group(&mut tauri_driver);
                    let log = std::fs::read_to_string(&driver_log_path).unwrap_or_default();
                    panic!("no WebDriver session with the till app could be opened: {e}\n{log}");
                }
            }
        };
        TillWindow {
            driver,
            tauri_driver,
            _xvfb: xvfb,
            data_dir,
            shots,
            shot_count: std::cell::Cell::new(0),
        }
    }

    /// The session with the app's window.
    pub fn driver(&self) -> &WebDriver {
        &self.driver
    }

    /// The ledger file the app writes.
    pub fn ledger_path(&self) -> PathBuf {
        self.data_dir.path().join("till.sqlite3")
    }

    /// Saves a numbered screenshot, target/ui-shots/<test>/NN-<step>.png, and returns its path.
    pub fn shot(&self, step: &str) -> PathBuf {
        let number = self.shot_count.get() + 1;
        self.shot_count.set(number);
        let path = self.shots.join(format!("{number:02}-{step}.png"));
        self.driver
            .screenshot(&path)
            .unwrap_or_else(|e| panic!("screenshot {} failed: {e}", path.display()));
        path
    }
}

impl Drop for TillWindow {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let path = self.shots.join("failure.png");
            match self.driver.screenshot(&path) {
                Ok(()) => eprintln!("the window at the failure: {}", path.display()),
                Err(e) => eprintln!("no screenshot of the failure: {e}"),
            }
            eprintln!("driver log: {}", self.shots.join("driver.log").display());
        }
        let _ = self.driver.delete_session();
        end_group(&mut self.tauri_driver);
    }
}
