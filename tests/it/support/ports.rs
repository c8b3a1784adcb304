//! Loopback ports the tests keep for themselves while nothing listens on them.
//!
//! A proxy that refuses connections closes its listener, and a cloud that is stopped closes its
//! own; both must open again on the same port. While the port is closed the kernel may hand it
//! to anyone: as the port of another test's `bind(0)` (a proxy of another schedule in front of
//! another cloud) or as the local port of an outgoing connection. A till would then reach a
//! stranger. A `PortReservation` is a socket bound to the port, with `SO_REUSEADDR`, that never
//! listens: connecting to the port is still refused while no listener is open, the kernel gives
//! the port to no `bind(0)` and to no outgoing connection, and a listener with `SO_REUSEADDR`
//! (as std, tokio and the cloud use) can bind the port beside it at any time.

use std::net::SocketAddr;

use socket2::{Domain, Socket, Type};

/// A loopback port held for as long as this value lives.
pub struct PortReservation {
    socket: Socket,
    address: SocketAddr,
}

impl PortReservation {
    /// Reserves a free loopback port chosen by the kernel.
    pub fn new() -> PortReservation {
        let free: SocketAddr = "127.0.0.1:0".parse().expect("a loopback address");
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        socket
            .set_reuse_address(true)
            .expect("SO_REUSEADDR on the reservation");
        socket
            .bind(&free.into())
            .expect("a free loopback port for the reservation");
        let address = socket
            .local_addr()
            .ok()
            .and_then(|address| address.as_socket())
            .expect("the reserved address");
        PortReservation { socket, address }
    }

    /// The reserved address, `127.0.0.1:PORT`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Whether the reservation still holds its port (it always should).
    pub fn holds(&self) -> bool {
        self.socket
            .local_addr()
            .ok()
            .and_then(|address| address.as_socket())
            == Some(self.address)
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::net::{TcpListener, TcpStream};

    use super::*;

    #[test]
    fn a_reserved_port_refuses_connections_until_a_listener_opens_beside_the_reservation() {
        let reservation = PortReservation::new();
        let address = reservation.address();
        assert!(
            matches!(TcpStream::connect(address), Err(e) if e.kind() == ErrorKind::ConnectionRefused),
            "a reservation never listens, so connecting to its port is refused"
        );
        for round in 0..3 {
            let listener = TcpListener::bind(address)
                .expect("a listener binds the reserved port beside the reservation");
            let _client = TcpStream::connect(address).expect("the listener accepts");
            assert!(
                listener.accept().is_ok(),
                "round {round}: the listener, not the reservation, takes the connection"
            );
            drop(listener);
            assert!(
                matches!(TcpStream::connect(address), Err(e) if e.kind() == ErrorKind::ConnectionRefused),
                "round {round}: with the listener closed the port refuses again"
            );
        }
        assert!(reservation.holds(), "the reservation keeps its port");
    }
}
