//! `kbpub sim`'s Salesforce org, tested on its own over raw HTTP (no kbpub client code): each
//! rule of the reference's emulator list it enforces — the token endpoint's JWT bearer and
//! client-credentials grants, session expiry, REST only on the instance host and only in served
//! API versions, the Knowledge lifecycle, UrlName, record type and field rules, the unfiltered-query rule per
//! flag, rich-text rewriting (and the images it keeps), the API allocation and 403 throttling, commit-then-fail, the SOQL
//! subset and its paging — and the control endpoints tests use (seed, a person's edit).

mod common;

use common::salesforce::*;
use common::{Sim, assert_contains};
use reqwest::Method;
use serde_json::{Value, json};

/// A minimal valid new article.
fn article(url_name: &str) -> Value {
    json!({"Title": format!("About {url_name}"), "UrlName": url_name, "IsVisibleInPrm": true,
           "Body__c": "<p>Hello</p>", "Kbpub_Hash__c": "sha256:one"})
}

fn published(org: &Org, url_name: &str) -> (String, String) {
    let id = org.create(article(url_name));
    let reply = org.set_status(&id, json!({"publishStatus": "Online"}));
    assert_eq!(reply.status, 204, "{}", reply.body);
    let article_id = org.version(&id)["KnowledgeArticleId"]
        .as_str()
        .unwrap()
        .to_string();
    (id, article_id)
}

#[test]
fn the_jwt_bearer_grant_checks_signature_issuer_audience_expiry_and_user() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = rsa_key_pair(dir.path(), "app");
    let (stranger, _) = rsa_key_pair(dir.path(), "stranger");
    let sim = Sim::start_with(&["--salesforce-jwt-public-key", public.to_str().unwrap()]);
    let grant = |host: &str, jwt: &str| {
        token_request(
            &sim,
            host,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", jwt),
            ],
        )
    };
    for host in ["login", "mydomain"] {
        let (status, answer) = grant(host, &assertion(&key, good_claims()));
        assert_eq!(status, 200, "{answer}");
        for field in [
            "access_token",
            "instance_url",
            "id",
            "token_type",
            "issued_at",
            "signature",
            "scope",
        ] {
            assert!(answer[field].is_string(), "{field} in {answer}");
        }
        assert!(answer.get("expires_in").is_none() && answer.get("refresh_token").is_none());
        assert!(
            answer["instance_url"]
                .as_str()
                .unwrap()
                .ends_with("/salesforce/instance")
        );
    }
    let with = |change: Value| {
        let mut claims = good_claims();
        for (k, v) in change.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let refused = [
        (
            assertion(&stranger, good_claims()),
            "invalid_grant",
            "invalid assertion",
        ),
        (
            assertion(&key, with(json!({"iss": "someone-else"}))),
            "invalid_client_id",
            "client identifier invalid",
        ),
        (
            assertion(&key, with(json!({"aud": "https://example.com"}))),
            "invalid_grant",
            "audience is invalid",
        ),
        (
            assertion(&key, with(json!({"exp": now() - 5}))),
            "invalid_grant",
            "expired authorization code",
        ),
        (
            assertion(&key, with(json!({"exp": now() + 3600}))),
            "invalid_grant",
            "invalid assertion: exp is too far in the future",
        ),
        (
            assertion(&key, with(json!({"sub": "intruder@kbpub.test"}))),
            "invalid_grant",
            "user hasn't approved this consumer",
        ),
    ];
    for (jwt, error, description) in refused {
        let (status, answer) = grant("mydomain", &jwt);
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"], error, "{answer}");
        assert_eq!(answer["error_description"], description);
    }
    // HS256 signed with the public key's text: a classic confusion, refused.
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good_claims(),
        &jsonwebtoken::EncodingKey::from_secret(&std::fs::read(&public).unwrap()),
    )
    .unwrap();
    assert_eq!(
        grant("mydomain", &hs).1["error_description"],
        "invalid assertion"
    );
}

