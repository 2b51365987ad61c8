//! `deploy render ENV [--out DIR]`.

use crate::cli::RenderArgs;
use crate::{env, render};

pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    let environment = env::load(&args.env)?;
    let rendered = render::render(&environment)?;
    match &args.out {
        Some(dir) => {
            rendered.write_to(dir)?;
            eprintln!(
                "wrote {} templates and plan.json to {}",
                rendered.templates.len(),
                dir.display()
            );
        }
        None => print!("{}", rendered.summary()),
    }
    Ok(())
}
