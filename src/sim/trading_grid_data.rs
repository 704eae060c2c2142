//! The Trading Grid simulator's data: deterministic for a seed (ChaCha, so the same on every
//! platform and release), realistic enough to demo and test with. Eight named partners (retail,
//! logistics, manufacturing) plus generated ones on request, daily metric rows for each partner x
//! document type x direction, and incidents across every status with real X12 error codes whose
//! `related_kb` cite the sample knowledge base. In hostile mode every free-text field carries one
//! of [`hostile_strings`].

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::contract::*;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub seed: u64,
    pub as_of: DateTime<Utc>,
    pub partners: usize,
    pub days: u32,
    pub doc_types: Vec<String>,
    pub incidents: usize,
    pub hostile: bool,
}

pub struct Generated {
    pub partners: Vec<Partner>,
    pub metrics: Vec<MetricRow>,
    pub incidents: Vec<Incident>,
}

/// Strings that must show as plain text wherever they land: HTML and script, Confluence macro
/// markup, Tera syntax, Markdown links to `javascript:`, pipes and newlines, backtick runs, a
/// 10 kB string, bidi overrides and zero-width characters.
pub fn hostile_strings() -> &'static [String] {
    static STRINGS: LazyLock<Vec<String>> = LazyLock::new(|| {
        vec![
            "<script>alert('kbpub-xss')</script> Acme".to_string(),
            "<img src=x onerror=alert(1)><a href=\"javascript:alert(2)\">click</a>".to_string(),
            "<ac:structured-macro ac:name=\"html\"><ac:plain-text-body><![CDATA[<b>macro</b>]]></ac:plain-text-body></ac:structured-macro>".to_string(),
            "{{ get_env(name=\"HOME\") }} {% include \"base.html\" %} {# c #}".to_string(),
            "[click me](javascript:alert(1)) ![img](javascript:alert(2)) <javascript:alert(3)> https://evil.example/x".to_string(),
            "cell | with | pipes\n| --- |\n# heading\n- item\n\n> quote".to_string(),
            "````` fence ````` `code` ~~~ *star* _under_ \\".to_string(),
            format!("LONG-{}", "0123456789abcdef".repeat(640)),
            "bidi \u{202E}exe.fdp\u{202C} \u{2066}isolate\u{2069} rlm\u{200F}".to_string(),
            "zero\u{200B}width\u{200C}non\u{200D}join\u{2060}word\u{FEFF}bom".to_string(),
        ]
    });
    &STRINGS
}

struct NamedPartner {
    id: &'static str,
    name: &'static str,
    qualifier: &'static str,
    edi_id: &'static str,
    status: PartnerStatus,
    onboarded: &'static str,
    segment: &'static str,
}

const NAMED: &[NamedPartner] = &[
    NamedPartner {
        id: "ACME-RETAIL",
        name: "Acme Retail Inc.",
        qualifier: "ZZ",
        edi_id: "ACMERET",
        status: PartnerStatus::Active,
        onboarded: "2024-02-01",
        segment: "retail",
    },
    NamedPartner {
        id: "BIGBOX-STORES",
        name: "BigBox Stores Corp.",
        qualifier: "08",
        edi_id: "9254110000",
        status: PartnerStatus::Active,
        onboarded: "2023-06-15",
        segment: "retail",
    },
    NamedPartner {
        id: "NORTHWIND-GROCERY",
        name: "Northwind Grocery Co.",
        qualifier: "ZZ",
        edi_id: "NWGROCERY",
        status: PartnerStatus::Active,
        onboarded: "2025-01-20",
        segment: "retail",
    },
    NamedPartner {
        id: "GLOBEX-LOGISTICS",
        name: "Globex Logistics LLC",
        qualifier: "ZZ",
        edi_id: "GLOBEXLOG",
        status: PartnerStatus::Active,
        onboarded: "2024-09-09",
        segment: "logistics",
    },
    NamedPartner {
        id: "SWIFTHAUL-3PL",
        name: "SwiftHaul 3PL",
        qualifier: "02",
        edi_id: "SWHL",
        status: PartnerStatus::Onboarding,
        onboarded: "2026-10-01",
        segment: "logistics",
    },
    NamedPartner {
        id: "INITECH-MFG",
        name: "Initech Manufacturing",
        qualifier: "01",
        edi_id: "123456789",
        status: PartnerStatus::Active,
        onboarded: "2022-11-03",
        segment: "manufacturing",
    },
    NamedPartner {
        id: "UMBRELLA-PARTS",
        name: "Umbrella Parts GmbH",
        qualifier: "ZZ",
        edi_id: "UMBPARTS",
        status: PartnerStatus::Suspended,
        onboarded: "2023-03-14",
        segment: "manufacturing",
    },
    NamedPartner {
        id: "STARK-COMPONENTS",
        name: "Stark Components Ltd.",
        qualifier: "12",
        edi_id: "5551234567",
        status: PartnerStatus::Active,
        onboarded: "2021-05-30",
        segment: "manufacturing",
    },
];

