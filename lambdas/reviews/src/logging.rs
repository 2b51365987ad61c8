//! Structured JSON logs (one object per line, with the object key and counts as fields), which
//! CloudWatch Logs Insights can query. `RUST_LOG` filters; the default is `info`.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub fn init() {
    init_with_writer(std::io::stdout);
}

pub fn init_with_writer<W>(writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    init_with(writer, "info");
}

/// `default_level` applies when `RUST_LOG` is not set.
pub fn init_with<W>(writer: W, default_level: &str)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .try_init();
}
