//! The CloudFormation engine against behaviours moto does not reproduce, with responses
//! shaped like AWS's documented ones (aws-smithy-mocks, the SDK's own mocking crate):
//! the FAILED change set that says nothing changed, the "No updates" error, per-resource
//! failure events with the "cancelled" cascade, ROLLBACK_COMPLETE, UPDATE_ROLLBACK_FAILED,
//! and throttling. The end-to-end tests against moto complement these.
#![cfg(feature = "aws")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudformation::operation::continue_update_rollback::ContinueUpdateRollbackOutput;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, Replacement, ResourceChange, ResourceStatus, Stack,
    StackEvent, StackStatus,
};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::DateTime;
use deploy::cloudformation::events::StackEvent as Event;
use deploy::cloudformation::{Prepared, StackClient, StackError, StackSpec};
use deploy::progress::Progress;

/// Records what the engine reports, so tests can check it too.
#[derive(Default)]
struct Recorder {
    lines: Mutex<Vec<String>>,
}

impl Progress for Recorder {
    fn status(&self, stack: &str, _: &str, status: &str, _: Option<(usize, usize)>) {
        self.lines.lock().unwrap().push(format!("{stack} {status}"));
    }
    fn event(&self, _: &str, _: &str, event: &Event) {
        self.lines
            .lock()
            .unwrap()
            .push(format!("{} {}", event.logical_id, event.status));
    }
    fn message(&self, text: &str) {
        self.lines.lock().unwrap().push(text.to_string());
    }
}

const STACK: &str = "shop-prod-database-us-east-2";

fn spec() -> StackSpec {
    StackSpec {
        name: STACK.into(),
        region: "us-east-2".into(),
        template_body: "Resources: {}".into(),
        parameters: vec![("DbSubnetGroupName".into(), "group".into())],
        previous_parameters: Vec::new(),
        tags: BTreeMap::from([("deploy:environment".into(), "prod".into())]),
    }
}

fn engine(rules: &[&Rule]) -> (StackClient, Arc<Recorder>) {
    let client: Client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        rules,
        |config| {
            config.retry_config(
                aws_sdk_cloudformation::config::retry::RetryConfig::standard()
                    .with_max_attempts(4)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
        }
    );
    let recorder = Arc::new(Recorder::default());
    (
        StackClient::new(
            client,
            "us-east-2",
            Duration::from_millis(1),
            recorder.clone(),
        ),
        recorder,
    )
}

fn stack(status: StackStatus) -> DescribeStacksOutput {
    DescribeStacksOutput::builder()
        .stacks(
            Stack::builder()
                .stack_name(STACK)
                .stack_status(status)
                .creation_time(DateTime::from_secs(1_700_000_000))
                .build(),
        )
        .build()
}

/// An error response as CloudFormation's query protocol sends it.
fn aws_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(
            "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
             <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>5ccc7dcd-744c-11e5-be70-example</RequestId></ErrorResponse>"
        )),
    )
}

fn event(seconds: i64, id: &str, kind: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    StackEvent::builder()
        .stack_id("arn:aws:cloudformation:us-east-2:123456789012:stack/x/1")
        .stack_name(STACK)
        .event_id(format!("{id}-{seconds}"))
        .logical_resource_id(id)
        .resource_type(kind)
        .resource_status(status)
        .resource_status_reason(reason)
        .timestamp(DateTime::from_secs(seconds))
        .build()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn a_failed_change_set_that_contains_no_changes_means_no_changes() {
    let describe =
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateComplete));
    let create = mock!(Client::create_change_set)
        .then_output(|| CreateChangeSetOutput::builder().id("cs-1").build());
    let change_set = mock!(Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::Failed)
            .status_reason("The submitted information didn't contain changes. Submit different information to create a change set.")
            .build()
    });
    let delete =
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
    let (engine, _) = engine(&[&describe, &create, &change_set, &delete]);

    let prepared = engine.prepare(&spec()).await.unwrap();
    assert!(matches!(prepared, Prepared::NoChanges), "{prepared:?}");
    assert_eq!(delete.num_calls(), 1, "the empty change set is deleted");
}

#[tokio::test]
async fn no_updates_are_to_be_performed_means_no_changes() {
    let describe =
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::CreateComplete));
    let create = mock!(Client::create_change_set).then_http_response(|| {
        aws_error(400, "ValidationError", "No updates are to be performed.")
    });
    let (engine, _) = engine(&[&describe, &create]);

    let prepared = engine.prepare(&spec()).await.unwrap();
    assert!(matches!(prepared, Prepared::NoChanges), "{prepared:?}");
}

