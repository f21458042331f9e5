//! Waiting for a new account to leave `pending`, within the caller's bound.

use std::time::{Duration, Instant};

use provisioning_guest::settings::Settings;
use provisioning_guest::types::{Error, ServiceState};
use serde_json::{Map, Value};

use crate::account;
use crate::api::{Api, action};
use crate::info::ACTIVATION_WAIT;

/// The longest wait accepted: the host's call deadline (30 s by default)
/// must leave room for the create call and the last poll, or the host
/// stops the call and the credentials never reach the caller.
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// Time between two `getAccountStatus` polls: 100 requests per 5 minutes
/// leaves room for a few waits, not for a busy loop.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The wait the settings ask for, checked before anything is created.
pub fn bound(settings: &Settings) -> Result<Duration, Error> {
    let seconds = settings.number(ACTIVATION_WAIT).unwrap_or(0.0);
    if seconds < 0.0 {
        return Err(Error::InvalidConfig(format!(
            "setting `{ACTIVATION_WAIT}` must not be negative"
        )));
    }
    // Clamped before converting: a huge number would overflow a Duration.
    Ok(Duration::from_secs_f64(seconds.min(MAX_WAIT.as_secs_f64())))
}

/// Where a new account stands after waiting at most `bound` for it to leave
/// `pending`. Polls at least once. A failed poll ends the wait with
/// `unknown` and says why: the account exists either way, and the caller
/// must still get its credentials.
pub fn wait(api: &Api, id: u64, bound: Duration) -> (ServiceState, Option<String>) {
    let deadline = Instant::now() + bound;
    loop {
        let mut fields = Map::new();
        fields.insert("account_id".to_owned(), Value::from(id));
        let state = match api.call(action::GET_STATUS, fields) {
            Ok(body) => account::state(account::status_word(&body)),
            Err(e) => {
                return (
                    ServiceState::Unknown,
                    Some(format!(
                        "its status could not be read ({}); check it with service-status",
                        describe(&e)
                    )),
                );
            }
        };
        let now = Instant::now();
        if state != ServiceState::Pending || now >= deadline {
            let note = (state == ServiceState::Pending).then(|| {
                format!(
                    "still pending after waiting {} s; check it later with service-status",
                    bound.as_secs()
                )
            });
            return (state, note);
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

/// An error's message, for a note (errors never carry secrets).
fn describe(error: &Error) -> String {
    match error {
        Error::RateLimited(r) => r.message.clone(),
        Error::Unsupported(m)
        | Error::InvalidConfig(m)
        | Error::InvalidInput(m)
        | Error::AuthFailed(m)
        | Error::NotFound(m)
        | Error::AlreadyExists(m)
        | Error::InsufficientFunds(m)
        | Error::Provider(m)
        | Error::BadResponse(m)
        | Error::Transport(m)
        | Error::Timeout(m) => m.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisioning_guest::types::Setting;

    fn bound_for(value: &str) -> Result<Duration, Error> {
        let given = [
            Setting {
                name: "api-key".into(),
                value: "k".into(),
            },
            Setting {
                name: ACTIVATION_WAIT.into(),
                value: value.into(),
            },
        ];
        bound(&Settings::parse(&given, &crate::info::settings())?)
    }

    #[test]
    fn the_wait_is_checked_and_capped() {
        assert_eq!(bound_for("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(bound_for(""), Ok(Duration::from_secs(10)));
        assert_eq!(bound_for("1e300"), Ok(MAX_WAIT));
        assert!(matches!(bound_for("-1"), Err(Error::InvalidConfig(_))));
        assert!(matches!(bound_for("soon"), Err(Error::InvalidConfig(_))));
    }
}
