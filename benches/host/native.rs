//! The native baseline: what a billing platform written in Rust would do
//! without the sandbox. A keep-alive hyper client sends the HostMeNow
//! usage-data request byte for byte as the component does (the parity
//! check proves it each run) and reads the answer into typed structs with
//! serde.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

/// The guest's `User-Agent` (`provisioning-guest/<version>`, sent by the
/// support crate when a provider sets none).
const GUEST_USER_AGENT: &str = "provisioning-guest/0.1.0";

/// The guest reads at most this much of an answer; so does the client.
const BODY_LIMIT: usize = 1 << 20;

/// The provider's action for disk and bandwidth usage.
const USAGE_ACTION: &str = "get_Bandwidth_Disk_Usage";

/// A HostMeNow client for one endpoint and key. Cheap to clone: clones
/// share the connection pool.
#[derive(Clone)]
pub struct NativeClient {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: Uri,
    host: HeaderValue,
    api_key: String,
}

/// The envelope of every HostMeNow request. Fields are in the order the
/// guest's `serde_json::json!` object serialises them (sorted by name).
#[derive(Serialize)]
struct Envelope<'a, P> {
    action: &'a str,
    api_key: &'a str,
    params: P,
}

/// The params of usage-data.
#[derive(Serialize)]
struct ServiceParams<'a> {
    serviceid: &'a str,
}

/// The answer to usage-data, as the provider documents it.
#[derive(Deserialize)]
struct UsageAnswer {
    status: String,
    disk_usage: DiskUsage,
    bandwidth_usage: BandwidthUsage,
    last_updated: Option<String>,
}

#[derive(Deserialize)]
struct DiskUsage {
    used_mb: Megabytes,
    limit_mb: Megabytes,
}

#[derive(Deserialize)]
struct BandwidthUsage {
    current_month_mb: Megabytes,
    limit_mb: Megabytes,
}

/// An amount in MB, which the provider writes as a decimal string.
#[derive(Deserialize, Clone, Copy)]
#[serde(try_from = "String")]
struct Megabytes(f64);

impl TryFrom<String> for Megabytes {
    type Error = std::num::ParseFloatError;

    fn try_from(text: String) -> Result<Megabytes, Self::Error> {
        text.trim().parse().map(Megabytes)
    }
}

/// What the client hands its caller: the figures as numbers, a limit of 0
/// read as unlimited (`None`), as the provider means it.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeUsage {
    pub disk_used_mb: f64,
    pub disk_limit_mb: Option<f64>,
    pub bandwidth_used_mb: f64,
    pub bandwidth_limit_mb: Option<f64>,
    pub updated_at: Option<String>,
}

impl NativeClient {
    /// A client for `endpoint` (an absolute `http://` URL) with `api_key`.
    pub fn new(endpoint: &str, api_key: &str) -> anyhow::Result<NativeClient> {
        let endpoint: Uri = endpoint.parse()?;
        let authority = endpoint
            .authority()
            .ok_or_else(|| anyhow::anyhow!("the endpoint has no host"))?;
        let host = HeaderValue::from_str(authority.as_str())?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(NativeClient {
            client,
            endpoint,
            host,
            api_key: api_key.to_owned(),
        })
    }

    /// Reads one service's disk and bandwidth usage.
    pub async fn usage_data(&self, service_id: &str) -> anyhow::Result<NativeUsage> {
        let envelope = Envelope {
            action: USAGE_ACTION,
            api_key: &self.api_key,
            params: ServiceParams {
                serviceid: service_id,
            },
        };
        let answer: UsageAnswer = self.post(&envelope).await?;
        if answer.status.trim() != "success" {
            anyhow::bail!("the provider answered status `{}`", answer.status);
        }
        Ok(NativeUsage {
            disk_used_mb: answer.disk_usage.used_mb.0,
            disk_limit_mb: limit(answer.disk_usage.limit_mb),
            bandwidth_used_mb: answer.bandwidth_usage.current_month_mb.0,
            bandwidth_limit_mb: limit(answer.bandwidth_usage.limit_mb),
            updated_at: answer.last_updated,
        })
    }

    /// POSTs `envelope` as JSON with the guest's headers, in the guest's
    /// order, and decodes a 2xx answer.
    async fn post<T: Serialize, A: for<'de> Deserialize<'de>>(
        &self,
        envelope: &T,
    ) -> anyhow::Result<A> {
        let body = serde_json::to_vec(envelope)?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.clone())
            .header(HOST, self.host.clone())
            .header(USER_AGENT, HeaderValue::from_static(GUEST_USER_AGENT))
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(Bytes::from(body)))?;
        let response = self.client.request(request).await?;
        let status = response.status();
        let body = Limited::new(response.into_body(), BODY_LIMIT)
            .collect()
            .await
            .map_err(|error| anyhow::anyhow!("reading the answer: {error}"))?
            .to_bytes();
        if !status.is_success() {
            anyhow::bail!("the provider answered HTTP {status}");
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

/// A provider limit: 0 means unlimited.
fn limit(megabytes: Megabytes) -> Option<f64> {
    (megabytes.0 != 0.0).then_some(megabytes.0)
}
