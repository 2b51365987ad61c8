//! The one place AWS clients are made. `AWS_ENDPOINT_URL` (read by aws-config) points them at
//! a local stand-in such as moto; S3 then needs path-style addressing.

use aws_config::{BehaviorVersion, SdkConfig};

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some()
        || crate::config::var("S3_FORCE_PATH_STYLE").is_some_and(|v| v == "true");
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build(),
    )
}

pub fn rds(config: &SdkConfig) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(config)
}

pub fn secrets(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

/// Clients for an explicit endpoint with static credentials: tests and local tools.
pub fn local_config(endpoint: &str, region: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("test", "test", None, None, "local"),
        ))
        .build()
}
