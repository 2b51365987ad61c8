//! Runs the plan's waves: resolves each stack's parameters from what is known by then
//! (earlier stacks' outputs, discovered subnets and route tables, the functions' zip
//! keys), prepares every stack of a wave at once, asks once per wave, executes them
//! concurrently, and stops at the first wave that fails.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use serde::Serialize;

use crate::aws::AwsContext;
use crate::cloudformation::changes::ChangeSetSummary;
use crate::cloudformation::{ChangeSetKind, Prepared, StackClient, StackError, StackSpec};
use crate::plan::{Discovery, Function, ParameterSource, PlannedStack, Wave};
use crate::progress::Progress;
use crate::prompt::Confirm;
use crate::render::Rendered;

/// What is known when a stack's parameters are resolved.
#[derive(Debug, Default, Clone)]
pub struct Known {
    /// Outputs of stacks deployed (or found unchanged) so far, by stack name.
    pub outputs: HashMap<String, BTreeMap<String, String>>,
    /// Discovered values per Region.
    pub discovered: HashMap<(String, Discovery), Vec<String>>,
    /// S3 keys of the functions' zips.
    pub code_keys: HashMap<Function, String>,
    /// The Region whose cluster takes writes now (the live topology's writer, else the
    /// file's primary).
    pub writer_region: Option<String>,
}

