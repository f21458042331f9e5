//! Reconciling journal entries whose outcome is unknown (the host died
//! mid-call, or a mutating call was cut off after it may have reached the
//! provider) by asking the provider, through the module's own read
//! functions, what happened.
//!
//! The host knows no provider: what it can learn depends only on which
//! contract functions a module supports.
//!
//! - `service-status`, for a service whose provider id is known: where it
//!   stands (`not-found` means it is not there).
//! - `list-accounts`: the provider's whole list, matched by provider id,
//!   else by domain, else by username (one match only; several are left to
//!   an operator).
//! - `usage-data`: whether the provider knows the service at all
//!   (`not-found`), for modules that can do neither of the above.
//!
//! Nothing is looked into before the entry's attempt's deadline has passed
//! by the journal's clock (its start plus the module's deadline): until
//! then the call may still reach the provider, from a host that is only
//! stalled, and the journal refuses a finding anyway.
//!
//! From that, `verdict` decides per function: a suspend is done when the
//! service is suspended, not done when it is active, and so on; a
//! create-account is done only when the account is found *with* its
//! provider id (the next call with the key is answered with it). What
//! cannot be told (a changed password, a provider that cannot be asked)
//! stays for an operator. Each resolution is recorded in the journal with
//! what was seen, through [`crate::Journal::resolve`], as an operator's
//! would be.
//!
//! The reads run with the module's configured settings: per-call settings
//! of the original call (a platform's product settings) are not journaled.
//! A module's list is read once per pass, however many of its entries it
//! decides.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::bindings::types::{
    Error as ModuleError, Function, ListedAccount, Service, ServiceState,
};
use crate::error::CallError;
use crate::host::Host;
use crate::journal::{EntryId, EntryState, Finding, OperatorFinding};
use crate::request::{Request, Response, function_name, service_state_name};

/// What one pass of [`reconcile`] did, entry by entry.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    /// Every unknown entry looked at, oldest first.
    pub entries: Vec<Reconciliation>,
}

impl ReconcileReport {
    /// How many entries were resolved (done or not done).
    pub fn resolved(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| !matches!(e.verdict, Verdict::Undecided { .. }))
            .count()
    }
}

/// One unknown entry and what reconciling it came to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// The journal entry.
    #[schema(value_type = i64)]
    pub entry: EntryId,
    /// Its module.
    pub module: String,
    /// Its contract function.
    pub function: String,
    /// The platform's service id.
    #[schema(required = true)]
    pub service_id: Option<String>,
    /// What the provider showed.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// What the provider's state says about a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The call took effect; the entry is resolved as done.
    Done {
        /// For a create-account: the account's provider id.
        #[serde(skip_serializing_if = "Option::is_none")]
        remote_id: Option<String>,
        /// What was seen.
        evidence: String,
    },
    /// The call did not take effect; the entry's key is freed.
    NotDone {
        /// What was seen.
        evidence: String,
    },
    /// The provider's state cannot tell; the entry stays for an operator.
    Undecided {
        /// Why.
        reason: String,
    },
}

/// What the provider showed about a service.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Observation {
    /// The provider has it.
    Present {
        /// Its provider id, when the read gives one.
        remote_id: Option<String>,
        /// Its state, when the read gives one.
        state: ServiceState,
        /// Its domain, when the read gives one.
        domain: Option<String>,
        /// Its package, when the read gives one.
        package: Option<String>,
        /// Which read said so.
        source: &'static str,
    },
    /// The provider does not have it.
    Absent {
        /// Which read said so.
        source: &'static str,
    },
}

/// Looks at every entry whose outcome is unknown, asks the provider what
/// happened where its module can tell, and resolves the entries it can.
/// Fails only when the host has no journal or the journal cannot be read;
/// an entry that cannot be looked into is reported undecided.
pub async fn reconcile(host: &Host) -> anyhow::Result<ReconcileReport> {
    let journal = host
        .journal()
        .ok_or_else(|| anyhow::anyhow!("the host has no journal to reconcile"))?;
    let mut report = ReconcileReport::default();
    let mut lists = Lists::default();
    for pending in journal.pending().await? {
        let entry = pending.entry;
        if entry.state != EntryState::Unknown {
            continue;
        }
        // Until the attempt's deadline (by the journal's clock), the call
        // may still reach the provider, its host only stalled: what the
        // provider shows now decides nothing.
        let mut verdict = if entry.attempt_over {
            look_into(host, &mut lists, &entry.intent.module, &entry.intent.input).await
        } else {
            Verdict::Undecided {
                reason: format!(
                    "the call may still reach the provider until its deadline, {} by the journal's clock",
                    crate::journal::clock_time(entry.attempt_deadline_ms.unwrap_or_default())
                ),
            }
        };
        if let Some(finding) = finding(&verdict) {
            if let Err(error) = journal.resolve(entry.id, finding).await {
                verdict = Verdict::Undecided {
                    reason: format!("seen at the provider, but not recorded: {error}"),
                };
            } else {
                tracing::info!(
                    entry = entry.id,
                    module = %entry.intent.module,
                    function = %entry.intent.function(),
                    verdict = ?verdict,
                    "journal entry reconciled with the provider"
                );
            }
        }
        report.entries.push(Reconciliation {
            entry: entry.id,
            module: entry.intent.module.clone(),
            function: entry.intent.function().to_string(),
            service_id: entry.intent.service_id().map(str::to_string),
            verdict,
        });
    }
    Ok(report)
}

