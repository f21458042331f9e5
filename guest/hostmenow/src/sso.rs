//! Single sign-on: only cPanel services have it.

use provisioning_guest::types::Error;
use provisioning_guest::url::Endpoint;
use provisioning_guest::{json, text};
use serde_json::Value;

const WRAPPERS: [&str; 1] = ["data"];

/// The control panel a `GetServerName` answer names.
pub fn server_name(body: &Value) -> Result<String, Error> {
    json::find(body, "server_name", &WRAPPERS)
        .and_then(json::text)
        .ok_or_else(|| {
            Error::BadResponse("GetServerName answered without a server_name".to_owned())
        })
}

/// `Ok` for a cPanel server, `unsupported` naming the panel otherwise.
pub fn require_cpanel(server_name: &str) -> Result<(), Error> {
    if server_name.to_lowercase().contains("cpanel") {
        Ok(())
    } else {
        Err(Error::Unsupported(format!(
            "single sign-on is only available for cPanel services; this one runs on {}",
            text::clean(server_name)
        )))
    }
}

/// The login URL of a `CreateSSOSession` answer: it must be an http(s) URL,
/// since it is handed to a client's browser.
pub fn login_url(body: &Value) -> Result<String, Error> {
    let url = json::find(body, "url", &WRAPPERS)
        .and_then(json::text)
        .ok_or_else(|| Error::BadResponse("CreateSSOSession answered without a url".to_owned()))?;
    Endpoint::parse(&url)
        .map(|_| url)
        // The URL carries a session token: say what is wrong, not what it is.
        .map_err(|why| Error::BadResponse(format!("the single sign-on URL in the answer {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_cpanel_has_sso() {
        let name = server_name(&json!({"status": "success", "server_name": "cPanel"})).unwrap();
        assert!(require_cpanel(&name).is_ok());
        assert_eq!(
            require_cpanel("Plesk"),
            Err(Error::Unsupported(
                "single sign-on is only available for cPanel services; this one runs on Plesk"
                    .into()
            ))
        );
        assert!(server_name(&json!({"status": "success"})).is_err());
    }

    #[test]
    fn login_url_must_be_http() {
        let ok = json!({"url": "https://cpanel.example.com:2083/login/?session=abc"});
        assert_eq!(
            login_url(&ok).unwrap(),
            "https://cpanel.example.com:2083/login/?session=abc"
        );
        assert!(login_url(&json!({"data": {"url": "https://c.example/x"}})).is_ok());
        let bad = login_url(&json!({"url": "javascript:alert(1)//session=abc"}));
        assert!(matches!(bad, Err(Error::BadResponse(m)) if !m.contains("session")));
    }
}
