//! Sending a print job to a network receipt printer over raw TCP (port 9100).
//!
//! `send_to_printer` takes the printer's address as a manager typed it in settings, "host:port"
//! or a bare "host" (port 9100 is then assumed; an IPv6 address goes in brackets), resolves it,
//! connects with a timeout, writes the whole job, and closes its side of the connection so the
//! printer knows the job is complete. It then waits briefly for the printer to close its side,
//! so bytes the printer sent back (status reports) cannot make the close reset the connection
//! before the job has been taken in. Every failure is a `PrinterError` whose message says in
//! words what went wrong and with which address. Nothing here knows about Tauri.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use thiserror::Error;

/// The raw printing port of network receipt printers.
pub const DEFAULT_PORT: u16 = 9100;

/// The longest `send_to_printer` waits for the printer to close after the job is sent.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Why a print job did not reach the printer.
#[derive(Debug, Error)]
pub enum PrinterError {
    /// The address is not "host", "host:port" or "[ipv6]:port", or names no host.
    #[error("the printer address {address:?} is not usable: {reason}")]
    BadAddress { address: String, reason: String },
    /// Nothing accepted the connection (refused, unreachable).
    #[error("cannot connect to the printer at {address}: {source}")]
    CannotConnect {
        address: String,
        #[source]
        source: io::Error,
    },
    /// The printer did not answer, or stopped taking data, within the time allowed.
    #[error(
        "the printer at {address} did not respond within {} ms; check that it is on and online",
        .timeout.as_millis()
    )]
    TimedOut { address: String, timeout: Duration },
    /// The connection broke while the job was being sent.
    #[error("sending the receipt to the printer at {address} failed: {source}")]
    WriteFailed {
        address: String,
        #[source]
        source: io::Error,
    },
}

/// Sends `bytes` to the printer at `address`, allowing `timeout` for the connection and for each
/// write. A zero timeout is taken as one millisecond, since the socket cannot wait for no time.
pub fn send_to_printer(address: &str, bytes: &[u8], timeout: Duration) -> Result<(), PrinterError> {
    let timeout = timeout.max(Duration::from_millis(1));
    let (host, port) = parse_address(address)?;
    let shown = display_address(&host, port);
    let candidates = resolve(address, &host, port)?;
    let mut stream = connect(&shown, &candidates, timeout)?;

    let write_error = |source: io::Error| {
        if is_timeout(&source) {
            PrinterError::TimedOut {
                address: shown.clone(),
                timeout,
            }
        } else {
            PrinterError::WriteFailed {
                address: shown.clone(),
                source,
            }
        }
    };
    stream
        .set_write_timeout(Some(timeout))
        .map_err(write_error)?;
    stream.write_all(bytes).map_err(write_error)?;
    stream.flush().map_err(write_error)?;
    stream.shutdown(Shutdown::Write).map_err(write_error)?;
    wait_for_close(&mut stream, timeout.min(CLOSE_WAIT));
    Ok(())
}

/// The host and port in `address`: "host", "host:port", "[ipv6]" or "[ipv6]:port", or a bare
/// IPv6 address. Nothing is looked up here.
fn parse_address(address: &str) -> Result<(String, u16), PrinterError> {
    let bad = |reason: &str| PrinterError::BadAddress {
        address: address.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = address.trim();
    if trimmed.is_empty() {
        return Err(bad("it is empty; enter something like 192.168.1.50:9100"));
    }
    if trimmed.contains(char::is_whitespace) {
        return Err(bad("it contains spaces"));
    }
    let port = |text: &str| match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad("the port must be a number from 1 to 65535")),
        Ok(port) => Ok(port),
    };

    if let Some(bracketed) = trimmed.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(bad("an IPv6 address in brackets needs the closing ']'"));
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("the part in brackets is not an IPv6 address"));
        }
        return match after {
            "" => Ok((host.to_string(), DEFAULT_PORT)),
            _ => match after.strip_prefix(':') {
                Some(text) => Ok((host.to_string(), port(text)?)),
                None => Err(bad("only ':port' may follow the ']'")),
            },
        };
    }
    if let Ok(IpAddr::V6(ip)) = trimmed.parse::<IpAddr>() {
        return Ok((ip.to_string(), DEFAULT_PORT));
    }
    match trimmed.rsplit_once(':') {
        None => Ok((trimmed.to_string(), DEFAULT_PORT)),
        Some(("", _)) => Err(bad("the host before ':' is missing")),
        Some((host, _)) if host.contains(':') => Err(bad(
            "it has more than one ':'; put an IPv6 address in brackets, like [fe80::1]:9100",
        )),
        Some((host, text)) => Ok((host.to_string(), port(text)?)),
    }
}

