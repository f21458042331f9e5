//! The reseller account behind the simulator: credit, packages, accounts,
//! rate-limit windows and the requests received.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::clock;

/// One hosting package of the catalogue, as `getPackages` lists it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Package {
    /// Package id, sent as `package_id`.
    pub id: u64,
    /// Name.
    pub name: &'static str,
    /// One line of description.
    pub description: &'static str,
    /// Disk quota in MB.
    pub disk_space_mb: u64,
    /// Monthly bandwidth in MB.
    pub bandwidth_mb: u64,
    /// Accounts (domains) allowed in the package.
    pub max_accounts: u64,
    /// Monthly price in TZS.
    pub price_monthly: i64,
    /// Yearly price in TZS.
    pub price_yearly: i64,
    /// The DirectAdmin package it maps to.
    pub directadmin_package: &'static str,
}

/// The catalogue: the document's two packages and a third, larger one.
pub const PACKAGES: [Package; 3] = [
    Package {
        id: 1,
        name: "Basic Hosting",
        description: "Perfect for small websites",
        disk_space_mb: 5000,
        bandwidth_mb: 50000,
        max_accounts: 5,
        price_monthly: 25000,
        price_yearly: 250000,
        directadmin_package: "basic",
    },
    Package {
        id: 2,
        name: "Professional Hosting",
        description: "Ideal for growing businesses",
        disk_space_mb: 20000,
        bandwidth_mb: 200000,
        max_accounts: 20,
        price_monthly: 75000,
        price_yearly: 750000,
        directadmin_package: "professional",
    },
    Package {
        id: 3,
        name: "Business Hosting",
        description: "For busy sites and online shops",
        disk_space_mb: 50000,
        bandwidth_mb: 500000,
        max_accounts: 50,
        price_monthly: 150000,
        price_yearly: 1500000,
        directadmin_package: "business",
    },
];

/// Where an account stands, spelt as the API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Creation in progress on the DirectAdmin server.
    Pending,
    /// Ready to use.
    Active,
    /// Suspended by the provider.
    Suspended,
    /// Creation failed.
    Failed,
}

impl AccountStatus {
    /// The API's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Failed => "failed",
        }
    }
}

/// How new accounts get provisioned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Provisioning {
    /// Active as soon as created.
    #[default]
    Immediate,
    /// Pending for this long, then active.
    After(Duration),
    /// Pending for this long, then failed.
    FailAfter(Duration),
}

/// One hosting account.
#[derive(Clone, Debug, Serialize)]
pub struct AccountRecord {
    /// The provider's id (`account_id`).
    pub id: u64,
    /// Domain.
    pub domain: String,
    /// Generated username.
    pub username: String,
    /// Generated password (kept out of the control route's JSON).
    #[serde(skip_serializing)]
    pub password: String,
    /// Package id.
    pub package_id: u64,
    /// Status.
    pub status: AccountStatus,
    /// Client's first name.
    pub first_name: String,
    /// Client's last name.
    pub last_name: String,
    /// Client's email.
    pub email: String,
    /// Client's phone.
    pub phone: String,
    /// TZS charged at creation.
    pub price_charged: i64,
    /// Server the account lives on.
    pub server_name: String,
    /// `YYYY-MM-DD HH:MM:SS`.
    pub created_at: String,
    /// `YYYY-MM-DD HH:MM:SS`.
    pub updated_at: String,
    /// When a pending account settles, and into what.
    #[serde(skip)]
    pub ready_at: Option<(Instant, AccountStatus)>,
}

/// One request that reached an action.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedRequest {
    /// The `action` field.
    pub action: String,
    /// The body without `action` and `api_key`.
    pub fields: Value,
    /// Whether the key came in the `X-API-KEY` header (else the body).
    pub key_in_header: bool,
    /// The HTTP status answered.
    pub http_status: u16,
}

/// The whole simulated account.
#[derive(Debug)]
pub struct State {
    /// Credit in TZS.
    pub credit: i64,
    /// Accounts in creation order.
    pub accounts: Vec<AccountRecord>,
    /// Next `account_id`.
    pub next_id: u64,
    /// How new accounts get provisioned.
    pub provisioning: Provisioning,
    /// Requests allowed per key per window.
    pub rate_limit: usize,
    /// The rate limit's window.
    pub rate_window: Duration,
    /// Accepted requests per key, oldest first, within the window.
    pub hits: HashMap<String, VecDeque<Instant>>,
    /// Failed authentications (one IP: everything comes over loopback).
    pub auth_failures: VecDeque<Instant>,
    /// Requests received.
    pub requests: Vec<RecordedRequest>,
    /// Requests turned away by the per-key rate limit (HTTP 429); they are
    /// not in `requests`.
    pub rate_limited: u64,
    /// When each of those requests came, oldest first.
    pub rate_limited_at: Vec<Instant>,
    /// When each authenticated request arrived, turned away by the rate
    /// limit or not, oldest first: what a provider's window counts.
    pub arrivals: Vec<Instant>,
    /// Whether the next successful `createAccount` answer leaves out
    /// `account_id` (a misbehaviour on demand).
    pub omit_account_id: bool,
}

