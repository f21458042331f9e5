//! How a call's input and outcome are written into the journal's rows, by
//! format version: the one place that knows the stored text.
//!
//! The stored text is the journal's own, frozen here, never the serde form
//! of the contract's types (those follow the WIT and the wires; a renamed
//! field or case would silently change, or stop reading, every row already
//! kept). Each text names its format: `{"format": 2, "request": ...}`,
//! `{"format": 2, "answer": ...}` or `{"format": 2, "error": ...}`, so that
//! a row holds texts of different formats without trouble (an operator's
//! outcome written over an intent a previous release kept). A text without
//! `format` is format 1, written before formats were named.
//!
//! - Format 1 (written up to commit 4da26cb): the input is the request's
//!   serde JSON of then, the outcome the answer's (`{"kind": "created",
//!   "value": {..., "status": "Active"}}`, the service state by its Rust
//!   name) or `{"kind", "message"}` of a failure, told apart by the row's
//!   `succeeded`. Read by [`v1`], frozen as that release wrote it.
//! - Format 2 (this one, [`FORMAT`]): the types of [`v2`], every case in the
//!   contract's own kebab-case word (`"status": "active"`).
//!
//! The credentials sealed with an outcome are a JSON list of the same
//! frozen shape ([`credentials_bytes`]), unchanged since format 1.
//!
//! Only what the journal records has a stored form: the mutating requests
//! and their answers (`created`, `done`). A change of the contract breaks
//! the build here (each record is destructured whole) rather than the
//! rows: a new field means a new format, with its reader of the old one.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::bindings::types::{Contact, CreatedAccount, Credential, Outcome, Service, ServiceState};
use crate::request::{Request, Response};

use super::record::Failure;

/// The format this host writes.
pub(super) const FORMAT: u32 = 2;

/// The stored text of a request (an intent's input, secrets masked).
pub(super) fn input_text(request: &Request) -> anyhow::Result<String> {
    let request = v2::Request::try_from(request)?;
    Ok(serde_json::to_string(&v2::Input {
        format: FORMAT,
        request,
    })?)
}

/// A request as JSON in this format (its secrets as they are): what a
/// request's digest is taken of. Format 1 digested the same JSON.
pub(super) fn request_value(request: &Request) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(v2::Request::try_from(request)?)?)
}

/// The request a stored input holds, whatever its format.
pub(super) fn read_input(text: &str) -> anyhow::Result<Request> {
    let value: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
    let request = match format_of(&value)? {
        1 => v1::request(value)?,
        2 => serde_json::from_value::<v2::Input>(value)?.request,
        other => bail!("format {other} is newer than this host knows ({FORMAT})"),
    };
    Ok(request.into())
}

/// The stored text of a call's answer (credentials masked) or failure.
pub(super) fn outcome_text(answer: &Result<Response, Failure>) -> anyhow::Result<String> {
    let outcome = match answer {
        Ok(response) => v2::Recorded::Answer(v2::Response::try_from(response)?),
        Err(failure) => v2::Recorded::Error(failure.into()),
    };
    Ok(serde_json::to_string(&v2::OutcomeText {
        format: FORMAT,
        outcome,
    })?)
}

/// The answer or failure a stored outcome holds, whatever its format.
/// `succeeded` and `kind` are the row's own columns, which format 1 needs
/// to tell an answer from a failure.
pub(super) fn read_outcome(
    text: &str,
    succeeded: bool,
    kind: &str,
) -> anyhow::Result<Result<Response, Failure>> {
    let value: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
    let outcome = match format_of(&value)? {
        1 if succeeded => v2::Recorded::Answer(v1::response(value)?),
        1 => v2::Recorded::Error(v1::failure(value, kind)),
        2 => serde_json::from_value::<v2::OutcomeText>(value)?.outcome,
        other => bail!("format {other} is newer than this host knows ({FORMAT})"),
    };
    Ok(match outcome {
        v2::Recorded::Answer(response) => Ok(response.into()),
        v2::Recorded::Error(failure) => Err(failure.into()),
    })
}

/// The bytes sealed for a call's credentials: a JSON list of `{"name",
/// "value", "secret"}`, the same in every format so far (format 1 sealed
/// the credentials' serde JSON of then, which is this).
pub(super) fn credentials_bytes(credentials: &[Credential]) -> anyhow::Result<Vec<u8>> {
    let stored: Vec<v2::StoredCredential> = credentials.iter().cloned().map(Into::into).collect();
    Ok(serde_json::to_vec(&stored)?)
}

