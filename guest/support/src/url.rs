//! Checking URLs before a request is built from them.

use http::Uri;

/// An absolute `http` or `https` URL with a host, and no user credentials.
///
/// Built by [`Endpoint::parse`] (or [`crate::settings::Settings::endpoint`]);
/// what it holds is what waki accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    origin: String,
}

impl Endpoint {
    /// Checks `text` and keeps it. The error says what is wrong without
    /// repeating the URL, which may carry a key in its query.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim();
        let uri: Uri = text
            .parse()
            .map_err(|_| "is not a valid URL (no spaces or special characters)")?;
        let origin = origin_of(&uri)?;
        Ok(Self {
            url: text.to_owned(),
            origin,
        })
    }

    /// The whole URL.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `scheme://host[:port]`: what error messages may show of the URL.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The URL with `path` appended after exactly one `/`, for APIs that
    /// take a base URL plus one path per call. Any query of the base is
    /// dropped.
    pub fn join(&self, path: &str) -> String {
        let base = self.url.split(['?', '#']).next().unwrap_or_default();
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URI, or why it
/// has none fit for a request.
pub(crate) fn origin_of(uri: &Uri) -> Result<String, &'static str> {
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
            s.to_ascii_lowercase()
        }
        Some(_) => return Err("must use http or https"),
        None => return Err("must be an absolute URL starting with https:// or http://"),
    };
    let authority = uri.authority().ok_or("has no host")?;
    if authority.as_str().contains('@') {
        // Credentials belong in the module's secret settings, not in a URL
        // that ends up in logs.
        return Err("must not contain a user name or password");
    }
    if authority.host().is_empty() {
        return Err("has no host");
    }
    Ok(format!(
        "{scheme}://{}",
        authority.as_str().to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_with_a_host() {
        let e = Endpoint::parse(" https://Example.org:8443/a/api.php?x=1 ").unwrap();
        assert_eq!(e.as_str(), "https://Example.org:8443/a/api.php?x=1");
        assert_eq!(e.origin(), "https://example.org:8443");
        assert!(Endpoint::parse("http://127.0.0.1:8080").is_ok());
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "hostmenow.org/api.php",
            "/api.php",
            "ftp://example.org/",
            "https://user:pw@example.org/",
            "https:///path",
            "https://exa mple.org/",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn joins_paths() {
        let e = Endpoint::parse("https://test.httpapi.com/?k=v").unwrap();
        assert_eq!(e.join("/api/x.json"), "https://test.httpapi.com/api/x.json");
        let e = Endpoint::parse("https://h.example").unwrap();
        assert_eq!(e.join("api"), "https://h.example/api");
    }
}