#[test]
fn client_credentials_work_only_on_my_domain_and_basic_only_with_its_flag() {
    let sim = Sim::start();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", CONSUMER_KEY),
        ("client_secret", CONSUMER_SECRET),
    ];
    let (status, answer) = token_request(&sim, "login", &form);
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!({"error": "invalid_grant", "error_description": "request not supported on this domain"})
    );
    assert_eq!(token_request(&sim, "mydomain", &form).0, 200);
    let (status, answer) = token_request(
        &sim,
        "mydomain",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CONSUMER_KEY),
            ("client_secret", "wrong"),
        ],
    );
    assert_eq!((status, &answer["error"]), (400, &json!("invalid_client")));
    let basic = |sim: &Sim| {
        sim.client()
            .post(format!(
                "{}/salesforce/mydomain/services/oauth2/token",
                sim.base
            ))
            .basic_auth(CONSUMER_KEY, Some(CONSUMER_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        basic(&sim),
        400,
        "HTTP Basic is unverified for Salesforce: off by default"
    );
    let lenient = Sim::start_with(&["--salesforce-client-credentials-basic"]);
    assert_eq!(basic(&lenient), 200);
}

#[test]
fn rest_answers_only_on_the_instance_host_in_served_versions_with_live_sessions() {
    let sim = Sim::start();
    let (token, instance) = session(&sim);
    let soql = "/query?q=SELECT+Id+FROM+Account";
    for host in ["login", "mydomain"] {
        let url = format!("{}/salesforce/{host}/services/data/{API}{soql}", sim.base);
        let reply = call(&sim, Method::GET, &url, &token, Value::Null);
        assert_eq!(
            (reply.status, reply.error_code()),
            (404, "NOT_FOUND".into())
        );
    }
    let at = |version: &str| format!("{instance}/services/data/{version}{soql}");
    let ok = call(&sim, Method::GET, &at(API), &token, Value::Null);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        ok.headers["sforce-limit-info"]
            .to_str()
            .unwrap()
            .starts_with("api-usage=")
    );
    let retired = call(&sim, Method::GET, &at("v30.0"), &token, Value::Null);
    assert_eq!(retired.status, 410);
    retired.error_code();
    assert_eq!(
        call(&sim, Method::GET, &at("v99.0"), &token, Value::Null).status,
        404
    );
    let versions = sim
        .client()
        .get(format!("{instance}/services/data/"))
        .send()
        .unwrap();
    assert!(versions.headers().get("sforce-limit-info").is_none());
    let listed: Value = versions.json().unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["version"] == "62.0")
    );

    let unknown = call(&sim, Method::GET, &at(API), "00Dnot-a-session", Value::Null);
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}])
    );
    assert_eq!(control(&sim, "expire", json!({})), 204);
    let expired = call(&sim, Method::GET, &at(API), &token, Value::Null);
    assert_eq!(
        (expired.status, expired.error_code()),
        (401, "INVALID_SESSION_ID".into())
    );
}

#[test]
fn an_idle_session_expires_after_the_configured_timeout() {
    let sim = Sim::start_with(&["--salesforce-session-timeout", "0s"]);
    let org = Org::connect(&sim);
    let reply = org.query("SELECT Id FROM Account");
    assert_eq!(
        (reply.status, reply.error_code()),
        (401, "INVALID_SESSION_ID".into())
    );
    let lasting = Sim::start_with(&["--salesforce-session-timeout", "1h"]);
    assert_eq!(
        Org::connect(&lasting)
            .query("SELECT Id FROM Account")
            .status,
        200
    );
}

