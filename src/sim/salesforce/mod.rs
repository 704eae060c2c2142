//! The Salesforce test server: an org on loopback, written from
//! `reference/salesforce-amplience-notify.md` (§1 and the emulator rules of §5.1) alone — it
//! imports nothing of kbpub's client. Three "hosts" share the port, told apart by path as the
//! reference's rule 1 asks for different hosts: `/salesforce/login` (login.salesforce.com),
//! `/salesforce/mydomain` (the org's My Domain) and `/salesforce/instance` (the `instance_url`
//! every token names; REST answers only there), behind the shared [`crate::sim::layer`]
//! (latency, request counts, injected faults). Submodules: [`auth`] (token endpoint, sessions,
//! the admission every REST request passes: API version, session, allocation),
//! [`knowledge`] (`Knowledge__kav` lifecycle), [`query`] (the SOQL subset and paging),
//! [`richtext`] (what the rich-text field keeps), [`admin`] (control endpoints under
//! `/__sim/salesforce/`), [`model`] (the org's data). Behaviours the reference marks unverified
//! are flags.

pub mod admin;
pub mod auth;
pub mod knowledge;
pub mod model;
pub mod query;
pub mod richtext;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, patch, post};

use super::layer::TrafficLayer;
use model::Org;

/// The newest API version the simulator serves; retired versions are below [`OLDEST_VERSION`].
pub const NEWEST_VERSION: u32 = 67;
/// Versions below 31.0 are retired (reference §1.1.4): 410.
pub const OLDEST_VERSION: u32 = 31;

/// The org's article types (`RecordTypeId`s) unless `--salesforce-record-types` names others.
const RECORD_TYPES: &str = "012000000000001AAA,012000000000002AAA,012000000000003AAA";

/// What an unfiltered `Knowledge__kav` query does (reference §6: the object reference and the
/// Knowledge developer guide disagree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnfilteredKav {
    /// 400 `MALFORMED_QUERY` without `PublishStatus` or `Id` in WHERE (object reference).
    Reject,
    /// Online versions only up to API 46.0, every version from 47.0 (developer guide).
    ByVersion,
}