/// "host:port", with an IPv6 host in brackets, for messages.
fn display_address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Every socket address `host` names, or a bad-address error saying it names none.
fn resolve(address: &str, host: &str, port: u16) -> Result<Vec<SocketAddr>, PrinterError> {
    let bad = |reason: String| PrinterError::BadAddress {
        address: address.to_string(),
        reason,
    };
    let found: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|error| bad(format!("the host {host:?} could not be found ({error})")))?
        .collect();
    if found.is_empty() {
        return Err(bad(format!("the host {host:?} has no address")));
    }
    Ok(found)
}

/// A connection to the first of `candidates` that accepts within `timeout`. When all fail,
/// the error is a timeout only if every attempt timed out.
fn connect(
    shown: &str,
    candidates: &[SocketAddr],
    timeout: Duration,
) -> Result<TcpStream, PrinterError> {
    let mut last_refusal = None;
    for candidate in candidates {
        match TcpStream::connect_timeout(candidate, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) if is_timeout(&error) => {}
            Err(error) => last_refusal = Some(error),
        }
    }
    Err(match last_refusal {
        Some(source) => PrinterError::CannotConnect {
            address: shown.to_string(),
            source,
        },
        None => PrinterError::TimedOut {
            address: shown.to_string(),
            timeout,
        },
    })
}

