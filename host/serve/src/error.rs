//! The typed error body every refusal of the API uses: an HTTP status, a
//! stable `kind` and a message (`{"error": {"kind", "message"}}`), shared
//! by the routes, the token check and the connection layer.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use provisioning_host::ModuleLoadError;
use provisioning_host::logging::redact_live;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::answers::LoadFailure;

/// A refused request: an HTTP status and the typed error body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

/// The body of every refusal: nothing was done.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What was refused, and why.
    pub error: ApiErrorDetail,
}

/// [`ErrorBody::error`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorDetail {
    /// Stable machine-readable kind: unauthorized, malformed-request,
    /// body-too-large, request-timeout, unknown-route, unknown-module,
    /// module-not-ready, not-pending, in-flight, finding-required,
    /// finding-not-applicable, attempt-running, not-journaled,
    /// remote-id-required, no-journal, journal, journal-unavailable,
    /// too-many-services, host.
    #[schema(value_type = String, example = "unknown-module")]
    pub kind: &'static str,
    /// For a person; never holds a secret.
    pub message: String,
    /// For `module-not-ready`: why the module did not load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<LoadFailure>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        kind: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: ApiErrorDetail {
                    kind,
                    message: message.into(),
                    reason: None,
                },
            },
        }
    }

    /// 401.
    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// The 401 answer with the challenge header clients expect.
    pub fn into_response_with_challenge(self) -> Response {
        let mut response = self.into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }

    pub(crate) fn unknown_module(name: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown-module",
            format!("no module named `{name}` is loaded"),
        )
    }

    /// 503 for a module of the manifest that did not load.
    pub(crate) fn not_ready(failure: &ModuleLoadError) -> ApiError {
        let mut refused = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "module-not-ready",
            format!(
                "module `{}` is not ready ({}): {}",
                failure.module, failure.kind, failure.message
            ),
        );
        refused.body.error.reason = Some(LoadFailure::of(failure));
        refused
    }
}

impl IntoResponse for ApiError {
    /// The error body, its message masked: a refusal may quote what the
    /// client sent (a field's value), and no secret the host holds (the
    /// serve token among them) is echoed.
    fn into_response(mut self) -> Response {
        self.body.error.message = redact_live(&self.body.error.message);
        (self.status, Json(self.body)).into_response()
    }
}

/// A JSON request body, every route's one way of reading one: a body
/// that is not JSON, not of the route's shape (an unknown field, an
/// unknown `finding`), too large or of another content type is refused
/// with the typed error body, never axum's plain-text rejection (its 422
/// is not the API's).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let Json(body) = <Json<T> as FromRequest<S>>::from_request(request, state).await?;
        Ok(JsonBody(body))
    }
}

/// An optional body: none without a `Content-Type`, else read as
/// [`JsonBody`] is.
impl<T, S> OptionalFromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let body = <Json<T> as OptionalFromRequest<S>>::from_request(request, state).await?;
        Ok(body.map(|Json(body)| JsonBody(body)))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        match rejection {
            JsonRejection::BytesRejection(_)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body-too-large",
                    "the request body is larger than the server accepts",
                )
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "malformed-request",
                "send the body as `Content-Type: application/json`",
            ),
            other => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed-request",
                other.body_text(),
            ),
        }
    }
}
