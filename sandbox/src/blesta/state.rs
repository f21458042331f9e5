//! The reseller account: credit, standing, packages and licenses.

use serde::Serialize;

/// Credit a fresh account starts with, in US cents ($500.00).
pub const STARTING_CREDIT_CENTS: i64 = 50_000;

/// A package the account may add: a term and its price in cents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageRecord {
    /// Display name.
    pub name: String,
    /// The term `addlicense` takes.
    pub term: String,
    /// Price in US cents.
    pub price_cents: i64,
}

/// Where a license stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenseStatus {
    /// In use.
    Active,
    /// Suspended; can be unsuspended.
    Suspended,
    /// Cancelled for good: the API no longer knows it.
    Cancelled,
}

/// One license, as the simulator keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LicenseRecord {
    /// The provider's row id (`searchlicenses` shows it).
    pub id: u64,
    /// The license key.
    pub license: String,
    /// The domain it is bound to.
    pub domain: String,
    /// Its term.
    pub term: String,
    /// Where it stands.
    pub status: LicenseStatus,
    /// Whether it was added in test mode (and so not charged).
    pub test_mode: bool,
    /// `YYYY-MM-DD`.
    pub date_added: String,
    /// `YYYY-MM-DD`, or `0000-00-00` when not suspended.
    pub date_suspended: String,
}

/// One request that reached the API, the password left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Every field received (query and form merged), except `password`.
    pub fields: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The value of field `name`, if it was sent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The whole account.
#[derive(Debug)]
pub(crate) struct State {
    pub credit_cents: i64,
    pub past_due: bool,
    pub packages: Vec<PackageRecord>,
    pub licenses: Vec<LicenseRecord>,
    /// The message of the next `addlicense`'s 109, when set.
    pub add_failure: Option<String>,
    pub requests: Vec<RecordedRequest>,
    next_id: u64,
}

impl Default for State {
    fn default() -> Self {
        let package = |name: &str, term: &str, price_cents| PackageRecord {
            name: name.to_owned(),
            term: term.to_owned(),
            price_cents,
        };
        State {
            credit_cents: STARTING_CREDIT_CENTS,
            past_due: false,
            packages: vec![
                package("Blesta Monthly", "monthly", 1_595),
                package("Blesta Yearly", "yearly", 15_950),
                package("Blesta Owned", "owned", 29_900),
            ],
            licenses: Vec::new(),
            add_failure: None,
            requests: Vec::new(),
            next_id: 616,
        }
    }
}

impl State {
    /// The license with key `key` that is not cancelled.
    pub fn live_license_mut(&mut self, key: &str) -> Option<&mut LicenseRecord> {
        self.licenses
            .iter_mut()
            .find(|l| l.license == key && l.status != LicenseStatus::Cancelled)
    }

    /// Whether a license that is not cancelled is bound to `domain`.
    pub fn domain_taken(&self, domain: &str) -> bool {
        self.licenses
            .iter()
            .any(|l| l.status != LicenseStatus::Cancelled && l.domain.eq_ignore_ascii_case(domain))
    }

    /// Adds a license and returns it.
    pub fn add(
        &mut self,
        domain: &str,
        term: &str,
        test_mode: bool,
        today: String,
    ) -> LicenseRecord {
        let id = self.next_id;
        self.next_id += 1;
        let record = LicenseRecord {
            id,
            // 16 upper-case hex digits, like the document's keys; spread
            // out so that keys do not look sequential.
            license: format!(
                "{:016X}",
                0x5AB0_0000_0000_0000u64 ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ),
            domain: domain.to_owned(),
            term: term.to_owned(),
            status: LicenseStatus::Active,
            test_mode,
            date_added: today,
            date_suspended: "0000-00-00".to_owned(),
        };
        self.licenses.push(record.clone());
        record
    }
}
