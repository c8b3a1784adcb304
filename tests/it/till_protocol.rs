//! Every till route of the document, against a real cloud process: a request without the
//! protocol version header is refused with `version_mismatch`, whichever module the route lives
//! in, before the route reads its token or its body. A till of another version must never have
//! an operation applied by a cloud that cannot read it as the till meant it.

use omnitill_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use reqwest::Method;
use serde_json::Value;

use crate::support::cloud::{Backend, CloudProcess, http};

/// Every (method, path) whose operation the document tags `till`.
fn till_routes(cloud: &CloudProcess) -> Vec<(Method, String)> {
    let document: Value = http()
        .get(format!("{}/openapi.json", cloud.base_url))
        .send()
        .expect("the document")
        .json()
        .expect("the document is JSON");
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let tagged = operation["tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t == "till"));
            if tagged {
                let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .expect("an HTTP method");
                routes.push((method, path.replace(['{', '}'], "")));
            }
        }
    }
    routes
}

#[test]
fn every_till_route_refuses_a_request_without_the_protocol_version() {
    let cloud = CloudProcess::start(Backend::Sqlite);
    let routes = till_routes(&cloud);
    assert!(
        routes.len() >= 9,
        "the document tags every till route: {routes:?}"
    );
    for (method, path) in routes {
        for version in [None, Some("999"), Some("not a number")] {
            let mut request = http()
                .request(method.clone(), format!("{}{path}", cloud.base_url))
                .bearer_auth("not-a-token")
                .header("content-type", "application/json")
                .body("{}");
            if let Some(version) = version {
                request = request.header(PROTOCOL_HEADER, version);
            }
            let response = request.send().expect("an answer");
            let status = response.status().as_u16();
            let body: Value = response.json().unwrap_or(Value::Null);
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some("version_mismatch")),
                "{method} {path} with version {version:?} must be refused before anything else \
                 (this cloud speaks {PROTOCOL_VERSION}): {body}"
            );
        }
    }
}
