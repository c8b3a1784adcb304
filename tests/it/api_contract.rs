//! The cloud's API contract, against a real cloud process on SQLite and on PostgreSQL: every
//! route of the router is in `/openapi.json` and every documented route answers; every refusal
//! (axum's own too) is a JSON `ErrorBody`; API keys are held to their scopes and can be revoked;
//! enrolment codes can be revoked; failed enrolment attempts are limited per address, and two
//! cloud processes on one database count the same attempts. (schemathesis checks the document
//! against the running cloud in `scripts/contract`.)

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use omnitill_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use reqwest::Method;
use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::support::cloud::{Backend, CloudProcess, binary, http};

/// A response's JSON error body, checked to be one: JSON content type, a code and a message.
fn error_body(response: Response, what: &str) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = response
        .json()
        .unwrap_or_else(|e| panic!("{what}: the refusal must be JSON, not ({e})"));
    assert!(
        content_type.starts_with("application/json"),
        "{what}: a refusal is application/json, not {content_type:?}"
    );
    assert!(
        body["code"].is_string() && body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: a refusal has a code and a message in words: {body}"
    );
    (status, body)
}

/// Every (method, path) the document lists.
fn documented(cloud: &CloudProcess) -> Vec<(Method, String)> {
    let document: Value = http()
        .get(format!("{}/openapi.json", cloud.base_url))
        .send()
        .expect("the document")
        .json()
        .expect("the document is JSON");
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            let method =
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("an HTTP method");
            routes.push((method, path.clone()));
        }
    }
    routes
}

/// A documented path with its parameters filled in.
fn concrete(path: &str) -> String {
    concrete_with(path, "probe")
}

/// A documented path with each parameter `value`.
fn concrete_with(path: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').expect("a closing brace") + open;
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether `response` is the router's own answer for a route it does not have.
fn is_unknown_route(status: u16, body: &Value) -> bool {
    status == 404
        && body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("a route "))
}