#[test]
fn the_knowledge_lifecycle_drafts_publishes_minor_and_major_and_archives() {
    let sim = Sim::start();
    let org = Org::connect(&sim);
    let id = org.create(article("edi-onboarding"));
    let draft = org.version(&id);
    assert_eq!(draft["PublishStatus"], "Draft");
    assert_eq!(draft["VersionNumber"], 1);
    let article_id = draft["KnowledgeArticleId"].as_str().unwrap().to_string();
    assert!(id.starts_with("ka0") && article_id.starts_with("kA0"));
    for read_only in [
        "PublishStatus",
        "VersionNumber",
        "KnowledgeArticleId",
        "IsVisibleInApp",
    ] {
        let mut fields = article("other");
        fields[read_only] = json!("x");
        let reply = org.send(Method::POST, "/sobjects/Knowledge__kav", fields);
        assert_eq!(reply.status, 400);
        assert_eq!(reply.error_code(), "INVALID_FIELD_FOR_INSERT_UPDATE");
        assert_eq!(reply.body[0]["fields"], json!([read_only]));
    }
    assert_eq!(
        org.new_draft(&article_id).status,
        400,
        "no online version yet"
    );
    assert_eq!(
        org.set_status(&id, json!({"publishStatus": "online"}))
            .status,
        204
    );
    assert_eq!(org.version(&id)["PublishStatus"], "Online");
    let patch_online = org.send(
        Method::PATCH,
        &format!("/sobjects/Knowledge__kav/{id}"),
        json!({"Title": "Changed"}),
    );
    assert_eq!(
        (patch_online.status, patch_online.error_code()),
        (400, "INVALID_OPERATION".into())
    );
    assert_eq!(
        org.new_draft(&id).status,
        404,
        "K5 takes the article id, not a version id"
    );
    let second = org.new_draft(&article_id);
    assert_eq!(second.status, 201, "{}", second.body);
    let second = second.body["id"].as_str().unwrap().to_string();
    let copy = org.version(&second);
    assert_eq!(
        (&copy["PublishStatus"], &copy["VersionNumber"]),
        (&json!("Draft"), &json!(2))
    );
    assert_eq!(copy["UrlName"], "edi-onboarding");
    assert_eq!(copy["IsVisibleInPrm"], true);
    assert_eq!(
        org.version(&id)["PublishStatus"],
        "Online",
        "K5 does not unpublish"
    );
    let third = org.new_draft(&article_id);
    assert_eq!(
        (third.status, third.error_code()),
        (400, "INVALID_OPERATION".into())
    );
    // Minor: the draft replaces the online version.
    assert_eq!(
        org.set_status(&second, json!({"publishStatus": "Online"}))
            .status,
        204
    );
    let versions = |org: &Org| {
        let reply = org.query(&format!(
            "SELECT Id, PublishStatus, VersionNumber FROM Knowledge__kav WHERE KnowledgeArticleId = '{article_id}' AND PublishStatus IN ('Draft','Online','Archived') ORDER BY VersionNumber"
        ));
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["PublishStatus"].as_str().unwrap().to_string(),
                    r["VersionNumber"].as_u64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(versions(&org), [("Online".into(), 1)]);
    // Major: the previous online version is archived.
    let third = org.new_draft(&article_id).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let major = json!({"publishStatus": "Online", "versionNumber": "NextVersion"});
    assert_eq!(org.set_status(&third, major).status, 204);
    assert_eq!(
        versions(&org),
        [("Archived".into(), 1), ("Online".into(), 2)]
    );
    // Archive: refused while a draft is open, then allowed; deleting only drafts.
    let fourth = org.new_draft(&article_id).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let archive = org.set_status(&third, json!({"publishStatus": "Archived"}));
    assert_eq!(
        (archive.status, archive.error_code()),
        (400, "INVALID_OPERATION".into())
    );
    let delete = |id: &str| {
        org.send(
            Method::DELETE,
            &format!("/knowledgeManagement/articleVersions/masterVersions/{id}"),
            Value::Null,
        )
    };
    assert_eq!(
        delete(&third).status,
        400,
        "an online version is not deleted"
    );
    assert_eq!(delete(&fourth).status, 204);
    assert_eq!(
        org.set_status(&third, json!({"publishStatus": "Archived"}))
            .status,
        204
    );
    assert_eq!(
        versions(&org),
        [("Archived".into(), 1), ("Archived".into(), 2)]
    );
    assert_eq!(
        org.set_status(&third, json!({"publishStatus": "Online"}))
            .status,
        400
    );
}

#[test]
fn state_rules_the_reference_leaves_open_follow_their_flags() {
    let sim = Sim::start_with(&[
        "--salesforce-minor-archives",
        "--salesforce-archive-with-draft",
        "--salesforce-state-error",
        "FIELD_INTEGRITY_EXCEPTION",
    ]);
    let org = Org::connect(&sim);
    let (online, article_id) = published(&org, "flags");
    let draft = org.new_draft(&article_id).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = org.new_draft(&article_id);
    assert_eq!(refused.error_code(), "FIELD_INTEGRITY_EXCEPTION");
    assert_eq!(
        org.set_status(&online, json!({"publishStatus": "Archived"}))
            .status,
        204,
        "archived with a draft open"
    );
    let (other, other_article) = published(&org, "minor");
    let next = org.new_draft(&other_article).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        org.set_status(&next, json!({"publishStatus": "Online"}))
            .status,
        204
    );
    assert_eq!(
        org.version(&other)["PublishStatus"],
        "Archived",
        "a minor publish archived it"
    );
    assert_eq!(org.version(&draft)["PublishStatus"], "Draft");
}

