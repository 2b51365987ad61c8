//! `deploy edit` with a scripted editor: each round of the editor runs the next step of a
//! shell script, so the tests drive the real binary exactly as a person at an editor would.

use std::path::{Path, PathBuf};

use crate::cli::Deploy;

const VALID: &str = "\
# yaml-language-server: $schema=./schema.json
# Our shop's production environment.
application: shop
environment: prod
regions:
  primary:
    region: us-east-1   # where the writer lives
    vpc_id: vpc-0a1b2c3d
  secondary:
    - region: us-east-2
      vpc_id: vpc-0b2c3d4e
database:
  engine_version: 8.0.mysql_aurora.3.08.2
";

struct Session {
    dir: tempfile::TempDir,
}

struct Outcome {
    code: i32,
    stderr: String,
}

impl Session {
    /// A directory holding `env.yaml` (VALID) and an editor script whose round N runs
    /// `steps[N]` with the file being edited as `$1`. Each round's file is saved as
    /// `seen-N.yaml` before the step runs, so tests can check what the user was shown.
    fn new(steps: &[&str]) -> Session {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("env.yaml"), VALID).unwrap();
        let mut script = String::from(
            "set -e\nround=$(cat \"$(dirname \"$0\")/round\" 2>/dev/null || echo 0)\n",
        );
        script.push_str("echo $((round + 1)) > \"$(dirname \"$0\")/round\"\n");
        script.push_str("cp \"$1\" \"$(dirname \"$0\")/seen-$round.yaml\"\n");
        script.push_str("case $round in\n");
        for (round, step) in steps.iter().enumerate() {
            script.push_str(&format!("  {round}) {step} ;;\n"));
        }
        script.push_str("  *) echo 'editor opened too often' >&2; exit 9 ;;\nesac\n");
        std::fs::write(dir.path().join("editor.sh"), script).unwrap();
        Session { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self) -> Outcome {
        let editor = format!("sh {}", self.path("editor.sh").display());
        let output = Deploy::new(["edit", "env.yaml"])
            .current_dir(self.dir.path())
            .env_remove("VISUAL")
            .env("EDITOR", editor)
            .run()
            .output;
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn file(&self) -> String {
        std::fs::read_to_string(self.path("env.yaml")).unwrap()
    }

    fn rounds(&self) -> usize {
        std::fs::read_to_string(self.path("round")).map_or(0, |n| n.trim().parse().unwrap())
    }

    /// No editing copy or temporary file is left beside the environment file.
    fn assert_no_leftovers(&self) {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with('.'))
            .collect();
        names.sort();
        assert!(names.is_empty(), "left behind: {names:?}");
    }
}

fn seen(session: &Session, round: usize) -> String {
    std::fs::read_to_string(session.path(&format!("seen-{round}.yaml"))).unwrap()
}

#[test]
fn a_valid_change_is_saved_with_the_users_comments_and_layout() {
    let session = Session::new(&["sed -i 's/vpc-0b2c3d4e/vpc-0f0f0f0f/' \"$1\""]);
    let outcome = session.run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stderr, "Saved env.yaml.\n");
    assert_eq!(
        session.file(),
        VALID.replace("vpc-0b2c3d4e", "vpc-0f0f0f0f")
    );
    assert_eq!(
        seen(&session, 0),
        VALID,
        "the editor starts from the file as it is"
    );
    session.assert_no_leftovers();
}

#[test]
fn an_invalid_edit_is_reopened_with_the_problems_on_top_then_saved_once_fixed() {
    let session = Session::new(&[
        "sed -i 's/us-east-2/us-east-1/; s/engine_version: .*/engine_version: 8.0.36/' \"$1\"",
        "sed -i 's/region: us-east-1$/region: eu-west-1/; s/8.0.36/8.0.mysql_aurora.3.08.2/' \"$1\"",
    ]);
    let outcome = session.run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(session.rounds(), 2);
    // What the user saw in the second round: the problems, with line numbers that point
    // at the lines as shown below the block, then their own text untouched.
    let shown = seen(&session, 1);
    let edited_once = VALID
        .replace("region: us-east-2", "region: us-east-1")
        .replace(
            "engine_version: 8.0.mysql_aurora.3.08.2",
            "engine_version: 8.0.36",
        );
    let expected_notes = "\
# deploy edit: this file has problems and was NOT saved.
# Fix the problems below and save, or quit without saving to cancel.
#
# env.yaml:18:15: regions.secondary[0].region: us-east-1 is the primary Region; it cannot also be a secondary
#   hint: each Region holds at most one cluster of the global database
# env.yaml:21:19: database.engine_version: `8.0.36` is not an Aurora MySQL version
#   hint: give the full version, for example 8.0.mysql_aurora.3.08.2; `aws rds describe-db-engine-versions --engine aurora-mysql` lists them
# --- end of deploy edit's notes (these lines are removed when you save) ---
";
    assert_eq!(shown, format!("{expected_notes}{edited_once}"));
    assert_eq!(
        shown.lines().nth(17).unwrap(),
        "    - region: us-east-1",
        "line 18 is the line named"
    );
    assert_eq!(
        session.file(),
        VALID.replace("region: us-east-2", "region: eu-west-1")
    );
    assert!(
        outcome.stderr.ends_with("Saved env.yaml.\n"),
        "{}",
        outcome.stderr
    );
    session.assert_no_leftovers();
}

#[test]
fn quitting_without_saving_an_invalid_edit_changes_nothing_and_keeps_the_work() {
    let session = Session::new(&["sed -i 's/vpc-0b2c3d4e/vpc-nope/' \"$1\"", "true"]);
    let outcome = session.run();
    assert_eq!(outcome.code, 1);
    assert_eq!(session.file(), VALID);
    let kept = outcome
        .stderr
        .lines()
        .last()
        .and_then(|line| line.split("your edited copy is kept at ").nth(1))
        .unwrap_or_else(|| panic!("no kept copy named in: {}", outcome.stderr));
    let kept_text = std::fs::read_to_string(Path::new(kept)).unwrap();
    assert!(kept_text.contains("vpc_id: vpc-nope"));
    assert!(outcome
        .stderr
        .contains("error: edit cancelled: env.yaml is unchanged"));
    session.assert_no_leftovers();
}

#[test]
fn closing_the_editor_without_changes_saves_nothing() {
    let session = Session::new(&["true"]);
    let outcome = session.run();
    assert_eq!(outcome.code, 0);
    assert_eq!(outcome.stderr, "No changes; env.yaml is unchanged.\n");
    assert_eq!(session.file(), VALID);
    session.assert_no_leftovers();
}

#[test]
fn emptying_the_file_cancels_the_edit() {
    let session = Session::new(&[": > \"$1\""]);
    let outcome = session.run();
    assert_eq!(outcome.code, 0);
    assert_eq!(
        outcome.stderr,
        "Edit cancelled: the file was emptied; env.yaml is unchanged.\n"
    );
    assert_eq!(session.file(), VALID);
    session.assert_no_leftovers();
}

#[test]
fn a_failing_editor_saves_nothing() {
    let session = Session::new(&["sed -i 's/vpc-0b2c3d4e/vpc-0f0f0f0f/' \"$1\"; exit 3"]);
    let outcome = session.run();
    assert_eq!(outcome.code, 1);
    assert!(
        outcome
            .stderr
            .contains("failed (exit status: 3); nothing was saved"),
        "{}",
        outcome.stderr
    );
    assert_eq!(session.file(), VALID);
    session.assert_no_leftovers();
}