const SEGMENTS: [&str; 3] = ["retail", "logistics", "manufacturing"];

/// X12 and EDIFACT document names.
pub fn doc_name(doc_type: &str) -> &'static str {
    match doc_type {
        "810" => "Invoice",
        "850" => "Purchase Order",
        "855" => "Purchase Order Acknowledgment",
        "856" => "Advance Ship Notice",
        "860" => "Purchase Order Change",
        "997" => "Functional Acknowledgment",
        "INVOIC" => "Invoice (EDIFACT)",
        "ORDERS" => "Purchase Order (EDIFACT)",
        "DESADV" => "Despatch Advice (EDIFACT)",
        _ => "Transaction set",
    }
}

/// Hands out hostile strings in turn, so each lands in every kind of field.
struct Text {
    hostile: bool,
    next: usize,
}

impl Text {
    fn get(&mut self, normal: &str) -> String {
        if !self.hostile {
            return normal.to_string();
        }
        let all = hostile_strings();
        let s = all[self.next % all.len()].clone();
        self.next += 1;
        s
    }
}

pub fn generate(spec: &Spec) -> Generated {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut text = Text {
        hostile: spec.hostile,
        next: 0,
    };
    let partners = partners(spec, &mut text);
    let metrics = metrics(spec, &partners, &mut rng, &mut text);
    let incidents = incidents(spec, &partners, &mut rng, &mut text);
    Generated {
        partners,
        metrics,
        incidents,
    }
}

fn date(day: &str) -> DateTime<Utc> {
    format!("{day}T00:00:00Z").parse().expect("valid date")
}

fn partners(spec: &Spec, text: &mut Text) -> Vec<Partner> {
    (0..spec.partners.max(1))
        .map(|i| match NAMED.get(i) {
            Some(p) => Partner {
                id: p.id.into(),
                name: text.get(p.name),
                edi_qualifier: p.qualifier.into(),
                edi_id: p.edi_id.into(),
                status: p.status,
                onboarded_at: Some(date(p.onboarded)),
                segment: p.segment.into(),
            },
            None => {
                let n = i + 1;
                Partner {
                    id: format!("PARTNER-{n:04}"),
                    name: text.get(&format!("Trading Partner {n} Ltd.")),
                    edi_qualifier: "ZZ".into(),
                    edi_id: format!("TP{n:06}"),
                    status: if n % 23 == 0 {
                        PartnerStatus::Suspended
                    } else {
                        PartnerStatus::Active
                    },
                    onboarded_at: Some(date("2024-01-01") + Duration::days((n as i64 * 37) % 900)),
                    segment: SEGMENTS[n % 3].into(),
                }
            }
        })
        .collect()
}