#[test]
fn url_names_are_validated_and_unique_across_articles() {
    let sim = Sim::start();
    let org = Org::connect(&sim);
    let long = "a".repeat(256);
    for bad in [
        "-lead",
        "trail-",
        "under_score",
        "with space",
        "ümlaut",
        long.as_str(),
    ] {
        let mut fields = article(bad);
        fields["Title"] = json!("Bad UrlName");
        let reply = org.send(Method::POST, "/sobjects/Knowledge__kav", fields);
        assert_eq!(reply.status, 400, "{bad}");
        assert_eq!(reply.error_code(), "INVALID_FIELD", "{bad}");
        assert_eq!(reply.body[0]["fields"], json!(["UrlName"]));
    }
    let (_, article_id) = published(&org, "Faq-2");
    let taken = org.send(Method::POST, "/sobjects/Knowledge__kav", article("Faq-2"));
    assert_eq!(
        (taken.status, taken.error_code()),
        (400, "DUPLICATE_VALUE".into())
    );
    assert_eq!(taken.body[0]["fields"], json!(["UrlName"]));
    let draft = org.new_draft(&article_id);
    assert_eq!(
        draft.status, 201,
        "versions of one article share their UrlName"
    );
    org.create(article("faq-2"));

    let strict = Sim::start_with(&[
        "--salesforce-urlname-case-insensitive",
        "--salesforce-urlname-error",
        "FIELD_INTEGRITY_EXCEPTION",
    ]);
    let org = Org::connect(&strict);
    org.create(article("Faq-2"));
    let clash = org.send(Method::POST, "/sobjects/Knowledge__kav", article("faq-2"));
    assert_eq!(clash.error_code(), "DUPLICATE_VALUE");
    let bad = org.send(Method::POST, "/sobjects/Knowledge__kav", article("-x"));
    assert_eq!(bad.error_code(), "FIELD_INTEGRITY_EXCEPTION");
}

#[test]
fn field_limits_required_fields_and_unknown_fields_are_refused() {
    let sim = Sim::start_with(&["--salesforce-body-limit", "256"]);
    let org = Org::connect(&sim);
    let over = |field: &str, length: usize| {
        let mut fields = article("limits");
        fields[field] = json!("x".repeat(length));
        org.send(Method::POST, "/sobjects/Knowledge__kav", fields)
    };
    for (field, max) in [
        ("Title", 255),
        ("Summary", 1000),
        ("Body__c", 256),
        ("Kbpub_Hash__c", 255),
    ] {
        let reply = over(field, max + 1);
        assert_eq!(
            (reply.status, reply.error_code()),
            (400, "STRING_TOO_LONG".into()),
            "{field}"
        );
        assert_eq!(reply.body[0]["fields"], json!([field]));
    }
    assert_eq!(over("Body__c", 256).status, 201, "the limit itself fits");
    let mut untitled = article("untitled");
    untitled.as_object_mut().unwrap().remove("Title");
    let reply = org.send(Method::POST, "/sobjects/Knowledge__kav", untitled);
    assert_eq!(reply.error_code(), "REQUIRED_FIELD_MISSING");
    let mut unknown = article("unknown");
    unknown["Answer__c"] = json!("x");
    let reply = org.send(Method::POST, "/sobjects/Knowledge__kav", unknown);
    assert_eq!(reply.error_code(), "INVALID_FIELD");
    let describe = org.get("/sobjects/Knowledge__kav/describe");
    let body = describe.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Body__c")
        .cloned()
        .unwrap();
    assert_eq!(
        (&body["length"], &body["extraTypeInfo"]),
        (&json!(256), &json!("richtextarea"))
    );

    let multilingual = Sim::start_with(&["--salesforce-multilingual"]);
    let org = Org::connect(&multilingual);
    let reply = org.send(Method::POST, "/sobjects/Knowledge__kav", article("lang"));
    assert_eq!(reply.error_code(), "REQUIRED_FIELD_MISSING");
    let mut with_language = article("lang");
    with_language["Language"] = json!("en_US");
    org.create(with_language);
}