/// The credentials sealed bytes hold.
pub(super) fn read_credentials(bytes: &[u8]) -> anyhow::Result<Vec<Credential>> {
    let stored: Vec<v2::StoredCredential> = serde_json::from_slice(bytes)?;
    Ok(stored.into_iter().map(Into::into).collect())
}

/// The format a stored text names; 1 when it names none.
fn format_of(value: &serde_json::Value) -> anyhow::Result<u32> {
    match value.get("format") {
        None => Ok(1),
        Some(format) => format
            .as_u64()
            .and_then(|format| u32::try_from(format).ok())
            .context("its format is not a number"),
    }
}

/// Format 1, as the release of commit 4da26cb wrote it. Frozen: never
/// edit, whatever the contract's types become.
mod v1 {
    use anyhow::Context;
    use serde_json::Value;

    use super::v2;

    /// A request: the shape of format 2 already (`function` the tag in
    /// kebab-case, fields in snake_case, custom fields as pairs).
    pub(super) fn request(value: Value) -> anyhow::Result<v2::Request> {
        Ok(serde_json::from_value(value)?)
    }

    /// An answer: format 2's but for a created account's `status`, the
    /// service state by its Rust name (`Active`).
    pub(super) fn response(mut value: Value) -> anyhow::Result<v2::Response> {
        if value.get("kind").and_then(Value::as_str) == Some("created")
            && let Some(status) = value.pointer_mut("/value/status")
        {
            let word = status
                .as_str()
                .and_then(service_state)
                .context("an unknown service state")?;
            *status = Value::from(word);
        }
        Ok(serde_json::from_value(value)?)
    }

    /// A failure: `{"kind", "message"}`; the row's `kind` when the text
    /// says less (never written so by a host; kept readable all the same).
    pub(super) fn failure(value: Value, kind: &str) -> v2::StoredFailure {
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
        v2::StoredFailure {
            kind: text("kind").unwrap_or_else(|| kind.to_string()),
            message: text("message").unwrap_or_default(),
        }
    }

    /// The service states as format 1 named them, in format 2's words.
    fn service_state(rust_name: &str) -> Option<&'static str> {
        Some(match rust_name {
            "Pending" => "pending",
            "Active" => "active",
            "Suspended" => "suspended",
            "Terminated" => "terminated",
            "Failed" => "failed",
            "Unknown" => "unknown",
            _ => return None,
        })
    }
}

/// Format 2. Frozen once shipped: a change is a format 3 beside it.
mod v2 {
    use super::*;

    /// An intent's input.
    #[derive(Serialize, Deserialize)]
    pub(super) struct Input {
        pub format: u32,
        pub request: Request,
    }

    /// An outcome.
    #[derive(Serialize, Deserialize)]
    pub(super) struct OutcomeText {
        pub format: u32,
        #[serde(flatten)]
        pub outcome: Recorded,
    }

