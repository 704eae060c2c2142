//! The OAuth client of `net::oauth` (JWT bearer and client-credentials grants, the cached token,
//! one re-grant on an expired session, refusals that say what to do, setup errors, the paths it
//! follows) against the Salesforce simulator's router served on loopback in this process, with
//! RSA keys made by `openssl`; and at a fixed API base (client credentials at a token URL, a
//! personal access token) against the Amplience simulator's.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use common::assert_contains;
use common::salesforce::rsa_key_pair;
use kbpub::net::oauth::{ApiRequest, Grant, OAuth, OAuthConfig, OAuthError};
use kbpub::net::retry::{Budget, RetryPolicy};
use kbpub::net::{Answer, Secret, Settings};
use kbpub::sim::salesforce::{SalesforceArgs, router};

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    salesforce: SalesforceArgs,
}

/// The simulator with `flags` on a free loopback port: its base URL.
async fn simulator(flags: &[&str]) -> String {
    let args = Flags::parse_from(std::iter::once("sim").chain(flags.iter().copied()));
    let app = router(&args.salesforce).expect("simulator flags");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn settings() -> Settings {
    Settings {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        policy: RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        },
        budget: Arc::new(Budget::until(Instant::now() + Duration::from_secs(120))),
    }
}

fn oauth(base: &str, grant: Grant, env: &HashMap<&str, String>) -> Result<OAuth, OAuthError> {
    let config = OAuthConfig {
        my_domain: format!("{base}/salesforce/mydomain"),
        grant,
        api_version: "62.0".into(),
    };
    OAuth::with_env(&config, settings(), &|name| env.get(name).cloned())
}

fn client_credentials() -> Grant {
    Grant::ClientCredentials {
        consumer_key: "kbpub-consumer-key".into(),
        secret_env: "SF_SECRET".into(),
    }
}

/// The number of Accounts, by a SOQL query through `oauth`.
async fn accounts(oauth: &OAuth) -> Result<u64, OAuthError> {
    let accept = |answer: Answer| {
        let body: serde_json::Value =
            serde_json::from_str(&answer.text).map_err(|e| e.to_string())?;
        body["totalSize"]
            .as_u64()
            .ok_or_else(|| "no totalSize".to_string())
    };
    let query = [("q", "SELECT Id FROM Account")];
    oauth
        .send(&ApiRequest::get("query", &query), accept, &|_| {})
        .await
}

