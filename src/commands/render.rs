//! `deploy render ENV [--out DIR]`.

use crate::cli::RenderArgs;

pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    let _environment = crate::env::load(&args.env)?;
    anyhow::bail!("render: not built yet")
}
