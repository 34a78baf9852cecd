//! Accounts and tokens on both backends (C4, C5, C7, C8, C9, C10, C24).

mod common;

use std::net::IpAddr;

use chrono::{Duration, Utc};
use common::TestDb;
use vault_core::accounts::{
    AccountStatus, Accounts, AccountsError, AuthFailure, CreatedBy, NewAccount, Principal,
};

fn any_role(_: &str) -> bool {
    true
}

fn local() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

fn staff(name: &str, prefs: &[&str]) -> NewAccount {
    NewAccount {
        name: name.into(),
        roles: vec!["exam_staff".into()],
        prefectures: prefs.iter().map(|p| (*p).to_owned()).collect(),
        allowed_networks: vec![],
        expires_at: None,
    }
}

fn admin_by() -> CreatedBy {
    CreatedBy::Cli("test".into())
}

#[tokio::test]
async fn bootstrap_token_creates_first_admin_once() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        let boot = acc.create_bootstrap(Duration::hours(1)).await.unwrap();
        let p = acc
            .authenticate(boot.expose_token(), local())
            .await
            .unwrap()
            .unwrap();
        let Principal::Bootstrap { bootstrap_id } = p else {
            panic!("not bootstrap")
        };
        let mut admin = staff("first-admin", &["*"]);
        admin.roles = vec!["admin".into()];
        acc.create_with_bootstrap(bootstrap_id, admin.clone(), &any_role, None)
            .await
            .unwrap();
        let again = acc
            .authenticate(boot.expose_token(), local())
            .await
            .unwrap();
        assert_eq!(again.unwrap_err(), AuthFailure::BootstrapUnusable);
        admin.name = "second".into();
        let e = acc
            .create_with_bootstrap(bootstrap_id, admin, &any_role, None)
            .await
            .unwrap_err();
        assert!(matches!(e, AccountsError::BootstrapUsed));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn no_second_bootstrap_once_accounts_exist() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        acc.create(staff("a", &["13"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        assert!(matches!(
            acc.create_bootstrap(Duration::hours(1)).await,
            Err(AccountsError::BootstrapUsed)
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn issued_token_authenticates_and_records_last_use() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        let (a, tok) = acc
            .create(staff("a", &["13"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        assert!(tok.expose_token().starts_with("kv_"));
        let p = acc
            .authenticate(tok.expose_token(), local())
            .await
            .unwrap()
            .unwrap();
        let Principal::Account { account, token_id } = p else {
            panic!("not account")
        };
        assert_eq!(account.id, a.id);
        assert_eq!(token_id, tok.token_id);
        let after = acc.get(a.id).await.unwrap().unwrap();
        assert!(after.last_used_at.is_some());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn stored_hash_does_not_log_in() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        let (_, tok) = acc
            .create(staff("a", &["13"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        let hash = ring::digest::digest(&ring::digest::SHA256, tok.expose_token().as_bytes());
        let as_token = format!("kv_{}", base64_url(hash.as_ref()));
        let r = acc.authenticate(&as_token, local()).await.unwrap();
        assert_eq!(r.unwrap_err(), AuthFailure::UnknownToken);
        db.cleanup().await;
    }
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test]
async fn disabled_account_is_refused_on_next_authentication() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        let (a, tok) = acc
            .create(staff("a", &["13"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        acc.disable(a.id, &admin_by()).await.unwrap();
        let r = acc.authenticate(tok.expose_token(), local()).await.unwrap();
        assert_eq!(
            r.unwrap_err(),
            AuthFailure::AccountDisabled(a.id, tok.token_id)
        );
        assert!(matches!(
            acc.issue_token(a.id, None, &admin_by()).await,
            Err(AccountsError::Disabled)
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn expired_token_is_refused() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        let (a, _) = acc
            .create(staff("a", &["13"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        // An expiry that is already over by the time it is used.
        let soon = Utc::now() + Duration::milliseconds(5);
        let tok = acc
            .issue_token(a.id, Some(soon), &admin_by())
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let r = acc.authenticate(tok.expose_token(), local()).await.unwrap();
        assert_eq!(
            r.unwrap_err(),
            AuthFailure::TokenExpired(a.id, tok.token_id)
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn source_outside_allowed_networks_is_refused() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        let mut n = staff("a", &["13"]);
        n.allowed_networks = vec!["10.20.0.0/16".into()];
        let (a, tok) = acc.create(n, &any_role, &admin_by(), None).await.unwrap();
        let r = acc.authenticate(tok.expose_token(), local()).await.unwrap();
        assert_eq!(
            r.unwrap_err(),
            AuthFailure::SourceNotAllowed(a.id, tok.token_id)
        );
        let ok = acc
            .authenticate(tok.expose_token(), "10.20.1.1".parse().unwrap())
            .await
            .unwrap();
        assert!(ok.is_ok());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn duplicate_name_is_a_conflict() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        acc.create(staff("same", &["13"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        let e = acc
            .create(staff("same", &["35"]), &any_role, &admin_by(), None)
            .await
            .unwrap_err();
        assert!(matches!(e, AccountsError::DuplicateName));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn tenant_revoke_withdraws_every_token_of_that_prefecture_only() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        let (_, t35a) = acc
            .create(staff("a", &["35"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        let (b, t35b) = acc
            .create(staff("b", &["35", "13"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        let t35b2 = acc.issue_token(b.id, None, &admin_by()).await.unwrap();
        let (_, t13) = acc
            .create(staff("c", &["13"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        let (_, tall) = acc
            .create(staff("d", &["*"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        let s = acc.revoke_tenant_tokens("35").await.unwrap();
        assert_eq!((s.accounts, s.tokens), (2, 3));
        for t in [&t35a, &t35b, &t35b2] {
            let r = acc.authenticate(t.expose_token(), local()).await.unwrap();
            assert!(matches!(r, Err(AuthFailure::TokenRevoked(..))));
        }
        for t in [&t13, &tall] {
            assert!(acc
                .authenticate(t.expose_token(), local())
                .await
                .unwrap()
                .is_ok());
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn account_revoke_withdraws_its_tokens_and_new_ones_can_be_issued() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        let (a, t1) = acc
            .create(staff("a", &["35"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        let s = acc.revoke_account_tokens(a.id).await.unwrap();
        assert_eq!(s.tokens, 1);
        assert!(acc
            .authenticate(t1.expose_token(), local())
            .await
            .unwrap()
            .is_err());
        let t2 = acc.issue_token(a.id, None, &admin_by()).await.unwrap();
        assert!(acc
            .authenticate(t2.expose_token(), local())
            .await
            .unwrap()
            .is_ok());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn roster_lists_disabled_account_never_used() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        let (a, _) = acc
            .create(staff("former", &["35"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        let (_, _) = acc
            .create(staff("current", &["*"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        acc.disable(a.id, &admin_by()).await.unwrap();
        let all = acc.roster(None, 10).await.unwrap();
        assert_eq!(all.len(), 2);
        let former = all.iter().find(|x| x.id == a.id).unwrap();
        assert_eq!(former.status, AccountStatus::Disabled);
        assert!(former.last_used_at.is_none());
        assert_eq!(former.created_by, "cli:test");
        assert_eq!(former.prefecture_codes(), vec!["35".to_owned()]);
        let page1 = acc.roster(None, 1).await.unwrap();
        let page2 = acc.roster(Some(page1[0].id), 1).await.unwrap();
        assert_eq!(page2.len(), 1);
        assert_ne!(page1[0].id, page2[0].id);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn debug_output_omits_account_name_and_token() {
    for db in TestDb::both().await {
        let acc = Accounts::new(db.backend.clone());
        let (a, t) = acc
            .create(staff("山田太郎", &["35"]), &any_role, &admin_by(), None)
            .await
            .unwrap();
        let dbg = format!("{a:?} {t:?}");
        assert!(!dbg.contains("山田太郎"));
        assert!(!dbg.contains(t.expose_token()));
        db.cleanup().await;
    }
}