impl Default for State {
    fn default() -> State {
        State {
            credit: super::STARTING_CREDIT_TZS,
            accounts: Vec::new(),
            next_id: 123,
            provisioning: Provisioning::default(),
            rate_limit: super::RATE_LIMIT,
            rate_window: super::RATE_WINDOW,
            hits: HashMap::new(),
            auth_failures: VecDeque::new(),
            requests: Vec::new(),
            rate_limited: 0,
            rate_limited_at: Vec::new(),
            arrivals: Vec::new(),
            omit_account_id: false,
        }
    }
}

impl State {
    /// Moves pending accounts whose time has come to their final status.
    pub fn settle(&mut self) {
        let now = Instant::now();
        for account in &mut self.accounts {
            if let Some((at, to)) = account.ready_at
                && now >= at
            {
                account.status = to;
                account.ready_at = None;
                account.updated_at = clock::now_utc();
            }
        }
    }

    /// Counts a request of `key`; `Err(seconds)` to wait when over the
    /// limit (counted in `rate_limited`).
    pub fn hit(&mut self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        self.arrivals.push(now);
        let window = self.rate_window;
        let hits = self.hits.entry(key.to_owned()).or_default();
        while hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            hits.pop_front();
        }
        if hits.len() >= self.rate_limit {
            let oldest = hits.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.duration_since(oldest));
            self.rate_limited += 1;
            self.rate_limited_at.push(now);
            // Round up: waiting less than asked would hit the limit again.
            return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        hits.push_back(now);
        Ok(())
    }

    /// Records a failed authentication; true when the IP is now over the
    /// documented 10 attempts per 15 minutes.
    pub fn auth_blocked(&mut self) -> bool {
        let now = Instant::now();
        let window = Duration::from_secs(15 * 60);
        while self
            .auth_failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.auth_failures.pop_front();
        }
        self.auth_failures.len() >= 10
    }

    /// A new account in the state provisioning says, charged `price`.
    pub fn create(&mut self, package: &Package, fields: NewAccount) -> AccountRecord {
        let id = self.next_id;
        self.next_id += 1;
        let (status, ready_at) = match self.provisioning {
            Provisioning::Immediate => (AccountStatus::Active, None),
            Provisioning::After(d) => (
                AccountStatus::Pending,
                Some((Instant::now() + d, AccountStatus::Active)),
            ),
            Provisioning::FailAfter(d) => (
                AccountStatus::Pending,
                Some((Instant::now() + d, AccountStatus::Failed)),
            ),
        };
        let now = clock::now_utc();
        self.credit -= package.price_monthly;
        let account = AccountRecord {
            id,
            username: username_for(&fields.domain, id),
            password: generate_password(),
            domain: fields.domain,
            package_id: package.id,
            status,
            first_name: fields.first_name,
            last_name: fields.last_name,
            email: fields.email,
            phone: fields.phone,
            price_charged: package.price_monthly,
            server_name: format!("Server-{:02}", id % 3 + 1),
            created_at: now.clone(),
            updated_at: now,
            ready_at,
        };
        self.accounts.push(account.clone());
        account
    }
}

/// The client fields of `createAccount`, validated.
pub struct NewAccount {
    /// Domain.
    pub domain: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
}

/// DirectAdmin-style username: up to 8 letters of the domain's first label
/// plus the account id, so it is unique.
fn username_for(domain: &str, id: u64) -> String {
    let stem: String = domain
        .chars()
        .take_while(|c| *c != '.')
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("{stem}{id}")
}

/// A 16-character password from the std hasher's random keys: enough for
/// a simulator, and no dependency for it.
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#%";
    let mut out = String::with_capacity(16);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    let mut seed = hasher.finish();
    for i in 0..16 {
        if i == 8 {
            let mut h = RandomState::new().build_hasher();
            h.write_u64(seed);
            seed = h.finish();
        }
        out.push(ALPHABET[(seed % ALPHABET.len() as u64) as usize] as char);
        seed /= ALPHABET.len() as u64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_from_the_domain() {
        assert_eq!(username_for("My-Shop.co.tz", 123), "myshop123");
    }

    #[test]
    fn passwords_differ() {
        let a = generate_password();
        assert_eq!(a.chars().count(), 16);
        assert_ne!(a, generate_password());
    }

    #[test]
    fn the_rate_limit_counts_per_key() {
        let mut state = State {
            rate_limit: 2,
            ..State::default()
        };
        assert!(state.hit("a").is_ok());
        assert!(state.hit("a").is_ok());
        let wait = state.hit("a").unwrap_err();
        assert!(wait > 0 && wait <= 300, "{wait}");
        assert!(state.hit("b").is_ok());
        assert_eq!(state.rate_limited, 1);
    }
}
