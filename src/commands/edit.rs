//! `deploy edit ENV`.

use crate::cli::EditArgs;

pub fn run(args: &EditArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("edit: not built yet")
}
