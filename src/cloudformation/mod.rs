//! The CloudFormation engine: one stack at a time, through change sets.
//!
//! `prepare` creates a change set and reads what it would do (an empty one is "no
//! changes", in both of the forms AWS answers with); `execute` runs it and follows the
//! stack's events until it settles; `delete` removes a stack. Every failure is reduced
//! to its root cause (see [`events::first_failure`]).

pub mod changes;
pub mod events;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter, Tag};
use aws_sdk_cloudformation::Client;

use crate::progress::Progress;
use changes::{ChangeSetSummary, ResourceChange};
use events::StackEvent;

/// Everything needed to create or update one stack.
#[derive(Debug, Clone)]
pub struct StackSpec {
    pub name: String,
    pub region: String,
    pub template_body: String,
    pub parameters: Vec<(String, String)>,
    /// Parameters of the deployed stack that keep their value (`UsePreviousValue`).
    pub previous_parameters: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// Why a stack operation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{stack} ({region}): {resource} ({resource_type}) {status}: {reason}")]
    ResourceFailed {
        stack: String,
        region: String,
        resource: String,
        resource_type: String,
        status: String,
        reason: String,
    },
    #[error("{stack} ({region}) is in {status} after a failed create and cannot be updated; it has to be deleted first")]
    NeedsDeletion {
        stack: String,
        region: String,
        status: String,
    },
    #[error("{stack} ({region}): {operation}: {message}")]
    Api {
        stack: String,
        region: String,
        operation: &'static str,
        message: String,
    },
    #[error("{stack} ({region}): the change set could not be created: {reason}")]
    ChangeSetFailed {
        stack: String,
        region: String,
        reason: String,
    },
}

/// The state of a stack as `DescribeStacks` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct StackDescription {
    pub status: String,
    pub reason: Option<String>,
    pub last_updated: Option<f64>,
    pub outputs: BTreeMap<String, String>,
}

impl StackDescription {
    pub fn is_in_progress(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS") && self.status != "REVIEW_IN_PROGRESS"
    }
}

