//! Tokens: HS256, RS256 and ES256 against a JWKS the service fetches, exp/nbf/iss/aud,
//! algorithm pinning, personal access tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axhub_app::state::credentials::StoredCredentials;
use axhub_auth::{AuthConfig, Authenticator, Claims, JwtKeys};
use axhub_domain::ErrorCode;
use axhub_tests::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

const RSA: &str = include_str!("../../fixtures/rsa.pem");
const EC: &str = include_str!("../../fixtures/ec.pem");
const JWKS: &str = include_str!("../../fixtures/jwks.json");

/// Serves the JWKS on a loopback port and counts fetches.
async fn jwks_server() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { ([("content-type", "application/json")], JWKS) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/.well-known/jwks.json"), hits)
}

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.into(),
        exp: time::OffsetDateTime::now_utc().unix_timestamp() + 600,
        iss: Some("https://id.axhub.test".into()),
        aud: Some("axhub-api".into()),
        ..Claims::default()
    }
}

fn sign(alg: Algorithm, kid: &str, c: &Claims) -> String {
    sign_json(alg, kid, &serde_json::to_value(c).unwrap())
}

/// Signs any claims, also ones `Claims` cannot express.
fn sign_json(alg: Algorithm, kid: &str, c: &serde_json::Value) -> String {
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(EC.as_bytes()).unwrap(),
        _ => EncodingKey::from_secret(SECRET),
    };
    let mut h = Header::new(alg);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, c, &key).unwrap()
}

async fn jwks_auth(alg: Algorithm) -> (Authenticator, Arc<AtomicUsize>) {
    let (url, hits) = jwks_server().await;
    let tokens = Arc::new(StoredCredentials::new(sqlite_store().await));
    let auth = Authenticator::new(
        AuthConfig {
            keys: JwtKeys::Jwks {
                url,
                algorithm: alg,
            },
            issuer: Some("https://id.axhub.test".into()),
            audience: Some("axhub-api".into()),
        },
        tokens,
    );
    (auth, hits)
}

async fn code(auth: &Authenticator, token: &str) -> String {
    match auth
        .authenticate(Some(&format!("Bearer {token}")), None)
        .await
    {
        Ok(p) => format!("ok:{}", p.user_id),
        Err(e) => e.code.to_string(),
    }
}

#[tokio::test]
async fn rs256_tokens_verify_against_the_fetched_and_cached_jwks() {
    let (auth, hits) = jwks_auth(Algorithm::RS256).await;
    let t = sign(Algorithm::RS256, "rsa-1", &claims("alice"));
    assert_eq!(code(&auth, &t).await, "ok:alice");
    assert_eq!(code(&auth, &t).await, "ok:alice");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the JWKS is cached");
    // Wrong issuer, wrong audience, expired: refused.
    let mut c = claims("alice");
    c.iss = Some("https://evil.test".into());
    assert_eq!(
        code(&auth, &sign(Algorithm::RS256, "rsa-1", &c)).await,
        "token_invalid"
    );
    let mut c = claims("alice");
    c.aud = Some("other".into());
    assert_eq!(
        code(&auth, &sign(Algorithm::RS256, "rsa-1", &c)).await,
        "token_invalid"
    );
    let mut c = claims("alice");
    c.exp = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
    assert_eq!(
        code(&auth, &sign(Algorithm::RS256, "rsa-1", &c)).await,
        "token_expired"
    );
    // The algorithm is pinned: an ES256 or HS256 token is refused even with a known kid.
    assert_eq!(
        code(&auth, &sign(Algorithm::ES256, "ec-1", &claims("alice"))).await,
        "token_invalid"
    );
    assert_eq!(
        code(&auth, &sign(Algorithm::HS256, "rsa-1", &claims("alice"))).await,
        "token_invalid"
    );
    // A tampered payload fails the signature.
    let good = sign(Algorithm::RS256, "rsa-1", &claims("alice"));
    let parts: Vec<&str> = good.split('.').collect();
    let forged_payload = {
        use base64::Engine;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut v: serde_json::Value =
            serde_json::from_slice(&e.decode(parts[1]).unwrap()).unwrap();
        v["platform_admin"] = true.into();
        e.encode(v.to_string())
    };
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(code(&auth, &forged).await, "token_invalid");
}

