//! Who is calling: a till by its device token, the e-shop by an API key holding the route's
//! scope, and the source address that enrolment attempts are counted by.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use crate::api::AppState;
use crate::api_keys;
use crate::devices::{self, Device};
use crate::error::CloudError;

/// An authenticated till.
pub struct TillAuth(pub Device);

impl FromRequestParts<AppState> for TillAuth {
    type Rejection = CloudError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .ok_or_else(|| CloudError::Unauthorized("a device token is required".into()))?;
        Ok(TillAuth(devices::authenticate(&state.db, token).await?))
    }
}

/// The scope each e-shop route needs, as a type: `ApiKey<need::Loyalty>`.
pub mod need {
    use crate::scopes::Scope;

    pub trait RouteScope {
        const SCOPE: Scope;
    }

    pub struct Read;
    pub struct Orders;
    pub struct Loyalty;
    pub struct Admin;

    impl RouteScope for Read {
        const SCOPE: Scope = Scope::Read;
    }
    impl RouteScope for Orders {
        const SCOPE: Scope = Scope::Orders;
    }
    impl RouteScope for Loyalty {
        const SCOPE: Scope = Scope::Loyalty;
    }
    impl RouteScope for Admin {
        const SCOPE: Scope = Scope::Admin;
    }
}

/// An authenticated e-shop or other system whose API key holds the scope `S` names: 401 for
/// a missing, unknown or revoked key, 403 in words for a key without the scope.
pub struct ApiKey<S>(PhantomData<S>);

impl<S: need::RouteScope> FromRequestParts<AppState> for ApiKey<S> {
    type Rejection = CloudError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer(parts)
            .ok_or_else(|| CloudError::Unauthorized("an API key is required".into()))?;
        api_keys::check(&state.db, key, S::SCOPE).await?;
        Ok(ApiKey(PhantomData))
    }
}

/// Where a request came from, as enrolment attempts are counted: an IPv4 address, or the /64
/// network of an IPv6 address (one host usually holds a whole /64). `unknown` when the server
/// was not started with connection info (in-process tests).
pub struct SourceAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SourceAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |info| source_of(info.0.ip()));
        Ok(SourceAddress(source))
    }
}

/// The bearer token of the `Authorization` header, if it has a usable one.
fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 200)
}

fn source_of(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_source_is_counted_by_its_64_network() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("an address");
        let two: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("an address");
        assert_eq!(source_of(one), source_of(two), "one host, one /64");
        assert_eq!(source_of(one), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().expect("an address");
        assert_eq!(
            source_of(mapped),
            "10.0.0.7",
            "IPv4 seen through IPv6 is IPv4"
        );
    }
}