/// `kbpub sim` options for the Salesforce org.
#[derive(Debug, Clone, clap::Args)]
pub struct SalesforceArgs {
    /// Consumer key of the connected app: a JWT's `iss`, the client-credentials `client_id`
    #[arg(long, default_value = "kbpub-consumer-key", value_name = "KEY")]
    pub salesforce_consumer_key: String,
    /// Consumer secret for the client-credentials flow
    #[arg(
        long,
        env = "KBPUB_SIM_SALESFORCE_SECRET",
        hide_env_values = true,
        default_value = "kbpub-consumer-secret",
        value_name = "SECRET"
    )]
    pub salesforce_consumer_secret: String,
    /// The pre-authorised user: a JWT's `sub` must name it; client credentials run as it
    #[arg(long, default_value = "integration@kbpub.test", value_name = "USER")]
    pub salesforce_user: String,
    /// PEM public key ("BEGIN PUBLIC KEY") JWT assertions are verified against; without it no
    /// JWT grant succeeds
    #[arg(long, value_name = "FILE")]
    pub salesforce_jwt_public_key: Option<PathBuf>,
    /// Audiences a JWT may name
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "https://login.salesforce.com,https://test.salesforce.com",
        value_name = "URLS"
    )]
    pub salesforce_audience: Vec<String>,
    /// How far ahead of now a JWT's `exp` may be
    #[arg(long, value_parser = humantime::parse_duration, default_value = "300s", value_name = "DURATION")]
    pub salesforce_jwt_max_ahead: Duration,
    /// Also accept client credentials as HTTP Basic (unverified for Salesforce)
    #[arg(long)]
    pub salesforce_client_credentials_basic: bool,
    /// Idle session timeout: a token unused this long answers 401 INVALID_SESSION_ID
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2h", value_name = "DURATION")]
    pub salesforce_session_timeout: Duration,
    /// API requests allowed in the (24 h) window; beyond it 403 REQUEST_LIMIT_EXCEEDED
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub salesforce_api_limit: u64,
    /// Rows per query batch before `nextRecordsUrl` (down to 1)
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub salesforce_batch_size: usize,
    /// The rich-text body field of Knowledge__kav
    #[arg(long, default_value = "Body__c", value_name = "FIELD")]
    pub salesforce_body_field: String,
    /// The body field's limit in characters, markup included (256 to 131072)
    #[arg(long, default_value_t = 32_768, value_name = "CHARS")]
    pub salesforce_body_limit: usize,
    /// Custom text fields (255 characters) of Knowledge__kav
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "Kbpub_Hash__c,Kbpub_Id__c",
        value_name = "FIELDS"
    )]
    pub salesforce_text_fields: Vec<String>,
    /// What a Knowledge__kav query without PublishStatus or Id in WHERE does (unverified)
    #[arg(long, value_enum, default_value = "reject")]
    pub salesforce_unfiltered_kav: UnfilteredKav,
    /// UrlName uniqueness ignores case (the documentation says case-sensitive)
    #[arg(long)]
    pub salesforce_urlname_case_insensitive: bool,
    /// errorCode for an invalid UrlName (unverified)
    #[arg(long, default_value = "INVALID_FIELD", value_name = "CODE")]
    pub salesforce_urlname_error: String,
    /// errorCode for a Knowledge state violation: editing a non-draft, a second draft,
    /// publishing a non-draft, archiving a non-online version (unverified)
    #[arg(long, default_value = "INVALID_OPERATION", value_name = "CODE")]
    pub salesforce_state_error: String,
    /// A minor publish archives the previous online version instead of replacing it
    /// (unverified)
    #[arg(long)]
    pub salesforce_minor_archives: bool,
    /// Archiving an online version is allowed while its article has a draft (unverified)
    #[arg(long)]
    pub salesforce_archive_with_draft: bool,
    /// The org is multilingual: `Language` is required on create
    #[arg(long)]
    pub salesforce_multilingual: bool,
    /// The article types (`RecordTypeId`s) of Knowledge__kav; the first is the default a
    /// create without one gets
    #[arg(long, value_delimiter = ',', default_value = RECORD_TYPES, value_name = "IDS")]
    pub salesforce_record_types: Vec<String>,
    /// errorCode for a `RecordTypeId` that is not one of the org's article types (unverified)
    #[arg(
        long,
        default_value = "INVALID_CROSS_REFERENCE_KEY",
        value_name = "CODE"
    )]
    pub salesforce_record_type_error: String,
    /// Fault: the `Name` of every row a query returns is the caller's access token (a client
    /// must not store it)
    #[arg(long)]
    pub salesforce_echo_token: bool,
}

/// The rules the org runs with, from the flags.
pub struct Rules {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub user: String,
    pub jwt_key: Option<jsonwebtoken::DecodingKey>,
    pub audiences: Vec<String>,
    pub jwt_max_ahead: Duration,
    pub basic_credentials: bool,
    pub session_timeout: Duration,
    pub batch_size: usize,
    pub body_field: String,
    pub body_limit: usize,
    pub text_fields: Vec<String>,
    pub unfiltered_kav: UnfilteredKav,
    pub urlname_case_insensitive: bool,
    pub urlname_error: String,
    pub state_error: String,
    pub minor_archives: bool,
    pub archive_with_draft: bool,
    pub multilingual: bool,
    pub record_types: Vec<String>,
    pub record_type_error: String,
    pub echo_token: bool,
}

pub struct Shared {
    pub org: Mutex<Org>,
    pub rules: Rules,
}