#[test]
fn record_types_are_the_orgs_article_types_and_a_create_without_one_gets_the_default() {
    let sim = Sim::start_with(&[
        "--salesforce-record-types",
        "012000000000007AAA,012000000000008AAA",
    ]);
    let org = Org::connect(&sim);
    let default = org.create(article("typeless"));
    assert_eq!(org.version(&default)["RecordTypeId"], "012000000000007AAA");
    let mut typed = article("typed");
    typed["RecordTypeId"] = json!("012000000000008");
    let id = org.create(typed);
    assert_eq!(
        org.version(&id)["RecordTypeId"],
        "012000000000008",
        "the 15-character form names the same type"
    );
    let path = format!("/sobjects/Knowledge__kav/{id}");
    let reply = org.send(
        Method::PATCH,
        &path,
        json!({"RecordTypeId": "012000000000007AAA"}),
    );
    assert_eq!(reply.status, 204, "a draft changes type: {}", reply.body);
    let mut unknown = article("unknown-type");
    unknown["RecordTypeId"] = json!("012000000000009AAA");
    let reply = org.send(Method::POST, "/sobjects/Knowledge__kav", unknown);
    assert_eq!(
        (reply.status, reply.error_code()),
        (400, "INVALID_CROSS_REFERENCE_KEY".into())
    );
    assert_eq!(reply.body[0]["fields"], json!(["RecordTypeId"]));
    let reply = org.send(Method::PATCH, &path, json!({"RecordTypeId": 12}));
    assert_eq!(reply.error_code(), "JSON_PARSER_ERROR");
    assert_eq!(org.version(&id)["RecordTypeId"], "012000000000007AAA");
    let describe = org.get("/sobjects/Knowledge__kav/describe");
    assert!(
        describe.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "RecordTypeId" && f["updateable"] == true),
        "{}",
        describe.body
    );

    let other_code = Sim::start_with(&["--salesforce-record-type-error", "INVALID_FIELD"]);
    let org = Org::connect(&other_code);
    let mut unknown = article("unknown-type");
    unknown["RecordTypeId"] = json!("012000000000009AAA");
    let reply = org.send(Method::POST, "/sobjects/Knowledge__kav", unknown);
    assert_eq!(reply.error_code(), "INVALID_FIELD");
}

#[test]
fn an_unfiltered_knowledge_query_follows_the_api_version_rule_of_its_flag() {
    let soql = "SELECT Id, PublishStatus FROM Knowledge__kav WHERE Language = 'en_US'";
    let statuses = |reply: &Reply| {
        let mut found: Vec<String> = reply.body["records"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", reply.body))
            .iter()
            .map(|r| r["PublishStatus"].as_str().unwrap().to_string())
            .collect();
        found.sort();
        found
    };
    fn prepare(sim: &Sim) -> Org<'_> {
        let org = Org::connect(sim);
        published(&org, "online-one");
        org.create(article("draft-one"));
        org
    }
    let strict = Sim::start();
    let org = prepare(&strict);
    let reply = org.query(soql);
    assert_eq!(
        (reply.status, reply.error_code()),
        (400, "MALFORMED_QUERY".into())
    );
    let filtered = org.query(
        "SELECT Id, PublishStatus FROM Knowledge__kav WHERE PublishStatus IN ('Draft','Online')",
    );
    assert_eq!(statuses(&filtered), ["Draft", "Online"]);

    let lenient = Sim::start_with(&["--salesforce-unfiltered-kav", "by-version"]);
    let mut org = prepare(&lenient);
    assert_eq!(
        statuses(&org.query(soql)),
        ["Draft", "Online"],
        "from 47.0 every version"
    );
    org.base = org.base.replace(API, "v46.0");
    assert_eq!(
        statuses(&org.query(soql)),
        ["Online"],
        "up to 46.0 online only"
    );
    let no_language = org.query("SELECT Id FROM Knowledge__kav WHERE PublishStatus = 'Online'");
    assert_eq!(
        no_language.error_code(),
        "MALFORMED_QUERY",
        "below 47.0 Language is required"
    );
}

