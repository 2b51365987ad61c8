//! The CloudWatch dashboard's body: one row per concern, one widget per Region.
//!
//! A dashboard lives in one Region but each metric widget names the Region it reads, so
//! the primary's dashboard shows every Region. Values known only at deploy time (state
//! machine ARNs, cluster identifiers) are `${Parameter}` placeholders: the template
//! passes the body through `Fn::Sub`.

use serde_json::{json, Value};

use crate::env::{Environment, RegionSettings};
use crate::plan::{cluster_identifier_parameter, state_machine_arn_parameter};

use super::AlarmNames;

/// The grid is 24 units wide; a widget narrower than 6 is unreadable, so a row with more
/// than four Regions wraps.
const GRID_WIDTH: u32 = 24;
const MIN_WIDTH: u32 = 6;
const WIDGET_HEIGHT: u32 = 6;

/// What dbprocess publishes through the Embedded Metric Format (the contract's names).
pub use contract::metrics::{ROWS_ALREADY_PRESENT, ROWS_INSERTED, ROWS_REJECTED};

/// Where the custom metrics live: the namespace and the `Environment` dimension's value.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MetricsTarget {
    pub namespace: String,
    pub environment: String,
    /// postprocess's metric for a file moved to the failed prefix (the alarm's).
    pub files_failed: &'static str,
}

/// The dashboard body as pretty JSON, with `${...}` placeholders for `Fn::Sub`.
pub fn body(environment: &Environment, metrics: &MetricsTarget) -> String {
    let secondaries = &environment.regions.secondary;
    let forwarding: Vec<&RegionSettings> = secondaries
        .iter()
        .filter(|r| r.write_forwarding.enabled)
        .collect();
    let mut layout = Layout::default();

    // Every Region's alarms in one status widget, first: what needs a look now.
    let alarms: Vec<String> = environment
        .all_regions()
        .flat_map(|region| {
            let names = AlarmNames::for_region(environment, &region.region);
            names
                .all()
                .map(|name| alarm_arn(&region.region, name))
                .to_vec()
        })
        .collect();
    layout.row(
        "Alarms (the replication lag alarms exist only where the cluster replicates from the writer)",
        vec![json!({
            "type": "alarm",
            "properties": {
                "title": "Alarms, every Region",
                "alarms": alarms,
                "sortBy": "stateUpdatedTimestamp",
            },
        })],
    );

    layout.row(
        "Replication lag per secondary (AuroraGlobalDBReplicationLag, ms; published only in secondary Regions)",
        secondaries
            .iter()
            .map(|r| replication_lag(r, environment.database.replication_lag_alarm_ms))
            .collect(),
    );
    if !forwarding.is_empty() {
        layout.row(
            "Forwarded writes per secondary (measured on the secondary's reader instances)",
            forwarding
                .iter()
                .flat_map(|r| [forwarding_latency(r), forwarding_throughput(r)])
                .collect(),
        );
    }
    layout.row(
        "State machine executions per Region",
        environment.all_regions().map(executions).collect(),
    );
    layout.row(
        "Rows ingested per second per Region (from dbprocess's embedded metrics)",
        environment
            .all_regions()
            .map(|r| rows_per_second(r, metrics))
            .collect(),
    );

    serde_json::to_string_pretty(&json!({ "widgets": layout.widgets }))
        .expect("JSON values serialise")
}

/// Places rows top to bottom: a heading, then the row's widgets left to right.
#[derive(Default)]
struct Layout {
    widgets: Vec<Value>,
    y: u32,
}

impl Layout {
    fn row(&mut self, heading: &str, widgets: Vec<Value>) {
        self.widgets.push(json!({
            "type": "text",
            "x": 0,
            "y": self.y,
            "width": GRID_WIDTH,
            "height": 1,
            "properties": { "markdown": format!("## {heading}") },
        }));
        self.y += 1;
        let count = widgets.len().max(1) as u32;
        let width = (GRID_WIDTH / count).max(MIN_WIDTH);
        let per_line = GRID_WIDTH / width;
        for (index, widget) in widgets.into_iter().enumerate() {
            let index = index as u32;
            // Position first, so a reader of the rendered body sees the grid at a glance.
            let mut placed = json!({
                "type": widget["type"],
                "x": (index % per_line) * width,
                "y": self.y + (index / per_line) * WIDGET_HEIGHT,
                "width": width,
                "height": WIDGET_HEIGHT,
            });
            placed["properties"] = widget["properties"].clone();
            self.widgets.push(placed);
        }
        self.y += count.div_ceil(per_line) * WIDGET_HEIGHT;
    }
}

