//! The one place AWS clients are made: every command asks [`AwsContext`] for a client of a
//! service in a Region, so credentials, retries and the local stand-in's endpoint are
//! decided once.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::env::Environment;

#[derive(Clone, Debug)]
pub struct AwsContext {
    base: SdkConfig,
    /// Set when every call goes to a local stand-in instead of AWS.
    endpoint: Option<String>,
}

impl AwsContext {
    /// Resolves credentials the standard way (environment, profile, SSO, instance role),
    /// or uses fixed test credentials when the environment points at a local stand-in,
    /// so a local run can never touch a real account.
    pub async fn load(environment: &Environment, profile: Option<&str>) -> AwsContext {
        let endpoint = environment.endpoints.as_ref().map(|e| e.aws.clone());
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Throttling (`Rate exceeded`) is retried with backoff by the standard mode.
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(8)
                    .with_max_backoff(Duration::from_secs(20)),
            )
            .region(Region::new(environment.regions.primary.region.clone()));
        if let Some(profile) = profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint).credentials_provider(
                aws_sdk_cloudformation::config::Credentials::new(
                    "test",
                    "test",
                    None,
                    None,
                    "deploy-local-stand-in",
                ),
            );
        }
        AwsContext {
            base: loader.load().await,
            endpoint,
        }
    }

    /// [`AwsContext::load`] for a command: with a local endpoint (`endpoints.aws`), first
    /// checks that something answers there, so a stand-in that is not running reads as
    /// that, not as a connection error from the first API call.
    pub async fn connect(
        environment: &Environment,
        profile: Option<&str>,
    ) -> anyhow::Result<AwsContext> {
        if let Some(endpoints) = &environment.endpoints {
            if !answers(&endpoints.aws) {
                anyhow::bail!(
                    "nothing answers at {} (endpoints.aws): start the local stand-ins with `make local-up`",
                    endpoints.aws
                );
            }
        }
        Ok(AwsContext::load(environment, profile).await)
    }

    /// A context over a given configuration (tests).
    pub fn from_config(base: SdkConfig, endpoint: Option<String>) -> AwsContext {
        AwsContext { base, endpoint }
    }

    pub fn is_local(&self) -> bool {
        self.endpoint.is_some()
    }

    /// How often to poll a stack or a cluster: moto answers at once, AWS takes minutes.
    pub fn poll_interval(&self) -> Duration {
        if self.is_local() {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        }
    }

    /// Whether credentials resolve at all, before anything is called.
    pub async fn check_credentials(&self) -> anyhow::Result<()> {
        use aws_credential_types::provider::ProvideCredentials;
        let provider = self
            .base
            .credentials_provider()
            .ok_or_else(|| anyhow::anyhow!("no AWS credentials provider is configured"))?;
        provider.provide_credentials().await.map_err(|error| {
            anyhow::anyhow!(
                "AWS credentials do not resolve: {error}; set AWS_PROFILE (or pass --profile), run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            )
        })?;
        Ok(())
    }

    fn in_region(&self, region: &str) -> SdkConfig {
        self.base
            .to_builder()
            .region(Region::new(region.to_string()))
            .build()
    }

    pub fn cloudformation(&self, region: &str) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.in_region(region))
    }

    pub fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.in_region(region))
    }

    pub fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.in_region(region))
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.in_region(region))
    }

    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.in_region(region))
    }

    pub fn secrets_manager(&self, region: &str) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.in_region(region))
    }

    pub fn step_functions(&self, region: &str) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.in_region(region))
    }

    pub fn scheduler(&self, region: &str) -> aws_sdk_scheduler::Client {
        aws_sdk_scheduler::Client::new(&self.in_region(region))
    }

    pub fn lambda(&self, region: &str) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.in_region(region))
    }

    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.in_region(region))
            // moto serves buckets by path, not by virtual host.
            .force_path_style(self.is_local())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

/// Whether a TCP connection to the URL's host and port succeeds within two seconds.
fn answers(url: &str) -> bool {
    use std::net::ToSocketAddrs as _;
    let Some(authority) = url
        .split("://")
        .nth(1)
        .map(|rest| rest.split('/').next().unwrap_or(rest))
    else {
        return true; // not a URL we can probe: let the SDK say what is wrong with it
    };
    let with_port = if authority.contains(':') {
        authority.to_string()
    } else if url.starts_with("https") {
        format!("{authority}:443")
    } else {
        format!("{authority}:80")
    };
    let Ok(addresses) = with_port.to_socket_addrs() else {
        return false;
    };
    addresses.into_iter().any(|address| {
        std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_ok()
    })
}

/// An SDK error as one line with its chain of causes (the SDK's own Display says only
/// "service error").
pub fn api_error<E: std::error::Error + Send + Sync + 'static>(error: E) -> anyhow::Error {
    anyhow::anyhow!(aws_smithy_types::error::display::DisplayErrorContext(error))
}