/// Reads and drops whatever the printer sends until it closes, an error, or `limit` passes.
/// The job is already sent, so nothing here can fail it.
fn wait_for_close(stream: &mut TcpStream, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut buffer = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[test]
    fn the_printer_receives_exactly_the_bytes_sent() {
        // (job, why)
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"\x1b@hello\n\x1dVB\x00".to_vec(), "a small job"),
            (
                (0..200_000u32).map(|n| (n % 251) as u8).collect(),
                "a job larger than one socket buffer, with every byte value",
            ),
            (Vec::new(), "an empty job still connects and closes cleanly"),
        ];
        for (job, why) in cases {
            let listener = TcpListener::bind("127.0.0.1:0");
            assert!(
                listener.is_ok(),
                "a loopback port must be free for the test"
            );
            let Ok(listener) = listener else { return };
            let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
            let printer = thread::spawn(move || {
                let mut received = Vec::new();
                if let Ok((mut stream, _)) = listener.accept() {
                    let _ = stream.read_to_end(&mut received);
                }
                received
            });

            let sent = send_to_printer(&format!("127.0.0.1:{port}"), &job, TIMEOUT);
            assert!(sent.is_ok(), "{why}: sending must succeed: {sent:?}");
            let received = printer.join().unwrap_or_default();
            assert!(
                received == job,
                "{why}: the printer must get every byte, in order ({} sent, {} received)",
                job.len(),
                received.len()
            );
        }
    }

    #[test]
    fn a_refused_connection_fails_fast_with_the_address() {
        let listener = TcpListener::bind("127.0.0.1:0");
        let port = listener
            .as_ref()
            .ok()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
            .unwrap_or_default();
        drop(listener);
        assert_ne!(port, 0, "the test needs a port that was just in use");

        let started = Instant::now();
        let result = send_to_printer(&format!("127.0.0.1:{port}"), b"job", TIMEOUT);
        let elapsed = started.elapsed();
        assert!(
            matches!(result, Err(PrinterError::CannotConnect { .. })),
            "nothing listens on the port, so the error must be cannot-connect: {result:?}"
        );
        assert!(
            elapsed < Duration::from_secs(1),
            "a refusal must be reported at once, not after the {TIMEOUT:?} timeout: {elapsed:?}"
        );
        let message = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains(&format!("127.0.0.1:{port}")),
            "the message must name the address so the manager can fix it: {message}"
        );
    }

    #[test]
    fn a_printer_that_stops_reading_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0");
        assert!(
            listener.is_ok(),
            "a loopback port must be free for the test"
        );
        let Ok(listener) = listener else { return };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let (done, wait) = mpsc::channel::<()>();
        // The stand-in printer accepts and then reads nothing until the test is over.
        let printer = thread::spawn(move || {
            let held = listener.accept();
            let _ = wait.recv();
            drop(held);
        });

        // Far more than the loopback socket buffers hold, so a write must block.
        let job = vec![0u8; 64 * 1024 * 1024];
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        let result = send_to_printer(&format!("127.0.0.1:{port}"), &job, timeout);
        let elapsed = started.elapsed();
        let _ = done.send(());
        let _ = printer.join();

        assert!(
            matches!(result, Err(PrinterError::TimedOut { .. })),
            "a printer that takes no data must give a timeout, not hang: {result:?}"
        );
        assert!(
            elapsed < Duration::from_secs(10),
            "the write timeout must bound the wait: {elapsed:?}"
        );
    }

    #[test]
    fn bad_addresses_are_refused_before_any_connection() {
        // (address, why)
        let cases: &[(&str, &str)] = &[
            ("", "an empty address"),
            ("   ", "only spaces"),
            (":9100", "no host"),
            ("127.0.0.1:", "an empty port"),
            ("127.0.0.1:printer", "a port that is not a number"),
            ("127.0.0.1:0", "port zero"),
            ("127.0.0.1:70000", "a port above 65535"),
            ("a:b:9100", "two colons without brackets"),
            ("[::1", "an unclosed bracket"),
            ("[::1]9100", "no colon after the bracket"),
            ("[localhost]:9100", "a name in brackets"),
            ("127.0.0.1 :9100", "a space inside"),
        ];
        for (address, why) in cases {
            let started = Instant::now();
            let result = send_to_printer(address, b"job", TIMEOUT);
            assert!(
                matches!(result, Err(PrinterError::BadAddress { .. })),
                "{why}: {address:?} must be a bad address: {result:?}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{why}: a bad address must be refused without trying the network"
            );
        }
    }

    #[test]
    fn addresses_parse_to_host_and_port() {
        // (address, host, port, why)
        let cases: &[(&str, &str, u16, &str)] = &[
            ("127.0.0.1", "127.0.0.1", 9100, "a bare host gets port 9100"),
            ("127.0.0.1:9101", "127.0.0.1", 9101, "an explicit port"),
            (
                " 127.0.0.1:9100 ",
                "127.0.0.1",
                9100,
                "spaces around are ignored",
            ),
            ("localhost", "localhost", 9100, "a name is kept for lookup"),
            ("printer.local:9100", "printer.local", 9100, "a dotted name"),
            ("[::1]:9102", "::1", 9102, "IPv6 in brackets with a port"),
            ("[::1]", "::1", 9100, "IPv6 in brackets without a port"),
            ("::1", "::1", 9100, "a bare IPv6 address"),
        ];
        for (address, host, port, why) in cases {
            let parsed = parse_address(address).ok();
            assert_eq!(
                parsed,
                Some((host.to_string(), *port)),
                "{why}: {address:?}"
            );
        }
    }

    #[test]
    fn messages_say_what_went_wrong_in_words() {
        // (error, words it must contain, why)
        let cases: Vec<(PrinterError, &str, &str)> = vec![
            (
                PrinterError::BadAddress {
                    address: "x:y".to_string(),
                    reason: "the port must be a number from 1 to 65535".to_string(),
                },
                "\"x:y\" is not usable: the port must be",
                "a bad address quotes what was typed and why it is wrong",
            ),
            (
                PrinterError::TimedOut {
                    address: "10.0.0.9:9100".to_string(),
                    timeout: Duration::from_millis(2500),
                },
                "10.0.0.9:9100 did not respond within 2500 ms",
                "a timeout names the printer and the time waited",
            ),
            (
                PrinterError::WriteFailed {
                    address: "10.0.0.9:9100".to_string(),
                    source: io::Error::from(io::ErrorKind::BrokenPipe),
                },
                "printer at 10.0.0.9:9100 failed",
                "a broken connection names the printer",
            ),
        ];
        for (error, words, why) in cases {
            let message = error.to_string();
            assert!(message.contains(words), "{why}: {message}");
        }
    }
}
