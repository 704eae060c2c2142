//! Raw HTTP to `kbpub sim`'s Salesforce org and its control endpoints, for tests that act as a
//! Salesforce client or as the org's admin: real RSA keys made with `openssl`, JWT assertions
//! signed here, token requests, REST calls. No kbpub client code.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::Sim;

/// The simulator's defaults for the connected app and its user.
pub const CONSUMER_KEY: &str = "kbpub-consumer-key";
pub const CONSUMER_SECRET: &str = "kbpub-consumer-secret";
pub const USER: &str = "integration@kbpub.test";
pub const AUDIENCE: &str = "https://login.salesforce.com";
pub const API: &str = "v62.0";

/// An RSA key pair made with `openssl` in `dir`: (private key PEM path, public key PEM path).
pub fn rsa_key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub.pem"));
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["genrsa", "-out", private.to_str().unwrap(), "2048"]);
    run(&[
        "rsa",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    (private, public)
}

/// A JWT bearer assertion over `claims`, signed RS256 with the private key at `key`.
pub fn assertion(key: &Path, claims: Value) -> String {
    let pem = std::fs::read(key).unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap()
}

/// Claims the simulator accepts: its consumer key, user and audience, `exp` a minute ahead.
pub fn good_claims() -> Value {
    json!({"iss": CONSUMER_KEY, "sub": USER, "aud": AUDIENCE, "exp": now() + 60})
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// POSTs the form `fields` to the token endpoint of `host` (`login` or `mydomain`): (status,
/// JSON answer).
pub fn token_request(sim: &Sim, host: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let response = sim
        .client()
        .post(format!(
            "{}/salesforce/{host}/services/oauth2/token",
            sim.base
        ))
        .form(fields)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// A session by client credentials on My Domain: (access token, instance URL).
pub fn session(sim: &Sim) -> (String, String) {
    let (status, answer) = token_request(
        sim,
        "mydomain",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CONSUMER_KEY),
            ("client_secret", CONSUMER_SECRET),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    (
        answer["access_token"].as_str().unwrap().to_string(),
        answer["instance_url"].as_str().unwrap().to_string(),
    )
}

/// A REST answer: status, headers, JSON body (null when empty).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `errorCode` of the first entry of an error array (asserting the array's shape).
    pub fn error_code(&self) -> String {
        let first = &self.body[0];
        assert!(
            self.body.is_array() && first["message"].is_string() && first["fields"].is_array(),
            "not a Salesforce error array: {}",
            self.body
        );
        first["errorCode"].as_str().unwrap().to_string()
    }
}

/// A REST call to `url` (absolute) as `token`.
pub fn call(sim: &Sim, method: reqwest::Method, url: &str, token: &str, body: Value) -> Reply {
    call_with(sim, method, url, token, &[], body)
}

pub fn call_with(
    sim: &Sim,
    method: reqwest::Method,
    url: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> Reply {
    let mut request = sim.client().request(method, url).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

/// A client with a session and the REST base (`{instance_url}/services/data/v62.0`).
pub struct Org<'s> {
    pub sim: &'s Sim,
    pub token: String,
    pub base: String,
}

impl<'s> Org<'s> {
    pub fn connect(sim: &'s Sim) -> Org<'s> {
        let (token, instance) = session(sim);
        Org {
            sim,
            token,
            base: format!("{instance}/services/data/{API}"),
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        call(
            self.sim,
            reqwest::Method::GET,
            &format!("{}{path}", self.base),
            &self.token,
            Value::Null,
        )
    }

    pub fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Reply {
        call(
            self.sim,
            method,
            &format!("{}{path}", self.base),
            &self.token,
            body,
        )
    }

    /// `GET /query?q=soql` (first batch).
    pub fn query(&self, soql: &str) -> Reply {
        let url = reqwest::Url::parse_with_params(&format!("{}/query", self.base), &[("q", soql)])
            .unwrap();
        call(
            self.sim,
            reqwest::Method::GET,
            url.as_str(),
            &self.token,
            Value::Null,
        )
    }

    /// K2: a new draft article; returns its version id.
    pub fn create(&self, fields: Value) -> String {
        let reply = self.send(reqwest::Method::POST, "/sobjects/Knowledge__kav", fields);
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_string()
    }

    /// A version as `GET /sobjects/Knowledge__kav/{id}` returns it.
    pub fn version(&self, id: &str) -> Value {
        let reply = self.get(&format!("/sobjects/Knowledge__kav/{id}"));
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    /// K4/K6/K7: `PATCH masterVersions/{id}` with `body`.
    pub fn set_status(&self, id: &str, body: Value) -> Reply {
        self.send(
            reqwest::Method::PATCH,
            &format!("/knowledgeManagement/articleVersions/masterVersions/{id}"),
            body,
        )
    }

    /// K5: a new draft from the online version of `article_id`.
    pub fn new_draft(&self, article_id: &str) -> Reply {
        self.send(
            reqwest::Method::POST,
            "/knowledgeManagement/articleVersions/masterVersions",
            json!({"articleId": article_id}),
        )
    }
}

/// POSTs JSON to a control endpoint (`faults`, `seed`, `edit`, `expire`, `limits`).
pub fn control(sim: &Sim, what: &str, body: Value) -> u16 {
    sim.client()
        .post(format!("{}/__sim/salesforce/{what}", sim.base))
        .json(&body)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// GETs a control endpoint (`stats`, `limits`, `articles`, `partner-view`).
pub fn inspect(sim: &Sim, what: &str) -> Value {
    sim.client()
        .get(format!("{}/__sim/salesforce/{what}", sim.base))
        .send()
        .and_then(|r| r.json())
        .expect("salesforce control endpoint")
}