/// An alarm's ARN; the account and partition are filled in by `Fn::Sub`.
fn alarm_arn(region: &str, name: &str) -> String {
    format!("arn:${{AWS::Partition}}:cloudwatch:{region}:${{AWS::AccountId}}:alarm:{name}")
}

/// A time series widget reading `region`.
fn metric_widget(title: String, region: &str, properties: Value) -> Value {
    let mut all = json!({
        "title": title,
        "region": region,
        "view": "timeSeries",
        "stacked": false,
    });
    let fields = all.as_object_mut().expect("an object");
    for (key, value) in properties.as_object().expect("properties are an object") {
        fields.insert(key.clone(), value.clone());
    }
    json!({ "type": "metric", "properties": all })
}

fn cluster(region: &RegionSettings) -> String {
    format!("${{{}}}", cluster_identifier_parameter(&region.region))
}

fn replication_lag(region: &RegionSettings, alarm_ms: u32) -> Value {
    metric_widget(
        format!("Replication lag, {} (ms)", region.region),
        &region.region,
        json!({
            "metrics": [[
                "AWS/RDS", "AuroraGlobalDBReplicationLag",
                "DBClusterIdentifier", cluster(region),
                { "label": "maximum" }
            ]],
            "stat": "Maximum",
            "period": 60,
            // The pipeline template's alarm fires above this line.
            "annotations": { "horizontal": [{ "label": "alarm", "value": alarm_ms }] },
            "yAxis": { "left": { "min": 0, "label": "ms", "showUnits": false } },
        }),
    )
}

// Aurora MySQL's reader-side write-forwarding metrics, as AWS documents them in
// "Amazon CloudWatch metrics and Aurora MySQL status variables for write forwarding".
fn forwarding_latency(region: &RegionSettings) -> Value {
    metric_widget(
        format!("Forwarded DML latency, {} (ms)", region.region),
        &region.region,
        json!({
            "metrics": [[
                "AWS/RDS", "ForwardingReplicaDMLLatency",
                "DBClusterIdentifier", cluster(region),
                { "label": "average" }
            ]],
            "stat": "Average",
            "period": 60,
            "yAxis": { "left": { "min": 0, "label": "ms", "showUnits": false } },
        }),
    )
}

fn forwarding_throughput(region: &RegionSettings) -> Value {
    metric_widget(
        format!("Forwarded DML throughput, {}", region.region),
        &region.region,
        json!({
            "metrics": [
                [
                    "AWS/RDS", "ForwardingReplicaDMLThroughput",
                    "DBClusterIdentifier", cluster(region),
                    { "label": "statements/s" }
                ],
                [
                    "AWS/RDS", "ForwardingReplicaOpenSessions",
                    "DBClusterIdentifier", cluster(region),
                    { "label": "open sessions", "yAxis": "right" }
                ]
            ],
            "stat": "Average",
            "period": 60,
            "yAxis": { "left": { "min": 0 }, "right": { "min": 0 } },
        }),
    )
}

fn executions(region: &RegionSettings) -> Value {
    let arn = format!("${{{}}}", state_machine_arn_parameter(&region.region));
    let line = |metric: &str, label: &str| json!(["AWS/States", metric, "StateMachineArn", arn, { "label": label }]);
    metric_widget(
        format!("Executions, {}", region.region),
        &region.region,
        json!({
            "metrics": [
                line("ExecutionsStarted", "started"),
                line("ExecutionsSucceeded", "succeeded"),
                line("ExecutionsFailed", "failed"),
                line("ExecutionsTimedOut", "timed out"),
            ],
            "stat": "Sum",
            "period": 300,
            "yAxis": { "left": { "min": 0 } },
        }),
    )
}

fn rows_per_second(region: &RegionSettings, metrics: &MetricsTarget) -> Value {
    // Each file adds its counts once; the sum over a period divided by the period's
    // seconds is the rate, whatever period the viewer picks.
    let counted = |metric: &str, id: &str| {
        json!([
            metrics.namespace, metric, "Environment", metrics.environment,
            { "id": id, "stat": "Sum", "visible": false }
        ])
    };
    let rate = |id: &str, label: &str| json!([{ "expression": format!("{id}/PERIOD({id})"), "label": label, "id": format!("{id}PerSecond") }]);
    metric_widget(
        format!("Rows per second, {}", region.region),
        &region.region,
        json!({
            "metrics": [
                counted(ROWS_INSERTED, "inserted"),
                counted(ROWS_ALREADY_PRESENT, "present"),
                counted(ROWS_REJECTED, "rejected"),
                rate("inserted", "inserted/s"),
                rate("present", "already present/s"),
                rate("rejected", "rejected/s"),
            ],
            "period": 60,
            "yAxis": { "left": { "min": 0, "label": "rows/s", "showUnits": false } },
        }),
    )
}