fn document_and_router(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let routes = documented(&cloud);
    assert!(
        routes.len() >= 28,
        "the document lists every route, not a handful: {routes:?}"
    );
    let all = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ];
    for (method, path) in &routes {
        // Unauthenticated: a documented route answers for itself (401, a version refusal, or
        // its answer), never as a route the router does not have.
        let response = http()
            .request(
                method.clone(),
                format!("{}{}", cloud.base_url, concrete(path)),
            )
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .expect("a request");
        let status = response.status().as_u16();
        let body: Value = response.json().unwrap_or(Value::Null);
        assert!(
            !is_unknown_route(status, &body) && status != 405,
            "{method} {path} is in the document but the router does not serve it: {status} {body}"
        );
        // Methods the document does not list for the path are refused as methods the route
        // does not take: the router serves nothing the document leaves out.
        let listed: Vec<&Method> = routes
            .iter()
            .filter(|(_, p)| p == path)
            .map(|(m, _)| m)
            .collect();
        for other in all.iter().filter(|m| !listed.contains(m)) {
            let response = http()
                .request(
                    other.clone(),
                    format!("{}{}", cloud.base_url, concrete(path)),
                )
                .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
                .send()
                .expect("a request");
            let allow = response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let (status, body) = error_body(response, &format!("{other} {path}"));
            assert_eq!(
                status, 405,
                "{other} {path} is not in the document, so the router must not serve it: {body}"
            );
            assert_eq!(body["code"], "method_not_allowed");
            for method in &listed {
                assert!(
                    allow.contains(method.as_str()),
                    "Allow names every documented method of {path}: {allow:?} lacks {method}"
                );
            }
        }
    }
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_served_on_sqlite() {
    document_and_router(Backend::Sqlite);
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_served_on_postgresql() {
    document_and_router(Backend::Postgres);
}

fn json_rejections(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let till = cloud.enrol("TPE-XINYI", "Counter 1");
    let token = till["token"].as_str().expect("a token").to_owned();
    let base = &cloud.base_url;
    let cases: Vec<(&str, reqwest::blocking::RequestBuilder, u16, &str)> = vec![
        (
            "an unknown route",
            http()
                .get(format!("{base}/v1/nothing-here"))
                .bearer_auth(&key),
            404,
            "not_found",
        ),
        (
            "a method the route does not take",
            http().delete(format!("{base}/v1/stores")).bearer_auth(&key),
            405,
            "method_not_allowed",
        ),
        (
            "a query string that does not decode",
            http()
                .get(format!("{base}/v1/sync/pull?cursor=abc"))
                .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
                .bearer_auth(&token),
            400,
            "bad_request",
        ),
        (
            "a query string that does not decode, on an e-shop route",
            http()
                .get(format!("{base}/v1/stores/TPE-XINYI/sales?limit=many"))
                .bearer_auth(&key),
            400,
            "bad_request",
        ),
        (
            "a path that is not UTF-8",
            http()
                .get(format!("{base}/v1/members/%FF%FE"))
                .bearer_auth(&key),
            400,
            "bad_request",
        ),
        (
            "a body that is not JSON",
            http()
                .post(format!("{base}/v1/online-sales"))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body("{\"order_ref\": "),
            400,
            "bad_request",
        ),
        (
            "a body of the wrong shape",
            http()
                .post(format!("{base}/v1/online-sales"))
                .bearer_auth(&key)
                .json(&json!({ "order_ref": 5 })),
            400,
            "bad_request",
        ),
        (
            "a body without a JSON content type",
            http()
                .post(format!("{base}/v1/online-sales"))
                .bearer_auth(&key)
                .header("content-type", "text/plain")
                .body("{}"),
            415,
            "unsupported_media_type",
        ),
        (
            "a body over the limit",
            http()
                .post(format!("{base}/v1/online-sales"))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(vec![b' '; omnitill_protocol::MAX_BODY_BYTES + 1]),
            413,
            "payload_too_large",
        ),
        (
            "a till request without the protocol header",
            http()
                .get(format!("{base}/v1/sync/pull"))
                .bearer_auth(&token),
            400,
            "version_mismatch",
        ),
        (
            "no credentials",
            http().get(format!("{base}/v1/stores")),
            401,
            "unauthorized",
        ),
        (
            "an unknown store",
            http()
                .get(format!("{base}/v1/stores/NOWHERE/stock"))
                .bearer_auth(&key),
            404,
            "not_found",
        ),
    ];
    for (what, request, status, code) in cases {
        let response = request.send().expect("a request");
        let (got, body) = error_body(response, what);
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["code"], code, "{what}: {body}");
    }
    // The document says `additionalProperties: false` for an adjustment, and the cloud agrees.
    let (status, body) = status_of(
        http()
            .post(format!("{base}/v1/members/nobody/adjust"))
            .bearer_auth(&key)
            .json(&json!({ "reference": "R-1", "points": 5, "reason": "goodwill", "extra": 1 })),
    );
    assert_eq!(
        status, 400,
        "an unknown field of an adjustment is refused: {body}"
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field `extra`")),
        "the refusal names the field: {body}"
    );
    // 5.0 is the integer 5 to JSON Schema, and so to the cloud: the request gets as far as
    // looking the member up.
    let (status, body) = status_of(
        http()
            .post(format!("{base}/v1/members/nobody/adjust"))
            .bearer_auth(&key)
            .json(&json!({ "reference": "R-1", "points": 5.0, "reason": "goodwill" })),
    );
    assert_eq!(
        status, 404,
        "a whole-number float decodes as an integer: {body}"
    );
    let decoded: Value = http()
        .post(format!("{base}/v1/online-sales"))
        .bearer_auth(&key)
        .json(
            &json!({ "order_ref": "R", "stock_from": "online", "currency": "TWD",
                       "lines": [{ "sku": "X", "quantity": 1.5, "total_minor": 1 }] }),
        )
        .send()
        .expect("a request")
        .json()
        .expect("JSON");
    assert!(
        decoded["message"]
            .as_str()
            .is_some_and(|m| m.contains("lines[0].quantity")),
        "a refusal of a body names the field: {decoded}"
    );
}

#[test]
fn every_refusal_is_json_on_sqlite() {
    json_rejections(Backend::Sqlite);
}

#[test]
fn every_refusal_is_json_on_postgresql() {
    json_rejections(Backend::Postgres);
}

