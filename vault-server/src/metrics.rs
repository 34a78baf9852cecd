//! Prometheus metrics of the service, rendered as text at `GET /metrics`.
//!
//! Requests by route template and status, a latency histogram per route,
//! authentication failures by reason, throttled and shed requests, and the audit
//! writer's numbers (appended, failed appends, queue depth, checkpoints). Labels are route templates
//! (`/v1/accounts/{id}/disable`), never raw paths or query strings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use vault_core::audit::AuditMetrics;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The service's counters and histograms.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    auth_failures: Mutex<BTreeMap<&'static str, u64>>,
    throttled: AtomicU64,
    shed: AtomicU64,
    timeouts: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a metrics lock leaves only counters behind: keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// Counts one finished request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        *lock(&self.requests)
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        let secs = elapsed.as_secs_f64();
        let mut lat = lock(&self.latency);
        let h = lat.entry(route.to_owned()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Counts one failed authentication.
    pub fn auth_failure(&self, reason: &'static str) {
        *lock(&self.auth_failures).entry(reason).or_default() += 1;
    }

    /// Counts one request refused by the failed-authentication throttle.
    pub fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one request refused by the concurrency limit.
    pub fn shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one request cut off by the request timeout.
    pub fn timeout(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders every metric in the Prometheus text exposition format (0.0.4), with the
    /// audit writer's counters and gauge from `audit`.
    pub fn render(&self, audit: &AuditMetrics) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.render_into(&mut out, audit);
        out
    }

    fn render_into(&self, out: &mut String, audit: &AuditMetrics) -> std::fmt::Result {
        writeln!(out, "# HELP kentei_vault_http_requests_total HTTP requests by route template, method and status.")?;
        writeln!(out, "# TYPE kentei_vault_http_requests_total counter")?;
        for ((route, method, status), n) in lock(&self.requests).iter() {
            writeln!(
                out,
                "kentei_vault_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                esc(route),
                esc(method)
            )?;
        }
        writeln!(out, "# HELP kentei_vault_http_request_duration_seconds Time from request to response head, by route template.")?;
        writeln!(
            out,
            "# TYPE kentei_vault_http_request_duration_seconds histogram"
        )?;
        for (route, h) in lock(&self.latency).iter() {
            let r = esc(route);
            for (i, b) in BUCKETS.iter().enumerate() {
                writeln!(
                    out,
                    "kentei_vault_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {}",
                    h.counts[i]
                )?;
            }
            writeln!(
                out,
                "kentei_vault_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            )?;
            writeln!(
                out,
                "kentei_vault_http_request_duration_seconds_sum{{route=\"{r}\"}} {}",
                h.sum
            )?;
            writeln!(
                out,
                "kentei_vault_http_request_duration_seconds_count{{route=\"{r}\"}} {}",
                h.count
            )?;
        }
        writeln!(
            out,
            "# HELP kentei_vault_auth_failures_total Failed authentications by reason."
        )?;
        writeln!(out, "# TYPE kentei_vault_auth_failures_total counter")?;
        for (reason, n) in lock(&self.auth_failures).iter() {
            writeln!(
                out,
                "kentei_vault_auth_failures_total{{reason=\"{reason}\"}} {n}"
            )?;
        }
        let simple = [
            (
                "kentei_vault_auth_throttled_total",
                "counter",
                "Requests refused because their source failed authentication too often.",
                self.throttled.load(Ordering::Relaxed),
            ),
            (
                "kentei_vault_requests_shed_total",
                "counter",
                "Requests refused because the concurrency limit was reached.",
                self.shed.load(Ordering::Relaxed),
            ),
            (
                "kentei_vault_request_timeouts_total",
                "counter",
                "Requests cut off by the request timeout.",
                self.timeouts.load(Ordering::Relaxed),
            ),
            (
                "kentei_vault_audit_appended_total",
                "counter",
                "Audit events made durable by this process.",
                audit.appended(),
            ),
            (
                "kentei_vault_audit_append_failures_total",
                "counter",
                "Audit events that could not be written (each failed its request with 503).",
                audit.failures(),
            ),
            (
                "kentei_vault_audit_queue_depth",
                "gauge",
                "Audit messages waiting for the writer.",
                audit.queue_depth(),
            ),
            (
                "kentei_vault_audit_checkpoints_total",
                "counter",
                "Audit checkpoints signed by this process.",
                audit.checkpoints(),
            ),
            (
                "kentei_vault_audit_checkpoint_file_failures_total",
                "counter",
                "Failed appends to the audit checkpoint file (retried with the next checkpoint).",
                audit.checkpoint_file_failures(),
            ),
        ];
        for (name, kind, help, v) in simple {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} {kind}")?;
            writeln!(out, "{name} {v}")?;
        }
        Ok(())
    }
}

/// Escapes a label value.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_latency_and_auth_failures() {
        let m = Metrics::default();
        m.observe_request("/v1/accounts", "POST", 201, Duration::from_millis(3));
        m.auth_failure("unknown_token");
        let t = m.render(&AuditMetrics::default());
        assert!(t.contains(
            r#"kentei_vault_http_requests_total{route="/v1/accounts",method="POST",status="201"} 1"#
        ));
        assert!(t.contains(r#"kentei_vault_http_request_duration_seconds_bucket{route="/v1/accounts",le="0.005"} 1"#));
        assert!(t.contains(r#"kentei_vault_auth_failures_total{reason="unknown_token"} 1"#));
        assert!(t.contains("kentei_vault_audit_queue_depth 0"));
    }
}