#[tokio::test]
async fn a_change_set_lists_its_changes_and_flags_a_replaced_cluster() {
    let describe =
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateComplete));
    let create = mock!(Client::create_change_set)
        .then_output(|| CreateChangeSetOutput::builder().id("cs-2").build());
    let change_set = mock!(Client::describe_change_set)
        .sequence()
        .output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateInProgress)
                .build()
        })
        .output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .changes(
                    Change::builder()
                        .resource_change(
                            ResourceChange::builder()
                                .action(ChangeAction::Modify)
                                .logical_resource_id("Cluster")
                                .resource_type("AWS::RDS::DBCluster")
                                .replacement(Replacement::True)
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
        .build();
    let (engine, _) = engine(&[&describe, &create, &change_set]);

    let Prepared::ChangeSet { id, summary, .. } = engine.prepare(&spec()).await.unwrap() else {
        panic!("expected a change set");
    };
    assert_eq!(id, "cs-2");
    assert!(summary.destroys_data());
    assert!(summary.to_string().contains("!! DATA AT RISK"), "{summary}");
}

#[tokio::test]
async fn a_failed_update_names_the_first_real_failure_not_the_cancelled_cascade() {
    let start = now();
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::UpdateInProgress))
        .output(|| stack(StackStatus::UpdateRollbackInProgress))
        .output(|| stack(StackStatus::UpdateRollbackComplete))
        .repeatedly()
        .build();
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let events = mock!(Client::describe_stack_events).then_output(move || {
        // Newest first, as AWS lists them.
        DescribeStackEventsOutput::builder()
            .stack_events(event(start + 9, STACK, "AWS::CloudFormation::Stack", ResourceStatus::UpdateRollbackComplete, ""))
            .stack_events(event(start + 7, "Function", "AWS::Lambda::Function", ResourceStatus::UpdateFailed, "Resource update cancelled"))
            .stack_events(event(start + 6, "Cluster", "AWS::RDS::DBCluster", ResourceStatus::UpdateFailed,
                "Cannot specify password for cross region replication cluster (Service: Rds, Status Code: 400)"))
            .stack_events(event(start + 2, "Cluster", "AWS::RDS::DBCluster", ResourceStatus::UpdateInProgress, ""))
            .stack_events(event(start - 3600, "Old", "AWS::KMS::Key", ResourceStatus::CreateFailed, "an older operation"))
            .build()
    });
    let (engine, recorder) = engine(&[&describe, &execute, &events]);

    let error = engine.execute(&spec(), "cs-3", 2).await.unwrap_err();
    match &error {
        StackError::ResourceFailed {
            resource,
            resource_type,
            reason,
            ..
        } => {
            assert_eq!(resource, "Cluster");
            assert_eq!(resource_type, "AWS::RDS::DBCluster");
            assert!(reason.starts_with("Cannot specify password"), "{reason}");
        }
        other => panic!("expected a resource failure, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "shop-prod-database-us-east-2 (us-east-2): Cluster (AWS::RDS::DBCluster) UPDATE_FAILED: Cannot specify password for cross region replication cluster (Service: Rds, Status Code: 400)"
    );
    let lines = recorder.lines.lock().unwrap();
    assert!(
        !lines.iter().any(|l| l.starts_with("Old ")),
        "events of older operations are not shown: {lines:?}"
    );
}

#[tokio::test]
async fn a_stack_in_rollback_complete_must_be_deleted_first() {
    let describe =
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::RollbackComplete));
    let create =
        mock!(Client::create_change_set).then_output(|| CreateChangeSetOutput::builder().build());
    let (engine, _) = engine(&[&describe, &create]);

    let error = engine.prepare(&spec()).await.unwrap_err();
    assert!(
        matches!(error, StackError::NeedsDeletion { ref status, .. } if status == "ROLLBACK_COMPLETE")
    );
    assert_eq!(create.num_calls(), 0, "no change set is attempted");
}

#[tokio::test]
async fn update_rollback_failed_is_continued_before_updating() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::UpdateRollbackFailed))
        .output(|| stack(StackStatus::UpdateRollbackInProgress))
        .output(|| stack(StackStatus::UpdateRollbackComplete))
        .repeatedly()
        .build();
    let continue_rollback = mock!(Client::continue_update_rollback)
        .then_output(|| ContinueUpdateRollbackOutput::builder().build());
    let create = mock!(Client::create_change_set).then_http_response(|| {
        aws_error(400, "ValidationError", "No updates are to be performed.")
    });
    let (engine, recorder) = engine(&[&describe, &continue_rollback, &create]);

    let prepared = engine.prepare(&spec()).await.unwrap();
    assert!(matches!(prepared, Prepared::NoChanges));
    assert_eq!(continue_rollback.num_calls(), 1);
    assert!(recorder
        .lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("continuing the rollback")));
}

#[tokio::test]
async fn an_operation_in_progress_is_waited_for_never_doubled() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::UpdateInProgress))
        .times(3)
        .output(|| stack(StackStatus::UpdateComplete))
        .repeatedly()
        .build();
    let create = mock!(Client::create_change_set).then_http_response(|| {
        aws_error(400, "ValidationError", "No updates are to be performed.")
    });
    let (engine, _) = engine(&[&describe, &create]);

    engine.prepare(&spec()).await.unwrap();
    assert_eq!(create.num_calls(), 1);
    assert!(
        describe.num_calls() >= 4,
        "it polled until the stack settled"
    );
}

#[tokio::test]
async fn throttling_is_retried_with_backoff() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .http_response(|| aws_error(400, "Throttling", "Rate exceeded"))
        .times(2)
        .output(|| stack(StackStatus::CreateComplete))
        .build();
    let (engine, _) = engine(&[&describe]);

    let state = engine.describe(STACK).await.unwrap().unwrap();
    assert_eq!(state.status, "CREATE_COMPLETE");
    assert_eq!(describe.num_calls(), 3);
}

#[tokio::test]
async fn a_missing_stack_is_not_an_error() {
    let describe = mock!(Client::describe_stacks).then_http_response(|| {
        aws_error(
            400,
            "ValidationError",
            &format!("Stack with id {STACK} does not exist"),
        )
    });
    let (engine, _) = engine(&[&describe]);
    assert_eq!(engine.describe(STACK).await.unwrap(), None);
}