/// The journal resolution a verdict makes, if any.
fn finding(verdict: &Verdict) -> Option<OperatorFinding> {
    match verdict {
        Verdict::Done {
            remote_id,
            evidence,
        } => Some(OperatorFinding {
            finding: Finding::Done,
            remote_id: remote_id.clone(),
            note: Some(format!("reconciled with the provider: {evidence}")),
        }),
        Verdict::NotDone { evidence } => Some(OperatorFinding {
            finding: Finding::NotDone,
            remote_id: None,
            note: Some(format!("reconciled with the provider: {evidence}")),
        }),
        Verdict::Undecided { .. } => None,
    }
}

/// Each module's list-accounts answer in this pass (the accounts, or why
/// there are none), read when first needed.
#[derive(Default)]
struct Lists(HashMap<String, Result<Arc<Vec<ListedAccount>>, String>>);

impl Lists {
    /// The module's accounts, read now unless this pass has read them.
    async fn of(&mut self, host: &Host, module: &str) -> Result<Arc<Vec<ListedAccount>>, String> {
        if let Some(known) = self.0.get(module) {
            return known.clone();
        }
        let read = match host.call(module, &Request::ListAccounts).await {
            Ok(Response::Accounts(accounts)) => Ok(Arc::new(accounts)),
            Ok(_) => Err("list-accounts answered with another function's answer".to_owned()),
            Err(error) => Err(format!("list-accounts failed: {error}")),
        };
        self.0.insert(module.to_owned(), read.clone());
        read
    }
}

/// Asks the provider about the request's service and decides.
async fn look_into(host: &Host, lists: &mut Lists, module: &str, request: &Request) -> Verdict {
    let Some(service) = request.service() else {
        return undecided("the call has no service to look up");
    };
    if matches!(request, Request::ChangePassword { .. }) {
        return undecided("whether a password changed cannot be read back from a provider");
    }
    let Some(loaded) = host.module(module) else {
        return undecided(&format!("no module named `{module}` is loaded"));
    };
    let functions = loaded.info().functions.clone();
    // A create looks for the account it may have made, so it must not match
    // on a provider id left from an earlier account.
    let by_id = !matches!(request, Request::CreateAccount { .. });
    match observe(host, lists, module, &functions, service, by_id).await {
        Ok(Some(observation)) => verdict(request, &observation),
        Ok(None) => undecided(&format!(
            "module `{module}` has no read that shows this service (service-status with a \
             provider id, list-accounts or usage-data)"
        )),
        Err(reason) => undecided(&reason),
    }
}

/// Undecided: the read shows the service but no state that tells.
fn no_state(seen: &str) -> Verdict {
    undecided(&format!(
        "{seen}, a state that does not tell whether the call acted"
    ))
}

fn undecided(reason: &str) -> Verdict {
    Verdict::Undecided {
        reason: reason.to_owned(),
    }
}

/// What the provider shows about the service, through the best read the
/// module has; `Ok(None)` when it has none that applies.
async fn observe(
    host: &Host,
    lists: &mut Lists,
    module: &str,
    functions: &[Function],
    service: &Service,
    by_id: bool,
) -> Result<Option<Observation>, String> {
    let remote_id = service
        .remote_id
        .as_deref()
        .filter(|id| by_id && !id.trim().is_empty());
    if let Some(remote_id) = remote_id
        && functions.contains(&Function::ServiceStatus)
    {
        let request = Request::ServiceStatus {
            service: service.clone(),
        };
        return match host.call(module, &request).await {
            Ok(Response::Status(report)) => Ok(Some(Observation::Present {
                remote_id: Some(remote_id.to_owned()),
                state: report.state,
                domain: None,
                package: None,
                source: "service-status",
            })),
            Err(error) if is_not_found(&error) => Ok(Some(Observation::Absent {
                source: "service-status",
            })),
            Ok(_) => Err("service-status answered with another function's answer".to_owned()),
            Err(error) => Err(format!("service-status failed: {error}")),
        };
    }
    if functions.contains(&Function::ListAccounts) {
        let accounts = lists.of(host, module).await?;
        return find(&accounts, service, remote_id).map(|found| {
            Some(match found {
                Some(account) => Observation::Present {
                    remote_id: Some(account.remote_id.clone()),
                    state: account.state,
                    domain: account.domain.clone(),
                    package: account.package.clone(),
                    source: "list-accounts",
                },
                None => Observation::Absent {
                    source: "list-accounts",
                },
            })
        });
    }
    if functions.contains(&Function::UsageData) {
        let request = Request::UsageData {
            service: service.clone(),
        };
        return match host.call(module, &request).await {
            Ok(_) => Ok(Some(Observation::Present {
                remote_id: None,
                state: ServiceState::Unknown,
                domain: None,
                package: None,
                source: "usage-data",
            })),
            Err(error) if is_not_found(&error) => Ok(Some(Observation::Absent {
                source: "usage-data",
            })),
            Err(error) => Err(format!("usage-data failed: {error}")),
        };
    }
    Ok(None)
}

