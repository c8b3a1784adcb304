//! Real parallel clients for the race tests: `at_once` runs one closure per client on its own
//! thread, each with its own HTTP client, and releases them together from a barrier so their
//! requests reach the cloud at the same moment.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Barrier;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use omnitill_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::Value;

use super::cloud::CloudProcess;

/// Runs `request(client, index)` for `clients` indexes at once; returns the answers in index
/// order. Each client comes from a loopback address of its own (`own_loopback_client`), as
/// tills and e-shop servers on different machines would, so the cloud's per-address enrolment
/// limit sees distinct sources.
pub fn at_once<T: Send>(
    clients: usize,
    request: impl Fn(&reqwest::blocking::Client, usize) -> T + Sync,
) -> Vec<T> {
    let barrier = Barrier::new(clients);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|index| {
                let (barrier, request) = (&barrier, &request);
                scope.spawn(move || {
                    let client = own_loopback_client();
                    barrier.wait();
                    request(&client, index)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a client thread finished"))
            .collect()
    })
}

/// Loopback source addresses handed out so far (127.1.0.0/16, one per client).
static NEXT_SOURCE: AtomicU32 = AtomicU32::new(1);

/// An HTTP client whose connections leave from a loopback address no other client of this
/// test process uses (Linux routes all of 127.0.0.0/8 to the loopback interface).
pub fn own_loopback_client() -> reqwest::blocking::Client {
    omnitill_sync::install_tls_provider();
    let n = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed) % 65_534 + 1;
    let source = Ipv4Addr::new(127, 1, (n >> 8) as u8, (n & 0xff) as u8);
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .local_address(IpAddr::V4(source))
        .build()
        .expect("an HTTP client")
}

/// One e-shop call on `client`: the status and the body (JSON, or null when it is not JSON).
pub fn eshop_call(
    client: &reqwest::blocking::Client,
    cloud: &CloudProcess,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client
        .request(method, format!("{}{path}", cloud.base_url))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    answer(request.send().expect("the cloud answers"))
}

/// One till call on `client`, with the protocol header and the till's token (or none).
pub fn till_call(
    client: &reqwest::blocking::Client,
    cloud: &CloudProcess,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client
        .request(method, format!("{}{path}", cloud.base_url))
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    answer(request.send().expect("the cloud answers"))
}

fn answer(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().unwrap_or(Value::Null);
    (status, body)
}
