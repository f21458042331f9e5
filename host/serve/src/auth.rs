//! The bearer token every request must carry.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Shortest token the server accepts from its operator.
const MIN_TOKEN_LEN: usize = 16;

/// The operator's token, kept only as its sha256: comparing digests in
/// constant time tells an attacker neither the token's bytes nor its length.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").finish_non_exhaustive()
    }
}

impl Token {
    /// The token, refused when it is too short to resist guessing.
    pub fn new(token: &str) -> anyhow::Result<Token> {
        let token = token.trim();
        if token.len() < MIN_TOKEN_LEN {
            anyhow::bail!("the serve token must be at least {MIN_TOKEN_LEN} characters long");
        }
        Ok(Token {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Whether `candidate` is the token.
    fn matches(&self, candidate: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        digest.ct_eq(&self.digest).into()
    }
}

/// Middleware: answers 401 unless the request carries the token, in one
/// `Authorization` header (of two, a proxy and a client may each believe
/// theirs counts: neither is taken); a refused request touches nothing.
pub async fn require_token(State(token): State<Token>, request: Request, next: Next) -> Response {
    let mut headers = request.headers().get_all(header::AUTHORIZATION).iter();
    let (first, second) = (headers.next(), headers.next());
    if second.is_some() {
        return ApiError::unauthorized("send one `Authorization` header, not several")
            .into_response_with_challenge();
    }
    let presented = first
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(candidate) if token.matches(candidate.trim()) => next.run(request).await,
        Some(_) => {
            ApiError::unauthorized("the bearer token is wrong").into_response_with_challenge()
        }
        None => ApiError::unauthorized("an `Authorization: Bearer <token>` header is required")
            .into_response_with_challenge(),
    }
}

#[cfg(test)]
mod tests {
    use crate::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = Token::new("a-long-enough-token-123").unwrap();
        assert!(token.matches("a-long-enough-token-123"));
        assert!(!token.matches("a-long-enough-token-12"));
        assert!(!token.matches(""));
        assert!(Token::new("short").is_err());
        assert!(!format!("{token:?}").contains("token-123"));
    }
}
