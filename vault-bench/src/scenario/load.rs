//! The load generator of the `http` scenario: one keep-alive HTTP/1.1 connection per
//! reader task (hyper's client connection over a tokio TCP stream, no pool), each
//! task sending its requests one after another. The warm-up requests open the
//! connections and are not counted; then every task starts the measured requests at
//! the same moment. Each answer must be 200 and carry the application's exam number.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use super::BenchError;

/// The purpose header of the contract.
const PURPOSE: HeaderName = HeaderName::from_static("vault-purpose");

/// One read: `GET /v1/applications/{application_id}` and what its answer must contain.
pub(super) struct Read {
    /// The path (shared bytes: each request's URI is made without copying).
    path: Bytes,
    /// `"exam_number":"…"` as compact JSON writes it.
    expected: Box<[u8]>,
}

impl Read {
    pub(super) fn application(application_id: &str, exam_number: &str) -> Read {
        let expected = format!(
            "\"exam_number\":{}",
            serde_json::Value::String(exam_number.to_owned())
        );
        Read {
            path: Bytes::from(format!("/v1/applications/{application_id}")),
            expected: expected.into_bytes().into_boxed_slice(),
        }
    }
}

/// What is sent: where, with which headers, which reads.
pub(super) struct Load {
    pub(super) addr: SocketAddr,
    /// `Bearer …`.
    pub(super) authorization: HeaderValue,
    pub(super) purpose: HeaderValue,
    /// Connections (one task each).
    pub(super) connections: usize,
    /// Not counted; sent first.
    pub(super) warmup: Arc<Vec<Read>>,
    /// Measured: each once, or round and round until `duration` is over.
    pub(super) reads: Arc<Vec<Read>>,
    pub(super) duration: Option<Duration>,
}

/// What one side measured.
pub(super) struct Measured {
    /// From the common start to the last answer.
    pub(super) elapsed: Duration,
    /// Measured requests.
    pub(super) requests: u64,
    /// Latencies of the measured requests in µs, sorted.
    pub(super) latencies_us: Vec<u32>,
    /// Failed requests (warm-up included) by kind: an HTTP status, `transport`, or
    /// `no_exam_number` (a 200 without the expected exam number).
    pub(super) errors: BTreeMap<String, u64>,
}

