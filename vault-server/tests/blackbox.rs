//! Black-box tests: the real `kentei-vault` binary, driven over HTTP, on SQLite and
//! on PostgreSQL. The harness is the `kentei-vault-tests` crate (`tests/`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kentei_vault_tests::{run_cli, Db, StartOptions, Vault};
use reqwest::Method;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kentei-vault");

fn staff(name: &str, prefs: &[&str]) -> Value {
    json!({"name": name, "roles": ["exam_staff"], "prefectures": prefs})
}

async fn start_with_env(env: &[(&str, &str)]) -> Vault {
    Vault::start_with(
        BIN,
        Db::Sqlite,
        StartOptions {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..StartOptions::default()
        },
    )
    .await
}

async fn status(v: &Vault, method: Method, path: &str, token: &str, purpose: Option<&str>) -> u16 {
    v.req(method, path, token, purpose)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// C9: the bootstrap token creates the first named admin once and never works again.
#[tokio::test]
async fn bootstrap_token_creates_first_admin_then_stops_working() {
    for db in Db::BOTH {
        let v = Vault::start(BIN, db).await;
        v.first_admin().await;
        let again = v
            .req(
                Method::POST,
                "/v1/accounts",
                &v.bootstrap_token,
                Some("account_management"),
            )
            .json(&json!({"name": "second-admin", "roles": ["admin"], "prefectures": ["*"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 401, "{db:?}");
        let p: Value = again.json().await.unwrap();
        assert_eq!(p["type"], "unauthenticated");
    }
}

#[tokio::test]
async fn bootstrap_token_cannot_create_a_non_admin() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let r = v
        .req(
            Method::POST,
            "/v1/accounts",
            &v.bootstrap_token,
            Some("account_management"),
        )
        .json(&staff("staff", &["35"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // Still unused: the first admin can be made now.
    v.first_admin().await;
}

#[tokio::test]
async fn bootstrap_token_opens_no_other_route() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let s = status(
        &v,
        Method::GET,
        "/v1/accounts/roster",
        &v.bootstrap_token,
        Some("account_management"),
    )
    .await;
    assert_eq!(s, 403);
}

/// C4: the admin creates per-person accounts, each with its own working token.
#[tokio::test]
async fn admin_creates_accounts_that_authenticate() {
    for db in Db::BOTH {
        let v = Vault::start(BIN, db).await;
        let (_, admin) = v.first_admin().await;
        let (a_id, a_tok) = v.create_account(&admin, staff("tanaka", &["35"])).await;
        let (b_id, b_tok) = v.create_account(&admin, staff("suzuki", &["13"])).await;
        assert_ne!(a_id, b_id);
        assert_ne!(a_tok, b_tok);
        assert!(a_tok.starts_with("kv_"));
        for t in [&a_tok, &b_tok] {
            assert_eq!(
                status(&v, Method::GET, "/metrics", t, None).await,
                200,
                "{db:?}"
            );
        }
    }
}

#[tokio::test]
async fn duplicate_account_name_is_409() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    v.create_account(&admin, staff("tanaka", &["35"])).await;
    let r = v
        .req(
            Method::POST,
            "/v1/accounts",
            &admin,
            Some("account_management"),
        )
        .json(&staff("tanaka", &["13"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
}

/// C10: a disabled account is refused on its very next request.
#[tokio::test]
async fn disabled_account_gets_401_on_next_request() {
    for db in Db::BOTH {
        let v = Vault::start(BIN, db).await;
        let (_, admin) = v.first_admin().await;
        let (id, tok) = v
            .create_account(&admin, staff("former-staff", &["35"]))
            .await;
        assert_eq!(status(&v, Method::GET, "/metrics", &tok, None).await, 200);
        let d = status(
            &v,
            Method::POST,
            &format!("/v1/accounts/{id}/disable"),
            &admin,
            Some("account_management"),
        )
        .await;
        assert_eq!(d, 204, "{db:?}");
        assert_eq!(
            status(&v, Method::GET, "/metrics", &tok, None).await,
            401,
            "{db:?}"
        );
    }
}

/// C24: one call revokes every token of a prefecture's accounts.
#[tokio::test]
async fn tenant_revoke_makes_every_token_of_that_tenant_401() {
    for db in Db::BOTH {
        let v = Vault::start(BIN, db).await;
        let (_, admin) = v.first_admin().await;
        let (_, t35a) = v.create_account(&admin, staff("a", &["35"])).await;
        let (b, t35b) = v.create_account(&admin, staff("b", &["35", "13"])).await;
        let extra = v
            .req(
                Method::POST,
                &format!("/v1/accounts/{b}/tokens"),
                &admin,
                Some("account_management"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(extra.status(), 201);
        let t35b2 = extra.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, t13) = v.create_account(&admin, staff("c", &["13"])).await;
        let officer_body =
            json!({"name": "officer", "roles": ["security_officer"], "prefectures": ["*"]});
        let (_, officer) = v.create_account(&admin, officer_body).await;
        let r = v
            .req(
                Method::POST,
                "/v1/tenants/35/revoke",
                &officer,
                Some("incident_response"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{db:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["tokens_revoked"], 3);
        for t in [&t35a, &t35b, &t35b2] {
            assert_eq!(
                status(&v, Method::GET, "/metrics", t, None).await,
                401,
                "{db:?}"
            );
        }
        assert_eq!(
            status(&v, Method::GET, "/metrics", &t13, None).await,
            200,
            "{db:?}"
        );
    }
}

#[tokio::test]
async fn account_revoke_withdraws_all_its_tokens() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let (id, tok) = v.create_account(&admin, staff("a", &["35"])).await;
    let s = status(
        &v,
        Method::POST,
        &format!("/v1/accounts/{id}/revoke"),
        &admin,
        Some("account_management"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(status(&v, Method::GET, "/metrics", &tok, None).await, 401);
}

/// C8: the roster shows a disabled former staff account as disabled and never used.
#[tokio::test]
async fn roster_lists_disabled_account_as_disabled_and_never_used() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (admin_id, admin) = v.first_admin().await;
    let (id, _) = v.create_account(&admin, staff("former", &["35"])).await;
    status(
        &v,
        Method::POST,
        &format!("/v1/accounts/{id}/disable"),
        &admin,
        Some("account_management"),
    )
    .await;
    let r = v
        .req(
            Method::GET,
            "/v1/accounts/roster",
            &admin,
            Some("account_management"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let accounts = body["accounts"].as_array().unwrap();
    let former = accounts
        .iter()
        .find(|a| a["account_id"] == id.as_str())
        .unwrap();
    assert_eq!(former["status"], "disabled");
    assert_eq!(former["last_used_at"], Value::Null);
    assert_eq!(former["created_by"], admin_id.as_str());
    assert_eq!(former["prefectures"], json!(["35"]));
    let me = accounts
        .iter()
        .find(|a| a["account_id"] == admin_id.as_str())
        .unwrap();
    assert_eq!(me["created_by"], "bootstrap");
    assert!(me["last_used_at"].is_string());
}

#[tokio::test]
async fn roster_page_size_is_capped() {
    let v = start_with_env(&[
        ("KENTEI_VAULT_PAGE_SIZE_MAX", "2"),
        ("KENTEI_VAULT_PAGE_SIZE_DEFAULT", "2"),
    ])
    .await;
    let (_, admin) = v.first_admin().await;
    for n in ["a", "b", "c"] {
        v.create_account(&admin, staff(n, &["35"])).await;
    }
    let r = v
        .req(
            Method::GET,
            "/v1/accounts/roster?limit=1000",
            &admin,
            Some("account_management"),
        )
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["accounts"].as_array().unwrap().len(), 2);
    let cursor = body["next_cursor"].as_str().unwrap().to_owned();
    let r = v
        .req(
            Method::GET,
            &format!("/v1/accounts/roster?cursor={cursor}"),
            &admin,
            Some("account_management"),
        )
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["accounts"].as_array().unwrap().len(), 2);
}

/// C6: repeated bad tokens from one source are throttled with 429, audited and counted.
#[tokio::test]
async fn sixty_bad_tokens_from_one_source_get_429() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let (_, officer) = v.security_officer(&admin, "officer").await;
    let mut statuses = Vec::new();
    for i in 0..60 {
        let bad = format!("kv_{i:0>43}");
        statuses.push(status(&v, Method::GET, "/metrics", &bad, None).await);
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    // The source is throttled whatever token it sends, until the window ends.
    let r = v
        .req(Method::GET, "/metrics", &admin, None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], "rate_limited");
    // The officer reads the audit from another source address, which is not throttled.
    let other = v.client_from("127.0.0.2".parse().unwrap());
    let failed = v
        .audit_events_with(&other, &officer, "action=auth.unknown_token")
        .await;
    assert_eq!(failed.len(), 10, "every failed authentication is audited");
    assert!(failed.iter().all(|e| e["outcome"] == "denied"
        && e["actor"] == "anonymous"
        && e["source"] == "127.0.0.1"));
    let throttled = v
        .audit_events_with(&other, &officer, "action=auth.rate_limited")
        .await;
    assert_eq!(throttled.len(), 51, "every throttled request is audited");
}

#[tokio::test]
async fn auth_failures_are_counted_in_metrics() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    for _ in 0..3 {
        status(&v, Method::GET, "/metrics", "kv_nope", None).await;
    }
    let text = v
        .req(Method::GET, "/metrics", &admin, None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"kentei_vault_auth_failures_total{reason="malformed"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"kentei_vault_http_requests_total{route="/v1/accounts",method="POST",status="201"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("kentei_vault_http_request_duration_seconds_bucket"));
    assert!(text.contains("kentei_vault_audit_queue_depth"));
}

/// C7: a request from outside the account's allowed networks is refused and audited.
#[tokio::test]
async fn source_outside_allowed_networks_gets_403() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let mut body = staff("terminal-user", &["35"]);
    body["allowed_networks"] = json!(["10.20.0.0/16"]);
    let (id, tok) = v.create_account(&admin, body).await;
    assert_eq!(status(&v, Method::GET, "/metrics", &tok, None).await, 403);
    let (_, officer) = v.security_officer(&admin, "officer").await;
    let events = v
        .audit_events(&officer, "action=auth.source_not_allowed")
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], json!(id));
    assert_eq!(events[0]["outcome"], "denied");
}

#[tokio::test]
async fn six_mib_body_gets_413() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let big = vec![b' '; 6 * 1024 * 1024];
    let r = v
        .req(
            Method::POST,
            "/v1/accounts",
            &admin,
            Some("account_management"),
        )
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], "payload_too_large");
}

#[tokio::test]
async fn personal_data_route_without_purpose_gets_400() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let r = v
        .req(Method::POST, "/v1/accounts", &admin, None)
        .json(&staff("x", &["35"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], "purpose_required");
}

#[tokio::test]
async fn purpose_the_role_may_not_state_is_403() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let (_, staff_tok) = v.create_account(&admin, staff("s", &["35"])).await;
    assert_eq!(
        status(
            &v,
            Method::GET,
            "/v1/accounts/roster",
            &staff_tok,
            Some("account_management")
        )
        .await,
        403
    );
    assert_eq!(
        status(
            &v,
            Method::GET,
            "/v1/accounts/roster",
            &admin,
            Some("exam_administration")
        )
        .await,
        403
    );
}

/// C1 style: unknown fields and bad values are 422 naming the field, never echoing the value.
#[tokio::test]
async fn invalid_account_fields_are_422_without_the_value() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let mut body = staff("x", &["35"]);
    body["my_number"] = json!("123456789018");
    let r = v
        .req(
            Method::POST,
            "/v1/accounts",
            &admin,
            Some("account_management"),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(text.contains(r#""field":"my_number""#), "{text}");
    assert!(!text.contains("123456789018"));

    let r = v
        .req(
            Method::POST,
            "/v1/accounts",
            &admin,
            Some("account_management"),
        )
        .json(&json!({"name": "y", "roles": ["root-SECRET"], "prefectures": ["99"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], "validation");
    assert!(!p.to_string().contains("root-SECRET"));
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["roles", "prefectures"]);

    let r = v
        .req(
            Method::POST,
            "/v1/accounts",
            &admin,
            Some("account_management"),
        )
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn responses_carry_security_headers_and_echo_request_id() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let r = v
        .client
        .get(v.url("/healthz"))
        .header("Vault-Request-Id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["vault-request-id"], "req-123");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let r = v
        .client
        .get(v.url("/v1/accounts/roster"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let generated = r.headers()["vault-request-id"].to_str().unwrap().to_owned();
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["request_id"], generated.as_str());
}

#[tokio::test]
async fn readyz_reports_a_writable_database() {
    for db in Db::BOTH {
        let v = Vault::start(BIN, db).await;
        let r = v.client.get(v.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["database"],
            if db == Db::Sqlite {
                "sqlite"
            } else {
                "postgres"
            }
        );
    }
}

#[tokio::test]
async fn openapi_document_is_served_to_authenticated_callers() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let r = v
        .req(Method::GET, "/openapi.json", &admin, None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["paths"]["/v1/tenants/{prefecture}/revoke"]["post"].is_object());
}

/// The server drains an in-flight request on SIGTERM, answers it, and exits 0.
#[tokio::test]
async fn sigterm_drains_in_flight_request_and_exits_zero() {
    let mut v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let body = staff("late", &["35"]).to_string();
    let (head, tail) = body.split_at(5);
    let mut s = TcpStream::connect(v.addr).unwrap();
    write!(
        s,
        "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
         Vault-Purpose: account_management\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    v.sigterm();
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(tail.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    let st = v
        .wait_exit(Duration::from_secs(20))
        .expect("exits after SIGTERM");
    assert_eq!(st.code(), Some(0));
}

/// A client that sends its headers too slowly (slowloris) is disconnected.
#[tokio::test]
async fn slowloris_client_is_cut_off() {
    let v = start_with_env(&[("KENTEI_VAULT_HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let mut s = TcpStream::connect(v.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let start = Instant::now();
    let mut closed = false;
    let mut buf = [0u8; 1024];
    while start.elapsed() < Duration::from_secs(8) {
        // Keep dribbling a header line, as a slowloris client does.
        if s.write_all(b"X-Slow: 1\r\n").is_err() {
            closed = true;
            break;
        }
        match s.read(&mut buf) {
            // EOF, or a 408 response before the close: cut off either way.
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(closed, "connection still open after {:?}", start.elapsed());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "cut off after {:?}",
        start.elapsed()
    );
}

/// Beyond `max_concurrent_requests` in flight, the next request is 503 at once.
#[tokio::test]
async fn concurrency_limit_answers_503_beyond_it() {
    let v = start_with_env(&[("KENTEI_VAULT_MAX_CONCURRENT_REQUESTS", "2")]).await;
    let (_, admin) = v.first_admin().await;
    // Two requests whose bodies never finish hold the two slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(v.addr).unwrap();
        write!(
            s,
            "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
             Vault-Purpose: account_management\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\n\r\n{{"
        )
        .unwrap();
        held.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let r = v
        .req(Method::GET, "/metrics", &admin, None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], "overloaded");
    // Health probes are exempt.
    assert_eq!(
        v.client
            .get(v.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status(&v, Method::GET, "/metrics", &admin, None).await, 200);
}

#[tokio::test]
async fn slow_body_is_cut_by_request_timeout() {
    let v = start_with_env(&[("KENTEI_VAULT_REQUEST_TIMEOUT_SECS", "1")]).await;
    let (_, admin) = v.first_admin().await;
    let mut s = TcpStream::connect(v.addr).unwrap();
    write!(
        s,
        "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
         Vault-Purpose: account_management\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{"
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
}

#[test]
fn init_refuses_an_existing_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("something"), "keep me").unwrap();
    let out = run_cli(
        BIN.as_ref(),
        &["init", "--data-dir", dir.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("never overwrites"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("something")).unwrap(),
        "keep me"
    );
}

#[test]
fn init_creates_private_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let dd = dir.path().join("vd");
    let out = run_cli(
        BIN.as_ref(),
        &["init", "--data-dir", dd.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dd), 0o700);
    assert_eq!(mode(&dd.join("keys")), 0o700);
    assert_eq!(mode(&dd.join("keys/keyring")), 0o600);
    assert_eq!(mode(&dd.join("kentei-vault.toml")), 0o600);
    assert_eq!(mode(&dd.join("vault.db")), 0o600);
}

#[test]
fn bad_config_is_refused_with_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let dd = dir.path().join("vd");
    assert_eq!(
        run_cli(
            BIN.as_ref(),
            &["init", "--data-dir", dd.to_str().unwrap()],
            &[]
        )
        .code,
        0
    );
    let out = run_cli(
        BIN.as_ref(),
        &["serve", "--data-dir", dd.to_str().unwrap()],
        &[("KENTEI_VAULT_MAX_BODY_BYTES", "lots")],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("`max_body_bytes` (from environment variable KENTEI_VAULT_MAX_BODY_BYTES)"),
        "{}",
        out.stderr
    );
}

#[test]
fn config_show_masks_the_database_password() {
    let dir = tempfile::tempdir().unwrap();
    let dd = dir.path().join("vd");
    assert_eq!(
        run_cli(
            BIN.as_ref(),
            &["init", "--data-dir", dd.to_str().unwrap()],
            &[]
        )
        .code,
        0
    );
    let out = run_cli(
        BIN.as_ref(),
        &[
            "config",
            "show",
            "--data-dir",
            dd.to_str().unwrap(),
            "--database-url",
            "postgres://vault:s3cret-pw@db:5432/vault",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("s3cret-pw"));
    assert!(out.stdout.contains("postgres://vault:****@db:5432/vault"));
}

#[test]
fn usage_error_exits_2() {
    let out = run_cli(BIN.as_ref(), &["no-such-command"], &[]);
    assert_eq!(out.code, 2);
    let out = run_cli(BIN.as_ref(), &["accounts", "create"], &[]);
    assert_eq!(out.code, 2);
}

#[test]
fn cli_accounts_create_list_disable() {
    let dir = tempfile::tempdir().unwrap();
    let dd = dir.path().join("vd");
    let d = dd.to_str().unwrap();
    assert_eq!(
        run_cli(BIN.as_ref(), &["init", "--data-dir", d], &[]).code,
        0
    );
    let out = run_cli(
        BIN.as_ref(),
        &[
            "accounts",
            "create",
            "--data-dir",
            d,
            "--name",
            "ops-admin",
            "--role",
            "admin",
            "--prefecture",
            "*",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let created: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let id = created["account_id"].as_str().unwrap();
    assert!(created["token"].as_str().unwrap().starts_with("kv_"));
    assert_eq!(
        run_cli(
            BIN.as_ref(),
            &["accounts", "disable", "--data-dir", d, id],
            &[]
        )
        .code,
        0
    );
    let out = run_cli(BIN.as_ref(), &["accounts", "list", "--data-dir", d], &[]);
    let row: Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(row["status"], "disabled");
    assert!(row["created_by"].as_str().unwrap().starts_with("cli:"));
    let out = run_cli(
        BIN.as_ref(),
        &[
            "accounts",
            "create",
            "--data-dir",
            d,
            "--name",
            "x",
            "--role",
            "root",
            "--prefecture",
            "35",
        ],
        &[],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("roles (unknown_role)"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn tokens_and_account_names_never_appear_in_logs() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let (_, tok) = v.create_account(&admin, staff("山田太郎", &["35"])).await;
    status(&v, Method::GET, "/metrics", &tok, None).await;
    let wrong = "kv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    status(&v, Method::GET, "/metrics", wrong, None).await;
    let logs = v.logs();
    for secret in [v.bootstrap_token.as_str(), &admin, &tok, wrong] {
        assert!(!logs.contains(secret), "a token appears in the logs");
    }
    assert!(
        !logs.contains("山田太郎"),
        "an account name appears in the logs"
    );
}

/// Separation of duties: one account cannot both read personal data and approve.
#[tokio::test]
async fn reader_and_approver_roles_on_one_account_are_422() {
    let v = Vault::start(BIN, Db::Sqlite).await;
    let (_, admin) = v.first_admin().await;
    let r = v
        .req(Method::POST, "/v1/accounts", &admin, Some("account_management"))
        .json(&json!({"name": "both", "roles": ["exam_staff", "retention_approver"], "prefectures": ["35"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["errors"][0]["code"], "separation_of_duties");
}

#[test]
fn policy_check_accepts_the_default_and_names_the_line_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    let out = run_cli(BIN.as_ref(), &["policy", "explain"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("exam_staff"));
    std::fs::write(&good, include_str!("../../policy/default-policy.toml")).unwrap();
    let out = run_cli(
        BIN.as_ref(),
        &["policy", "check", good.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[grant]]\nrole = \"nobody\"\npurpose = \"nothing\"\n",
    )
    .unwrap();
    let out = run_cli(
        BIN.as_ref(),
        &["policy", "check", bad.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("bad.toml:"), "{}", out.stderr);
    let out = run_cli(
        BIN.as_ref(),
        &[
            "policy",
            "diff",
            good.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn serve_refuses_a_bad_policy_file_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let dd = dir.path().join("vd");
    assert_eq!(
        run_cli(
            BIN.as_ref(),
            &["init", "--data-dir", dd.to_str().unwrap()],
            &[]
        )
        .code,
        0
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "this is = = not toml").unwrap();
    let out = run_cli(
        BIN.as_ref(),
        &[
            "serve",
            "--data-dir",
            dd.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[("KENTEI_VAULT_POLICY_FILE", bad.to_str().unwrap())],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("policy_file"), "{}", out.stderr);
}

/// `--tls-cert/--tls-key`: the service speaks HTTPS with the given certificate.
#[tokio::test]
async fn tls_serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args([
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ])
        .args(["-days", "1", "-subj", "/CN=localhost"])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .output()
        .expect("openssl is needed to make a test certificate");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let pem = std::fs::read(&cert).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let v = Vault::start_with(
        BIN,
        Db::Sqlite,
        StartOptions {
            args: vec![
                "--tls-cert".into(),
                cert.to_str().unwrap().into(),
                "--tls-key".into(),
                key.to_str().unwrap().into(),
            ],
            https_client: Some(client),
            ..StartOptions::default()
        },
    )
    .await;
    assert!(v.base.starts_with("https://"));
    let r = v.client.get(v.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", v.addr))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

/// Keys stay private: `serve` refuses a key file that group or others can read.
#[test]
fn serve_refuses_a_group_readable_keyring() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let dd = dir.path().join("vd");
    assert_eq!(
        run_cli(
            BIN.as_ref(),
            &["init", "--data-dir", dd.to_str().unwrap()],
            &[]
        )
        .code,
        0
    );
    let key = dd.join("keys/keyring");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = run_cli(
        BIN.as_ref(),
        &[
            "serve",
            "--data-dir",
            dd.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot load the keyring"),
        "{}",
        out.stderr
    );
}