/// A change set that is ready to execute, or the news that nothing would change.
#[derive(Debug, Clone)]
pub enum Prepared {
    NoChanges,
    ChangeSet {
        id: String,
        kind: ChangeSetKind,
        summary: ChangeSetSummary,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSetKind {
    Create,
    Update,
}

/// One Region's CloudFormation, with the polling pace of the engine.
#[derive(Clone)]
pub struct StackClient {
    client: Client,
    region: String,
    poll: Duration,
    progress: Arc<dyn Progress>,
}

const NO_CHANGES: [&str; 2] = ["No updates are to be performed", "didn't contain changes"];

fn is_no_changes(message: &str) -> bool {
    NO_CHANGES.iter().any(|text| message.contains(text))
}

fn describe_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    error: &aws_sdk_cloudformation::error::SdkError<E>,
) -> String {
    match error.message() {
        Some(message) => format!("{}: {message}", error.code().unwrap_or("error")),
        None => aws_sdk_cloudformation::error::DisplayErrorContext(error).to_string(),
    }
}

impl StackClient {
    pub fn new(client: Client, region: &str, poll: Duration, progress: Arc<dyn Progress>) -> Self {
        StackClient {
            client,
            region: region.to_string(),
            poll,
            progress,
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    fn api(&self, stack: &str, operation: &'static str, message: String) -> StackError {
        StackError::Api {
            stack: stack.to_string(),
            region: self.region.clone(),
            operation,
            message,
        }
    }

    /// The stack's state, or `None` when it does not exist.
    pub async fn describe(&self, name: &str) -> Result<Option<StackDescription>, StackError> {
        let response = match self.client.describe_stacks().stack_name(name).send().await {
            Ok(response) => response,
            Err(error)
                if error
                    .message()
                    .is_some_and(|m| m.contains("does not exist")) =>
            {
                return Ok(None)
            }
            Err(error) => return Err(self.api(name, "DescribeStacks", describe_error(&error))),
        };
        let Some(stack) = response.stacks().first() else {
            return Ok(None);
        };
        let status = stack
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if status == "DELETE_COMPLETE" {
            return Ok(None);
        }
        let outputs = stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect();
        Ok(Some(StackDescription {
            status,
            reason: stack.stack_status_reason().map(str::to_string),
            last_updated: stack
                .last_updated_time()
                .or(stack.creation_time())
                .map(|t| t.as_secs_f64()),
            outputs,
        }))
    }

    /// The deployed stack's template (as it was submitted) and the names of its
    /// parameters, once it has settled; `None` when it does not exist.
    pub async fn deployed(&self, name: &str) -> Result<Option<(String, Vec<String>)>, StackError> {
        if self.wait_until_settled(name).await?.is_none() {
            return Ok(None);
        }
        let template = self
            .client
            .get_template()
            .stack_name(name)
            .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
            .send()
            .await
            .map_err(|e| self.api(name, "GetTemplate", describe_error(&e)))?;
        let described = self
            .client
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| self.api(name, "DescribeStacks", describe_error(&e)))?;
        let parameters = described
            .stacks()
            .first()
            .map(|stack| {
                stack
                    .parameters()
                    .iter()
                    .filter_map(|p| p.parameter_key().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some((
            template.template_body().unwrap_or_default().to_string(),
            parameters,
        )))
    }

    /// Waits while another operation runs on the stack (never start a second one).
    pub async fn wait_until_settled(
        &self,
        name: &str,
    ) -> Result<Option<StackDescription>, StackError> {
        loop {
            let state = self.describe(name).await?;
            match &state {
                Some(description) if description.is_in_progress() => {
                    self.progress
                        .status(name, &self.region, &description.status, None);
                    tokio::time::sleep(self.poll).await;
                }
                _ => return Ok(state),
            }
        }
    }

    /// Creates a change set for `spec` and reads what it would change. A stack stuck in
    /// UPDATE_ROLLBACK_FAILED is rolled back first; one in ROLLBACK_COMPLETE has to be
    /// deleted, which is the caller's decision.
    pub async fn prepare(&self, spec: &StackSpec) -> Result<Prepared, StackError> {
        let mut state = self.wait_until_settled(&spec.name).await?;
        if let Some(description) = &state {
            if description.status == "UPDATE_ROLLBACK_FAILED" {
                self.progress.message(&format!(
                    "{} ({}): UPDATE_ROLLBACK_FAILED; continuing the rollback first",
                    spec.name, self.region
                ));
                self.client
                    .continue_update_rollback()
                    .stack_name(&spec.name)
                    .send()
                    .await
                    .map_err(|e| {
                        self.api(&spec.name, "ContinueUpdateRollback", describe_error(&e))
                    })?;
                tokio::time::sleep(self.poll).await;
                state = self.wait_until_settled(&spec.name).await?;
            }
        }
        let kind = match state.as_ref().map(|s| s.status.as_str()) {
            None | Some("REVIEW_IN_PROGRESS") => ChangeSetKind::Create,
            Some(status @ ("ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "DELETE_FAILED")) => {
                return Err(StackError::NeedsDeletion {
                    stack: spec.name.clone(),
                    region: self.region.clone(),
                    status: status.to_string(),
                });
            }
            Some(_) => ChangeSetKind::Update,
        };

        let parameters = spec
            .parameters
            .iter()
            .map(|(key, value)| {
                Parameter::builder()
                    .parameter_key(key)
                    .parameter_value(value)
                    .build()
            })
            .chain(spec.previous_parameters.iter().map(|key| {
                Parameter::builder()
                    .parameter_key(key)
                    .use_previous_value(true)
                    .build()
            }))
            .collect::<Vec<_>>();
        let tags = spec
            .tags
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect::<Vec<_>>();
        let change_set_name = format!(
            "deploy-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default()
        );
        let created = self
            .client
            .create_change_set()
            .stack_name(&spec.name)
            .change_set_name(&change_set_name)
            .change_set_type(match kind {
                ChangeSetKind::Create => ChangeSetType::Create,
                ChangeSetKind::Update => ChangeSetType::Update,
            })
            .template_body(&spec.template_body)
            .set_parameters(Some(parameters))
            .set_tags(Some(tags))
            .capabilities(Capability::CapabilityIam)
            .send()
            .await;
        let id = match created {
            Ok(output) => output.id().unwrap_or(&change_set_name).to_string(),
            // One of the two ways AWS says "nothing to do".
            Err(error) if error.message().is_some_and(is_no_changes) => {
                return Ok(Prepared::NoChanges)
            }
            Err(error) => {
                return Err(self.api(&spec.name, "CreateChangeSet", describe_error(&error)))
            }
        };

        let changes = loop {
            let (status, reason, changes) = self.read_change_set(&spec.name, &id).await?;
            match status.as_str() {
                "CREATE_COMPLETE" => break changes,
                "FAILED" => {
                    self.discard_change_set(&spec.name, &id).await;
                    // The other way AWS says "nothing to do": a FAILED change set.
                    if is_no_changes(&reason) {
                        return Ok(Prepared::NoChanges);
                    }
                    return Err(StackError::ChangeSetFailed {
                        stack: spec.name.clone(),
                        region: self.region.clone(),
                        reason,
                    });
                }
                _ => tokio::time::sleep(self.poll.min(Duration::from_secs(2))).await,
            }
        };
        Ok(Prepared::ChangeSet {
            id,
            kind,
            summary: ChangeSetSummary {
                stack: spec.name.clone(),
                region: self.region.clone(),
                changes,
            },
        })
    }

    /// A change set's status, its reason, and every change it lists (all pages).
    async fn read_change_set(
        &self,
        stack: &str,
        id: &str,
    ) -> Result<(String, String, Vec<ResourceChange>), StackError> {
        let mut changes = Vec::new();
        let mut next_token = None;
        loop {
            let page = self
                .client
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(id)
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|e| self.api(stack, "DescribeChangeSet", describe_error(&e)))?;
            changes.extend(
                page.changes()
                    .iter()
                    .filter_map(|c| c.resource_change())
                    .map(|rc| ResourceChange {
                        action: rc
                            .action()
                            .map(|a| a.as_str().to_string())
                            .unwrap_or_default(),
                        logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
                        resource_type: rc.resource_type().unwrap_or_default().to_string(),
                        replacement: rc
                            .replacement()
                            .map(|r| r.as_str().to_string())
                            .unwrap_or_default(),
                    }),
            );
            next_token = page.next_token().map(str::to_string);
            if next_token.is_none() {
                let status = page
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                let reason = page.status_reason().unwrap_or_default().to_string();
                return Ok((status, reason, changes));
            }
        }
    }

    /// Deletes a change set that will not be executed (a dry run, or a "no").
    pub async fn discard_change_set(&self, stack: &str, id: &str) {
        let deleted = self
            .client
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(id)
            .send()
            .await;
        if let Err(error) = deleted {
            self.progress.message(&format!(
                "{stack} ({}): could not delete change set {id}: {}",
                self.region,
                describe_error(&error)
            ));
        }
        // A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS; remove it too.
        if let Ok(Some(state)) = self.describe(stack).await {
            if state.status == "REVIEW_IN_PROGRESS" {
                let _ = self.client.delete_stack().stack_name(stack).send().await;
            }
        }
    }

    /// Executes a prepared change set and follows the stack until it settles. Returns
    /// the stack's outputs.
    pub async fn execute(
        &self,
        spec: &StackSpec,
        change_set_id: &str,
        total: usize,
    ) -> Result<BTreeMap<String, String>, StackError> {
        let started =
            aws_smithy_types::DateTime::from(std::time::SystemTime::now()).as_secs_f64() - 1.0;
        self.client
            .execute_change_set()
            .stack_name(&spec.name)
            .change_set_name(change_set_id)
            .send()
            .await
            .map_err(|e| self.api(&spec.name, "ExecuteChangeSet", describe_error(&e)))?;
        let final_state = self.follow(&spec.name, started, total).await?;
        match final_state.status.as_str() {
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" => Ok(final_state.outputs),
            status => Err(self
                .root_cause(&spec.name, started, status, final_state.reason)
                .await),
        }
    }

    /// Deletes the stack and waits until it is gone. A stack that does not exist is
    /// already deleted.
    pub async fn delete(&self, name: &str) -> Result<bool, StackError> {
        if self.wait_until_settled(name).await?.is_none() {
            return Ok(false);
        }
        let started =
            aws_smithy_types::DateTime::from(std::time::SystemTime::now()).as_secs_f64() - 1.0;
        self.client
            .delete_stack()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| self.api(name, "DeleteStack", describe_error(&e)))?;
        let final_state = self.follow(name, started, 0).await;
        match final_state {
            // Gone: describe says it does not exist.
            Err(StackError::Api { ref message, .. }) if message.contains("does not exist") => {
                Ok(true)
            }
            Err(other) => Err(other),
            Ok(state) if state.status == "DELETE_COMPLETE" => Ok(true),
            Ok(state) => Err(self
                .root_cause(name, started, &state.status, state.reason)
                .await),
        }
    }

    /// Polls the stack and its events until no operation runs on it.
    async fn follow(
        &self,
        name: &str,
        since: f64,
        total: usize,
    ) -> Result<StackDescription, StackError> {
        let mut seen = std::collections::HashSet::new();
        let mut done = std::collections::HashSet::new();
        loop {
            for event in self.events_since(name, since).await? {
                if seen.insert(event.id.clone()) {
                    if event.status.ends_with("_COMPLETE")
                        && event.resource_type != "AWS::CloudFormation::Stack"
                    {
                        done.insert(event.logical_id.clone());
                    }
                    self.progress.event(name, &self.region, &event);
                }
            }
            let state = match self.describe(name).await? {
                Some(state) => state,
                None => {
                    return Ok(StackDescription {
                        status: "DELETE_COMPLETE".into(),
                        reason: None,
                        last_updated: None,
                        outputs: BTreeMap::new(),
                    })
                }
            };
            // moto (and some AWS operations) report no per-resource events; a stack that
            // finished well has done everything it set out to.
            let finished = matches!(state.status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE");
            let done_count = if finished {
                total
            } else {
                done.len().min(total)
            };
            let counts = (total > 0).then_some((done_count, total));
            self.progress
                .status(name, &self.region, &state.status, counts);
            if !state.is_in_progress() {
                return Ok(state);
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// The stack's events newer than `since`, oldest first.
    pub async fn events_since(
        &self,
        name: &str,
        since: f64,
    ) -> Result<Vec<StackEvent>, StackError> {
        let mut events = Vec::new();
        let mut next_token = None;
        'pages: loop {
            let page = match self
                .client
                .describe_stack_events()
                .stack_name(name)
                .set_next_token(next_token)
                .send()
                .await
            {
                Ok(page) => page,
                Err(error)
                    if error
                        .message()
                        .is_some_and(|m| m.contains("does not exist")) =>
                {
                    break
                }
                Err(error) => {
                    return Err(self.api(name, "DescribeStackEvents", describe_error(&error)))
                }
            };
            // Newest first: stop at the first event older than the operation.
            for event in page.stack_events() {
                let timestamp = event
                    .timestamp()
                    .map(|t| t.as_secs_f64())
                    .unwrap_or_default();
                if timestamp < since {
                    break 'pages;
                }
                events.push(StackEvent {
                    id: event.event_id().unwrap_or_default().to_string(),
                    timestamp,
                    logical_id: event.logical_resource_id().unwrap_or_default().to_string(),
                    resource_type: event.resource_type().unwrap_or_default().to_string(),
                    status: event
                        .resource_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    reason: event
                        .resource_status_reason()
                        .unwrap_or_default()
                        .to_string(),
                });
            }
            next_token = page.next_token().map(str::to_string);
            if next_token.is_none() {
                break;
            }
        }
        events.reverse();
        Ok(events)
    }

    /// The first real failure of the operation that started at `since`.
    async fn root_cause(
        &self,
        name: &str,
        since: f64,
        status: &str,
        stack_reason: Option<String>,
    ) -> StackError {
        let events = self.events_since(name, since).await.unwrap_or_default();
        match events::first_failure(&events) {
            Some(event) => StackError::ResourceFailed {
                stack: name.to_string(),
                region: self.region.clone(),
                resource: event.logical_id.clone(),
                resource_type: event.resource_type.clone(),
                status: event.status.clone(),
                reason: event.reason.clone(),
            },
            None => StackError::ResourceFailed {
                stack: name.to_string(),
                region: self.region.clone(),
                resource: name.to_string(),
                resource_type: "AWS::CloudFormation::Stack".into(),
                status: status.to_string(),
                reason: stack_reason.unwrap_or_else(|| "no reason given".into()),
            },
        }
    }
}