impl Known {
    /// The stack's parameters, or the first one that cannot be known yet.
    pub fn parameters(&self, stack: &PlannedStack) -> Result<Vec<(String, String)>, String> {
        stack
            .parameters
            .iter()
            .map(|parameter| {
                let value = match &parameter.source {
                    ParameterSource::StackOutput {
                        stack: from,
                        output,
                    } => self
                        .outputs
                        .get(from)
                        .and_then(|outputs| outputs.get(output))
                        .cloned()
                        .ok_or_else(|| format!("output {output} of {from} is not known"))?,
                    ParameterSource::LambdaCode(function) => self
                        .code_keys
                        .get(function)
                        .cloned()
                        .ok_or_else(|| format!("the zip of {function} is not uploaded"))?,
                    ParameterSource::Discover(what) => self
                        .discovered
                        .get(&(stack.region.clone(), *what))
                        .map(|values| values.join(","))
                        .ok_or_else(|| {
                            format!("{what:?} of {} were not discovered", stack.region)
                        })?,
                    ParameterSource::Value(serde_json::Value::Array(items)) => items
                        .iter()
                        .map(|item| {
                            item.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| item.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    ParameterSource::Value(serde_json::Value::String(text)) => text.clone(),
                    ParameterSource::Value(other) => other.to_string(),
                    ParameterSource::WriterRegion => self
                        .writer_region
                        .clone()
                        .ok_or_else(|| "the writer's Region is not known".to_string())?,
                };
                Ok((parameter.name.clone(), value))
            })
            .collect()
    }
}

/// What happened to one stack.
#[derive(Debug, Clone, Serialize)]
pub struct StackOutcome {
    pub stack: String,
    pub region: String,
    pub wave: u8,
    /// `created`, `updated`, `no changes`, `would change` (dry run), `declined`, `failed`.
    pub result: String,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeSetSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct RunOptions {
    pub dry_run: bool,
    pub poll: Duration,
}

/// The waves' runner.
pub struct WaveRunner<'a> {
    pub aws: &'a AwsContext,
    pub rendered: &'a Rendered,
    pub progress: Arc<dyn Progress>,
    pub confirm: &'a dyn Confirm,
    pub options: RunOptions,
}

/// A wave that did not finish, and why.
#[derive(Debug, thiserror::Error)]
pub enum WaveError {
    #[error("{0}")]
    Stack(#[from] StackError),
    #[error("the changes were not approved; nothing was executed")]
    Declined,
    #[error("{0}")]
    Other(#[from] anyhow::Error),
}

impl WaveRunner<'_> {
    fn client(&self, region: &str) -> StackClient {
        StackClient::new(
            self.aws.cloudformation(region),
            region,
            self.options.poll,
            self.progress.clone(),
        )
    }

    fn spec(&self, stack: &PlannedStack, known: &Known) -> Result<StackSpec, String> {
        let template = self
            .rendered
            .templates
            .iter()
            .find(|t| t.stack == stack.name)
            .expect("every planned stack is rendered");
        Ok(StackSpec {
            name: stack.name.clone(),
            region: stack.region.clone(),
            template_body: template.body.clone(),
            parameters: known.parameters(stack)?,
            previous_parameters: Vec::new(),
            tags: stack.tags.clone(),
        })
    }

    /// Deploys one wave. Outputs of its stacks are added to `known`. Returns each stack's
    /// outcome, and the first failure if any stack failed (the others still finish: a
    /// CloudFormation operation cannot be taken back half-way).
    pub async fn run_wave(
        &self,
        wave: &Wave,
        known: &mut Known,
        outcomes: &mut Vec<StackOutcome>,
    ) -> Result<(), WaveError> {
        let started = Instant::now();
        // 1. Prepare every stack of the wave at once.
        let mut preparing = tokio::task::JoinSet::new();
        for stack in &wave.stacks {
            let client = self.client(&stack.region);
            let spec = match self.spec(stack, known) {
                Ok(spec) => spec,
                Err(missing) if self.options.dry_run => {
                    outcomes.push(StackOutcome {
                        stack: stack.name.clone(),
                        region: stack.region.clone(),
                        wave: wave.number,
                        result: "would change".into(),
                        seconds: 0.0,
                        changes: None,
                        error: Some(format!(
                            "cannot be previewed until earlier stacks exist ({missing})"
                        )),
                    });
                    continue;
                }
                Err(missing) => return Err(anyhow!("{}: {missing}", stack.name).into()),
            };
            preparing.spawn(async move {
                let prepared = client.prepare(&spec).await;
                (spec, client, prepared)
            });
        }
        let mut prepared = Vec::new();
        let mut first_error = None;
        while let Some(joined) = preparing.join_next().await {
            let (spec, client, mut result) = joined.map_err(|e| anyhow!("a task panicked: {e}"))?;
            // A stack whose creation failed and rolled back holds nothing and cannot be
            // updated: offer to delete it and create it again.
            if let Err(StackError::NeedsDeletion { status, .. }) = &result {
                let question = format!(
                    "{} ({}) is in {status} after a failed create and holds nothing; delete it and create it again?",
                    spec.name, spec.region
                );
                if !self.options.dry_run && self.confirm.confirm(&question) {
                    self.progress.message(&format!(
                        "{} ({}): deleting it first",
                        spec.name, spec.region
                    ));
                    result = match client.delete(&spec.name).await {
                        Ok(_) => client.prepare(&spec).await,
                        Err(error) => Err(error),
                    };
                }
            }
            match result {
                Ok(change) => prepared.push((spec, client, change)),
                Err(error) => {
                    outcomes.push(failed(&spec, wave.number, started, &error));
                    first_error.get_or_insert(error);
                }
            }
        }
        prepared.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        if let Some(error) = first_error {
            for (spec, client, change) in &prepared {
                if let Prepared::ChangeSet { id, .. } = change {
                    client.discard_change_set(&spec.name, id).await;
                }
            }
            return Err(error.into());
        }

        // 2. Show what will change, and ask once for the wave.
        let mut to_execute = Vec::new();
        for (spec, client, change) in prepared {
            match change {
                Prepared::NoChanges => {
                    self.progress
                        .message(&format!("{} ({}): no changes", spec.name, spec.region));
                    let outputs = client
                        .describe(&spec.name)
                        .await?
                        .map(|d| d.outputs)
                        .unwrap_or_default();
                    known.outputs.insert(spec.name.clone(), outputs);
                    outcomes.push(StackOutcome {
                        stack: spec.name.clone(),
                        region: spec.region.clone(),
                        wave: wave.number,
                        result: "no changes".into(),
                        seconds: started.elapsed().as_secs_f64(),
                        changes: None,
                        error: None,
                    });
                }
                Prepared::ChangeSet { id, kind, summary } => {
                    self.progress.message(summary.to_string().trim_end());
                    to_execute.push((spec, client, id, kind, summary));
                }
            }
        }
        if to_execute.is_empty() {
            return Ok(());
        }
        if self.options.dry_run {
            for (spec, client, id, _, summary) in to_execute {
                client.discard_change_set(&spec.name, &id).await;
                outcomes.push(StackOutcome {
                    stack: spec.name.clone(),
                    region: spec.region.clone(),
                    wave: wave.number,
                    result: "would change".into(),
                    seconds: 0.0,
                    changes: Some(summary),
                    error: None,
                });
            }
            return Ok(());
        }
        let risky = to_execute
            .iter()
            .any(|(.., summary)| summary.destroys_data());
        let question = if risky {
            format!(
                "Wave {}: some changes DELETE OR REPLACE DATABASE RESOURCES. Deploy them?",
                wave.number
            )
        } else {
            format!(
                "Wave {} ({}): deploy these changes?",
                wave.number, wave.description
            )
        };
        if !self.confirm.confirm(&question) {
            for (spec, client, id, ..) in &to_execute {
                client.discard_change_set(&spec.name, id).await;
            }
            return Err(WaveError::Declined);
        }

        // 3. Execute them concurrently and follow them.
        let mut running = tokio::task::JoinSet::new();
        for (spec, client, id, kind, summary) in to_execute {
            running.spawn(async move {
                let stack_started = Instant::now();
                let result = client.execute(&spec, &id, summary.changes.len()).await;
                (spec, kind, summary, stack_started.elapsed(), result)
            });
        }
        let mut first_error = None;
        while let Some(joined) = running.join_next().await {
            let (spec, kind, summary, elapsed, result) =
                joined.map_err(|e| anyhow!("a task panicked: {e}"))?;
            // The change set's type, not its actions: an update that only adds resources
            // (an alarm whose condition turned true) is still an update.
            let created = matches!(kind, ChangeSetKind::Create);
            match result {
                Ok(outputs) => {
                    known.outputs.insert(spec.name.clone(), outputs);
                    outcomes.push(StackOutcome {
                        stack: spec.name.clone(),
                        region: spec.region.clone(),
                        wave: wave.number,
                        result: if created { "created" } else { "updated" }.into(),
                        seconds: elapsed.as_secs_f64(),
                        changes: Some(summary),
                        error: None,
                    });
                }
                Err(error) => {
                    let mut outcome = failed(&spec, wave.number, started, &error);
                    outcome.seconds = elapsed.as_secs_f64();
                    outcomes.push(outcome);
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }

    /// Reads the outputs of stacks that exist already (for a dry run of later waves).
    pub async fn read_outputs(
        &self,
        stack: &PlannedStack,
        known: &mut Known,
    ) -> anyhow::Result<()> {
        let client = self.client(&stack.region);
        if let Some(description) = client
            .describe(&stack.name)
            .await
            .context("reading outputs")?
        {
            known
                .outputs
                .insert(stack.name.clone(), description.outputs);
        }
        Ok(())
    }
}

fn failed(spec: &StackSpec, wave: u8, started: Instant, error: &StackError) -> StackOutcome {
    StackOutcome {
        stack: spec.name.clone(),
        region: spec.region.clone(),
        wave,
        result: "failed".into(),
        seconds: started.elapsed().as_secs_f64(),
        changes: None,
        error: Some(error.to_string()),
    }
}
