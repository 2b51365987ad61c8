//! The state machine, as `deploy render` writes it, against the contract crate: every field
//! it passes a function is one the function's request has, every field it reads from a
//! response or a report is one the response has, and the per-file results it builds are
//! the contract's `FileResult`s. A renamed field on either side fails here, not in a run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use contract::{
    DbProcessRequest, FileOutcome, FileResult, IngestReport, Outcome, PendingFile,
    PostprocessRequest, PreprocessRequest, PreprocessResponse, RejectedLine, Totals,
};
use serde::Serialize;
use serde_json::Value;

/// The field names of a value of `T` with every optional field set.
fn fields<T: Serialize>(sample: &T) -> BTreeSet<String> {
    serde_json::to_value(sample)
        .unwrap()
        .as_object()
        .expect("a struct")
        .keys()
        .cloned()
        .collect()
}

/// `{"key.$": "$.key", "outcome": "completed"}` → {"key", "outcome"}.
fn keys(parameters: &Value) -> BTreeSet<String> {
    parameters
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.trim_end_matches(".$").to_string())
        .collect()
}

/// Every state, nested ones too, by name.
fn states(asl: &Value) -> BTreeMap<String, Value> {
    let mut found = BTreeMap::new();
    for (name, state) in asl["States"].as_object().unwrap() {
        found.insert(name.clone(), state.clone());
        if let Some(processor) = state.get("ItemProcessor") {
            found.extend(states(processor));
        }
    }
    found
}

fn state_machine() -> Value {
    // At run time, as the other tests do: a binary built in another clone keeps its path.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"));
    let environment = deploy::env::load(&root.join("environments/prod.yaml")).unwrap();
    let rendered = deploy::render::render(&environment).unwrap();
    let pipeline = rendered
        .templates
        .iter()
        .find(|t| t.part == deploy::plan::Part::Pipeline)
        .unwrap();
    let template: Value = yaml_serde::from_str(&pipeline.body).unwrap();
    serde_json::from_str(
        template["Resources"]["StateMachine"]["Properties"]["DefinitionString"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

fn samples() -> (
    PreprocessRequest,
    PreprocessResponse,
    DbProcessRequest,
    IngestReport,
    PostprocessRequest,
) {
    let file = PendingFile {
        key: "k".into(),
        etag: "e".into(),
        size: 1,
    };
    let report = IngestReport {
        key: "k".into(),
        etag: "e".into(),
        outcome: Outcome::Ingested,
        lines: 1,
        blank_lines: 0,
        read: 1,
        inserted: 1,
        already_present: 0,
        rejected: 0,
        bytes: 1,
        batches: 1,
        resumed_batches: 0,
        elapsed_ms: 1,
        rejected_lines: vec![RejectedLine {
            line: 1,
            reason: "r".into(),
        }],
    };
    (
        PreprocessRequest {
            limit: Some(1),
            totals: Totals::default(),
            results: Vec::new(),
        },
        PreprocessResponse {
            files: vec![file],
            more: false,
            totals: Totals::default(),
        },
        DbProcessRequest {
            key: "k".into(),
            etag: Some("e".into()),
            run: Some("r".into()),
        },
        report,
        PostprocessRequest {
            key: "k".into(),
            etag: Some("e".into()),
            outcome: FileOutcome::Completed,
            error: Some(Value::Null),
            report: Some(Value::Null),
        },
    )
}

#[test]
fn state_machine_paths_exist_in_the_contract() {
    let states = states(&state_machine());
    let (preprocess, listing, dbprocess, report, postprocess) = samples();
    let payload = |state: &str| &states[state]["Parameters"]["Payload"];
    let subset = |state: &str, sent: BTreeSet<String>, accepted: BTreeSet<String>| {
        assert!(
            sent.is_subset(&accepted),
            "{state} sends {sent:?}; the request has {accepted:?}"
        );
    };

    // What the state machine sends each function.
    subset(
        "ListPendingFiles",
        keys(payload("ListPendingFiles")),
        fields(&preprocess),
    );
    subset("LoadFile", keys(payload("LoadFile")), fields(&dbprocess));
    for state in ["MoveToCompleted", "MoveToFailed"] {
        subset(state, keys(payload(state)), fields(&postprocess));
        let outcome = payload(state)["outcome"].clone();
        serde_json::from_value::<FileOutcome>(outcome).expect("an outcome the contract knows");
    }

    // What it reads back: the listing's files and totals, each file's key and ETag.
    let selector = &states["ListPendingFiles"]["ResultSelector"];
    for path in selector.as_object().unwrap().values() {
        let field = path.as_str().unwrap().strip_prefix("$.Payload.").unwrap();
        assert!(
            fields(&listing).contains(field),
            "preprocess answers no {field}"
        );
    }
    // Each child's input: a listed file's fields, and the run's execution ARN.
    let item_selector = &states["IngestFiles"]["ItemSelector"];
    for path in item_selector.as_object().unwrap().values() {
        let path = path.as_str().unwrap();
        match path.strip_prefix("$$.Map.Item.Value.") {
            Some(field) => assert!(
                fields(&listing.files[0]).contains(field),
                "a listed file has no {field}"
            ),
            None => assert_eq!(path, "$$.Execution.Id", "the run, from the context object"),
        }
    }
    // dbprocess reads only what each child's input has.
    for path in payload("LoadFile").as_object().unwrap().values() {
        let field = path.as_str().unwrap().strip_prefix("$.").unwrap();
        assert!(
            keys(item_selector).contains(field),
            "LoadFile reads {field}, which no child's input has"
        );
    }

    // Each file's result: exactly a FileResult, its counts read from dbprocess's report.
    for state in ["Completed", "Failed"] {
        let parameters = &states[state]["Parameters"];
        let sample = FileResult {
            key: "k".into(),
            outcome: FileOutcome::Failed,
            inserted: 0,
            present: 0,
            rejected: 0,
        };
        assert_eq!(keys(parameters), fields(&sample), "{state}");
        serde_json::from_value::<FileOutcome>(parameters["outcome"].clone()).unwrap();
        for path in parameters.as_object().unwrap().values() {
            if let Some(field) = path
                .as_str()
                .and_then(|p| p.strip_prefix("$.loaded.report."))
            {
                assert!(
                    fields(&report).contains(field),
                    "dbprocess reports no {field}"
                );
            }
        }
    }
    // The run's output is the listing's totals.
    assert_eq!(states["Done"]["OutputPath"], "$.totals");
    assert!(fields(&listing).contains("totals"));
}
