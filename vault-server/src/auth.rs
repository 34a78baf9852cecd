//! Authentication of every protected route: `Authorization: Bearer <token>` ->
//! account (hash lookup, active, not expired, source address inside its allowed
//! networks), with throttling of sources that fail too often (C5, C6, C7, C10).
//!
//! Every failure is counted in the metrics and audited with its reason; a source
//! that failed `auth_failure_limit` times within `auth_failure_window` gets 429
//! `rate_limited` (also audited) until the window ends, whatever token it sends.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use vault_core::accounts::{AuthFailure, Principal};
use vault_core::audit::Outcome;

use crate::audit::AuditRecord;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// Sources tracked at most; beyond it expired windows are swept first.
const MAX_TRACKED_SOURCES: usize = 100_000;

/// Failed authentications per source address in a fixed window.
pub(crate) struct AuthThrottle {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// IPv6 clients are throttled per /64, since one host usually holds a whole /64.
fn throttle_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
        v4 => v4,
    }
}

impl AuthThrottle {
    pub(crate) fn new(limit: u32, window: Duration) -> AuthThrottle {
        AuthThrottle {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (Instant, u32)>> {
        // The map holds only counters; a poisoned lock is still usable.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seconds until `ip` may try again, if it is throttled now.
    pub(crate) fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let map = self.map();
        let (start, n) = map.get(&throttle_key(ip))?;
        let elapsed = now.duration_since(*start);
        (*n >= self.limit && elapsed < self.window)
            .then(|| (self.window - elapsed).as_secs().max(1))
    }

    /// Counts one failure of `ip`.
    pub(crate) fn fail(&self, ip: IpAddr) {
        let now = Instant::now();
        let window = self.window;
        let mut map = self.map();
        if map.len() >= MAX_TRACKED_SOURCES {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
            if map.len() >= MAX_TRACKED_SOURCES {
                // Under a flood from very many sources, forget the oldest half.
                let mut starts: Vec<Instant> = map.values().map(|(s, _)| *s).collect();
                starts.sort_unstable();
                let cut = starts[starts.len() / 2];
                map.retain(|_, (s, _)| *s > cut);
            }
        }
        let e = map.entry(throttle_key(ip)).or_insert((now, 0));
        if now.duration_since(e.0) >= window {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
    }
}

/// The source address of the connection (set by the server for each connection).
pub(crate) fn source_of(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The audit action of a failed authentication with `reason` (see `docs/api.md`).
fn auth_action(reason: &str) -> &'static str {
    match reason {
        "missing_token" => "auth.missing_token",
        "malformed" => "auth.malformed",
        "unknown_token" => "auth.unknown_token",
        "token_expired" => "auth.token_expired",
        "token_revoked" => "auth.token_revoked",
        "account_disabled" => "auth.account_disabled",
        "account_expired" => "auth.account_expired",
        "source_not_allowed" => "auth.source_not_allowed",
        "bootstrap_unusable" => "auth.bootstrap_unusable",
        "rate_limited" => "auth.rate_limited",
        _ => "auth.failed",
    }
}

/// Middleware: authenticates the request or answers 401/403/429.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(source) = source_of(&req) else {
        return ApiError::internal("connection without a source address").into_response();
    };
    let deny = |reason: &'static str, failure: Option<AuthFailure>| {
        let mut r = AuditRecord::new(auth_action(reason), Outcome::Denied, source);
        r.actor = failure.and_then(|f| f.account_id()).map(|a| a.to_string());
        r.token_id = failure.and_then(|f| f.token_id()).map(|t| t.to_string());
        r
    };
    if let Some(retry) = state.throttle().blocked(source) {
        state.metrics().throttled();
        if let Err(e) = state.audit(deny("rate_limited", None)).await {
            return e.into_response();
        }
        return ApiError::RateLimited {
            retry_after_secs: retry,
        }
        .into_response();
    }
    let outcome = match bearer(&req) {
        None => Ok(Err(None)),
        Some(token) => state
            .accounts()
            .authenticate(token, source)
            .await
            .map(|r| r.map_err(Some)),
    };
    let principal = match outcome {
        Err(e) => return ApiError::internal(e).into_response(),
        Ok(Ok(p)) => p,
        Ok(Err(failure)) => {
            let reason = failure.map_or("missing_token", |f| f.reason());
            state.throttle().fail(source);
            state.metrics().auth_failure(reason);
            if let Err(e) = state.audit(deny(reason, failure)).await {
                return e.into_response();
            }
            return match failure {
                Some(AuthFailure::SourceNotAllowed(..)) => {
                    ApiError::Forbidden("this account may not call from this network address")
                }
                _ => ApiError::Unauthenticated,
            }
            .into_response();
        }
    };
    if matches!(principal, Principal::Bootstrap { .. })
        && !(req.method() == Method::POST && req.uri().path() == "/v1/accounts")
    {
        let mut r = AuditRecord::new("auth.bootstrap_scope", Outcome::Denied, source);
        r.actor = Some("bootstrap".to_owned());
        if let Err(e) = state.audit(r).await {
            return e.into_response();
        }
        return ApiError::Forbidden(
            "the bootstrap token may only create the first admin account (POST /v1/accounts)",
        )
        .into_response();
    }
    req.extensions_mut().insert(Caller { principal, source });
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_authentication_failure_has_a_recordable_action() {
        for reason in [
            "missing_token",
            "malformed",
            "unknown_token",
            "token_expired",
            "token_revoked",
            "account_disabled",
            "account_expired",
            "source_not_allowed",
            "bootstrap_unusable",
            "rate_limited",
        ] {
            let action = auth_action(reason);
            assert_eq!(action, format!("auth.{reason}"));
            assert!(vault_core::audit::Label::parse("action", action).is_ok());
        }
        assert!(vault_core::audit::Label::parse("action", "auth.bootstrap_scope").is_ok());
    }

    #[test]
    fn throttles_after_limit_within_window() {
        let t = AuthThrottle::new(3, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..2 {
            t.fail(ip);
        }
        assert!(t.blocked(ip).is_none());
        t.fail(ip);
        assert!(t.blocked(ip).is_some());
        assert!(t.blocked("192.0.2.2".parse().unwrap()).is_none());
    }

    #[test]
    fn window_expiry_lifts_the_throttle() {
        let t = AuthThrottle::new(1, Duration::from_millis(20));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        t.fail(ip);
        assert!(t.blocked(ip).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(t.blocked(ip).is_none());
    }

    #[test]
    fn ipv6_sources_share_a_slash_64() {
        let t = AuthThrottle::new(2, Duration::from_secs(60));
        t.fail("2001:db8::1".parse().unwrap());
        t.fail("2001:db8::2".parse().unwrap());
        assert!(t.blocked("2001:db8::3".parse().unwrap()).is_some());
        assert!(t.blocked("2001:db8:0:1::1".parse().unwrap()).is_none());
    }
}