/// Documents per weekday for a partner's document type and direction.
fn base_volume(segment: &str, doc_type: &str, direction: Direction) -> f64 {
    let outbound = direction == Direction::Outbound;
    let base: f64 = match (doc_type, outbound) {
        ("850", false) | ("860", false) => 180.0,
        ("855", true) | ("856", true) | ("810", true) => 220.0,
        ("997", _) => 150.0,
        _ => 12.0,
    };
    let factor = match segment {
        "retail" => 1.6,
        "logistics" => 0.7,
        _ => 0.5,
    };
    base * factor
}

/// Usual share of rejected documents: ACME's outbound ASNs are the troubled flow.
fn rejection_propensity(partner: &str, doc_type: &str, direction: Direction) -> f64 {
    match (partner, doc_type, direction) {
        ("ACME-RETAIL", "856", Direction::Outbound) => 0.025,
        ("BIGBOX-STORES", "856", Direction::Outbound) => 0.012,
        (_, "810", Direction::Outbound) => 0.008,
        _ => 0.003,
    }
}

fn metrics(
    spec: &Spec,
    partners: &[Partner],
    rng: &mut ChaCha8Rng,
    text: &mut Text,
) -> Vec<MetricRow> {
    let last_midnight = spec
        .as_of
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let names: Vec<(String, String)> = spec
        .doc_types
        .iter()
        .map(|d| (d.clone(), text.get(doc_name(d))))
        .collect();
    let mut rows = Vec::with_capacity(partners.len() * names.len() * 2 * spec.days as usize);
    for partner in partners {
        for (doc_type, name) in &names {
            for direction in [Direction::Inbound, Direction::Outbound] {
                let base = base_volume(&partner.segment, doc_type, direction);
                let propensity = rejection_propensity(&partner.id, doc_type, direction);
                for day in 0..spec.days {
                    let start = last_midnight - Duration::days(i64::from(spec.days - day));
                    rows.push(metric_row(
                        rng,
                        partner,
                        doc_type,
                        name,
                        direction,
                        start,
                        base,
                        propensity,
                        spec.days - day,
                    ));
                }
            }
        }
    }
    rows
}

#[allow(clippy::too_many_arguments)]
fn metric_row(
    rng: &mut ChaCha8Rng,
    partner: &Partner,
    doc_type: &str,
    doc_name: &str,
    direction: Direction,
    start: DateTime<Utc>,
    base: f64,
    propensity: f64,
    days_ago: u32,
) -> MetricRow {
    use chrono::Datelike;
    let weekend = start.weekday().number_from_monday() >= 6;
    let quiet = partner.status != PartnerStatus::Active || (weekend && base < 100.0);
    let factor = if quiet {
        0.0
    } else if weekend {
        0.25
    } else {
        rng.random_range(0.8..1.2)
    };
    let documents = (base * factor).round() as u64;
    // A rejection spike over the last ten days for the troubled flows.
    let propensity = if days_ago <= 10 && propensity > 0.01 {
        propensity * 2.4
    } else {
        propensity
    };
    let expects_ack = doc_type != "997";
    let expected = if expects_ack { documents } else { 0 };
    let overdue = binomial(rng, expected, 0.004);
    let received = expected - overdue;
    let rejected = binomial(rng, received, propensity);
    let accepted_with_errors = binomial(rng, received - rejected, 0.01);
    let accepted = received - rejected - accepted_with_errors;
    let failed = binomial(rng, documents, 0.003);
    let measured = received;
    let within_sla = measured - binomial(rng, measured, 0.01);
    let on_time_total = if matches!(doc_type, "855" | "856" | "810") {
        documents
    } else {
        0
    };
    let late = binomial(
        rng,
        on_time_total,
        if doc_type == "856" {
            propensity * 1.5 + 0.01
        } else {
            0.01
        },
    );
    let mut turnaround = std::collections::BTreeMap::new();
    if expects_ack {
        let p50 = rng.random_range(8..30);
        turnaround.insert(
            "doc_to_997".to_string(),
            Turnaround {
                p50: (measured > 0).then_some(p50),
                p90: (measured > 0).then(|| p50 + rng.random_range(40..180)),
                sla: 1440,
                within_sla,
                measured,
            },
        );
    }
    let mut chargebacks = Vec::new();
    if partner.segment == "retail"
        && doc_type == "856"
        && direction == Direction::Outbound
        && late > 2
    {
        let count = late / 3;
        chargebacks.push(Chargeback {
            reason: "asn_late".into(),
            count,
            amount: Money {
                value: format!("{}.00", count * 300),
                currency: "USD".into(),
            },
        });
    }
    MetricRow {
        partner_id: partner.id.clone(),
        doc_type: doc_type.into(),
        doc_name: doc_name.into(),
        direction,
        period: Period {
            start,
            end: start + Duration::days(1),
        },
        volume: Volume {
            documents,
            interchanges: documents.div_ceil(rng.random_range(6..15)),
        },
        acks: Acks {
            expected,
            received,
            accepted,
            accepted_with_errors,
            rejected,
            overdue,
        },
        delivery: Delivery {
            delivered: documents - failed,
            failed,
            resent: failed,
        },
        turnaround_minutes: turnaround,
        on_time: OnTime {
            on_time: on_time_total - late,
            total: on_time_total,
        },
        chargebacks,
    }
}