#[test]
fn the_rich_text_field_keeps_its_own_html_not_the_html_sent() {
    let sim = Sim::start();
    let org = Org::connect(&sim);
    let sent = "<p class=\"lead\" onclick=\"steal()\">Ship <b>now</b><script>alert(1)</script></p>\n<figure><img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"chart\"/></figure>";
    let mut fields = article("rich");
    fields["Body__c"] = json!(sent);
    let id = org.create(fields);
    let stored = org.version(&id)["Body__c"].as_str().unwrap().to_string();
    assert_ne!(stored, sent);
    assert!(
        stored.contains("Ship") && stored.contains("now"),
        "text stays: {stored}"
    );
    assert!(
        !stored.contains("onclick") && !stored.contains("script") && !stored.contains("<figure"),
        "{stored}"
    );
    assert_contains(&stored, "class=\"lead\"");
    assert!(
        stored.contains("/servlet/rtaImage?eid="),
        "data: images are rewritten: {stored}"
    );
    assert!(!stored.contains("data:image"), "{stored}");

    // The image is read back by its refid from the version whose body shows it.
    let refid = stored
        .split("refid=")
        .nth(1)
        .and_then(|rest| rest.split(['"', '&']).next())
        .unwrap()
        .to_string();
    let image_url = |version: &str, field: &str| {
        format!(
            "{}/sobjects/Knowledge__kav/{version}/richTextImageFields/{field}/{refid}",
            org.base
        )
    };
    let image = sim
        .client()
        .get(image_url(&id, "Body__c"))
        .bearer_auth(&org.token)
        .send()
        .unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(
        image.bytes().unwrap().as_ref(),
        b"\x89PNG\r\n\x1a\n",
        "the bytes sent"
    );
    let other = org.create(article("plain"));
    for (version, field) in [(other.as_str(), "Body__c"), (id.as_str(), "Summary")] {
        let reply = call(
            &sim,
            Method::GET,
            &image_url(version, field),
            &org.token,
            Value::Null,
        );
        assert_eq!(
            (reply.status, reply.error_code()),
            (404, "NOT_FOUND".into())
        );
    }
}

#[test]
fn the_api_allocation_runs_out_into_403_request_limit_exceeded_without_retry_after() {
    let sim = Sim::start();
    let org = Org::connect(&sim);
    assert_eq!(control(&sim, "limits", json!({"used": 8, "max": 10})), 204);
    let first = org.query("SELECT Id FROM Account");
    assert_eq!(first.headers["sforce-limit-info"], "api-usage=9/10");
    let last = org.query("SELECT Id FROM Account");
    assert_eq!(
        (last.status, &last.headers["sforce-limit-info"]),
        (200, &"api-usage=10/10".parse().unwrap())
    );
    for _ in 0..2 {
        let refused = org.query("SELECT Id FROM Account");
        assert_eq!(refused.status, 403);
        assert_eq!(
            refused.body,
            json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED", "fields": []}])
        );
        assert!(refused.headers.get("retry-after").is_none());
    }
    assert_eq!(inspect(&sim, "limits")["used"], 10);
}

#[test]
fn injected_faults_answer_salesforce_errors_and_commit_then_fail_keeps_the_write() {
    let sim = Sim::start();
    let org = Org::connect(&sim);
    let faults = json!([
        {"method": "POST", "path": "/sobjects/Knowledge__kav", "status": 500, "commit": true},
        {"method": "PATCH", "path": "/sobjects/Knowledge__kav", "status": 400},
        {"method": "GET", "path": "/query", "status": 403}
    ]);
    assert_eq!(control(&sim, "faults", faults), 204);
    let lost = org.send(Method::POST, "/sobjects/Knowledge__kav", article("landed"));
    assert_eq!(lost.status, 500);
    lost.error_code();
    let found = org.query(
        "SELECT Id FROM Knowledge__kav WHERE UrlName = 'landed' AND PublishStatus = 'Draft'",
    );
    assert_eq!(found.status, 403, "the queued 403");
    assert_eq!(found.error_code(), "REQUEST_LIMIT_EXCEEDED");
    let found = org.query(
        "SELECT Id FROM Knowledge__kav WHERE UrlName = 'landed' AND PublishStatus = 'Draft'",
    );
    assert_eq!(
        found.body["totalSize"], 1,
        "the write landed: {}",
        found.body
    );
    let id = found.body["records"][0]["Id"].as_str().unwrap().to_string();
    let locked = org.send(
        Method::PATCH,
        &format!("/sobjects/Knowledge__kav/{id}"),
        json!({"Title": "T"}),
    );
    assert_eq!(
        (locked.status, locked.error_code()),
        (400, "UNABLE_TO_LOCK_ROW".into())
    );
    assert_eq!(
        org.version(&id)["Title"],
        "About landed",
        "a refused write changes nothing"
    );
    assert!(inspect(&sim, "stats")["POST"].as_u64().unwrap() >= 1);
}

