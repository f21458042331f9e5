//! The reseller account's mail state: email orders and their mailboxes,
//! and the requests received.

use std::collections::BTreeMap;

use serde::Serialize;

/// Where a mailbox stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailboxStatus {
    /// Receiving and sending mail.
    Active,
    /// Suspended by the reseller.
    Suspended,
}

/// One mailbox (or forward-only address) of an email order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mailbox {
    /// The address, lower-cased.
    pub email: String,
    /// The email order it lives in.
    pub order_id: String,
    /// Its password; `None` for a forward-only address.
    pub password: Option<String>,
    /// Where notifications go.
    pub notification_email: String,
    /// Owner's first name.
    pub first_name: String,
    /// Owner's last name.
    pub last_name: String,
    /// ISO 3166-1 alpha-2 code.
    pub country_code: String,
    /// Language code.
    pub language_code: String,
    /// Whether it only forwards.
    pub forward_only: bool,
    /// Where a forward-only address forwards to.
    pub forwards: Vec<String>,
    /// Active or suspended.
    pub status: MailboxStatus,
}

/// A request that reached the API (past auth or not), for tests to see
/// what the module sent and where.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// The path after `/api/`, e.g. `mail/user/add.json`.
    pub path: String,
    /// Query pairs, in order (credentials included: this is a sandbox).
    pub query: Vec<(String, String)>,
    /// Form-body pairs, in order.
    pub form: Vec<(String, String)>,
}

/// The whole account.
#[derive(Debug)]
pub(crate) struct State {
    /// Email orders: id to domain.
    pub orders: BTreeMap<String, String>,
    /// Mailboxes by address.
    pub mailboxes: BTreeMap<String, Mailbox>,
    /// Requests received, oldest first.
    pub requests: Vec<RecordedRequest>,
    /// Resets so far, to make each generated password differ.
    pub resets: u32,
}

impl Default for State {
    fn default() -> Self {
        State {
            orders: BTreeMap::from([(super::ORDER_ID.to_owned(), super::ORDER_DOMAIN.to_owned())]),
            mailboxes: BTreeMap::new(),
            requests: Vec::new(),
            resets: 0,
        }
    }
}