#[tokio::test]
async fn a_configured_issuer_and_audience_are_required_and_nbf_is_checked() {
    let (auth, _) = jwks_auth(Algorithm::RS256).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let base = serde_json::json!({
        "sub": "alice", "exp": now + 600,
        "iss": "https://id.axhub.test", "aud": "axhub-api",
    });
    let with = |patch: serde_json::Value| {
        let mut c = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            match v {
                serde_json::Value::Null => c.as_object_mut().unwrap().remove(k),
                v => c.as_object_mut().unwrap().insert(k.clone(), v.clone()),
            };
        }
        sign_json(Algorithm::RS256, "rsa-1", &c)
    };
    let cases = [
        ("as configured", serde_json::json!({}), "ok:alice"),
        // Configured means required: a token without them is not for this service.
        ("no iss", serde_json::json!({"iss": null}), "token_invalid"),
        ("no aud", serde_json::json!({"aud": null}), "token_invalid"),
        // RFC 7519 §4.1.3: `aud` may be a list; ours must be in it.
        (
            "aud list",
            serde_json::json!({"aud": ["other", "axhub-api"]}),
            "ok:alice",
        ),
        (
            "aud list without ours",
            serde_json::json!({"aud": ["other"]}),
            "token_invalid",
        ),
        (
            "nbf in 10 min",
            serde_json::json!({"nbf": now + 600}),
            "token_invalid",
        ),
        // Within the leeway (clock skew between issuer and service).
        (
            "nbf in 10 s",
            serde_json::json!({"nbf": now + 10}),
            "ok:alice",
        ),
        (
            "nbf passed",
            serde_json::json!({"nbf": now - 60}),
            "ok:alice",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, patch, want) in cases {
        let got = code(&auth, &with(patch)).await;
        if got != want {
            wrong.push(format!("{what}: {got}, not {want}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn es256_tokens_verify_too() {
    let (auth, _) = jwks_auth(Algorithm::ES256).await;
    assert_eq!(
        code(&auth, &sign(Algorithm::ES256, "ec-1", &claims("bob"))).await,
        "ok:bob"
    );
    assert_eq!(
        code(&auth, &sign(Algorithm::RS256, "rsa-1", &claims("bob"))).await,
        "token_invalid"
    );
    assert_eq!(
        code(
            &auth,
            &sign(Algorithm::ES256, "unknown-kid", &claims("bob"))
        )
        .await,
        "token_invalid"
    );
}

#[tokio::test]
async fn hs256_scopes_and_platform_admin_claims() {
    let tokens = Arc::new(StoredCredentials::new(sqlite_store().await));
    let auth = Authenticator::new(
        AuthConfig {
            keys: JwtKeys::Hs256 {
                secret: SECRET.to_vec(),
            },
            issuer: None,
            audience: None,
        },
        tokens,
    );
    let mut c = claims("carol");
    c.scope = Some("deploy:read deploy:write".into());
    c.platform_admin = true;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &c,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let p = auth
        .authenticate(Some(&format!("Bearer {token}")), None)
        .await
        .unwrap();
    assert!(p.platform_admin);
    assert_eq!(
        p.scopes,
        Some(vec!["deploy:read".to_string(), "deploy:write".to_string()])
    );
    let wrong = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &c,
        &EncodingKey::from_secret(b"nope"),
    )
    .unwrap();
    assert_eq!(code(&auth, &wrong).await, "token_invalid");
    assert_eq!(code(&auth, "not.a.jwt").await, "token_invalid");
    let e = auth
        .authenticate(Some("Basic abc"), None)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::TokenInvalid);
    let e = auth.authenticate(None, None).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::TokenMissing);
}

#[tokio::test]
async fn personal_access_tokens_are_checked_by_hash() {
    let t = sqlite_app().await;
    let uri = format!("/api/v1/apps/{}/deployments", t.world.app);
    for (header, value) in [
        ("x-api-key", t.world.pat.clone()),
        ("authorization", format!("Bearer {}", t.world.pat)),
    ] {
        let req = http::Request::get(&uri)
            .header(header, value)
            .body(axum::body::Body::empty())
            .unwrap();
        let r = send(&t.router, req).await;
        assert_eq!(r.status, http::StatusCode::OK, "{header}: {:?}", r.body);
    }
    let req = http::Request::get(&uri)
        .header("x-api-key", "axhub_pat_unknown")
        .body(axum::body::Body::empty())
        .unwrap();
    let r = send(&t.router, req).await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "token_invalid"));
    // Only the hash is stored.
    let stored = t
        .deps
        .store
        .get(&axhub_app::state::credentials::personal_access_token_key(
            &t.world.pat,
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !serde_json::Value::Object(stored)
            .to_string()
            .contains(&t.world.pat)
    );
}
