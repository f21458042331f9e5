//! The services a platform has at its providers, rebuilt from the journal
//! of mutating calls: for a host that is the platform's only way to its
//! providers, the journal knows every service it created and terminated.

use std::collections::HashMap;

use crate::journal::Entry;
use crate::redact::MASK;
use crate::request::{Request, Response};

use super::UsageJob;

/// The live services in `entries` (oldest first, as
/// [`crate::Journal::entries`] gives them), in order of creation: every
/// successful create-account, with the remote id the provider gave it,
/// minus the services a later terminate removed, with the package and
/// domain of any later successful change.
///
/// Only what the journal knows succeeded counts: a create whose outcome is
/// unknown is left out, a terminate whose outcome is unknown leaves the
/// service in. Passwords were masked before they were journaled, so the
/// services carry none. An entry that cannot be read back is skipped with
/// a warning rather than stopping the whole sync.
pub fn live_services(entries: &[Entry]) -> Vec<UsageJob> {
    let mut services: Vec<Option<UsageJob>> = Vec::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    for entry in entries {
        let Some(Ok(answer)) = entry.outcome.as_ref().map(|o| &o.answer) else {
            continue;
        };
        let request = entry.intent.input.clone();
        let Some(service_id) = request.service().map(|s| s.service_id.clone()) else {
            continue;
        };
        let key = (entry.intent.module.clone(), service_id);
        let live = by_key.get(&key).and_then(|&index| services[index].as_mut());
        match (request, live) {
            (Request::CreateAccount { mut service }, live) => {
                let remote_id = match answer {
                    Response::Created(created) => created.remote_id.clone(),
                    _ => {
                        tracing::warn!(
                            entry = entry.id,
                            "journal entry's create-account answer is not an account, skipped"
                        );
                        continue;
                    }
                };
                service.remote_id = Some(remote_id);
                if service.password.as_deref() == Some(MASK) {
                    service.password = None;
                }
                let job = UsageJob {
                    module: entry.intent.module.clone(),
                    service,
                    settings: Vec::new(),
                };
                match live {
                    Some(existing) => *existing = job,
                    None => {
                        by_key.insert(key, services.len());
                        services.push(Some(job));
                    }
                }
            }
            (Request::Terminate { .. }, Some(_)) => {
                if let Some(index) = by_key.remove(&key) {
                    services[index] = None;
                }
            }
            (Request::ChangePackage { new_package, .. }, Some(live)) => {
                live.service.package = Some(new_package);
            }
            (Request::ChangeDomain { new_domain, .. }, Some(live)) => {
                live.service.domain = Some(new_domain);
            }
            _ => {}
        }
    }
    services.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{CreatedAccount, Service, ServiceState};
    use crate::journal::{CallOutcome, EntryState, Failure, Intent};

    fn service(id: &str) -> Service {
        Service {
            service_id: id.into(),
            remote_id: None,
            domain: Some(format!("{id}.example.com")),
            username: Some("user".into()),
            password: Some(MASK.into()),
            package: Some("101".into()),
            billing_cycle: Some("monthly".into()),
            client: None,
            custom_fields: Vec::new(),
        }
    }

    /// A journal entry for `request` on `module`; `answer` is the recorded
    /// summary of a success, `None` a call with no outcome.
    fn entry(id: i64, module: &str, request: Request, answer: Option<Result<&str, &str>>) -> Entry {
        let outcome = answer.map(|answer| CallOutcome {
            answer: match answer {
                Ok(summary) => Ok(serde_json::from_str(summary).unwrap()),
                Err(kind) => Err(Failure {
                    kind: kind.into(),
                    message: "failed".into(),
                }),
            },
            uncertain: false,
            module_digest: None,
            sealed_credentials: None,
        });
        Entry {
            id,
            intent: Intent {
                module: module.into(),
                idempotency_key: format!("key-{id}"),
                input: request,
                request_digest: None,
            },
            state: EntryState::Acknowledged,
            outcome,
            owner: None,
            lease_until_ms: None,
            resolution: None,
            started_at_ms: id,
            attempt_deadline_ms: None,
            attempt_over: true,
            finished_at_ms: Some(id),
            acknowledged_at_ms: Some(id),
        }
    }

    /// The journal's summary of a create-account answer.
    fn created(remote_id: &str) -> String {
        serde_json::to_string(&Response::Created(CreatedAccount {
            remote_id: remote_id.into(),
            already_existed: false,
            status: ServiceState::Active,
            message: "created".into(),
            credentials: Vec::new(),
        }))
        .unwrap()
    }

    const DONE: &str = r#"{"kind":"done","value":{"message":"ok","credentials":[]}}"#;

    fn create(
        id: i64,
        module: &str,
        service_id: &str,
        answer: Option<Result<&str, &str>>,
    ) -> Entry {
        let request = Request::CreateAccount {
            service: service(service_id),
        };
        entry(id, module, request, answer)
    }

    fn terminate(
        id: i64,
        module: &str,
        service_id: &str,
        answer: Option<Result<&str, &str>>,
    ) -> Entry {
        let request = Request::Terminate {
            service: service(service_id),
        };
        entry(id, module, request, answer)
    }

    fn ids(jobs: &[UsageJob]) -> Vec<(&str, &str, Option<&str>)> {
        jobs.iter()
            .map(|j| {
                (
                    j.module.as_str(),
                    j.service.service_id.as_str(),
                    j.service.remote_id.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn created_services_minus_terminated_ones() {
        let entries = vec![
            create(1, "hostmenow", "a", Some(Ok(&created("7001")))),
            create(2, "hostmenow", "b", Some(Ok(&created("7002")))),
            create(3, "webline", "a", Some(Ok(&created("W-9")))),
            terminate(4, "hostmenow", "a", Some(Ok(DONE))),
            create(5, "hostmenow", "c", Some(Ok(&created("7003")))),
        ];
        let jobs = live_services(&entries);
        assert_eq!(
            ids(&jobs),
            [
                ("hostmenow", "b", Some("7002")),
                ("webline", "a", Some("W-9")),
                ("hostmenow", "c", Some("7003")),
            ]
        );
        assert!(
            jobs.iter().all(|j| j.service.password.is_none()),
            "a masked password is no password"
        );
        assert_eq!(jobs[0].service.domain.as_deref(), Some("b.example.com"));
    }

    #[test]
    fn only_what_is_known_to_have_succeeded_counts() {
        let entries = vec![
            create(1, "hostmenow", "refused", Some(Err("insufficient-funds"))),
            create(2, "hostmenow", "unknown", None),
            create(3, "hostmenow", "kept", Some(Ok(&created("7001")))),
            terminate(4, "hostmenow", "kept", Some(Err("timeout"))),
            terminate(5, "hostmenow", "kept", None),
        ];
        assert_eq!(
            ids(&live_services(&entries)),
            [("hostmenow", "kept", Some("7001"))]
        );
    }

    #[test]
    fn a_service_created_again_after_termination_is_live_with_its_new_id() {
        let mut changed = service("a");
        changed.remote_id = Some("7001".into());
        let entries = vec![
            create(1, "hostmenow", "a", Some(Ok(&created("7001")))),
            entry(
                2,
                "hostmenow",
                Request::ChangePackage {
                    service: changed,
                    new_package: "102".into(),
                },
                Some(Ok(DONE)),
            ),
            terminate(3, "hostmenow", "a", Some(Ok(DONE))),
            create(4, "hostmenow", "a", Some(Ok(&created("7002")))),
        ];
        let jobs = live_services(&entries);
        assert_eq!(ids(&jobs), [("hostmenow", "a", Some("7002"))]);
        assert_eq!(jobs[0].service.package.as_deref(), Some("101"));
    }

    #[test]
    fn later_changes_are_applied_and_unreadable_entries_skipped() {
        // A create answered with no account (never from a module: the
        // host types each function's answer).
        let broken = create(2, "hostmenow", "b", Some(Ok(DONE)));
        let entries = vec![
            create(1, "hostmenow", "a", Some(Ok(&created("7001")))),
            broken,
            entry(
                3,
                "hostmenow",
                Request::ChangeDomain {
                    service: service("a"),
                    new_domain: "new.example.com".into(),
                },
                Some(Ok(DONE)),
            ),
        ];
        let jobs = live_services(&entries);
        assert_eq!(ids(&jobs), [("hostmenow", "a", Some("7001"))]);
        assert_eq!(jobs[0].service.domain.as_deref(), Some("new.example.com"));
    }
}
