//! What CloudWatch says about a deployed environment: the replication lag of each
//! secondary, and where the dashboard is in the console.

use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};

use crate::aws::AwsContext;
use crate::env::regions;

/// How far back `deploy status` looks for a lag datapoint. Aurora publishes the metric
/// every minute; older than this, the number would mislead more than help.
const LAG_WINDOW: Duration = Duration::from_secs(600);

/// The latest `AuroraGlobalDBReplicationLag` (the maximum over one minute, in ms) of a
/// cluster, or `None` when CloudWatch has no datapoint in the last ten minutes. The
/// metric exists only in the secondary Regions, so ask the cluster's own Region.
pub async fn latest_replication_lag(
    aws: &AwsContext,
    region: &str,
    cluster_identifier: &str,
) -> anyhow::Result<Option<f64>> {
    let now = SystemTime::now();
    let metric = Metric::builder()
        .namespace("AWS/RDS")
        .metric_name("AuroraGlobalDBReplicationLag")
        .dimensions(
            Dimension::builder()
                .name("DBClusterIdentifier")
                .value(cluster_identifier)
                .build(),
        )
        .build();
    let query = MetricDataQuery::builder()
        .id("lag")
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(60)
                .stat("Maximum")
                .build(),
        )
        .build();
    let response = aws
        .cloudwatch(region)
        .get_metric_data()
        .metric_data_queries(query)
        .start_time((now - LAG_WINDOW).into())
        // A minute ahead, so a datapoint stamped this very second is in the window
        // (CloudWatch accepts an end time in the future).
        .end_time((now + Duration::from_secs(60)).into())
        .scan_by(ScanBy::TimestampDescending)
        .send()
        .await
        .map_err(crate::aws::api_error)
        .with_context(|| {
            format!("reading the replication lag of {cluster_identifier} in {region}")
        })?;
    // The newest datapoint, whatever order the service returned them in.
    let latest = response
        .metric_data_results()
        .iter()
        .flat_map(|result| result.timestamps().iter().zip(result.values()))
        .max_by_key(|(timestamp, _)| (timestamp.secs(), timestamp.subsec_nanos()))
        .map(|(_, value)| *value);
    Ok(latest)
}

/// One of the environment's alarms, as CloudWatch reports it now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlarmState {
    pub region: String,
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// CloudWatch's reason for the state, for an alarm that is not OK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The environment's alarms in `region` (their names start with the environment's
/// prefix; see the pipeline template). An alarm whose condition keeps it out of this
/// Region (the replication lag alarms where the writer is) is simply not there.
pub async fn alarms(
    aws: &AwsContext,
    region: &str,
    names: &[&str],
) -> anyhow::Result<Vec<AlarmState>> {
    let response = aws
        .cloudwatch(region)
        .describe_alarms()
        .set_alarm_names(Some(names.iter().map(|n| n.to_string()).collect()))
        .send()
        .await
        .map_err(crate::aws::api_error)
        .with_context(|| format!("reading the alarms in {region}"))?;
    let mut alarms: Vec<AlarmState> = response
        .metric_alarms()
        .iter()
        .map(|alarm| {
            let state = alarm
                .state_value()
                .map_or("INSUFFICIENT_DATA", |s| s.as_str())
                .to_string();
            AlarmState {
                region: region.to_string(),
                name: alarm.alarm_name().unwrap_or_default().to_string(),
                reason: (state != "OK")
                    .then(|| alarm.state_reason().map(str::to_string))
                    .flatten(),
                state,
            }
        })
        .collect();
    // In the template's order, not CloudWatch's.
    alarms.sort_by_key(|alarm| names.iter().position(|n| *n == alarm.name));
    Ok(alarms)
}

/// The dashboard's address in the CloudWatch console of `region`'s partition.
pub fn dashboard_url(region: &str, dashboard: &str) -> String {
    let host = match regions::partition(region) {
        Some("aws-cn") => format!("{region}.console.amazonaws.cn"),
        Some("aws-us-gov") => "console.amazonaws-us-gov.com".to_string(),
        _ => format!("{region}.console.aws.amazon.com"),
    };
    format!("https://{host}/cloudwatch/home?region={region}#dashboards/dashboard/{dashboard}")
}

#[cfg(test)]
mod tests {
    use super::dashboard_url;

    #[test]
    fn dashboard_urls_follow_the_partition() {
        assert_eq!(
            dashboard_url("us-east-1", "book-reviews-prod"),
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/book-reviews-prod"
        );
        assert_eq!(
            dashboard_url("cn-north-1", "app-env"),
            "https://cn-north-1.console.amazonaws.cn/cloudwatch/home?region=cn-north-1#dashboards/dashboard/app-env"
        );
        assert_eq!(
            dashboard_url("us-gov-west-1", "app-env"),
            "https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#dashboards/dashboard/app-env"
        );
    }
}