pub type St = Arc<Shared>;

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Org> {
        self.org.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What `kbpub sim` prints about this server, for the address `bound`.
pub fn describe(bound: &str) -> String {
    format!(
        "  Salesforce org:         token http://{bound}/salesforce/mydomain/services/oauth2/token (login host /salesforce/login), REST at the token's instance_url"
    )
}

fn rules(args: &SalesforceArgs) -> Result<Rules, String> {
    let jwt_key = match &args.salesforce_jwt_public_key {
        None => None,
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("--salesforce-jwt-public-key {}: {e}", path.display()))?;
            Some(jsonwebtoken::DecodingKey::from_rsa_pem(&pem).map_err(|e| {
                format!(
                    "--salesforce-jwt-public-key {}: not a PEM RSA public key ({e})",
                    path.display()
                )
            })?)
        }
    };
    if args.salesforce_record_types.is_empty() {
        return Err("--salesforce-record-types names no record type".into());
    }
    if !(256..=131_072).contains(&args.salesforce_body_limit) {
        return Err(format!(
            "--salesforce-body-limit {} is outside 256..=131072 (reference §1.6)",
            args.salesforce_body_limit
        ));
    }
    Ok(Rules {
        consumer_key: args.salesforce_consumer_key.clone(),
        consumer_secret: args.salesforce_consumer_secret.clone(),
        user: args.salesforce_user.clone(),
        jwt_key,
        audiences: args.salesforce_audience.clone(),
        jwt_max_ahead: args.salesforce_jwt_max_ahead,
        basic_credentials: args.salesforce_client_credentials_basic,
        session_timeout: args.salesforce_session_timeout,
        batch_size: args.salesforce_batch_size.max(1),
        body_field: args.salesforce_body_field.clone(),
        body_limit: args.salesforce_body_limit,
        text_fields: args.salesforce_text_fields.clone(),
        unfiltered_kav: args.salesforce_unfiltered_kav,
        urlname_case_insensitive: args.salesforce_urlname_case_insensitive,
        urlname_error: args.salesforce_urlname_error.clone(),
        state_error: args.salesforce_state_error.clone(),
        minor_archives: args.salesforce_minor_archives,
        archive_with_draft: args.salesforce_archive_with_draft,
        multilingual: args.salesforce_multilingual,
        record_types: args.salesforce_record_types.clone(),
        record_type_error: args.salesforce_record_type_error.clone(),
        echo_token: args.salesforce_echo_token,
    })
}

/// REST on a host that is not the instance: 404, as for a client that ignored `instance_url`.
async fn elsewhere() -> axum::response::Response {
    model::not_found()
}

/// The router: token endpoints on the login and My Domain hosts, REST on the instance host, and
/// the control endpoints.
pub fn router(args: &SalesforceArgs) -> Result<Router, String> {
    let mut org = Org::default();
    org.api_max = args.salesforce_api_limit;
    admin::seed_default(&mut org);
    let shared = Arc::new(Shared {
        org: Mutex::new(org),
        rules: rules(args)?,
    });
    let rest = Router::new()
        .route("/query", get(query::first))
        .route("/query/{locator}", get(query::next))
        .route("/sobjects/Knowledge__kav", post(knowledge::create))
        .route(
            "/sobjects/Knowledge__kav/describe",
            get(knowledge::describe),
        )
        .route(
            "/sobjects/Knowledge__kav/{id}",
            get(knowledge::retrieve).patch(knowledge::update),
        )
        .route(
            "/sobjects/Knowledge__kav/{id}/richTextImageFields/{field}/{refid}",
            get(knowledge::rich_text_image),
        )
        .route(
            "/sobjects/Knowledge__DataCategorySelection",
            post(knowledge::add_category),
        )
        .route(
            "/sobjects/Knowledge__DataCategorySelection/{id}",
            axum::routing::delete(knowledge::remove_category),
        )
        .route(
            "/knowledgeManagement/articleVersions/masterVersions",
            post(knowledge::new_draft),
        )
        .route(
            "/knowledgeManagement/articleVersions/masterVersions/{id}",
            patch(knowledge::change_status).delete(knowledge::delete_draft),
        )
        .fallback(|| async { model::not_found() })
        .with_state(shared.clone());
    let admission = shared.clone();
    let traffic = TrafficLayer::new(
        move |request| auth::admit(&admission, request),
        auth::answer_fault,
    );
    // Behind the layer at the full path, so faults match `/services/data/vNN.N/...` too.
    let instance = traffic
        .wrap(Router::new().nest("/salesforce/instance/services/data/{version}", rest))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            auth::limit_info,
        ));
    let hosts = Router::new()
        .route(
            "/salesforce/login/services/oauth2/token",
            post(auth::token_on_login),
        )
        .route(
            "/salesforce/mydomain/services/oauth2/token",
            post(auth::token_on_my_domain),
        )
        .route("/salesforce/instance/services/data", get(auth::versions))
        .route("/salesforce/instance/services/data/", get(auth::versions))
        .route(
            "/salesforce/login/services/data/{*rest}",
            get(elsewhere).post(elsewhere),
        )
        .route(
            "/salesforce/mydomain/services/data/{*rest}",
            get(elsewhere).post(elsewhere),
        )
        .with_state(shared.clone());
    Ok(hosts
        .merge(instance)
        .nest(
            "/__sim/salesforce",
            traffic.control().merge(admin::router(shared)),
        )
        .layer(DefaultBodyLimit::max(16 << 20)))
}
