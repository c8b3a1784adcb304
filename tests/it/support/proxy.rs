//! A TCP proxy on loopback that sits between a till and the cloud and injects network faults.
//!
//! Each till under test talks to its own `FaultProxy`, so one till can be partitioned while the
//! others sync. The proxy relays bytes and does not parse HTTP; it relies on the way HTTP/1.1
//! clients use a connection (a request, then its response, then the next request), so:
//! - bytes from the till while a request fault is set start (or continue) a request;
//! - bytes from the cloud are a response, and the cloud answers a push only after it committed.
//!
//! Faults (`Fault`) are set for as long as they should last (`set`), or for the next event only
//! (`once`). Counters say what happened, so a test can act at a chosen moment: for example wait
//! until a push was forwarded, then kill the cloud while it applies it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::ports::PortReservation;

/// What the proxy does to traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Relay everything as it comes.
    Pass,
    /// Nothing listens: new connections are refused and open ones are cut.
    Refuse,
    /// Accept the request's bytes and close the connection before the cloud sees them.
    DropRequest,
    /// Relay the request; when the cloud's answer starts (it has committed), close the
    /// connection without passing the answer on.
    DropResponse,
    /// Relay the request and the first bytes of the answer, then reset the connection.
    ResetMidResponse,
    /// Hold each request this long before relaying it.
    Delay(Duration),
    /// Hold the cloud's answers until the fault changes (the till waits with its request in
    /// flight). The cloud has already committed what it answers.
    HoldResponses,
}

/// Counts of what passed through, for tests to wait on.
#[derive(Debug, Default)]
pub struct Counters {
    pub connections: AtomicU64,
    /// Connections whose relay has ended (both directions closed).
    pub connections_ended: AtomicU64,
    /// Reads from the till that were relayed to the cloud (a request, or part of one).
    pub requests_forwarded: AtomicU64,
    /// Reads from the till that were thrown away by `DropRequest`.
    pub requests_dropped: AtomicU64,
    /// Answers (their first read) that started coming back from the cloud.
    pub responses_started: AtomicU64,
    pub responses_dropped: AtomicU64,
    pub resets: AtomicU64,
    pub bytes_to_cloud: AtomicU64,
    pub bytes_to_till: AtomicU64,
}

struct Shared {
    upstream: SocketAddr,
    fault: Mutex<(Fault, bool)>,
    counters: Counters,
    /// Clones of every open connection's sockets, by connection number, so faults can cut them.
    live: Mutex<Vec<(u64, TcpStream)>>,
    stop: AtomicBool,
}

