//! Real parallel clients for the race tests: `at_once` runs one closure per client on its own
//! thread, each with its own HTTP client, and releases them together from a barrier so their
//! requests reach the cloud at the same moment.

use std::sync::Barrier;

use omnitill_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::Value;

use super::cloud::{CloudProcess, http};

/// Runs `request(client, index)` for `clients` indexes at once; returns the answers in index
/// order.
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
                    let client = http();
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