fn is_not_found(error: &CallError) -> bool {
    matches!(
        error,
        CallError::Module {
            error: ModuleError::NotFound(_),
            ..
        }
    )
}

/// The one listed account that is the service: by provider id when known,
/// else by domain, else by username (ignoring case); terminated accounts
/// only match by id. Several matches are an error: an operator decides.
fn find<'a>(
    accounts: &'a [ListedAccount],
    service: &Service,
    remote_id: Option<&str>,
) -> Result<Option<&'a ListedAccount>, String> {
    if let Some(remote_id) = remote_id {
        return Ok(accounts.iter().find(|a| a.remote_id == remote_id));
    }
    let live = |a: &&ListedAccount| a.state != ServiceState::Terminated;
    let same = |theirs: &Option<String>, ours: &Option<String>| match (theirs, ours) {
        (Some(theirs), Some(ours)) if !ours.trim().is_empty() => {
            theirs.trim().eq_ignore_ascii_case(ours.trim())
        }
        _ => false,
    };
    for (field, matches) in [
        (
            "domain",
            accounts
                .iter()
                .filter(live)
                .filter(|a| same(&a.domain, &service.domain))
                .collect::<Vec<_>>(),
        ),
        (
            "username",
            accounts
                .iter()
                .filter(live)
                .filter(|a| same(&a.username, &service.username))
                .collect::<Vec<_>>(),
        ),
    ] {
        match matches.as_slice() {
            [] => continue,
            [one] => return Ok(Some(one)),
            several => {
                return Err(format!(
                    "{} accounts at the provider have this service's {field}",
                    several.len()
                ));
            }
        }
    }
    Ok(None)
}

/// What an observation says about a call.
fn verdict(request: &Request, observation: &Observation) -> Verdict {
    let (remote_id, state, domain, package, source) = match observation {
        Observation::Absent { source } => {
            let evidence = format!("{source}: the provider does not have the service");
            return match request {
                Request::Terminate { .. } => Verdict::Done {
                    remote_id: None,
                    evidence,
                },
                Request::CreateAccount { .. } => Verdict::NotDone { evidence },
                _ => undecided(&format!(
                    "{evidence}, so the call cannot have acted, nor can anything be repeated"
                )),
            };
        }
        Observation::Present {
            remote_id,
            state,
            domain,
            package,
            source,
        } => (remote_id, *state, domain, package, *source),
    };
    let seen = format!(
        "{source}: the provider has it{}, {}",
        remote_id
            .as_deref()
            .map(|id| format!(" as {id}"))
            .unwrap_or_default(),
        service_state_name(state)
    );
    let done = |evidence: String| Verdict::Done {
        remote_id: None,
        evidence,
    };
    let not_done = |evidence: String| Verdict::NotDone { evidence };
    match request {
        Request::CreateAccount { .. } => match remote_id {
            Some(id) => Verdict::Done {
                remote_id: Some(id.clone()),
                evidence: seen,
            },
            None => undecided(&format!(
                "{seen}, but the read gives no provider id: resolve it with the provider's id by hand"
            )),
        },
        Request::Suspend { .. } => match state {
            ServiceState::Suspended => done(seen),
            ServiceState::Active => not_done(seen),
            _ => no_state(&seen),
        },
        Request::Unsuspend { .. } => match state {
            ServiceState::Active => done(seen),
            ServiceState::Suspended => not_done(seen),
            _ => no_state(&seen),
        },
        Request::Terminate { .. } => match state {
            ServiceState::Terminated => done(seen),
            ServiceState::Active | ServiceState::Suspended => not_done(seen),
            _ => no_state(&seen),
        },
        Request::ChangePackage { new_package, .. } => match package {
            Some(package) if package == new_package => {
                done(format!("{seen}, on package {package}"))
            }
            Some(package) => not_done(format!("{seen}, on package {package}")),
            None => undecided(&format!("{seen}; the read gives no package")),
        },
        Request::ChangeDomain {
            service,
            new_domain,
        } => match domain {
            Some(domain) if domain.eq_ignore_ascii_case(new_domain) => {
                done(format!("{seen}, on domain {domain}"))
            }
            Some(domain) if service.domain.as_deref() == Some(domain.as_str()) => {
                not_done(format!("{seen}, still on domain {domain}"))
            }
            _ => undecided(&format!("{seen}; the read gives no domain to compare")),
        },
        _ => undecided(&format!(
            "{seen}; {} is not reconciled",
            function_name(request.function())
        )),
    }
}
