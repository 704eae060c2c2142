//! Computed metrics: the raw counts of metric rows summed over any selection, and the rates pages
//! show (contract v1, "Derived rates"). A rate whose denominator is 0 is `None` ("n/a"), never NaN
//! and never 0%.

use serde::Serialize;

use super::contract::MetricRow;

/// The additive counts of one or more metric rows. Turnaround measures are summed into
/// `sla_within` / `sla_measured` (every measure counts toward SLA attainment).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub documents: u64,
    pub interchanges: u64,
    pub expected: u64,
    pub received: u64,
    pub accepted: u64,
    pub accepted_with_errors: u64,
    pub rejected: u64,
    pub overdue: u64,
    pub delivered: u64,
    pub failed: u64,
    pub resent: u64,
    pub on_time: u64,
    pub on_time_total: u64,
    pub sla_within: u64,
    pub sla_measured: u64,
    pub chargebacks: u64,
}

impl Counts {
    pub fn of_row(row: &MetricRow) -> Counts {
        let (sla_within, sla_measured) = row
            .turnaround_minutes
            .values()
            .fold((0, 0), |(w, m), t| (w + t.within_sla, m + t.measured));
        Counts {
            documents: row.volume.documents,
            interchanges: row.volume.interchanges,
            expected: row.acks.expected,
            received: row.acks.received,
            accepted: row.acks.accepted,
            accepted_with_errors: row.acks.accepted_with_errors,
            rejected: row.acks.rejected,
            overdue: row.acks.overdue,
            delivered: row.delivery.delivered,
            failed: row.delivery.failed,
            resent: row.delivery.resent,
            on_time: row.on_time.on_time,
            on_time_total: row.on_time.total,
            sla_within,
            sla_measured,
            chargebacks: row.chargebacks.iter().map(|c| c.count).sum(),
        }
    }

    pub fn add(&mut self, other: &Counts) {
        self.documents += other.documents;
        self.interchanges += other.interchanges;
        self.expected += other.expected;
        self.received += other.received;
        self.accepted += other.accepted;
        self.accepted_with_errors += other.accepted_with_errors;
        self.rejected += other.rejected;
        self.overdue += other.overdue;
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.resent += other.resent;
        self.on_time += other.on_time;
        self.on_time_total += other.on_time_total;
        self.sla_within += other.sla_within;
        self.sla_measured += other.sla_measured;
        self.chargebacks += other.chargebacks;
    }

    pub fn rates(&self) -> Rates {
        Rates {
            rejection_rate: ratio(
                self.rejected,
                self.accepted + self.accepted_with_errors + self.rejected,
            ),
            ack_rate: ratio(self.received, self.expected),
            delivery_reliability: ratio(self.delivered, self.delivered + self.failed),
            on_time_rate: ratio(self.on_time, self.on_time_total),
            sla_attainment: ratio(self.sla_within, self.sla_measured),
        }
    }
}

/// Rates as fractions (0.0 to 1.0); `None` when the denominator is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rates {
    pub rejection_rate: Option<f64>,
    pub ack_rate: Option<f64>,
    pub delivery_reliability: Option<f64>,
    pub on_time_rate: Option<f64>,
    pub sla_attainment: Option<f64>,
}

/// The rates a template or chart may ask for by name.
pub const RATE_NAMES: [&str; 5] = [
    "rejection_rate",
    "ack_rate",
    "delivery_reliability",
    "on_time_rate",
    "sla_attainment",
];

impl Rates {
    pub fn get(&self, name: &str) -> Option<Option<f64>> {
        Some(match name {
            "rejection_rate" => self.rejection_rate,
            "ack_rate" => self.ack_rate,
            "delivery_reliability" => self.delivery_reliability,
            "on_time_rate" => self.on_time_rate,
            "sla_attainment" => self.sla_attainment,
            _ => return None,
        })
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::contract::*;

    /// The example row of the contract.
    fn contract_row() -> MetricRow {
        serde_json::from_value(serde_json::json!({
            "partner_id": "ACME-RETAIL", "doc_type": "856", "doc_name": "Advance Ship Notice",
            "direction": "outbound",
            "period": {"start": "2026-11-19T00:00:00Z", "end": "2026-11-20T00:00:00Z"},
            "volume": {"documents": 412, "interchanges": 37},
            "acks": {"expected": 412, "received": 409, "accepted": 395, "accepted_with_errors": 6, "rejected": 8, "overdue": 3},
            "delivery": {"delivered": 410, "failed": 2, "resent": 2},
            "turnaround_minutes": {"doc_to_997": {"p50": 14, "p90": 95, "sla": 1440, "within_sla": 406, "measured": 409}},
            "on_time": {"on_time": 389, "total": 398},
            "chargebacks": [{"reason": "asn_late", "count": 4, "amount": {"value": "1200.00", "currency": "USD"}}]
        }))
        .unwrap()
    }

    fn close(actual: Option<f64>, expected: f64) {
        let actual = actual.expect("a rate, not n/a");
        assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
    }

    #[test]
    fn rates_of_the_contract_example_by_hand() {
        let rates = Counts::of_row(&contract_row()).rates();
        close(rates.rejection_rate, 8.0 / 409.0); // 8 / (395 + 6 + 8)
        close(rates.ack_rate, 409.0 / 412.0);
        close(rates.delivery_reliability, 410.0 / 412.0); // 410 / (410 + 2)
        close(rates.on_time_rate, 389.0 / 398.0);
        close(rates.sla_attainment, 406.0 / 409.0);
    }

    #[test]
    fn sums_then_divides() {
        let mut a = Counts::of_row(&contract_row());
        let mut other = contract_row();
        other.acks = Acks {
            expected: 100,
            received: 50,
            accepted: 40,
            accepted_with_errors: 0,
            rejected: 10,
            overdue: 50,
        };
        a.add(&Counts::of_row(&other));
        close(a.rates().rejection_rate, 18.0 / 459.0); // (8 + 10) / (409 + 50)
        close(a.rates().ack_rate, 459.0 / 512.0);
        assert_eq!(a.chargebacks, 8);
    }

    #[test]
    fn zero_denominators_are_not_applicable() {
        let rates = Counts::default().rates();
        assert_eq!(rates, Rates::default());
        for name in RATE_NAMES {
            assert_eq!(rates.get(name), Some(None), "{name}");
        }
        // A zero numerator over a real denominator is 0%, not n/a.
        let counts = Counts {
            expected: 5,
            accepted: 5,
            ..Counts::default()
        };
        assert_eq!(counts.rates().rejection_rate, Some(0.0));
        assert_eq!(counts.rates().ack_rate, Some(0.0));
        assert_eq!(counts.rates().delivery_reliability, None);
    }
}
