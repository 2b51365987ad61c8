//! Rendering CloudFormation templates from a validated environment.
//!
//! [`render`] takes the [`Environment`], asks [`StackPlan`] which stacks exist, and renders
//! one template per stack from the minijinja sources under `templates/` (embedded in the
//! binary, so an installed `deploy` renders anywhere). Rendering is pure: no credentials,
//! no network, and the same environment always gives the same bytes.
//!
//! Every value from the environment reaches a template through the `tojson` filter (and
//! JSON auto-escaping catches any that a template forgets), so no value can change the
//! YAML's structure.

mod context;
pub use context::AlarmNames;
pub mod dashboard;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use minijinja::{AutoEscape, UndefinedBehavior};

use crate::env::Environment;
use crate::plan::{Part, PlannedStack, StackPlan};
use context::Context;

/// The template sources, embedded at build time.
const SOURCES: &[(&str, &str)] = &[
    (
        "macros.yaml.j2",
        include_str!("../../templates/macros.yaml.j2"),
    ),
    (
        "assets.yaml.j2",
        include_str!("../../templates/assets.yaml.j2"),
    ),
    (
        "network.yaml.j2",
        include_str!("../../templates/network.yaml.j2"),
    ),
    (
        "database-primary.yaml.j2",
        include_str!("../../templates/database-primary.yaml.j2"),
    ),
    (
        "database-secondary.yaml.j2",
        include_str!("../../templates/database-secondary.yaml.j2"),
    ),
    (
        "pipeline.yaml.j2",
        include_str!("../../templates/pipeline.yaml.j2"),
    ),
    (
        "monitoring.yaml.j2",
        include_str!("../../templates/monitoring.yaml.j2"),
    ),
    (
        "statemachine.asl.json",
        include_str!("../../templates/statemachine.asl.json"),
    ),
];

/// Every stack's template and the plan that orders them.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub plan: StackPlan,
    /// In the plan's order.
    pub templates: Vec<RenderedTemplate>,
}

/// One stack's CloudFormation template.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedTemplate {
    /// The stack's name.
    pub stack: String,
    pub part: Part,
    pub region: String,
    pub wave: u8,
    /// Relative to the output directory, as in the plan: `<region>/<part>.yaml`.
    pub path: String,
    /// The template's YAML.
    pub body: String,
    /// How many resources the template declares.
    pub resource_count: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A bug in a template; `{:#}` shows where.
    #[error("internal error: cannot render {template} for {stack}: {error:#}")]
    Template {
        template: &'static str,
        stack: String,
        error: minijinja::Error,
    },
    /// A bug in a template: the output must be YAML, with parameters matching the plan.
    #[error("internal error: the template rendered for {stack} is wrong: {problem}")]
    Invalid { stack: String, problem: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Renders every stack of the environment.
pub fn render(environment: &Environment) -> Result<Rendered, RenderError> {
    let plan = StackPlan::for_environment(environment);
    let mut templates = Vec::new();
    for (wave, stack) in plan.stacks() {
        let body = render_stack(environment, stack)?;
        let resource_count = check(stack, &body)?;
        templates.push(RenderedTemplate {
            stack: stack.name.clone(),
            part: stack.part,
            region: stack.region.clone(),
            wave: wave.number,
            path: stack.template.clone(),
            body,
            resource_count,
        });
    }
    Ok(Rendered { plan, templates })
}

/// Renders one planned stack's template.
pub fn render_stack(
    environment: &Environment,
    stack: &PlannedStack,
) -> Result<String, RenderError> {
    let context = Context::new(environment, stack);
    let template = match (stack.part, context.is_primary) {
        (Part::Assets, _) => "assets.yaml.j2",
        (Part::Network, _) => "network.yaml.j2",
        (Part::Database, true) => "database-primary.yaml.j2",
        (Part::Database, false) => "database-secondary.yaml.j2",
        (Part::Pipeline, _) => "pipeline.yaml.j2",
        (Part::Monitoring, _) => "monitoring.yaml.j2",
    };
    let failed = |error| RenderError::Template {
        template,
        stack: stack.name.clone(),
        error,
    };
    let templates = templates();

    let mut values =
        to_template_value(serde_json::to_value(&context).expect("the template context serialises"));
    if stack.part == Part::Pipeline {
        let definition = state_machine_definition(templates, &values).map_err(|error| {
            RenderError::Template {
                template: "statemachine.asl.json",
                stack: stack.name.clone(),
                error,
            }
        })?;
        values = minijinja::context! { state_machine_definition => definition, ..values };
    }
    if stack.part == Part::Monitoring {
        let body = dashboard::body(environment, &context.metrics);
        values = minijinja::context! { dashboard_body => body, ..values };
    }
    templates
        .get_template(template)
        .and_then(|t| t.render(values))
        .map_err(failed)
}

/// The state machine's ASL, rendered and then pretty-printed by serde_json, so the text
/// embedded in the template is valid JSON with one consistent layout.
fn state_machine_definition(
    templates: &minijinja::Environment<'static>,
    values: &minijinja::Value,
) -> Result<String, minijinja::Error> {
    let text = templates
        .get_template("statemachine.asl.json")?
        .render(values)?;
    let parsed: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("the state machine definition is not JSON: {error}"),
        )
    })?;
    Ok(serde_json::to_string_pretty(&parsed).expect("JSON values serialise"))
}

