//! OAuth 2.0 access tokens for Salesforce (reference §1.1), shared by the CRM data source and the
//! Knowledge publish target: the JWT bearer flow (an RS256 assertion signed with the private key
//! whose path is in an environment variable) or the client-credentials flow (the secret in an
//! environment variable), against the org's My Domain. The token is cached and used at the
//! `instance_url` the token response names, under `/services/data/v<api_version>/`; a 401
//! `INVALID_SESSION_ID` (the session timed out: Salesforce sends no `expires_in`) re-runs the
//! grant once and replays the request. The same tokens serve a service with a fixed API base
//! (Amplience, reference §2.1: [`OAuth::client_credentials`] at a full token URL, renewed before
//! the `expires_in` the answer names runs out, once more on any 401; or [`OAuth::token`], a
//! personal access token from the environment). Keys, secrets, assertions and tokens never
//! appear in a URL, a message or a log: they travel only in the form body and the
//! `Authorization` header, and are redacted from anything a server says.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, Url};
use serde::Deserialize;

use super::{Answer, Auth, Body, Client, HttpError, Request, Retry, Secret, Settings, redact};

/// How long ahead a JWT assertion's `exp` is set (the reference: "within 3 minutes").
const ASSERTION_LIFETIME_SECS: i64 = 180;

/// Which grant gets the token.
#[derive(Debug, Clone)]
pub enum Grant {
    /// JWT bearer: `iss` = the consumer key, `sub` = the user to run as, `aud` = the login URL
    /// (or test URL, or Experience Cloud site URL); signed with the PEM private key at the path
    /// held by the environment variable `key_file_env`.
    JwtBearer {
        consumer_key: String,
        username: String,
        audience: String,
        key_file_env: String,
    },
    /// Client credentials: the consumer key, and the secret held by the environment variable
    /// `secret_env`. Only on the org's My Domain.
    ClientCredentials {
        consumer_key: String,
        secret_env: String,
    },
}

/// Where and how to get tokens, and the API version to call.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The org's My Domain (`https://acme.my.salesforce.com`); the token endpoint is
    /// `/services/oauth2/token` under it.
    pub my_domain: String,
    pub grant: Grant,
    /// `62.0`: REST calls go to `{instance_url}/services/data/v62.0/`.
    pub api_version: String,
}

/// Why no token (or no answer) could be had. Never holds a key, secret, assertion or token.
#[derive(Debug)]
pub enum OAuthError {
    /// Configuration or local credentials: what is wrong and what to do.
    Setup(String),
    /// The token endpoint refused the grant (HTTP 400 with an OAuth `error`).
    Refused {
        url: String,
        error: String,
        description: String,
        advice: &'static str,
    },
    /// A request failed (after the one re-grant for an expired session).
    Http(HttpError),
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OAuthError::Setup(why) => f.write_str(why),
            OAuthError::Refused {
                url,
                error,
                description,
                advice,
            } => write!(
                f,
                "POST {url} refused the grant: {error}: {description} ({advice})"
            ),
            OAuthError::Http(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OAuthError {}

impl OAuthError {
    /// Wrong, missing or refused credentials: retrying later cannot fix it.
    pub fn is_credentials(&self) -> bool {
        match self {
            OAuthError::Setup(_) | OAuthError::Refused { .. } => true,
            OAuthError::Http(e) => e.is(401),
        }
    }
}

/// What to do about a refused grant, by the reference's list of failures seen in the wild.
fn advice(error: &str, description: &str) -> &'static str {
    match (error, description) {
        (_, "user hasn't approved this consumer") => {
            "pre-authorise the user for the connected app: \"Admin approved users are pre-authorized\" and the user's profile or permission set"
        }
        (_, "audience is invalid") => {
            "set `audience` to https://login.salesforce.com, https://test.salesforce.com or the Experience Cloud site URL"
        }
        (_, "request not supported on this domain") => {
            "the client-credentials flow needs the org's My Domain URL, not the login host"
        }
        (_, "expired authorization code") => "check this machine's clock",
        ("invalid_client_id", _) => "check `consumer_key`: it is the connected app's consumer key",
        ("invalid_client" | "invalid_client_credentials", _) => {
            "check `consumer_key` and the secret in the environment variable"
        }
        ("invalid_grant", _) => {
            "check that the certificate uploaded to the connected app matches the private key, and the username"
        }
        _ => "check the connected app's settings",
    }
}

/// One REST request to the instance.
pub struct ApiRequest<'a> {
    pub method: Method,
    /// As for [`OAuth::url`]: a `nextRecordsUrl`, or a path under `/services/data/v<version>/`.
    pub path: &'a str,
    /// Appended to the URL's query.
    pub query: &'a [(&'a str, &'a str)],
    pub body: Body,
    /// Repeating it cannot do anything twice.
    pub safe: bool,
}

