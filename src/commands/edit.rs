//! `deploy edit ENV`: edit an environment file in `$EDITOR` without ever saving an invalid
//! one. The editor works on a copy beside the file; an invalid copy is reopened with the
//! problems as a comment block at the top (as `kubectl edit` does); the file itself is
//! replaced, atomically and with the user's own text, only once the copy is valid.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::cli::EditArgs;
use crate::env::{self, Diagnostics};

const NOTES_START: &str = "# deploy edit: this file has problems and was NOT saved.";
const NOTES_END: &str =
    "# --- end of deploy edit's notes (these lines are removed when you save) ---";

pub fn run(args: &EditArgs) -> super::Outcome {
    let original = std::fs::read_to_string(&args.env)
        .with_context(|| format!("cannot read {}", args.env.display()))?;
    let editor = editor_command();
    let copy = EditCopy::beside(&args.env)?;
    copy.write(&original)?;

    let mut shown = original.clone();
    loop {
        run_editor(&editor, copy.path())?;
        let edited = copy.read()?;
        let text = strip_notes(&edited);
        if edited == shown {
            if shown == original {
                eprintln!("No changes; {} is unchanged.", args.env.display());
                return Ok(());
            }
            // Quit without saving while problems were shown: keep the work, save nothing.
            let kept = copy.keep()?;
            return Err(anyhow::anyhow!(
                "edit cancelled: {} is unchanged; your edited copy is kept at {}",
                args.env.display(),
                kept.display()
            )
            .into());
        }
        if env::is_blank(&text) {
            eprintln!(
                "Edit cancelled: the file was emptied; {} is unchanged.",
                args.env.display()
            );
            return Ok(());
        }
        if text == original {
            eprintln!("No changes; {} is unchanged.", args.env.display());
            return Ok(());
        }
        match env::parse(&args.env, &text) {
            Ok(_) => {
                save_atomically(&args.env, &text)?;
                eprintln!("Saved {}.", args.env.display());
                return Ok(());
            }
            Err(problems) => {
                eprint!("{problems}");
                eprintln!("Reopening the editor to fix these problems.");
                shown = with_notes(&problems, &text);
                copy.write(&shown)?;
            }
        }
    }
}

/// `$VISUAL`, then `$EDITOR`, then `vi`, as most Unix tools choose.
fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "vi".into())
}

/// Runs the editor through the shell, so `EDITOR="code --wait"` works.
fn run_editor(editor: &str, file: &Path) -> anyhow::Result<()> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("deploy-edit")
        .arg(file)
        .status()
        .with_context(|| format!("cannot start the editor `{editor}`"))?;
    if !status.success() {
        bail!("the editor `{editor}` failed ({status}); nothing was saved");
    }
    Ok(())
}

/// The problems as a comment block above the text. Line numbers are shifted so they
/// point at the lines as the editor shows them, below the block.
fn with_notes(problems: &Diagnostics, text: &str) -> String {
    let block_lines = 4 + problems.to_string().lines().count();
    let mut shifted = problems.clone();
    for problem in &mut shifted.0 {
        if problem.line > 0 {
            problem.line += block_lines;
        }
    }
    let mut notes = format!(
        "{NOTES_START}\n# Fix the problems below and save, or quit without saving to cancel.\n#\n"
    );
    for line in shifted.to_string().lines() {
        notes.push_str(&format!("# {line}\n"));
    }
    notes.push_str(NOTES_END);
    notes.push('\n');
    notes + text
}

/// The user's text without the notes block that `with_notes` put on top.
fn strip_notes(edited: &str) -> String {
    if !edited.starts_with(NOTES_START) {
        return edited.to_string();
    }
    match edited.find(NOTES_END) {
        Some(end) => edited[end + NOTES_END.len()..]
            .trim_start_matches('\n')
            .to_string(),
        None => edited.to_string(),
    }
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`, so the
/// file is never half-written.
fn save_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".deploy-save-")
        .tempfile_in(dir)?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().sync_all()?;
    if let Ok(metadata) = std::fs::metadata(path) {
        std::fs::set_permissions(temp.path(), metadata.permissions())?;
    }
    temp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The copy the editor works on: beside the original, so the file's relative
/// `$schema` line still finds schema.json, and removed when the edit ends.
struct EditCopy {
    file: tempfile::NamedTempFile,
}

impl EditCopy {
    fn beside(path: &Path) -> anyhow::Result<Self> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("environment");
        let file = tempfile::Builder::new()
            .prefix(&format!(".{stem}.edit-"))
            .suffix(".yaml")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create an editing copy in {}", dir.display()))?;
        Ok(EditCopy { file })
    }

    fn path(&self) -> &Path {
        self.file.path()
    }

    fn write(&self, text: &str) -> anyhow::Result<()> {
        std::fs::write(self.path(), text)?;
        Ok(())
    }

    fn read(&self) -> anyhow::Result<String> {
        std::fs::read_to_string(self.path()).context("cannot read the edited copy")
    }

    /// Keeps the copy (outside the environments directory) and returns where it is.
    fn keep(self) -> anyhow::Result<PathBuf> {
        let kept = std::env::temp_dir().join(format!(
            "deploy-edit-{}.yaml",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default()
        ));
        std::fs::copy(self.path(), &kept)?;
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_stripped_back_to_the_users_text() {
        let problems = Diagnostics(vec![crate::env::Diagnostic {
            file: "env.yaml".into(),
            line: 3,
            column: 5,
            field: "application".into(),
            message: "bad".into(),
            hint: Some("fix it".into()),
        }]);
        let text = "# my comment\napplication: x\n";
        let shown = with_notes(&problems, text);
        assert!(
            shown.contains("# env.yaml:9:5: application: bad\n#   hint: fix it\n"),
            "{shown}"
        );
        assert_eq!(strip_notes(&shown), text);
        assert_eq!(shown.lines().position(|l| l == "# my comment"), Some(6));
    }
}