/// The context as minijinja sees it. (minijinja's own serde bridge is behind a feature
/// this crate does not turn on; the context is plain data, so JSON carries it whole.)
fn to_template_value(value: serde_json::Value) -> minijinja::Value {
    use minijinja::Value;
    match value {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            (None, None) => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::from(s),
        serde_json::Value::Array(items) => {
            Value::from(items.into_iter().map(to_template_value).collect::<Vec<_>>())
        }
        serde_json::Value::Object(fields) => Value::from(
            fields
                .into_iter()
                .map(|(key, value)| (key, to_template_value(value)))
                .collect::<std::collections::BTreeMap<String, Value>>(),
        ),
    }
}

/// The template environment, built once per process.
fn templates() -> &'static minijinja::Environment<'static> {
    static TEMPLATES: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut templates = minijinja::Environment::new();
        templates.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("the syntax config is valid"),
        );
        // Templates name every value they use; a typo must fail, not render as empty.
        templates.set_undefined_behavior(UndefinedBehavior::Strict);
        // Any value a template prints without `tojson` is still JSON-quoted.
        templates.set_auto_escape_callback(|_| AutoEscape::Json);
        for (name, source) in SOURCES {
            templates
                .add_template(name, source)
                .unwrap_or_else(|error| panic!("embedded template {name} is invalid: {error:#}"));
        }
        templates
    })
}

/// Checks what a template bug could get wrong (the output is YAML, with `Resources`, and
/// declares exactly the parameters the plan passes) and counts the resources.
fn check(stack: &PlannedStack, body: &str) -> Result<usize, RenderError> {
    let invalid = |problem: String| RenderError::Invalid {
        stack: stack.name.clone(),
        problem,
    };
    let template: serde_json::Value =
        yaml_serde::from_str(body).map_err(|error| invalid(format!("not YAML: {error}")))?;
    let resources = template
        .get("Resources")
        .and_then(|resources| resources.as_object())
        .ok_or_else(|| invalid("no Resources".into()))?;
    let declared: Vec<&str> = template
        .get("Parameters")
        .and_then(|parameters| parameters.as_object())
        .map(|parameters| parameters.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let planned: Vec<&str> = stack.parameters.iter().map(|p| p.name.as_str()).collect();
    if declared != planned {
        return Err(invalid(format!(
            "it declares the parameters {declared:?} but the plan passes {planned:?}"
        )));
    }
    Ok(resources.len())
}

impl Rendered {
    /// Writes `DIR/<region>/<part>.yaml` for each stack and `DIR/plan.json`.
    pub fn write_to(&self, dir: &Path) -> Result<(), RenderError> {
        let write = |path: PathBuf, text: &str| {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| RenderError::Write {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&path, text).map_err(|source| RenderError::Write { path, source })
        };
        for template in &self.templates {
            write(dir.join(&template.path), &template.body)?;
        }
        write(dir.join("plan.json"), &self.plan.to_json())
    }

    /// The table `deploy render` prints without `--out`: stack, Region, resources, wave,
    /// then the steps after the last wave.
    pub fn summary(&self) -> String {
        let header = ["STACK", "REGION", "RESOURCES", "WAVE"];
        let rows: Vec<[String; 4]> = self
            .templates
            .iter()
            .map(|t| {
                [
                    t.stack.clone(),
                    t.region.clone(),
                    t.resource_count.to_string(),
                    t.wave.to_string(),
                ]
            })
            .collect();
        let width = |column: usize| {
            rows.iter()
                .map(|row| row[column].len())
                .chain([header[column].len()])
                .max()
                .unwrap_or(0)
        };
        let (stack, region, resources) = (width(0), width(1), width(2));
        let mut out = String::new();
        let mut line = |cells: [&str; 4]| {
            // Names left-aligned, numbers right-aligned.
            let _ = writeln!(
                out,
                "{:<stack$}  {:<region$}  {:>resources$}  {:>4}",
                cells[0], cells[1], cells[2], cells[3]
            );
        };
        line(header);
        for row in &rows {
            line([&row[0], &row[1], &row[2], &row[3]]);
        }
        for step in &self.plan.post_deploy {
            match step {
                crate::plan::PostDeployStep::Invoke {
                    function_name,
                    region,
                    reason,
                    ..
                } => {
                    let _ = writeln!(out, "then: invoke {function_name} in {region} ({reason})");
                }
            }
        }
        out
    }
}
