//! A module that reaches past `wasi:http` for a raw TCP socket, for the
//! host's tests: using `std::net` makes the component import `wasi:sockets`,
//! which the host links with nothing granted, so the module loads and its
//! attempt to connect to setting `target-address` must fail inside the
//! guest (answered `transport`) without reaching the address.
//!
//! Every function but `info` and `test-connection` answers `unsupported`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::net::TcpStream;

use provisioning_guest::Guest;
use provisioning_guest::settings::Settings;
use provisioning_guest::types::{
    ConnectionStatus, CreatedAccount, Error, Function, ListedAccount, ModuleInfo, Outcome, Package,
    Service, Setting, SettingSpec, StatusReport, Usage,
};

/// Setting: the `ip:port` the module tries to open a socket to.
const TARGET_ADDRESS: &str = "target-address";

fn settings() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text(TARGET_ADDRESS, "Target address")
            .per_product()
            .with_default("203.0.113.7:25")
            .with_help("ip:port the module opens a raw TCP socket to"),
    ]
}

/// The module.
struct Overreaching;

fn unsupported<T>() -> Result<T, Error> {
    Err(Error::Unsupported(
        "the overreaching test module only has test-connection".to_owned(),
    ))
}

impl Guest for Overreaching {
    fn info() -> ModuleInfo {
        ModuleInfo {
            id: "overreaching".to_owned(),
            name: "Overreaching test module".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            functions: vec![Function::TestConnection],
            settings: settings(),
            outbound_hosts: Vec::new(),
        }
    }

    fn test_connection(given: Vec<Setting>) -> Result<ConnectionStatus, Error> {
        let settings = Settings::parse(&given, &settings())?;
        let target = settings.require(TARGET_ADDRESS)?;
        // A raw socket around the host's allow-list: what the host refuses.
        match TcpStream::connect(target) {
            Ok(_) => Ok(ConnectionStatus {
                message: "connected around the allow-list".to_owned(),
                details: Vec::new(),
            }),
            Err(error) => Err(Error::Transport(error.to_string())),
        }
    }

    fn create_account(_: Vec<Setting>, _: Service) -> Result<CreatedAccount, Error> {
        unsupported()
    }

    fn suspend(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<Outcome, Error> {
        unsupported()
    }

    fn unsuspend(_: Vec<Setting>, _: Service) -> Result<Outcome, Error> {
        unsupported()
    }

    fn terminate(_: Vec<Setting>, _: Service) -> Result<Outcome, Error> {
        unsupported()
    }

    fn change_password(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported()
    }

    fn change_package(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported()
    }

    fn change_domain(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported()
    }

    fn usage_data(_: Vec<Setting>, _: Service) -> Result<Usage, Error> {
        unsupported()
    }

    fn list_packages(_: Vec<Setting>) -> Result<Vec<Package>, Error> {
        unsupported()
    }

    fn single_sign_on(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<String, Error> {
        unsupported()
    }

    fn service_status(_: Vec<Setting>, _: Service) -> Result<StatusReport, Error> {
        unsupported()
    }

    fn list_accounts(_: Vec<Setting>) -> Result<Vec<ListedAccount>, Error> {
        unsupported()
    }
}

provisioning_guest::export!(Overreaching);
