//! One usage-data call, made either through a host's component or by the
//! native client, so that every measurement times both sides with the same
//! code around them.

use std::sync::Arc;

use provisioning_host::{Host, Response};

use crate::fixture::{MODULE, usage_request};
use crate::native::NativeClient;

/// Who makes the call.
#[derive(Clone)]
pub enum Caller {
    /// The HostMeNow component, through [`Host::call`].
    Component(Arc<Host>),
    /// The native client (boxed behind an `Arc` like the host, so that
    /// handing a caller to a task costs both sides the same).
    Native(Arc<NativeClient>),
}

impl Caller {
    /// The native client as a caller.
    pub fn native(client: &NativeClient) -> Caller {
        Caller::Native(Arc::new(client.clone()))
    }

    /// Reads one service's usage. The error says who failed and why; a
    /// benchmark of failing calls measures nothing.
    pub async fn usage_data(&self, service_id: &str) -> Result<(), String> {
        match self {
            Caller::Component(host) => match host.call(MODULE, &usage_request(service_id)).await {
                Ok(Response::Usage(_)) => Ok(()),
                Ok(other) => Err(format!("the component answered {other:?}")),
                Err(error) => Err(format!("the component failed ({}): {error}", error.kind())),
            },
            Caller::Native(client) => client
                .usage_data(service_id)
                .await
                .map(drop)
                .map_err(|error| format!("the native client failed: {error:#}")),
        }
    }

    /// Same, for the timed loops: a failure ends the run with its reason.
    pub async fn expect_usage_data(&self, service_id: &str) {
        if let Err(why) = self.usage_data(service_id).await {
            panic!("usage-data for {service_id}: {why}");
        }
    }
}