impl Shared {
    fn current(&self) -> Fault {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    /// The fault for an event; a one-shot fault is used up by the event it matches.
    fn take(&self, matches: impl Fn(Fault) -> bool) -> Fault {
        let mut guard = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        let (fault, once) = *guard;
        if matches(fault) && once {
            *guard = (Fault::Pass, false);
        }
        fault
    }

    fn cut_all(&self) {
        for (_, stream) in self.live.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// The proxy: listens on a loopback port and relays to `upstream`.
pub struct FaultProxy {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<thread::JoinHandle<()>>,
    /// Keeps the port the proxy's own while its listener is closed.
    _reservation: PortReservation,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of the cloud at `upstream`
    /// (`127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("the cloud's address is IP:PORT");
        assert!(
            upstream.ip().is_loopback(),
            "the proxy only relays to loopback"
        );
        // The port stays the proxy's while `Refuse` has its listener closed.
        let reservation = PortReservation::new();
        let address = reservation.address();
        let listener = TcpListener::bind(address).expect("the proxy listens on its reserved port");
        let shared = Arc::new(Shared {
            upstream,
            fault: Mutex::new((Fault::Pass, false)),
            counters: Counters::default(),
            live: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = shared.clone();
            thread::spawn(move || accept_loop(listener, address, &shared))
        };
        FaultProxy {
            address,
            shared,
            acceptor: Some(acceptor),
            _reservation: reservation,
        }
    }

    /// The URL a till should use to reach the cloud through this proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Sets a fault until the next call to `set` or `once`.
    pub fn set(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap_or_else(|p| p.into_inner()) = (fault, false);
        if fault == Fault::Refuse {
            self.shared.cut_all();
        }
    }

    /// Sets a fault for the next event it applies to; then the proxy passes traffic again.
    /// (`Refuse` and `HoldResponses` have no single event, so they behave as with `set`.)
    pub fn once(&self, fault: Fault) {
        let once = !matches!(fault, Fault::Refuse | Fault::HoldResponses | Fault::Pass);
        *self.shared.fault.lock().unwrap_or_else(|p| p.into_inner()) = (fault, once);
        if fault == Fault::Refuse {
            self.shared.cut_all();
        }
    }

    /// Heals the link.
    pub fn pass(&self) {
        self.set(Fault::Pass);
    }

    pub fn fault(&self) -> Fault {
        self.shared.current()
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Connections accepted and not yet ended. Once it is zero after a peer died, nothing of
    /// that peer's traffic can still move a counter.
    pub fn open_connections(&self) -> u64 {
        let counters = &self.shared.counters;
        let ended = counters.connections_ended.load(Ordering::SeqCst);
        counters.connections.load(Ordering::SeqCst) - ended
    }

    /// Cuts every open connection now (the peers see a closed connection).
    pub fn cut_connections(&self) {
        self.shared.cut_all();
    }

    /// Waits until `condition` holds for the counters, up to `timeout`; returns whether it did.
    pub fn wait_for(&self, timeout: Duration, condition: impl Fn(&Counters) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if condition(&self.shared.counters) {
                return true;
            }
            thread::sleep(Duration::from_millis(2));
        }
        condition(&self.shared.counters)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.cut_all();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Accepts connections until the proxy stops. While the fault is `Refuse` the port is closed,
/// so connecting fails as it does when nothing listens; it opens again on the same port after.
fn accept_loop(listener: TcpListener, address: SocketAddr, shared: &Arc<Shared>) {
    let mut listener = Some(listener);
    while !shared.stop.load(Ordering::SeqCst) {
        let refusing = shared.current() == Fault::Refuse;
        match (&listener, refusing) {
            (Some(_), true) => {
                listener = None;
                shared.cut_all();
                continue;
            }
            (None, false) => {
                // The reservation kept the port ours; std sets SO_REUSEADDR, so it binds again.
                match TcpListener::bind(address) {
                    Ok(again) => listener = Some(again),
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
                continue;
            }
            (None, true) => {
                thread::sleep(Duration::from_millis(5));
                continue;
            }
            (Some(_), false) => {}
        }
        let Some(open) = &listener else { continue };
        if open.set_nonblocking(true).is_err() {
            continue;
        }
        match open.accept() {
            Ok((till_side, _)) => {
                let _ = till_side.set_nonblocking(false);
                let number = shared.counters.connections.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                thread::spawn(move || relay(number, till_side, &shared));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(2));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Relays one connection in both directions, applying the faults, and counts its end.
fn relay(number: u64, till_side: TcpStream, shared: &Arc<Shared>) {
    relay_until_closed(number, till_side, shared);
    shared
        .counters
        .connections_ended
        .fetch_add(1, Ordering::SeqCst);
}

fn relay_until_closed(number: u64, till_side: TcpStream, shared: &Arc<Shared>) {
    let Ok(cloud_side) = TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(3))
    else {
        // The cloud is down: the till sees its connection closed.
        let _ = till_side.shutdown(Shutdown::Both);
        return;
    };
    let _ = till_side.set_nodelay(true);
    let _ = cloud_side.set_nodelay(true);
    {
        let mut live = shared.live.lock().unwrap_or_else(|p| p.into_inner());
        for stream in [&till_side, &cloud_side] {
            if let Ok(clone) = stream.try_clone() {
                live.push((number, clone));
            }
        }
    }
    let mut reset = false;
    let clones = (
        till_side.try_clone(),
        cloud_side.try_clone(),
        till_side.try_clone(),
        cloud_side.try_clone(),
    );
    if let (Ok(till_read), Ok(cloud_write), Ok(till_write), Ok(cloud_read)) = clones {
        let to_cloud = {
            let shared = shared.clone();
            thread::spawn(move || till_to_cloud(till_read, cloud_write, &shared))
        };
        let ending = cloud_to_till(cloud_read, till_write, shared);
        let _ = to_cloud.join();
        if ending == Ending::Reset {
            set_linger_zero(&till_side);
        }
        reset = ending == Ending::Reset;
    }
    // Dropping the last descriptors closes the sockets; after `set_linger_zero` the till's side
    // closes with a TCP reset rather than a FIN.
    shared
        .live
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(n, _)| *n != number);
    if !reset {
        close_both(&till_side, &cloud_side);
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Closed,
    Reset,
}

fn close_both(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

fn till_to_cloud(mut till: TcpStream, mut cloud: TcpStream, shared: &Shared) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match till.read(&mut buffer) {
            Ok(0) | Err(_) => {
                let _ = cloud.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        match shared.take(|f| matches!(f, Fault::DropRequest | Fault::Delay(_))) {
            Fault::Refuse => return close_both(&till, &cloud),
            Fault::DropRequest => {
                shared
                    .counters
                    .requests_dropped
                    .fetch_add(1, Ordering::SeqCst);
                return close_both(&till, &cloud);
            }
            Fault::Delay(delay) => thread::sleep(delay),
            _ => {}
        }
        if cloud.write_all(&buffer[..n]).is_err() {
            return close_both(&till, &cloud);
        }
        shared
            .counters
            .bytes_to_cloud
            .fetch_add(n as u64, Ordering::SeqCst);
        shared
            .counters
            .requests_forwarded
            .fetch_add(1, Ordering::SeqCst);
    }
}

fn cloud_to_till(mut cloud: TcpStream, mut till: TcpStream, shared: &Shared) -> Ending {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match cloud.read(&mut buffer) {
            Ok(0) | Err(_) => return closed(&till, &cloud),
            Ok(n) => n,
        };
        shared
            .counters
            .responses_started
            .fetch_add(1, Ordering::SeqCst);
        while shared.current() == Fault::HoldResponses {
            if shared.stop.load(Ordering::SeqCst) {
                return closed(&till, &cloud);
            }
            thread::sleep(Duration::from_millis(5));
        }
        match shared.take(|f| matches!(f, Fault::DropResponse | Fault::ResetMidResponse)) {
            Fault::Refuse => return closed(&till, &cloud),
            Fault::DropResponse => {
                shared
                    .counters
                    .responses_dropped
                    .fetch_add(1, Ordering::SeqCst);
                return closed(&till, &cloud);
            }
            Fault::ResetMidResponse => {
                let part = (n / 2).clamp(1, 64);
                let _ = till.write_all(&buffer[..part]);
                shared.counters.resets.fetch_add(1, Ordering::SeqCst);
                // Stop the other direction so its descriptor closes, then reset.
                let _ = till.shutdown(Shutdown::Read);
                let _ = cloud.shutdown(Shutdown::Both);
                return Ending::Reset;
            }
            _ => {}
        }
        if till.write_all(&buffer[..n]).is_err() {
            return closed(&till, &cloud);
        }
        shared
            .counters
            .bytes_to_till
            .fetch_add(n as u64, Ordering::SeqCst);
    }
}

fn closed(a: &TcpStream, b: &TcpStream) -> Ending {
    close_both(a, b);
    Ending::Closed
}

/// Makes the socket close with a TCP reset (SO_LINGER 0), as a crashed peer or middlebox
/// would, once its last descriptor is dropped.
fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open for the lifetime of `stream`, and `linger` is a valid
    // `struct linger` of the size passed.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    //! The proxy's own behaviour, against a line server on loopback: each request is one line,
    //! answered with one line once the server has counted it.

    use super::*;
    use std::io::{BufRead, BufReader, ErrorKind};

    struct LineServer {
        address: String,
        handled: Arc<AtomicU64>,
    }

    fn line_server() -> LineServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let address = listener.local_addr().expect("address").to_string();
        let handled = Arc::new(AtomicU64::new(0));
        let counter = handled.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = counter.clone();
                thread::spawn(move || {
                    let Ok(mut writer) = stream.try_clone() else {
                        return;
                    };
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { return };
                        counter.fetch_add(1, Ordering::SeqCst);
                        if writer
                            .write_all(
                                format!("answer to {line}: {}\n", "x".repeat(200)).as_bytes(),
                            )
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        LineServer { address, handled }
    }

    /// Sends one line through the proxy on a new connection and reads the answer line.
    fn ask(proxy: &FaultProxy, line: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(proxy.address)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(format!("{line}\n").as_bytes())?;
        let mut answer = String::new();
        let read = BufReader::new(stream).read_line(&mut answer)?;
        if read == 0 || !answer.ends_with('\n') {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                format!("cut off after {answer:?}"),
            ));
        }
        Ok(answer)
    }

    #[test]
    fn proxy_passes_traffic_and_counts_it() {
        let server = line_server();
        let proxy = FaultProxy::start(&server.address);
        let answer = ask(&proxy, "one").expect("a healthy link answers");
        assert!(answer.starts_with("answer to one"), "got {answer:?}");
        // The proxy counts bytes after it has written them on, so the answer can arrive first.
        assert!(
            proxy.wait_for(Duration::from_secs(10), |c| {
                c.bytes_to_till.load(Ordering::SeqCst) > 200
            }),
            "the proxy counts the answer's bytes it passed to the till"
        );
        assert_eq!(server.handled.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn refusing_closes_the_port_and_healing_opens_the_same_port() {
        let server = line_server();
        let proxy = FaultProxy::start(&server.address);
        proxy.set(Fault::Refuse);
        let refused = (0..200).any(|_| {
            thread::sleep(Duration::from_millis(5));
            matches!(TcpStream::connect(proxy.address), Err(e) if e.kind() == ErrorKind::ConnectionRefused)
        });
        assert!(
            refused,
            "while refusing, nothing listens on the proxy's port"
        );
        proxy.pass();
        let healed = (0..200).any(|_| {
            thread::sleep(Duration::from_millis(5));
            ask(&proxy, "again").is_ok()
        });
        assert!(healed, "after healing, the same address answers again");
    }

    #[test]
    fn a_dropped_request_never_reaches_the_server_and_only_one_is_dropped() {
        let server = line_server();
        let proxy = FaultProxy::start(&server.address);
        proxy.once(Fault::DropRequest);
        assert!(
            ask(&proxy, "lost").is_err(),
            "the client sees the connection close"
        );
        assert_eq!(
            server.handled.load(Ordering::SeqCst),
            0,
            "the server never saw the dropped request"
        );
        assert!(
            ask(&proxy, "next").is_ok(),
            "a one-shot fault heals by itself"
        );
        assert_eq!(server.handled.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_dropped_response_was_handled_by_the_server_but_never_arrives() {
        let server = line_server();
        let proxy = FaultProxy::start(&server.address);
        proxy.once(Fault::DropResponse);
        assert!(ask(&proxy, "done").is_err(), "the answer never arrives");
        assert_eq!(
            server.handled.load(Ordering::SeqCst),
            1,
            "the server handled the request whose answer was dropped"
        );
        assert_eq!(proxy.counters().responses_dropped.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_reset_mid_response_cuts_the_answer_with_a_reset() {
        let server = line_server();
        let proxy = FaultProxy::start(&server.address);
        proxy.once(Fault::ResetMidResponse);
        let error = ask(&proxy, "cut").expect_err("the answer is cut off");
        assert!(
            matches!(
                error.kind(),
                ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
            ),
            "a reset or a truncated answer, got {error:?}"
        );
        assert_eq!(proxy.counters().resets.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn delays_hold_each_request() {
        let server = line_server();
        let proxy = FaultProxy::start(&server.address);
        proxy.set(Fault::Delay(Duration::from_millis(300)));
        let started = Instant::now();
        ask(&proxy, "slow").expect("a slow link still answers");
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "the request was held for the delay"
        );
    }

    #[test]
    fn held_responses_wait_until_released() {
        let server = line_server();
        let proxy = Arc::new(FaultProxy::start(&server.address));
        proxy.set(Fault::HoldResponses);
        let asking = {
            let proxy = proxy.clone();
            thread::spawn(move || ask(&proxy, "held"))
        };
        assert!(
            proxy.wait_for(Duration::from_secs(5), |c| c
                .responses_started
                .load(Ordering::SeqCst)
                >= 1),
            "the server answered"
        );
        thread::sleep(Duration::from_millis(100));
        assert!(!asking.is_finished(), "the answer is held back");
        proxy.pass();
        let answer = asking.join().expect("thread").expect("released answer");
        assert!(answer.starts_with("answer to held"));
    }
}