/// PostgreSQL cannot store the NUL character in text, so a NUL that reached a query was a 500
/// (found on `/v1/members/a%00b`). Every route with a parameter refuses `%00` in it, every
/// e-shop body with a NUL in a string is refused, each with a JSON 400, and the cloud serves
/// on.
fn nul_text(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    for (method, path) in documented(&cloud) {
        if path.contains('{') {
            let url = format!("{}{}", cloud.base_url, concrete_with(&path, "a%00b"));
            let response = http()
                .request(method.clone(), &url)
                .bearer_auth(&key)
                .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
                .json(&json!({}))
                .send()
                .expect("a request");
            let (status, body) = error_body(response, &format!("{method} {path} with %00"));
            assert_eq!(
                status, 400,
                "{method} {path}: a NUL in the address is refused: {body}"
            );
        }
        if method == Method::POST && !path.starts_with("/v1/till") && path != "/v1/enrol" {
            let url = format!("{}{}", cloud.base_url, concrete(&path));
            let response = http()
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(r#"{"order_ref":"a\u0000b","phone":"\u0000","name":"\u0000"}"#)
                .send()
                .expect("a request");
            let (status, body) = error_body(response, &format!("POST {path} with a NUL"));
            assert!(
                status == 400 || status == 404,
                "POST {path}: a NUL in the body is refused, never a 500: {status} {body}"
            );
        }
    }
    let (status, _) = status_of(
        http()
            .get(format!("{}/v1/stores", cloud.base_url))
            .bearer_auth(&key),
    );
    assert_eq!(status, 200, "the cloud serves on");
}

#[test]
fn text_with_a_nul_character_is_refused_on_sqlite() {
    nul_text(Backend::Sqlite);
}

#[test]
fn text_with_a_nul_character_is_refused_on_postgresql() {
    nul_text(Backend::Postgres);
}

fn status_of(request: reqwest::blocking::RequestBuilder) -> (u16, Value) {
    let response = request.send().expect("a request");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn scopes_and_revocation(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let base = &cloud.base_url;
    let reader = cloud.api_key_with("dashboard", "read");
    let shop = cloud.api_key_with("e-shop", "read,orders,loyalty");
    let stock = cloud.get_with_key(&reader, "/v1/stores/TPE-XINYI/stock");
    let sku = stock[0]["sku"].as_str().expect("a demo SKU").to_owned();
    let order = json!({ "order_ref": "SCOPE-1", "stock_from": "online", "currency": "TWD",
                        "lines": [{ "sku": sku, "quantity": 1, "total_minor": 4500 }] });

    let (status, _) = status_of(http().get(format!("{base}/v1/stores")).bearer_auth(&reader));
    assert_eq!(status, 200, "a read key reads");
    let (status, body) = status_of(
        http()
            .post(format!("{base}/v1/online-sales"))
            .bearer_auth(&reader)
            .json(&order),
    );
    assert_eq!(status, 403, "a read key may not record orders: {body}");
    assert_eq!(body["code"], "forbidden");
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        message.contains("needs the orders scope") && message.contains("only read"),
        "the refusal says in words what is needed and what the key holds: {message}"
    );
    let recorded: Value = http()
        .get(format!("{base}/v1/stores/TPE-XINYI/sales"))
        .bearer_auth(&reader)
        .send()
        .expect("sales")
        .json()
        .expect("JSON");
    assert!(
        !recorded.to_string().contains("WEB-SCOPE-1"),
        "a refused order wrote nothing"
    );
    // Brand IT's routes need admin, which the e-shop's key lacks.
    let rules: Value = http()
        .get(format!("{base}/v1/loyalty/rules"))
        .bearer_auth(&shop)
        .send()
        .expect("rules")
        .json()
        .expect("JSON");
    for (method, path, body) in [
        (Method::PUT, "/v1/loyalty/rules".to_owned(), rules.clone()),
        (
            Method::PUT,
            format!("/v1/products/{sku}/prices"),
            json!({ "effective_from_ms": 0, "price_minor": 1 }),
        ),
    ] {
        let (status, body) = status_of(
            http()
                .request(method.clone(), format!("{base}{path}"))
                .bearer_auth(&shop)
                .json(&body),
        );
        assert_eq!(status, 403, "{method} {path} needs admin: {body}");
    }
    let (status, body) = status_of(
        http()
            .post(format!("{base}/v1/online-sales"))
            .bearer_auth(&shop)
            .json(&order),
    );
    assert_eq!(status, 201, "the e-shop's key records orders: {body}");

    // Revocation by name, and by the key itself; the CLI says what it did.
    let said = cloud.admin(&["api-key", "revoke", "--name", "dashboard"]);
    assert_eq!(said, "1 API key(s) revoked; they are refused from now on");
    let (status, body) = status_of(http().get(format!("{base}/v1/stores")).bearer_auth(&reader));
    assert_eq!(status, 401, "a revoked key is refused: {body}");
    assert_eq!(body["message"], "the API key was revoked");
    let said = cloud.admin(&["api-key", "revoke", &shop]);
    assert_eq!(said, "1 API key(s) revoked; they are refused from now on");
    let (status, _) = status_of(http().get(format!("{base}/v1/stores")).bearer_auth(&shop));
    assert_eq!(status, 401, "a key revoked by its text is refused");
    let listed = cloud.admin(&["api-key", "list"]);
    assert!(
        listed.contains("dashboard\tread\t") && listed.contains("revoked"),
        "the list shows names, scopes and state, never a key: {listed}"
    );
    assert!(!listed.contains("otk_"), "no key in the clear: {listed}");

    // Refusals of the CLI are in words and change nothing.
    let refused = Command::new(binary("omnitill-cloud"))
        .args([
            "--database",
            &cloud.database,
            "api-key",
            "create",
            "--name",
            "x",
        ])
        .output()
        .expect("the command runs");
    assert!(!refused.status.success(), "a key needs its scopes named");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--scope is required"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let refused = Command::new(binary("omnitill-cloud"))
        .args([
            "--database",
            &cloud.database,
            "api-key",
            "create",
            "--name",
            "x",
        ])
        .args(["--scope", "read,root"])
        .output()
        .expect("the command runs");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("\"root\" is not a scope"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let again = Command::new(binary("omnitill-cloud"))
        .args([
            "--database",
            &cloud.database,
            "api-key",
            "revoke",
            "--name",
            "dashboard",
        ])
        .output()
        .expect("the command runs");
    assert!(
        !again.status.success()
            && String::from_utf8_lossy(&again.stderr)
                .contains("an active API key named \"dashboard\" was not found"),
        "revoking twice says there is nothing to revoke: {}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn api_keys_are_held_to_their_scopes_and_can_be_revoked_on_sqlite() {
    scopes_and_revocation(Backend::Sqlite);
}

#[test]
fn api_keys_are_held_to_their_scopes_and_can_be_revoked_on_postgresql() {
    scopes_and_revocation(Backend::Postgres);
}

fn enrol_with(base: &str, code: &str) -> (u16, Value, Option<String>) {
    let response = http()
        .post(format!("{base}/v1/enrol"))
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
        .json(&json!({ "code": code, "device_name": "Counter 9" }))
        .send()
        .expect("enrol request");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null), retry_after)
}

fn enrolment_code_revocation(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let base = &cloud.base_url;
    let code = cloud.admin(&["enrolment-code", "create", "--store", "TPE-XINYI"]);
    let said = cloud.admin(&["enrolment-code", "revoke", &code]);
    assert_eq!(said, "enrolment code revoked; it enrols nothing now");
    let (status, body, _) = enrol_with(base, &code);
    assert_eq!(status, 400, "a revoked code enrols nothing: {body}");
    assert_eq!(body["code"], "bad_enrolment_code");

    let first = cloud.admin(&["enrolment-code", "--store", "TPE-DAAN"]);
    let second = cloud.admin(&["enrolment-code", "create", "--store", "TPE-DAAN"]);
    let kept = cloud.admin(&["enrolment-code", "create", "--store", "TPE-XINYI"]);
    let said = cloud.admin(&["enrolment-code", "revoke", "--store", "TPE-DAAN"]);
    assert_eq!(
        said,
        "2 unused enrolment code(s) of store TPE-DAAN revoked; they enrol nothing now"
    );
    for code in [&first, &second] {
        let (status, _, _) = enrol_with(base, code);
        assert_eq!(status, 400, "every unused code of the store is withdrawn");
    }
    let (status, body, _) = enrol_with(base, &kept);
    assert_eq!(status, 200, "another store's code still enrols: {body}");
    let again = Command::new(binary("omnitill-cloud"))
        .args([
            "--database",
            &cloud.database,
            "enrolment-code",
            "revoke",
            &kept,
        ])
        .output()
        .expect("the command runs");
    assert!(
        !again.status.success()
            && String::from_utf8_lossy(&again.stderr)
                .contains("an unused, unexpired enrolment code like that was not found"),
        "a used code cannot be revoked, and the refusal says why: {}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn enrolment_codes_can_be_revoked_on_sqlite() {
    enrolment_code_revocation(Backend::Sqlite);
}

#[test]
fn enrolment_codes_can_be_revoked_on_postgresql() {
    enrolment_code_revocation(Backend::Postgres);
}

/// A second cloud process serving the same database, killed on drop.
struct SecondCloud {
    base_url: String,
    child: Child,
}

impl SecondCloud {
    fn start(database: &str) -> SecondCloud {
        let mut child = Command::new(binary("omnitill-cloud"))
            .args([
                "--database",
                database,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--webhooks-loopback-only",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("a second cloud starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(address) = line.strip_prefix("OMNITILL_CLOUD_LISTENING ") {
                        break address.to_owned();
                    }
                }
                _ => panic!("the second cloud exited before it listened"),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        SecondCloud {
            base_url: format!("http://{address}"),
            child,
        }
    }
}

impl Drop for SecondCloud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn enrolment_rate_limit(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let other = SecondCloud::start(&cloud.database);
    let good = cloud.admin(&["enrolment-code", "create", "--store", "TPE-XINYI"]);
    // Ten failed attempts from this address, alternating between the two processes.
    for attempt in 0..10 {
        let base = if attempt % 2 == 0 {
            &cloud.base_url
        } else {
            &other.base_url
        };
        let (status, body, _) = enrol_with(base, "WRONGCODE1");
        assert_eq!(
            status,
            400,
            "attempt {} is within the limit: {body}",
            attempt + 1
        );
    }
    for base in [&cloud.base_url, &other.base_url] {
        let (status, body, retry_after) = enrol_with(base, &good);
        assert_eq!(
            status, 429,
            "the 11th attempt is refused by either process, even with a good code: {body}"
        );
        assert_eq!(body["code"], "rate_limited");
        let seconds: u64 = retry_after
            .as_deref()
            .and_then(|v| v.parse().ok())
            .expect("Retry-After in whole seconds");
        assert!(
            (1..=600).contains(&seconds),
            "Retry-After is at most the 10-minute window: {seconds}"
        );
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("try again in {seconds} s"))),
            "the message says when, as the header does: {body}"
        );
    }
}

