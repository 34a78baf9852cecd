//! The plaintext baseline server of the `http` scenario (`vault-bench baseline-server`,
//! a child process of the scenario): the route `GET /v1/applications/{application_id}`
//! as the vault serves it, without cryptography and audit. It compares the bearer
//! token with one fixed token, requires a `Vault-Purpose` header, reads the
//! application's plaintext JSON with its result from the baseline tables (see `raw`)
//! and answers it as JSON. Also `GET /readyz`. The same axum and hyper stack as the
//! vault, the same kind of runtime (multi-threaded tokio), the same pool size as the
//! vault server's; no access log, no metrics, no other middleware.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use axum::{Json, Router};
use serde_json::json;
use vault_core::store::{connect, Backend, ConnectOptions};

use super::{raw, BenchError};

/// Settings of the baseline server.
pub struct BaselineServer {
    database_url: String,
    listen: SocketAddr,
    token: String,
    connections: u32,
}

impl BaselineServer {
    /// Serves the baseline tables of `database_url` on `listen` (port 0 picks a free
    /// one, announced on standard error as `{"message":"listening","addr":…}`) to
    /// callers presenting `Authorization: Bearer {token}`, with a pool of
    /// `connections` database connections.
    pub fn new(
        database_url: String,
        listen: SocketAddr,
        token: String,
        connections: u32,
    ) -> BaselineServer {
        BaselineServer {
            database_url,
            listen,
            token,
            connections,
        }
    }
}

#[derive(Clone)]
struct Baseline {
    backend: Backend,
    /// The whole expected `Authorization` value.
    authorization: Arc<str>,
}

/// Runs the baseline server until SIGTERM or SIGINT.
pub async fn serve_baseline(server: BaselineServer) -> Result<(), BenchError> {
    let backend = connect(
        &server.database_url,
        &ConnectOptions {
            max_connections: server.connections,
            ..ConnectOptions::default()
        },
    )
    .await?;
    let app = router(backend.clone(), &server.token);
    // As the vault's listener: no Nagle delay on small answers.
    let listener = tokio::net::TcpListener::bind(server.listen).await?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    eprintln!(
        "{}",
        json!({"message": "listening", "addr": addr.to_string()})
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    backend.close().await;
    served?;
    Ok(())
}

/// The baseline's routes over `backend`, accepting `token`.
fn router(backend: Backend, token: &str) -> Router {
    let state = Baseline {
        backend,
        authorization: format!("Bearer {token}").into(),
    };
    Router::new()
        .route("/v1/applications/{application_id}", get(read_application))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn read_application(
    State(state): State<Baseline>,
    Path(application_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    // A plain comparison: a baseline, not an authentication scheme.
    let authorized = headers
        .get(AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == state.authorization.as_bytes());
    if !authorized {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if !headers.contains_key("vault-purpose") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match raw::read_application(&state.backend, &application_id).await {
        Ok(Some(fields)) => Json(fields).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn readyz(State(state): State<Baseline>) -> StatusCode {
    let ok = match &state.backend {
        Backend::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.is_ok(),
        Backend::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.is_ok(),
    };
    if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use hyper::header::HeaderValue;
    use vault_core::store::ConnectOptions;

    use super::super::db::BenchDb;
    use super::super::import::generate;
    use super::super::load::{drive, Load, Measured, Read};
    use super::super::BackendKind;
    use super::*;
    use crate::{Generator, GeneratorConfig};

    const TOKEN: &str = "baseline-test-token";

    /// A baseline server over 20 generated examinees; answers its address and reads
    /// of every examinee's first application.
    async fn server(dir: &std::path::Path) -> (SocketAddr, Vec<(String, String)>) {
        let file = generate(dir, 20, 3).expect("generate");
        let db = BenchDb::create(
            BackendKind::Sqlite,
            dir,
            "raw",
            "",
            &ConnectOptions::default(),
        )
        .await
        .expect("db");
        raw::create_tables(&db.backend).await.expect("tables");
        raw::import(&db.backend, &file, 8).await.expect("import");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = router(db.backend.clone(), TOKEN);
        tokio::spawn(async move { axum::serve(listener, app).await });
        let generator = Generator::new(GeneratorConfig::new(3));
        let apps = (0..20)
            .map(|i| {
                let app = generator.examinee(i).applications.swap_remove(0);
                (app.application_id, app.exam_number)
            })
            .collect();
        (addr, apps)
    }

    async fn load(addr: SocketAddr, token: &str, reads: Vec<Read>) -> Measured {
        drive(Load {
            addr,
            authorization: HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
            purpose: HeaderValue::from_static("exam_administration"),
            connections: 3,
            warmup: Arc::new(Vec::new()),
            reads: Arc::new(reads),
            duration: None,
        })
        .await
        .expect("load runs")
    }

    fn errors(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_load_counts_every_answer_that_is_not_the_right_application() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (addr, apps) = server(dir.path()).await;
        let good = || apps.iter().map(|(id, exam)| Read::application(id, exam));

        let ok = load(addr, TOKEN, good().collect()).await;
        assert_eq!(ok.requests, 20);
        assert_eq!(ok.error_count(), 0, "{:?}", ok.errors);
        assert_eq!(ok.latencies_us.len(), 20);

        let refused = load(addr, "wrong-token", good().collect()).await;
        assert_eq!(refused.errors, errors(&[("401", 20)]));

        // Another application's exam number, and an application that does not exist.
        let wrong = vec![
            Read::application(&apps[0].0, &apps[1].1),
            Read::application("2024-13-99999999999", &apps[0].1),
        ];
        let failed = load(addr, TOKEN, wrong).await;
        assert_eq!(failed.errors, errors(&[("404", 1), ("no_exam_number", 1)]));
    }
}