/// Draws how many of `n` trials succeed with probability `p` (normal approximation for large n).
fn binomial(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if n < 50 {
        return (0..n).filter(|_| rng.random_bool(p.min(1.0))).count() as u64;
    }
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    let z: f64 = (0..6).map(|_| rng.random::<f64>()).sum::<f64>() - 3.0;
    (mean + z * sd).round().clamp(0.0, n as f64) as u64
}

/// One kind of incident as operations see it.
struct Kind {
    doc_type: &'static str,
    direction: Direction,
    source: ErrorSource,
    code: &'static str,
    category: ErrorCategory,
    message: &'static str,
    cause: (RootCauseCategory, &'static str),
    fix: (ResolutionAction, &'static str),
    related_kb: &'static [&'static str],
    tg_status: &'static str,
}

const KINDS: &[Kind] = &[
    Kind {
        doc_type: "856",
        direction: Direction::Outbound,
        source: ErrorSource::Ack997,
        code: "AK5:R AK304:3",
        category: ErrorCategory::Syntax,
        message: "Mandatory segment missing: TD5 in HL(S) loop",
        cause: (
            RootCauseCategory::Mapping,
            "Carrier SCAC not mapped for new DC 0042",
        ),
        fix: (
            ResolutionAction::Remap,
            "Added SCAC mapping; resent the rejected ASNs",
        ),
        related_kb: &["sop-asn-856-rejections", "playbook-rejected-asn-856"],
        tg_status: "Delivered",
    },
    Kind {
        doc_type: "856",
        direction: Direction::Outbound,
        source: ErrorSource::Ack997,
        code: "AK5:R AK403:7",
        category: ErrorCategory::Syntax,
        message: "Invalid code value in TD503 (carrier SCAC not on the partner's list)",
        cause: (
            RootCauseCategory::MasterData,
            "Test SCAC left on the carrier master after cut-over",
        ),
        fix: (
            ResolutionAction::Resend,
            "Corrected the carrier master and regenerated the ASNs",
        ),
        related_kb: &["sop-asn-856-rejections", "faq-x12-error-codes"],
        tg_status: "Delivered",
    },
    Kind {
        doc_type: "856",
        direction: Direction::Outbound,
        source: ErrorSource::Ack997,
        code: "AK5:E AK403:5",
        category: ErrorCategory::Syntax,
        message: "REF02 (carton reference) longer than 30 characters",
        cause: (
            RootCauseCategory::PartnerData,
            "Warehouse labels carry a 34-character carton id",
        ),
        fix: (
            ResolutionAction::Remap,
            "Truncated REF*CN to 30 characters per the partner guide",
        ),
        related_kb: &["sop-asn-856-rejections"],
        tg_status: "Delivered",
    },
    Kind {
        doc_type: "856",
        direction: Direction::Outbound,
        source: ErrorSource::Advice824,
        code: "824 OTI:TR BSN02",
        category: ErrorCategory::BusinessRule,
        message: "Shipment identification already received for this PO",
        cause: (
            RootCauseCategory::Process,
            "ASN regenerated with the original BSN02 after a manual resend",
        ),
        fix: (
            ResolutionAction::PartnerFix,
            "Partner purged the duplicate; kept the first ASN",
        ),
        related_kb: &["playbook-rejected-asn-856"],
        tg_status: "Delivered",
    },
    Kind {
        doc_type: "810",
        direction: Direction::Outbound,
        source: ErrorSource::Ack997,
        code: "AK5:R AK403:6",
        category: ErrorCategory::Syntax,
        message: "Invalid character in IT104 (unit price sent with a decimal point in an implied-decimal field)",
        cause: (
            RootCauseCategory::Mapping,
            "Invoice map change sent 4.25 instead of 425",
        ),
        fix: (
            ResolutionAction::Remap,
            "Fixed the IT104 format; resent 12 invoices",
        ),
        related_kb: &["sop-invoice-810-disputes", "faq-x12-error-codes"],
        tg_status: "Delivered",
    },
    Kind {
        doc_type: "810",
        direction: Direction::Outbound,
        source: ErrorSource::Advice824,
        code: "824 OTI:IR PRICE",
        category: ErrorCategory::BusinessRule,
        message: "Invoice unit price differs from the PO price",
        cause: (
            RootCauseCategory::MasterData,
            "Price list not updated after the partner's cost change",
        ),
        fix: (
            ResolutionAction::ConfigChange,
            "Updated the price list; credit memo issued",
        ),
        related_kb: &["sop-invoice-810-disputes"],
        tg_status: "Delivered",
    },
    Kind {
        doc_type: "810",
        direction: Direction::Outbound,
        source: ErrorSource::Ack997,
        code: "TA1:R TA105:025",
        category: ErrorCategory::Duplicate,
        message: "Duplicate interchange control number",
        cause: (
            RootCauseCategory::Process,
            "Interchange resent by hand with its original ISA13",
        ),
        fix: (
            ResolutionAction::Resend,
            "Resent with a new ISA13 from the translator",
        ),
        related_kb: &["playbook-duplicate-control-numbers", "faq-x12-error-codes"],
        tg_status: "Delivered",
    },
    Kind {
        doc_type: "997",
        direction: Direction::Inbound,
        source: ErrorSource::Ack997,
        code: "997 OVERDUE",
        category: ErrorCategory::Timing,
        message: "No 997 received within 4 hours for outbound interchanges",
        cause: (
            RootCauseCategory::Connectivity,
            "Partner's translator queue stalled after maintenance",
        ),
        fix: (
            ResolutionAction::PartnerFix,
            "Partner restarted their translator; 997s arrived",
        ),
        related_kb: &["playbook-missing-997"],
        tg_status: "Delivered",
    },
    Kind {
        doc_type: "856",
        direction: Direction::Outbound,
        source: ErrorSource::Network,
        code: "AS2 MDN:decryption-failed",
        category: ErrorCategory::Connectivity,
        message: "AS2 MDN reports decryption-failed",
        cause: (
            RootCauseCategory::Connectivity,
            "Partner rotated their certificate without notice",
        ),
        fix: (
            ResolutionAction::ConfigChange,
            "Imported the partner's new certificate; resent",
        ),
        related_kb: &["playbook-as2-connectivity", "sop-as2-certificate-rotation"],
        tg_status: "Send Failed",
    },
    Kind {
        doc_type: "810",
        direction: Direction::Outbound,
        source: ErrorSource::Mailbox,
        code: "TG Send Failed",
        category: ErrorCategory::Delivery,
        message: "Trading Grid reported Send Failed: recipient mailbox unavailable",
        cause: (
            RootCauseCategory::Connectivity,
            "Recipient VAN mailbox suspended",
        ),
        fix: (
            ResolutionAction::Resend,
            "Resent after the VAN restored the mailbox",
        ),
        related_kb: &["playbook-trading-grid-send-failed"],
        tg_status: "Send Failed",
    },
    Kind {
        doc_type: "855",
        direction: Direction::Outbound,
        source: ErrorSource::Ack999,
        code: "IK5:R IK304:I6",
        category: ErrorCategory::Syntax,
        message: "Code value not used in implementation (ACK01)",
        cause: (
            RootCauseCategory::Mapping,
            "New line status code IQ not in the partner's 005010 guide",
        ),
        fix: (ResolutionAction::Remap, "Mapped IQ to IA for this partner"),
        related_kb: &["faq-x12-error-codes", "faq-997-999-acknowledgments"],
        tg_status: "Delivered",
    },
    Kind {
        doc_type: "850",
        direction: Direction::Inbound,
        source: ErrorSource::Ack997,
        code: "AK9:R AK905:5",
        category: ErrorCategory::Syntax,
        message: "Number of included transaction sets does not match GE01",
        cause: (
            RootCauseCategory::PartnerData,
            "Partner's group trailer counted a removed set",
        ),
        fix: (ResolutionAction::PartnerFix, "Partner resent the group"),
        related_kb: &["faq-x12-error-codes", "sop-po-850-860-amendments"],
        tg_status: "Received",
    },
    Kind {
        doc_type: "850",
        direction: Direction::Inbound,
        source: ErrorSource::Translation,
        code: "MAP-0042 N104",
        category: ErrorCategory::Translation,
        message: "Unknown ship-to location code in N104",
        cause: (
            RootCauseCategory::MasterData,
            "New distribution centre not in the location cross-reference",
        ),
        fix: (
            ResolutionAction::ConfigChange,
            "Added the DC to the cross-reference; reprocessed",
        ),
        related_kb: &["sop-po-850-860-amendments"],
        tg_status: "Received",
    },
    Kind {
        doc_type: "856",
        direction: Direction::Outbound,
        source: ErrorSource::Mailbox,
        code: "SFTP 421",
        category: ErrorCategory::Connectivity,
        message: "SFTP mailbox refused the login (421 service not available)",
        cause: (
            RootCauseCategory::Connectivity,
            "Partner's SFTP host IP allow-list changed",
        ),
        fix: (
            ResolutionAction::ConfigChange,
            "Partner re-added our egress addresses",
        ),
        related_kb: &["playbook-sftp-mailbox"],
        tg_status: "Send Failed",
    },
];

const STATUSES: [IncidentStatus; 5] = IncidentStatus::ALL;

fn incidents(
    spec: &Spec,
    partners: &[Partner],
    rng: &mut ChaCha8Rng,
    text: &mut Text,
) -> Vec<Incident> {
    let year = spec.as_of.format("%Y");
    let mut list = Vec::with_capacity(spec.incidents);
    for n in 0..spec.incidents {
        let kind = &KINDS[n % KINDS.len()];
        let partner = &partners[(n * 5 + n / KINDS.len()) % partners.len().min(NAMED.len()).max(1)];
        let status = STATUSES[n % STATUSES.len()];
        let opened_at = spec.as_of - Duration::minutes(rng.random_range(90..60 * 24 * 45));
        let acknowledged_at = opened_at + Duration::minutes(rng.random_range(5..60));
        let done = !status.is_live();
        let resolved_at =
            done.then(|| acknowledged_at + Duration::minutes(rng.random_range(30..60 * 24)));
        let resolved_at = resolved_at.map(|t| t.min(spec.as_of - Duration::minutes(1)));
        let closed_at = (status == IncidentStatus::Closed)
            .then(|| resolved_at.expect("closed incidents are resolved"))
            .map(|t| t.min(spec.as_of));
        let known_cause = done || status == IncidentStatus::AwaitingPartner;
        let isa13 = rng.random_range(1..999_999_999u64);
        let mut related_kb: Vec<String> = kind.related_kb.iter().map(|s| s.to_string()).collect();
        if spec.hostile && n % 7 == 0 {
            related_kb.push(text.get(""));
        }
        let severity = [
            Severity::Sev2,
            Severity::Sev3,
            Severity::Sev3,
            Severity::Sev4,
            Severity::Sev1,
        ][n % 5];
        list.push(Incident {
            id: format!("INC-{year}-{:06}", 100 + n * 7),
            partner_id: partner.id.clone(),
            doc_type: kind.doc_type.into(),
            direction: kind.direction,
            control: [
                ("isa13".to_string(), format!("{isa13:09}")),
                ("gs06".to_string(), format!("{}", isa13 % 10_000)),
                ("st02".to_string(), "0001".to_string()),
            ]
            .into(),
            references: [
                (
                    "po_number".to_string(),
                    text.get(&format!("45000{:05}", rng.random_range(0..99_999))),
                ),
                (
                    "shipment".to_string(),
                    format!("SH-{:06}", rng.random_range(0..999_999)),
                ),
            ]
            .into(),
            error: IncidentError {
                source: kind.source,
                code: text.get(kind.code),
                category: kind.category,
                message: text.get(kind.message),
            },
            severity,
            status,
            tg_status: Some(text.get(kind.tg_status)),
            opened_at,
            acknowledged_at: Some(acknowledged_at),
            resolved_at,
            closed_at,
            sla_due_at: Some(
                opened_at + Duration::hours(if severity == Severity::Sev1 { 4 } else { 24 }),
            ),
            root_cause: known_cause.then(|| RootCause {
                category: kind.cause.0,
                summary: text.get(kind.cause.1),
            }),
            resolution: done.then(|| Resolution {
                action: kind.fix.0,
                summary: text.get(kind.fix.1),
            }),
            documents_affected: rng.random_range(1..60),
            related_kb,
            updated_at: closed_at.or(resolved_at).unwrap_or(acknowledged_at),
        });
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            seed: 42,
            as_of: "2026-11-20T06:00:00Z".parse().unwrap(),
            partners: 8,
            days: 90,
            doc_types: ["810", "850", "855", "856", "997"]
                .map(String::from)
                .to_vec(),
            incidents: 48,
            hostile: false,
        }
    }

    #[test]
    fn deterministic_and_complete() {
        let a = generate(&spec());
        let b = generate(&spec());
        assert_eq!(a.metrics, b.metrics);
        assert_eq!(a.incidents, b.incidents);
        assert_eq!(a.partners.len(), 8);
        assert_eq!(a.metrics.len(), 8 * 5 * 2 * 90);
        let segments: std::collections::BTreeSet<&str> =
            a.partners.iter().map(|p| p.segment.as_str()).collect();
        assert_eq!(segments.len(), 3);
        for status in IncidentStatus::ALL {
            assert!(a.incidents.iter().any(|i| i.status == status), "{status:?}");
        }
        for row in &a.metrics {
            crate::data::contract::Validate::validate(row).unwrap();
        }
    }

    #[test]
    fn hostile_mode_fills_free_text() {
        let g = generate(&Spec {
            hostile: true,
            ..spec()
        });
        let all = hostile_strings();
        for s in all {
            assert!(
                g.incidents
                    .iter()
                    .any(|i| &i.error.message == s || &i.error.code == s),
                "{s:?} not used"
            );
        }
        assert!(all.contains(&g.partners[0].name));
    }
}