    /// The answer or the failure.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub(super) enum Recorded {
        Answer(Response),
        Error(StoredFailure),
    }

    /// A failure: the error's kind and its message.
    #[derive(Serialize, Deserialize)]
    pub(super) struct StoredFailure {
        pub kind: String,
        pub message: String,
    }

    impl From<&Failure> for StoredFailure {
        fn from(failure: &Failure) -> StoredFailure {
            let Failure { kind, message } = failure.clone();
            StoredFailure { kind, message }
        }
    }

    impl From<StoredFailure> for Failure {
        fn from(failure: StoredFailure) -> Failure {
            let StoredFailure { kind, message } = failure;
            Failure { kind, message }
        }
    }

    /// A mutating request.
    #[derive(Serialize, Deserialize)]
    #[serde(tag = "function", rename_all = "kebab-case")]
    pub(super) enum Request {
        CreateAccount {
            service: StoredService,
        },
        Suspend {
            service: StoredService,
            #[serde(default)]
            reason: Option<String>,
        },
        Unsuspend {
            service: StoredService,
        },
        Terminate {
            service: StoredService,
        },
        ChangePassword {
            service: StoredService,
            new_password: String,
        },
        ChangePackage {
            service: StoredService,
            new_package: String,
        },
        ChangeDomain {
            service: StoredService,
            new_domain: String,
        },
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct StoredService {
        service_id: String,
        #[serde(default)]
        remote_id: Option<String>,
        #[serde(default)]
        domain: Option<String>,
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        password: Option<String>,
        #[serde(default)]
        package: Option<String>,
        #[serde(default)]
        billing_cycle: Option<String>,
        #[serde(default)]
        client: Option<StoredContact>,
        #[serde(default)]
        custom_fields: Vec<(String, String)>,
    }

    #[derive(Serialize, Deserialize)]
    struct StoredContact {
        first_name: String,
        last_name: String,
        #[serde(default)]
        company: Option<String>,
        email: String,
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        address: Option<String>,
        #[serde(default)]
        city: Option<String>,
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        postcode: Option<String>,
        #[serde(default)]
        country: Option<String>,
        #[serde(default)]
        language: Option<String>,
    }

    /// The answer of a mutating call.
    #[derive(Serialize, Deserialize)]
    #[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
    pub(super) enum Response {
        Created(StoredCreated),
        Done(StoredDone),
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct StoredCreated {
        remote_id: String,
        already_existed: bool,
        status: StoredServiceState,
        message: String,
        credentials: Vec<StoredCredential>,
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct StoredDone {
        message: String,
        credentials: Vec<StoredCredential>,
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct StoredCredential {
        name: String,
        value: String,
        secret: bool,
    }

    #[derive(Clone, Copy, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum StoredServiceState {
        Pending,
        Active,
        Suspended,
        Terminated,
        Failed,
        Unknown,
    }

    impl TryFrom<&super::Request> for Request {
        type Error = anyhow::Error;

        fn try_from(request: &super::Request) -> anyhow::Result<Request> {
            use super::Request as R;
            let service = |service: &Service| StoredService::from(service.clone());
            Ok(match request {
                R::CreateAccount { service: s } => Request::CreateAccount {
                    service: service(s),
                },
                R::Suspend { service: s, reason } => Request::Suspend {
                    service: service(s),
                    reason: reason.clone(),
                },
                R::Unsuspend { service: s } => Request::Unsuspend {
                    service: service(s),
                },
                R::Terminate { service: s } => Request::Terminate {
                    service: service(s),
                },
                R::ChangePassword {
                    service: s,
                    new_password,
                } => Request::ChangePassword {
                    service: service(s),
                    new_password: new_password.clone(),
                },
                R::ChangePackage {
                    service: s,
                    new_package,
                } => Request::ChangePackage {
                    service: service(s),
                    new_package: new_package.clone(),
                },
                R::ChangeDomain {
                    service: s,
                    new_domain,
                } => Request::ChangeDomain {
                    service: service(s),
                    new_domain: new_domain.clone(),
                },
                other => bail!(
                    "{} is not journaled: it has no stored form",
                    crate::request::function_name(other.function())
                ),
            })
        }
    }

    impl From<Request> for super::Request {
        fn from(request: Request) -> super::Request {
            use super::Request as R;
            match request {
                Request::CreateAccount { service } => R::CreateAccount {
                    service: service.into(),
                },
                Request::Suspend { service, reason } => R::Suspend {
                    service: service.into(),
                    reason,
                },
                Request::Unsuspend { service } => R::Unsuspend {
                    service: service.into(),
                },
                Request::Terminate { service } => R::Terminate {
                    service: service.into(),
                },
                Request::ChangePassword {
                    service,
                    new_password,
                } => R::ChangePassword {
                    service: service.into(),
                    new_password,
                },
                Request::ChangePackage {
                    service,
                    new_package,
                } => R::ChangePackage {
                    service: service.into(),
                    new_package,
                },
                Request::ChangeDomain {
                    service,
                    new_domain,
                } => R::ChangeDomain {
                    service: service.into(),
                    new_domain,
                },
            }
        }
    }

    impl From<Service> for StoredService {
        fn from(service: Service) -> StoredService {
            let Service {
                service_id,
                remote_id,
                domain,
                username,
                password,
                package,
                billing_cycle,
                client,
                custom_fields,
            } = service;
            StoredService {
                service_id,
                remote_id,
                domain,
                username,
                password,
                package,
                billing_cycle,
                client: client.map(StoredContact::from),
                custom_fields,
            }
        }
    }

    impl From<StoredService> for Service {
        fn from(service: StoredService) -> Service {
            let StoredService {
                service_id,
                remote_id,
                domain,
                username,
                password,
                package,
                billing_cycle,
                client,
                custom_fields,
            } = service;
            Service {
                service_id,
                remote_id,
                domain,
                username,
                password,
                package,
                billing_cycle,
                client: client.map(Contact::from),
                custom_fields,
            }
        }
    }

    impl From<Contact> for StoredContact {
        fn from(contact: Contact) -> StoredContact {
            let Contact {
                first_name,
                last_name,
                company,
                email,
                phone,
                address,
                city,
                state,
                postcode,
                country,
                language,
            } = contact;
            StoredContact {
                first_name,
                last_name,
                company,
                email,
                phone,
                address,
                city,
                state,
                postcode,
                country,
                language,
            }
        }
    }

    impl From<StoredContact> for Contact {
        fn from(contact: StoredContact) -> Contact {
            let StoredContact {
                first_name,
                last_name,
                company,
                email,
                phone,
                address,
                city,
                state,
                postcode,
                country,
                language,
            } = contact;
            Contact {
                first_name,
                last_name,
                company,
                email,
                phone,
                address,
                city,
                state,
                postcode,
                country,
                language,
            }
        }
    }

    impl TryFrom<&super::Response> for Response {
        type Error = anyhow::Error;

        fn try_from(response: &super::Response) -> anyhow::Result<Response> {
            Ok(match response.clone() {
                super::Response::Created(CreatedAccount {
                    remote_id,
                    already_existed,
                    status,
                    message,
                    credentials,
                }) => Response::Created(StoredCreated {
                    remote_id,
                    already_existed,
                    status: status.into(),
                    message,
                    credentials: credentials.into_iter().map(Into::into).collect(),
                }),
                super::Response::Done(Outcome {
                    message,
                    credentials,
                }) => Response::Done(StoredDone {
                    message,
                    credentials: credentials.into_iter().map(Into::into).collect(),
                }),
                _ => bail!("only the answers of mutating calls are journaled"),
            })
        }
    }

    impl From<Response> for super::Response {
        fn from(response: Response) -> super::Response {
            match response {
                Response::Created(StoredCreated {
                    remote_id,
                    already_existed,
                    status,
                    message,
                    credentials,
                }) => super::Response::Created(CreatedAccount {
                    remote_id,
                    already_existed,
                    status: status.into(),
                    message,
                    credentials: credentials.into_iter().map(Into::into).collect(),
                }),
                Response::Done(StoredDone {
                    message,
                    credentials,
                }) => super::Response::Done(Outcome {
                    message,
                    credentials: credentials.into_iter().map(Into::into).collect(),
                }),
            }
        }
    }

    impl From<Credential> for StoredCredential {
        fn from(credential: Credential) -> StoredCredential {
            let Credential {
                name,
                value,
                secret,
            } = credential;
            StoredCredential {
                name,
                value,
                secret,
            }
        }
    }

    impl From<StoredCredential> for Credential {
        fn from(credential: StoredCredential) -> Credential {
            let StoredCredential {
                name,
                value,
                secret,
            } = credential;
            Credential {
                name,
                value,
                secret,
            }
        }
    }

    impl From<ServiceState> for StoredServiceState {
        fn from(state: ServiceState) -> StoredServiceState {
            match state {
                ServiceState::Pending => StoredServiceState::Pending,
                ServiceState::Active => StoredServiceState::Active,
                ServiceState::Suspended => StoredServiceState::Suspended,
                ServiceState::Terminated => StoredServiceState::Terminated,
                ServiceState::Failed => StoredServiceState::Failed,
                ServiceState::Unknown => StoredServiceState::Unknown,
            }
        }
    }

    impl From<StoredServiceState> for ServiceState {
        fn from(state: StoredServiceState) -> ServiceState {
            match state {
                StoredServiceState::Pending => ServiceState::Pending,
                StoredServiceState::Active => ServiceState::Active,
                StoredServiceState::Suspended => ServiceState::Suspended,
                StoredServiceState::Terminated => ServiceState::Terminated,
                StoredServiceState::Failed => ServiceState::Failed,
                StoredServiceState::Unknown => ServiceState::Unknown,
            }
        }
    }
}