async fn expire_sessions(base: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}/__sim/salesforce/expire"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwt_bearer_token_is_cached_and_granted_again_once_its_session_expires() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = rsa_key_pair(dir.path(), "app");
    let (private, public) = (private.display().to_string(), public.display().to_string());
    let base = simulator(&["--salesforce-jwt-public-key", &public]).await;
    let env = HashMap::from([("SF_KEY_FILE", private)]);
    let grant = Grant::JwtBearer {
        consumer_key: "kbpub-consumer-key".into(),
        username: "integration@kbpub.test".into(),
        audience: "https://login.salesforce.com".into(),
        key_file_env: "SF_KEY_FILE".into(),
    };
    let oauth = oauth(&base, grant, &env).unwrap();
    assert!(accounts(&oauth).await.unwrap() > 0);
    assert!(accounts(&oauth).await.unwrap() > 0);
    assert_eq!(oauth.grants(), 1, "the token is cached");
    let session = oauth.session().await.unwrap();
    assert!(
        session
            .instance_url()
            .as_str()
            .ends_with("/salesforce/instance")
    );
    expire_sessions(&base).await;
    assert!(
        accounts(&oauth).await.unwrap() > 0,
        "replayed after a new grant"
    );
    assert_eq!(oauth.grants(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_expires_again_after_the_new_grant_is_an_error_not_a_loop() {
    let base = simulator(&["--salesforce-session-timeout", "0s"]).await;
    let env = HashMap::from([("SF_SECRET", "kbpub-consumer-secret".to_string())]);
    let oauth = oauth(&base, client_credentials(), &env).unwrap();
    let error = accounts(&oauth).await.unwrap_err();
    assert!(
        matches!(&error, OAuthError::Http(e) if e.is(401)),
        "{error}"
    );
    assert!(error.to_string().contains("INVALID_SESSION_ID"), "{error}");
    assert_eq!(oauth.grants(), 2, "one grant, one re-grant, no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_grants_say_what_to_do_and_never_show_the_secret() {
    let base = simulator(&[]).await;
    let secret = "not-the-consumer-secret-42".to_string();
    let env = HashMap::from([("SF_SECRET", secret.clone())]);
    let oauth = oauth(&base, client_credentials(), &env).unwrap();
    let error = accounts(&oauth).await.unwrap_err();
    let shown = error.to_string();
    assert!(
        matches!(&error, OAuthError::Refused { error, .. } if error == "invalid_client"),
        "{shown}"
    );
    assert_contains(&shown, "check `consumer_key` and the secret");
    assert!(!shown.contains(&secret), "{shown}");
    assert!(error.is_credentials());

    let env = HashMap::from([("SF_SECRET", "kbpub-consumer-secret".to_string())]);
    let config = OAuthConfig {
        my_domain: format!("{base}/salesforce/login"),
        grant: client_credentials(),
        api_version: "62.0".into(),
    };
    let on_login = OAuth::with_env(&config, settings(), &|name| env.get(name).cloned()).unwrap();
    let shown = accounts(&on_login).await.unwrap_err().to_string();
    assert_contains(&shown, "request not supported on this domain");
    assert_contains(&shown, "needs the org's My Domain");
}

#[test]
fn setup_errors_name_the_variable_or_file_and_refuse_unsafe_urls() {
    let none = HashMap::new();
    let missing = oauth("http://127.0.0.1:9", client_credentials(), &none)
        .err()
        .unwrap();
    assert!(
        missing.to_string().contains("`SF_SECRET` is not set"),
        "{missing}"
    );
    let env = HashMap::from([("SF_KEY_FILE", "/nonexistent/key.pem".to_string())]);
    let grant = Grant::JwtBearer {
        consumer_key: "k".into(),
        username: "u".into(),
        audience: "https://login.salesforce.com".into(),
        key_file_env: "SF_KEY_FILE".into(),
    };
    let unreadable = oauth("http://127.0.0.1:9", grant, &env).err().unwrap();
    assert!(
        unreadable.to_string().contains("/nonexistent/key.pem"),
        "{unreadable}"
    );
    let secret = HashMap::from([("SF_SECRET", "s".to_string())]);
    let plain = oauth("http://org.example.com", client_credentials(), &secret)
        .err()
        .unwrap();
    assert!(plain.to_string().contains("must use https"), "{plain}");
    let config = OAuthConfig {
        my_domain: "https://login.salesforce.com".into(),
        grant: client_credentials(),
        api_version: "62.0".into(),
    };
    let login = OAuth::with_env(&config, settings(), &|n| secret.get(n).cloned())
        .err()
        .unwrap();
    assert!(login.to_string().contains("is a login host"), "{login}");
    let config = OAuthConfig {
        api_version: "v62".into(),
        my_domain: "https://acme.my.salesforce.com".into(),
        ..config
    };
    let version = OAuth::with_env(&config, settings(), &|n| secret.get(n).cloned())
        .err()
        .unwrap();
    assert!(version.to_string().contains("api_version"), "{version}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_paths_under_services_data_of_the_instance_are_followed() {
    let base = simulator(&[]).await;
    let env = HashMap::from([("SF_SECRET", "kbpub-consumer-secret".to_string())]);
    let oauth = oauth(&base, client_credentials(), &env).unwrap();
    let accept = |_: Answer| Ok(());
    for path in [
        "https://evil.example/services/data/v62.0/query/x",
        "/elsewhere",
    ] {
        let error = oauth
            .send(&ApiRequest::get(path, &[]), accept, &|_| {})
            .await
            .unwrap_err();
        assert!(matches!(error, OAuthError::Setup(_)), "{path}: {error}");
    }
}

/// The Amplience hub with `flags` on a free loopback port: its base URL.
async fn hub(flags: &[&str]) -> String {
    #[derive(Parser)]
    struct HubFlags {
        #[command(flatten)]
        amplience: kbpub::sim::amplience::AmplienceArgs,
    }
    let args = HubFlags::parse_from(std::iter::once("sim").chain(flags.iter().copied()));
    let app = kbpub::sim::amplience::router(&args.amplience);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/amplience", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// How many content repositories the hub lists, through `oauth`.
async fn repositories(oauth: &OAuth) -> Result<usize, OAuthError> {
    let accept = |answer: Answer| {
        let body: serde_json::Value =
            serde_json::from_str(&answer.text).map_err(|e| e.to_string())?;
        Ok(body["_embedded"]["content-repositories"]
            .as_array()
            .map_or(0, Vec::len))
    };
    let request = ApiRequest::get("hubs/kb-hub/content-repositories", &[]);
    oauth.send(&request, accept, &|_| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_at_a_fixed_base_are_cached_and_a_pat_needs_no_grant() {
    let base = hub(&[]).await;
    let (token_url, api) = (format!("{base}/oauth/token"), format!("{base}/v2/content"));
    let secret = |s: &str| Secret::new(s.to_string());
    let oauth = OAuth::client_credentials(
        &token_url,
        &api,
        "kbpub-client",
        secret("amplience-secret"),
        settings(),
    )
    .unwrap();
    assert_eq!(repositories(&oauth).await.unwrap(), 1);
    assert_eq!(repositories(&oauth).await.unwrap(), 1);
    assert_eq!(
        oauth.grants(),
        1,
        "the token is cached until it nears expiry"
    );

    let wrong = "not-the-secret-42";
    let refused =
        OAuth::client_credentials(&token_url, &api, "kbpub-client", secret(wrong), settings())
            .unwrap();
    let shown = repositories(&refused).await.unwrap_err().to_string();
    assert_contains(&shown, "client id or secret are not valid");
    assert!(!shown.contains(wrong), "{shown}");

    let pat = OAuth::token(&api, secret("amplience-pat"), settings()).unwrap();
    assert_eq!(repositories(&pat).await.unwrap(), 1);
    assert_eq!(pat.grants(), 0);
    let bad_pat = OAuth::token(&api, secret("nope"), settings()).unwrap();
    let error = repositories(&bad_pat).await.unwrap_err();
    assert!(
        matches!(&error, OAuthError::Http(e) if e.is(401)),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_renewed_before_it_expires_not_after_a_refusal() {
    // 4 s tokens: kbpub renews once half the lifetime is left (at most 30 s before expiry).
    let base = hub(&["--amplience-token-expiry", "4"]).await;
    let oauth = OAuth::client_credentials(
        &format!("{base}/oauth/token"),
        &format!("{base}/v2/content"),
        "kbpub-client",
        Secret::new("amplience-secret".into()),
        settings(),
    )
    .unwrap();
    assert_eq!(repositories(&oauth).await.unwrap(), 1);
    assert_eq!(repositories(&oauth).await.unwrap(), 1);
    assert_eq!(oauth.grants(), 1, "a fresh token is used again");
    // 2.5 s in, the first token is still valid for 1.5 s: only renewal ahead of expiry can
    // explain a second grant (a refusal cannot happen yet).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(repositories(&oauth).await.unwrap(), 1);
    assert_eq!(oauth.grants(), 2, "renewed before it expired");
}
