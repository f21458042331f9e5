//! The outbound allow-list: which HTTP origins one module may reach.
//!
//! An origin is a scheme, a host and a port. Nothing else is reachable: no
//! other port on the same host, no plain HTTP where HTTPS was granted.

use std::fmt;

use anyhow::{Context, bail};
use http::Uri;

/// One origin a module may send requests to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `scheme://host[:port]`; the port defaults to the scheme's.
    /// A path other than `/` is refused: grants are per origin, not per path.
    pub fn parse(text: &str) -> anyhow::Result<Origin> {
        let uri: Uri = text
            .parse()
            .with_context(|| format!("`{text}` is not a URL of the form scheme://host[:port]"))?;
        let scheme = uri
            .scheme_str()
            .with_context(|| format!("`{text}` has no scheme (http or https)"))?;
        let host = uri
            .host()
            .with_context(|| format!("`{text}` has no host"))?;
        if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
            bail!("`{text}` names a path; an allowed host is only scheme://host[:port]");
        }
        Origin::new(scheme, host, uri.port_u16())
            .with_context(|| format!("`{text}` is not an allowed-host entry"))
    }

    /// Builds an origin from its parts, as a request carries them.
    pub fn new(scheme: &str, host: &str, port: Option<u16>) -> anyhow::Result<Origin> {
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            other => bail!("scheme `{other}` is not supported (only http and https)"),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            bail!("empty host");
        }
        Ok(Origin {
            scheme,
            host,
            port: port.unwrap_or(default_port),
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// The set of origins one module may reach. Empty means nothing at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    allowed: Vec<Origin>,
}

impl OutboundPolicy {
    /// A policy that grants exactly these origins.
    pub fn allow(origins: impl IntoIterator<Item = Origin>) -> OutboundPolicy {
        OutboundPolicy {
            allowed: origins.into_iter().collect(),
        }
    }

    /// Parses each entry with [`Origin::parse`].
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> anyhow::Result<OutboundPolicy> {
        let allowed = entries
            .iter()
            .map(|entry| Origin::parse(entry.as_ref()))
            .collect::<anyhow::Result<_>>()?;
        Ok(OutboundPolicy { allowed })
    }

    /// Whether a request to `origin` may go out.
    pub fn permits(&self, origin: &Origin) -> bool {
        self.allowed.contains(origin)
    }

    /// The granted origins.
    pub fn origins(&self) -> &[Origin] {
        &self.allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_follow_the_scheme() {
        let policy =
            OutboundPolicy::parse(&["https://Api.Example.com", "http://127.0.0.1:8080"]).unwrap();
        assert!(policy.permits(&Origin::new("https", "api.example.com", Some(443)).unwrap()));
        assert!(policy.permits(&Origin::new("http", "127.0.0.1", Some(8080)).unwrap()));
    }

    #[test]
    fn other_scheme_port_or_host_is_refused() {
        let policy = OutboundPolicy::parse(&["https://api.example.com"]).unwrap();
        assert!(!policy.permits(&Origin::new("http", "api.example.com", None).unwrap()));
        assert!(!policy.permits(&Origin::new("https", "api.example.com", Some(8443)).unwrap()));
        assert!(!policy.permits(&Origin::new("https", "evil.example.com", None).unwrap()));
        assert!(
            !OutboundPolicy::default()
                .permits(&Origin::new("https", "api.example.com", None).unwrap())
        );
    }

    #[test]
    fn entries_with_paths_or_odd_schemes_are_rejected() {
        assert!(Origin::parse("https://api.example.com/v1").is_err());
        assert!(Origin::parse("ftp://api.example.com").is_err());
        assert!(Origin::parse("api.example.com").is_err());
    }
}