impl Measured {
    pub(super) fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// A keep-alive HTTP/1.1 connection.
struct Connection {
    sender: http1::SendRequest<Empty<Bytes>>,
    host: HeaderValue,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<Connection, BenchError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| BenchError::Server(format!("cannot connect to {addr}: {e}")))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| BenchError::Server(format!("HTTP handshake with {addr}: {e}")))?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the server closes the connection.
            let _ = connection.await;
        });
        let host = HeaderValue::from_str(&addr.to_string())
            .map_err(|_| BenchError::Server("the address is not a valid Host".into()))?;
        Ok(Connection { sender, host })
    }

    /// Sends `GET path` with `headers`; answers the status and the whole body.
    async fn get(
        &mut self,
        path: &Bytes,
        headers: &[(&HeaderName, &HeaderValue)],
    ) -> Result<(StatusCode, Bytes), hyper::Error> {
        self.sender.ready().await?;
        let mut req = Request::new(Empty::new());
        // Invariant: every path was checked to be a valid URI when the reads were made.
        *req.uri_mut() = Uri::from_maybe_shared(path.clone()).unwrap_or_default();
        let h = req.headers_mut();
        h.insert(HOST, self.host.clone());
        for (name, value) in headers {
            h.insert(*name, (*value).clone());
        }
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// Checks that every read's path is a valid request target.
pub(super) fn check_paths(reads: &[Read]) -> Result<(), BenchError> {
    for r in reads {
        Uri::from_maybe_shared(r.path.clone()).map_err(|_| {
            BenchError::Check("an application id does not make a valid path".into())
        })?;
    }
    Ok(())
}

/// `GET /readyz` answers 200.
pub(super) async fn ready(addr: SocketAddr) -> bool {
    let Ok(mut conn) = Connection::open(addr).await else {
        return false;
    };
    matches!(
        conn.get(&Bytes::from_static(b"/readyz"), &[]).await,
        Ok((StatusCode::OK, _))
    )
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// One task: its warm-up share, the common start, its measured share.
struct Task {
    index: usize,
    load: Arc<Load>,
    barrier: Arc<Barrier>,
}

impl Task {
    async fn send(
        &self,
        conn: &mut Connection,
        read: &Read,
        errors: &mut BTreeMap<String, u64>,
    ) -> Result<(), BenchError> {
        let headers = [
            (&AUTHORIZATION, &self.load.authorization),
            (&PURPOSE, &self.load.purpose),
        ];
        match conn.get(&read.path, &headers).await {
            // A substring test instead of parsing the answer: the client shares the
            // machine with the server, and compact JSON writes the pair this way.
            Ok((StatusCode::OK, body)) if contains(&body, &read.expected) => {}
            Ok((StatusCode::OK, _)) => *errors.entry("no_exam_number".into()).or_default() += 1,
            Ok((status, _)) => *errors.entry(status.as_u16().to_string()).or_default() += 1,
            Err(_) => {
                *errors.entry("transport".into()).or_default() += 1;
                *conn = Connection::open(self.load.addr).await?;
            }
        }
        Ok(())
    }

    async fn run(self) -> Result<(Vec<u32>, BTreeMap<String, u64>), BenchError> {
        let load = self.load.clone();
        let step = load.connections;
        let mut errors = BTreeMap::new();
        let warmed = async {
            let mut conn = Connection::open(load.addr).await?;
            for read in load.warmup.iter().skip(self.index).step_by(step) {
                self.send(&mut conn, read, &mut errors).await?;
            }
            Ok::<_, BenchError>(conn)
        }
        .await;
        // Every task reaches the barrier, also after a failure, so that none waits forever.
        self.barrier.wait().await;
        let mut conn = warmed?;
        let started = Instant::now();
        let deadline = load.duration.map(|d| started + d);
        let mut latencies = Vec::with_capacity(load.reads.len() / step + 1);
        let mut i = self.index;
        loop {
            match deadline {
                Some(deadline) if Instant::now() >= deadline => break,
                None if i >= load.reads.len() => break,
                _ => {}
            }
            let read = &load.reads[i % load.reads.len()];
            let t = Instant::now();
            self.send(&mut conn, read, &mut errors).await?;
            latencies.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
            i += step;
        }
        Ok((latencies, errors))
    }
}

/// Runs `load`: warm-up, then the measured requests from a common start.
pub(super) async fn drive(load: Load) -> Result<Measured, BenchError> {
    if load.reads.is_empty() || load.connections == 0 {
        return Err(BenchError::Unsupported(
            "the http load needs reads and connections".into(),
        ));
    }
    let load = Arc::new(load);
    let barrier = Arc::new(Barrier::new(load.connections + 1));
    let mut tasks = Vec::with_capacity(load.connections);
    for index in 0..load.connections {
        let task = Task {
            index,
            load: load.clone(),
            barrier: barrier.clone(),
        };
        tasks.push(tokio::spawn(task.run()));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut failure = None;
    for t in tasks {
        match t.await {
            Ok(Ok((lat, errs))) => {
                latencies.extend(lat);
                for (k, n) in errs {
                    *errors.entry(k).or_default() += n;
                }
            }
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(_) => failure = failure.or(Some(BenchError::Check("a load task failed".into()))),
        }
    }
    let elapsed = started.elapsed();
    if let Some(e) = failure {
        return Err(e);
    }
    latencies.sort_unstable();
    Ok(Measured {
        elapsed,
        requests: latencies.len() as u64,
        latencies_us: latencies,
        errors,
    })
}
