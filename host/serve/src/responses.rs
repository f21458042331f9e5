//! The refusals several routes share, each one documented response of the
//! error body (`#/components/responses/...` in the document).

#![allow(
    dead_code,
    reason = "documented responses only: the body is crate::error::ErrorBody"
)]

use utoipa::ToResponse;

use crate::error::ErrorBody;

/// 401.
#[derive(ToResponse)]
#[response(
    description = "No or wrong bearer token, or more than one `Authorization` header; nothing was done."
)]
pub struct Unauthorized(ErrorBody);

/// 400 and 415.
#[derive(ToResponse)]
#[response(
    description = "Malformed JSON, a body not of the route's shape (an unknown field or value), an unknown function or bad arguments (kind `malformed-request`; 415 when the body is not sent as `application/json`); for an acknowledgement, a finding for an entry whose outcome is known (`finding-not-applicable`) or a create-account found done without its `remote_id` (`remote-id-required`)."
)]
pub struct BadRequest(ErrorBody);

/// 404.
#[derive(ToResponse)]
#[response(
    description = "A module the manifest does not have (`unknown-module`), route (`unknown-route`), entry (`not-pending`) or no journal configured (`no-journal`)."
)]
pub struct NotFound(ErrorBody);

/// 503 of the journal's routes.
#[derive(ToResponse)]
#[response(
    description = "The journal could not be reached in time (`journal-unavailable`): its file locked by another process, its database slow or down. Nothing is known to have been done; ask again later."
)]
pub struct JournalUnavailable(ErrorBody);

/// 503 of a module's routes.
#[derive(ToResponse)]
#[response(
    description = "The manifest has this module but it did not load (`module-not-ready`); `error.reason` says why. Every reload (SIGHUP or a changed file) tries it again."
)]
pub struct NotReady(ErrorBody);

/// 413.
#[derive(ToResponse)]
#[response(description = "The request body is over the cap (`body-too-large`).")]
pub struct TooLarge(ErrorBody);