#[test]
fn the_echo_token_fault_puts_the_callers_token_in_every_name() {
    let sim = Sim::start_with(&["--salesforce-echo-token"]);
    let org = Org::connect(&sim);
    let reply = org.query("SELECT Id, Name FROM Account");
    let records = reply.body["records"].as_array().unwrap();
    assert!(!records.is_empty(), "{}", reply.body);
    assert!(
        records.iter().all(|r| r["Name"] == org.token.as_str()),
        "{}",
        reply.body
    );
}

#[test]
fn draft_updates_honour_if_unmodified_since() {
    let sim = Sim::start();
    let org = Org::connect(&sim);
    let id = org.create(article("conditional"));
    let path = format!("{}/sobjects/Knowledge__kav/{id}", org.base);
    let patch = |since: &str| {
        call_with(
            &sim,
            Method::PATCH,
            &path,
            &org.token,
            &[("If-Unmodified-Since", since)],
            json!({"Summary": "s"}),
        )
    };
    let old = patch("Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(
        (old.status, old.error_code()),
        (412, "PRECONDITION_FAILED".into())
    );
    assert_eq!(patch("yesterday").status, 400);
    let later = httpdate::fmt_http_date(
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
    );
    assert_eq!(patch(&later).status, 204);
    assert_eq!(org.version(&id)["Summary"], "s");
}

#[test]
fn soql_pages_by_next_records_url_resolves_parent_paths_and_refuses_bad_queries() {
    let sim = Sim::start_with(&["--salesforce-batch-size", "2"]);
    let org = Org::connect(&sim);
    let seeded = json!({
        "Account": [
            {"Id": "001A", "Name": "One", "Partner_Id__c": "P-1", "Type": "Partner"},
            {"Id": "001B", "Name": "Two", "Partner_Id__c": "P-2", "Type": "Partner"},
            {"Id": "001C", "Name": "O'Three", "Partner_Id__c": "P-3", "Type": "Partner"},
            {"Id": "001D", "Name": "Four", "Partner_Id__c": null, "Type": "Customer"},
            {"Id": "001E", "Name": "Five", "Partner_Id__c": "P-5", "Type": "Partner"}
        ],
        "Case": [
            {"Id": "500A", "AccountId": "001C", "Subject": "late 997", "Status": "New", "IsClosed": false},
            {"Id": "500B", "AccountId": "001C", "Subject": "done", "Status": "Closed", "IsClosed": true}
        ]
    });
    assert_eq!(control(&sim, "seed", seeded), 204);
    let mut reply = org
        .query("SELECT Id, Name, Partner_Id__c FROM Account WHERE Type = 'partner' ORDER BY Name");
    let mut names = Vec::new();
    let mut batches = 0;
    loop {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["totalSize"], 4);
        batches += 1;
        let records = reply.body["records"].as_array().unwrap();
        assert!(records.len() <= 2);
        for record in records {
            assert_eq!(record["attributes"]["type"], "Account");
            names.push(record["Name"].as_str().unwrap().to_string());
        }
        if reply.body["done"] == true {
            assert!(reply.body.get("nextRecordsUrl").is_none());
            break;
        }
        let next = reply.body["nextRecordsUrl"].as_str().unwrap();
        assert!(
            next.starts_with(&format!("/services/data/{API}/query/")),
            "relative: {next}"
        );
        let instance = org.base.split("/services/data/").next().unwrap();
        reply = call(
            &sim,
            Method::GET,
            &format!("{instance}{next}"),
            &org.token,
            Value::Null,
        );
    }
    assert_eq!(batches, 2);
    assert_eq!(names, ["Five", "O'Three", "One", "Two"]);
    let cases = org.query("SELECT Id, Subject, Account.Partner_Id__c, Account.Name FROM Case WHERE Account.Partner_Id__c = 'P-3' AND IsClosed = false");
    assert_eq!(cases.body["totalSize"], 1, "{}", cases.body);
    assert_eq!(cases.body["records"][0]["Account"]["Partner_Id__c"], "P-3");
    assert_eq!(
        cases.body["records"][0]["Account"]["attributes"]["type"],
        "Account"
    );
    let escaped = org.query("SELECT Id FROM Account WHERE Name = 'O\\'Three'");
    assert_eq!(escaped.body["totalSize"], 1);
    let unescaped = org.query("SELECT Id FROM Account WHERE Name = 'O'Three'");
    assert_eq!(
        (unescaped.status, unescaped.error_code()),
        (400, "MALFORMED_QUERY".into())
    );
    let unknown = org.query("SELECT Id, Partner_Ident__c FROM Account");
    assert_eq!(
        (unknown.status, unknown.error_code()),
        (400, "INVALID_FIELD".into())
    );
    let like = org.query("SELECT Id FROM Account WHERE Name LIKE 'o%' AND Partner_Id__c != null");
    assert_eq!(like.body["totalSize"], 2);
    let first = org.query("SELECT Id FROM Account");
    let next = first.body["nextRecordsUrl"].as_str().unwrap().to_string();
    assert_eq!(control(&sim, "expire", json!({})), 204);
    let org = Org::connect(&sim);
    let instance = org.base.split("/services/data/").next().unwrap();
    let gone = call(
        &sim,
        Method::GET,
        &format!("{instance}{next}"),
        &org.token,
        Value::Null,
    );
    assert_eq!(
        (gone.status, gone.error_code()),
        (404, "INVALID_QUERY_LOCATOR".into())
    );
}

