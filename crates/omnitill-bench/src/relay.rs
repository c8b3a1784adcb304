//! A counting TCP relay on loopback: what a till and the cloud say to each other, in bytes.
//!
//! `Relay::start` listens on `127.0.0.1:0` and forwards every connection it accepts to the
//! upstream address, one thread per direction, counting the bytes it forwards each way. These
//! are the bytes of the HTTP exchange as they cross the socket (request line, headers and body
//! going up; status line, headers and body coming down); TCP and IP framing is not included.
//! `settle` waits until every relayed connection has closed, so the counts are final.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

#[derive(Default)]
struct Counts {
    up: AtomicU64,
    down: AtomicU64,
    connections: AtomicU64,
    open: AtomicU64,
}

/// Bytes relayed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    /// From the till to the cloud.
    pub up: u64,
    /// From the cloud to the till.
    pub down: u64,
    pub connections: u64,
}

pub struct Relay {
    address: SocketAddr,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    /// Starts relaying connections to `upstream` (a loopback address).
    pub fn start(upstream: SocketAddr) -> Result<Relay> {
        if !upstream.ip().is_loopback() {
            bail!("the relay only forwards to loopback, not to {upstream}");
        }
        let listener = TcpListener::bind("127.0.0.1:0").context("the relay cannot listen")?;
        let address = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        {
            let counts = counts.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let counts = counts.clone();
                    thread::spawn(move || {
                        if let Err(e) = relay_connection(client, upstream, &counts) {
                            eprintln!("omnitill-bench: relay: {e:#}");
                        }
                    });
                }
            });
        }
        Ok(Relay {
            address,
            counts,
            stop,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn traffic(&self) -> Traffic {
        Traffic {
            up: self.counts.up.load(Ordering::SeqCst),
            down: self.counts.down.load(Ordering::SeqCst),
            connections: self.counts.connections.load(Ordering::SeqCst),
        }
    }

    /// Waits (up to `timeout`) until no relayed connection is open, then returns the counts.
    pub fn settle(&self, timeout: Duration) -> Result<Traffic> {
        let deadline = Instant::now() + timeout;
        while self.counts.open.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                bail!(
                    "{} relayed connections were still open after {timeout:?}",
                    self.counts.open.load(Ordering::SeqCst)
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
        Ok(self.traffic())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.address);
    }
}

fn relay_connection(client: TcpStream, upstream: SocketAddr, counts: &Arc<Counts>) -> Result<()> {
    counts.connections.fetch_add(1, Ordering::SeqCst);
    counts.open.fetch_add(1, Ordering::SeqCst);
    let result = (|| -> Result<()> {
        let server = TcpStream::connect(upstream)
            .with_context(|| format!("the relay cannot reach {upstream}"))?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        let up = {
            let (from, to) = (client.try_clone()?, server.try_clone()?);
            let counts = counts.clone();
            thread::spawn(move || copy_counting(from, to, &counts.up))
        };
        copy_counting(server, client, &counts.down);
        let _ = up.join();
        Ok(())
    })();
    counts.open.fetch_sub(1, Ordering::SeqCst);
    result
}

/// Copies until end of stream or an error, counting bytes, then closes the writing side.
fn copy_counting(mut from: TcpStream, mut to: TcpStream, count: &AtomicU64) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                count.fetch_add(n as u64, Ordering::SeqCst);
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_counts_both_directions() -> Result<()> {
        let server = TcpListener::bind("127.0.0.1:0")?;
        let upstream = server.local_addr()?;
        let echo = thread::spawn(move || -> Result<()> {
            let (mut stream, _) = server.accept()?;
            let mut request = [0u8; 5];
            stream.read_exact(&mut request)?;
            stream.write_all(b"pong, pong")?;
            Ok(())
        });
        let relay = Relay::start(upstream)?;
        let mut client = TcpStream::connect(relay.address)?;
        client.write_all(b"ping!")?;
        let mut answer = Vec::new();
        client.read_to_end(&mut answer)?;
        drop(client);
        echo.join()
            .map_err(|_| anyhow::anyhow!("the echo server panicked"))??;
        assert_eq!(
            answer, b"pong, pong",
            "the relay forwards the answer intact"
        );
        let traffic = relay.settle(Duration::from_secs(5))?;
        assert_eq!(traffic.up, 5, "five bytes went up");
        assert_eq!(traffic.down, 10, "ten bytes came down");
        assert_eq!(traffic.connections, 1, "one connection was relayed");
        Ok(())
    }
}