#[test]
fn failed_enrolments_are_limited_per_address_across_two_processes_on_sqlite() {
    enrolment_rate_limit(Backend::Sqlite);
}

#[test]
fn failed_enrolments_are_limited_per_address_across_two_processes_on_postgresql() {
    enrolment_rate_limit(Backend::Postgres);
}

#[test]
fn concurrent_enrolment_guesses_never_get_past_the_limit_on_postgresql() {
    let cloud = CloudProcess::start(Backend::Postgres);
    let other = SecondCloud::start(&cloud.database);
    for round in 0..5 {
        // Each round is a fresh window: the rows of the last one are cleared by hand, as
        // ten minutes passing would.
        clear_attempts(&cloud.database);
        let bases = [cloud.base_url.clone(), other.base_url.clone()];
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let base = bases[i % 2].clone();
                    scope.spawn(move || enrol_with(&base, &format!("GUESS{round}X{i:02}")).0)
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a client thread"))
                .collect()
        });
        let tried = statuses.iter().filter(|s| **s == 400).count();
        let limited = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!(
            tried + limited,
            16,
            "round {round}: every guess is tried or refused: {statuses:?}"
        );
        assert!(
            (1..=10).contains(&tried),
            "round {round}: at most 10 guesses reach the code check in a window, however many \
             arrive at once: {statuses:?}"
        );
    }
}

fn clear_attempts(database: &str) {
    let output = Command::new("psql")
        .arg(database)
        .args(["-qc", "DELETE FROM enrolment_attempt"])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