#[test]
fn a_person_edits_in_salesforce_and_the_partner_view_shows_only_online_partner_articles() {
    let sim = Sim::start();
    let org = Org::connect(&sim);
    let (online, _) = published(&org, "shared");
    let mut internal = article("internal-only");
    internal["IsVisibleInPrm"] = json!(false);
    let internal = org.create(internal);
    assert_eq!(
        org.set_status(&internal, json!({"publishStatus": "Online"}))
            .status,
        204
    );
    org.create(article("still-draft"));
    let before = org.version(&online)["LastModifiedById"].clone();
    let edit = json!({"UrlName": "shared", "fields": {"Title": "Edited by Pat"}, "publish": true});
    assert_eq!(control(&sim, "edit", edit), 204);
    let view = inspect(&sim, "partner-view");
    let titles: Vec<&str> = view
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Edited by Pat"]);
    let edited = &view[0];
    assert_ne!(edited["LastModifiedById"], before);
    assert_eq!(
        edited["Kbpub_Hash__c"], "sha256:one",
        "the person left kbpub's hash field alone"
    );
    assert_eq!(edited["PublishStatus"], "Online");
    let unknown = json!({"UrlName": "nope", "fields": {}});
    assert_eq!(control(&sim, "edit", unknown), 404);
}

#[test]
fn data_categories_go_on_drafts_and_carry_over_to_the_next_draft() {
    let sim = Sim::start();
    let org = Org::connect(&sim);
    let id = org.create(article("categorised"));
    let select = |parent: &str| {
        org.send(Method::POST, "/sobjects/Knowledge__DataCategorySelection",
            json!({"ParentId": parent, "DataCategoryGroupName": "Partners", "DataCategoryName": "EDI"}))
    };
    assert_eq!(select(&id).status, 201);
    assert_eq!(
        org.set_status(&id, json!({"publishStatus": "Online"}))
            .status,
        204
    );
    assert_eq!(select(&id).status, 400, "only drafts take categories");
    let article_id = org.version(&id)["KnowledgeArticleId"]
        .as_str()
        .unwrap()
        .to_string();
    let draft = org.new_draft(&article_id).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let found = org.query(&format!(
        "SELECT Id, DataCategoryName FROM Knowledge__DataCategorySelection WHERE ParentId = '{draft}'"
    ));
    assert_eq!(found.body["totalSize"], 1, "{}", found.body);
    let category = found.body["records"][0]["Id"].as_str().unwrap();
    let removed = org.send(
        Method::DELETE,
        &format!("/sobjects/Knowledge__DataCategorySelection/{category}"),
        Value::Null,
    );
    assert_eq!(removed.status, 204);
}