impl<'a> ApiRequest<'a> {
    /// A GET of `path` with `query`.
    pub fn get(path: &'a str, query: &'a [(&'a str, &'a str)]) -> ApiRequest<'a> {
        ApiRequest {
            method: Method::GET,
            path,
            query,
            body: Body::Empty,
            safe: true,
        }
    }
}

/// A token and where to use it.
pub struct Session {
    client: Client,
    instance_url: Url,
    /// When to get a new token before this one expires (`None`: when the service says so).
    renew_at: Option<Instant>,
}

/// Where a token is used.
enum Api {
    /// Salesforce: the `instance_url` of the token response, under `/services/data/v<version>/`.
    Instance { api_version: String },
    /// A fixed API base (Amplience): paths below it, and links the service gives under it.
    Base(Url),
}

/// How long before a token's `expires_in` runs out a new one is got: 30 s (as Amplience's SDK
/// does, reference §2.1), at most half its life.
fn renew_margin(lifetime: Duration) -> Duration {
    Duration::from_secs(30).min(lifetime / 2)
}

impl Session {
    /// The instance the token response named.
    pub fn instance_url(&self) -> &Url {
        &self.instance_url
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    instance_url: Option<String>,
    expires_in: Option<u64>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
}

/// The grant's credentials, read once from the environment.
enum Credentials {
    Jwt {
        key: jsonwebtoken::EncodingKey,
        consumer_key: String,
        username: String,
        audience: String,
    },
    Secret {
        consumer_key: String,
        secret: Secret,
    },
    /// A token given as it is (a personal access token): never granted, never renewed.
    Token(Secret),
}

/// Tokens for one org or service: granted on first use, cached, renewed before they expire
/// (when the answer says when) and once on an expired session.
pub struct OAuth {
    token_url: Url,
    api: Api,
    credentials: Credentials,
    settings: Settings,
    token_client: Client,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    grants: AtomicU32,
    /// Every access token granted, to keep out of what is stored.
    tokens: std::sync::Mutex<Vec<Secret>>,
}

/// Whether a URL may carry a credential: https, or http to this machine only.
fn check_url(what: &str, url: &str) -> Result<Url, OAuthError> {
    let parsed = Url::parse(url)
        .map_err(|e| OAuthError::Setup(format!("{what} `{url}` is not a URL: {e}")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() {
        return Err(OAuthError::Setup(format!(
            "{what} `{url}` must not hold credentials or a query"
        )));
    }
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match (parsed.scheme(), loopback) {
        ("https", _) | ("http", true) => Ok(parsed),
        _ => Err(OAuthError::Setup(format!(
            "{what} `{url}` must use https (plain http only to this machine)"
        ))),
    }
}

/// Reads environment variables (tests pass their own).
pub type Environment<'a> = &'a dyn Fn(&str) -> Option<String>;

fn from_env(env_var: Environment, env: &str, holds: &str) -> Result<String, OAuthError> {
    match env_var(env) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(OAuthError::Setup(format!(
            "environment variable `{env}` is not set (it holds {holds})"
        ))),
    }
}

impl OAuth {
    /// Reads the grant's credentials from the environment; nothing is sent yet.
    pub fn new(config: &OAuthConfig, settings: Settings) -> Result<OAuth, OAuthError> {
        OAuth::with_env(config, settings, &|name| std::env::var(name).ok())
    }

    /// [`OAuth::new`] with the environment read through `env_var`.
    pub fn with_env(
        config: &OAuthConfig,
        settings: Settings,
        env_var: Environment,
    ) -> Result<OAuth, OAuthError> {
        let my_domain = check_url("my_domain", &config.my_domain)?;
        let valid_version = config
            .api_version
            .split_once('.')
            .is_some_and(|(major, minor)| {
                major.parse::<u32>().is_ok() && minor.chars().all(|c| c.is_ascii_digit())
            });
        if !valid_version {
            return Err(OAuthError::Setup(format!(
                "api_version `{}` is not a version such as \"62.0\"",
                config.api_version
            )));
        }
        let credentials = match &config.grant {
            Grant::JwtBearer {
                consumer_key,
                username,
                audience,
                key_file_env,
            } => {
                let path = PathBuf::from(from_env(
                    env_var,
                    key_file_env,
                    "the path of the private key",
                )?);
                let pem = std::fs::read(&path).map_err(|e| {
                    OAuthError::Setup(format!(
                        "cannot read the private key {} named by `{key_file_env}`: {e}",
                        path.display()
                    ))
                })?;
                let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).map_err(|_| {
                    OAuthError::Setup(format!(
                        "{} (named by `{key_file_env}`) is not a PEM RSA private key",
                        path.display()
                    ))
                })?;
                Credentials::Jwt {
                    key,
                    consumer_key: consumer_key.clone(),
                    username: username.clone(),
                    audience: audience.clone(),
                }
            }
            Grant::ClientCredentials {
                consumer_key,
                secret_env,
            } => {
                let login_host = matches!(
                    my_domain.host_str(),
                    Some("login.salesforce.com" | "test.salesforce.com")
                );
                if login_host {
                    return Err(OAuthError::Setup(format!(
                        "my_domain `{}` is a login host: the client-credentials flow needs the org's My Domain (https://<name>.my.salesforce.com)",
                        config.my_domain
                    )));
                }
                Credentials::Secret {
                    consumer_key: consumer_key.clone(),
                    secret: Secret::new(from_env(env_var, secret_env, "the consumer secret")?),
                }
            }
        };
        let token_url = format!(
            "{}/services/oauth2/token",
            my_domain.as_str().trim_end_matches('/')
        );
        let token_url =
            Url::parse(&token_url).map_err(|e| OAuthError::Setup(format!("my_domain: {e}")))?;
        let api = Api::Instance {
            api_version: config.api_version.clone(),
        };
        OAuth::with(token_url, api, credentials, settings)
    }

    /// The client-credentials grant at `token_url` (form `grant_type`, `client_id`,
    /// `client_secret`), its tokens used on the API at `api_base`.
    pub fn client_credentials(
        token_url: &str,
        api_base: &str,
        client_id: &str,
        secret: Secret,
        settings: Settings,
    ) -> Result<OAuth, OAuthError> {
        let credentials = Credentials::Secret {
            consumer_key: client_id.to_string(),
            secret,
        };
        OAuth::at_base(token_url, api_base, credentials, settings)
    }

    /// A token given as it is (a personal access token), used on the API at `api_base`.
    pub fn token(api_base: &str, token: Secret, settings: Settings) -> Result<OAuth, OAuthError> {
        OAuth::at_base(api_base, api_base, Credentials::Token(token), settings)
    }

    fn at_base(
        token_url: &str,
        api_base: &str,
        credentials: Credentials,
        settings: Settings,
    ) -> Result<OAuth, OAuthError> {
        let token_url = check_url("the token URL", token_url)?;
        let base = check_url("the API URL", api_base.trim_end_matches('/'))?;
        OAuth::with(token_url, Api::Base(base), credentials, settings)
    }

    fn with(
        token_url: Url,
        api: Api,
        credentials: Credentials,
        settings: Settings,
    ) -> Result<OAuth, OAuthError> {
        let token_client = Client::new(&Auth::None, settings.clone()).map_err(OAuthError::Setup)?;
        Ok(OAuth {
            token_url,
            api,
            credentials,
            settings,
            token_client,
            session: tokio::sync::Mutex::new(None),
            grants: AtomicU32::new(0),
            tokens: std::sync::Mutex::default(),
        })
    }

    /// Grants made so far (the first, and any after an expired session).
    pub fn grants(&self) -> u32 {
        self.grants.load(Ordering::Relaxed)
    }

    /// Every access token granted so far.
    pub fn tokens(&self) -> Vec<Secret> {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The cached session, granted first if there is none.
    pub async fn session(&self) -> Result<Arc<Session>, OAuthError> {
        let mut cached = self.session.lock().await;
        if let Some(session) = cached.as_ref()
            && session.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(session.clone());
        }
        let session = Arc::new(self.grant().await?);
        *cached = Some(session.clone());
        Ok(session)
    }

    /// Drops `stale` (unless another request already replaced it) and grants a new session.
    async fn renew(&self, stale: &Arc<Session>) -> Result<Arc<Session>, OAuthError> {
        {
            let mut cached = self.session.lock().await;
            if cached.as_ref().is_some_and(|s| Arc::ptr_eq(s, stale)) {
                *cached = None;
            }
        }
        self.session().await
    }

    /// The form of one grant, every value a secret, and the secrets to keep out of messages.
    fn form(&self) -> Result<Vec<(&'static str, Secret)>, OAuthError> {
        let secret = |s: &str| Secret::new(s.to_string());
        Ok(match &self.credentials {
            Credentials::Jwt {
                key,
                consumer_key,
                username,
                audience,
            } => {
                let claims = Claims {
                    iss: consumer_key,
                    sub: username,
                    aud: audience,
                    exp: chrono::Utc::now().timestamp() + ASSERTION_LIFETIME_SECS,
                };
                let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                let assertion = jsonwebtoken::encode(&header, &claims, key).map_err(|e| {
                    OAuthError::Setup(format!("cannot sign the JWT assertion: {e}"))
                })?;
                vec![
                    (
                        "grant_type",
                        secret("urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ),
                    ("assertion", Secret::new(assertion)),
                ]
            }
            Credentials::Secret {
                consumer_key,
                secret: client_secret,
            } => vec![
                ("grant_type", secret("client_credentials")),
                ("client_id", secret(consumer_key)),
                ("client_secret", client_secret.clone()),
            ],
            Credentials::Token(_) => Vec::new(),
        })
    }

    async fn grant(&self) -> Result<Session, OAuthError> {
        if let (Credentials::Token(token), Api::Base(base)) = (&self.credentials, &self.api) {
            let auth = Auth::Bearer(token.expose().to_string());
            return Ok(Session {
                client: Client::new(&auth, self.settings.clone()).map_err(OAuthError::Setup)?,
                instance_url: base.clone(),
                renew_at: None,
            });
        }
        let form = self.form()?;
        let hidden: Vec<Secret> = form
            .iter()
            .filter(|(name, _)| matches!(*name, "assertion" | "client_secret"))
            .map(|(_, value)| value.clone())
            .collect();
        let shown = self.token_url.to_string();
        let request = Request {
            method: Method::POST,
            url: self.token_url.clone(),
            shown: shown.clone(),
            body: Body::Form(form),
            safe: true,
            headers: &[],
        };
        let accept = |answer: Answer| {
            serde_json::from_str::<TokenAnswer>(&answer.text)
                .map_err(|_| "a body that is not a token response".to_string())
        };
        self.grants.fetch_add(1, Ordering::Relaxed);
        let answer = match self.token_client.send(&request, accept, &|_| {}).await {
            Ok(answer) => answer,
            Err(mut e) => {
                e.message = redact::redact_all(&hidden, &e.message);
                if e.is(400) {
                    let (error, description) = e
                        .message
                        .split_once(": ")
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .unwrap_or_else(|| (e.message.clone(), String::new()));
                    let advice = advice(&error, &description);
                    return Err(OAuthError::Refused {
                        url: shown,
                        error,
                        description,
                        advice,
                    });
                }
                return Err(OAuthError::Http(e));
            }
        };
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Secret::new(answer.access_token.clone()));
        let instance_url = match (&self.api, &answer.instance_url) {
            (Api::Base(base), _) => base.clone(),
            (Api::Instance { .. }, Some(url)) => {
                check_url("the token response's instance_url", url)?
            }
            (Api::Instance { .. }, None) => {
                return Err(OAuthError::Setup(format!(
                    "POST {shown} answered a token without `instance_url`"
                )));
            }
        };
        let renew_at = answer.expires_in.map(|seconds| {
            let lifetime = Duration::from_secs(seconds);
            Instant::now() + lifetime - renew_margin(lifetime)
        });
        let client = Client::new(&Auth::Bearer(answer.access_token), self.settings.clone())
            .map_err(OAuthError::Setup)?;
        Ok(Session {
            client,
            instance_url,
            renew_at,
        })
    }

    /// The URL of `path` on `session`'s instance: a path starting with `/services/data/` (a
    /// `nextRecordsUrl`) as is, anything else under `/services/data/v<api_version>/`.
    fn url(&self, session: &Session, path: &str) -> Result<Url, OAuthError> {
        let base = session.instance_url.as_str().trim_end_matches('/');
        let api_version = match &self.api {
            Api::Instance { api_version } => api_version,
            Api::Base(_) => return base_url(&session.instance_url, path),
        };
        let full = if path.starts_with("/services/data/") {
            format!("{base}{path}")
        } else if path.starts_with('/') || path.contains("://") {
            return Err(OAuthError::Setup(format!(
                "`{path}` is not a path under /services/data/ of the instance"
            )));
        } else {
            format!("{base}/services/data/v{api_version}/{path}")
        };
        Url::parse(&full).map_err(|e| OAuthError::Setup(format!("{full}: {e}")))
    }

    /// Sends one REST request to the instance, re-granting once and replaying it when the session
    /// expired (401 `INVALID_SESSION_ID`).
    pub async fn send<T>(
        &self,
        api: &ApiRequest<'_>,
        accept: impl Fn(Answer) -> Result<T, String>,
        on_retry: &(dyn Fn(&Retry) + Sync),
    ) -> Result<T, OAuthError> {
        let mut session = self.session().await?;
        let mut renewed = false;
        loop {
            let mut url = self.url(&session, api.path)?;
            if !api.query.is_empty() {
                url.query_pairs_mut().extend_pairs(api.query);
            }
            let shown = format!(
                "{}{}",
                url.path(),
                url.query().map(|q| format!("?{q}")).unwrap_or_default()
            );
            let request = Request {
                method: api.method.clone(),
                url,
                shown,
                body: api.body.clone(),
                safe: api.safe,
                headers: &[],
            };
            match session.client.send(&request, &accept, on_retry).await {
                Err(e) if !renewed && e.is(401) && self.expired(&e) => {
                    renewed = true;
                    session = self.renew(&session).await?;
                }
                other => return other.map_err(OAuthError::Http),
            }
        }
    }

    /// A 401 that a new token may cure: Salesforce says `INVALID_SESSION_ID`; a fixed-base
    /// service's granted token may have expired early (a given token is what it is).
    fn expired(&self, e: &HttpError) -> bool {
        match (&self.api, &self.credentials) {
            (_, Credentials::Token(_)) => false,
            (Api::Base(_), _) => true,
            (Api::Instance { .. }, _) => e.message.contains("INVALID_SESSION_ID"),
        }
    }
}

/// The URL of `path` on the API at `base`: a path below it, or a link the service gave (an
/// absolute path or URL) that stays under it.
fn base_url(base: &Url, path: &str) -> Result<Url, OAuthError> {
    let root = base.as_str().trim_end_matches('/');
    let full = if path.contains("://") {
        path.to_string()
    } else if path.starts_with('/') {
        base.join(path)
            .map_err(|e| OAuthError::Setup(format!("{path}: {e}")))?
            .to_string()
    } else {
        format!("{root}/{path}")
    };
    if !(full == root || full.starts_with(&format!("{root}/"))) {
        return Err(OAuthError::Setup(format!(
            "`{path}` is not under the API at {root}"
        )));
    }
    Url::parse(&full).map_err(|e| OAuthError::Setup(format!("{full}: {e}")))
}

#[cfg(test)]
mod tests {
    //! The pure parts: which URLs a fixed API base follows, and how early a token is renewed.
    //! The grants themselves are tested against the simulators in `tests/oauth.rs`.

    use super::*;

    #[test]
    fn a_fixed_base_follows_paths_and_links_only_under_itself() {
        let base = Url::parse("https://api.example.com/v2/content").unwrap();
        let url = |path: &str| base_url(&base, path).map(|u| u.to_string());
        assert_eq!(
            url("content-items/1").unwrap(),
            "https://api.example.com/v2/content/content-items/1"
        );
        assert_eq!(
            url("/v2/content/publishing-jobs/7").unwrap(),
            "https://api.example.com/v2/content/publishing-jobs/7"
        );
        assert_eq!(
            url("https://api.example.com/v2/content/publishing-jobs/7").unwrap(),
            "https://api.example.com/v2/content/publishing-jobs/7"
        );
        for elsewhere in [
            "https://evil.example/v2/content/x",
            "/v2/contentx",
            "/other",
        ] {
            assert!(url(elsewhere).is_err(), "{elsewhere}");
        }
        assert_eq!(
            renew_margin(Duration::from_secs(300)),
            Duration::from_secs(30)
        );
        assert_eq!(renew_margin(Duration::from_secs(4)), Duration::from_secs(2));
    }
}
