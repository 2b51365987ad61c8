//! The one progress printer: a live line per stack on a terminal, plain event lines
//! otherwise (CI, pipes). Commands report what happens; only this module decides how it
//! is drawn. Everything goes to stderr, so `--output json` keeps stdout for the result.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cloudformation::events::StackEvent;

pub trait Progress: Send + Sync {
    /// A stack's current status, with resources done/total when known.
    fn status(&self, stack: &str, region: &str, status: &str, counts: Option<(usize, usize)>);
    /// A new stack event.
    fn event(&self, stack: &str, region: &str, event: &StackEvent);
    /// A line for people.
    fn message(&self, text: &str);
}

pub struct Printer {
    live: Option<indicatif::MultiProgress>,
    state: Mutex<PrinterState>,
}

#[derive(Default)]
struct PrinterState {
    bars: HashMap<String, (indicatif::ProgressBar, Instant)>,
    last_status: HashMap<String, String>,
    started: Option<Instant>,
}

impl Printer {
    /// Live lines when stderr is a terminal, plain lines otherwise.
    pub fn new() -> Printer {
        let live = std::io::stderr().is_terminal().then(|| {
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
        });
        Printer {
            live,
            state: Mutex::new(PrinterState {
                started: Some(Instant::now()),
                ..Default::default()
            }),
        }
    }

    /// Plain lines whatever stderr is (tests).
    pub fn plain() -> Printer {
        Printer {
            live: None,
            state: Mutex::new(PrinterState {
                started: Some(Instant::now()),
                ..Default::default()
            }),
        }
    }

    fn elapsed(state: &PrinterState) -> String {
        let elapsed = state.started.map(|s| s.elapsed()).unwrap_or_default();
        format!("{:>4}s", elapsed.as_secs())
    }

    fn line(&self, text: &str) {
        match &self.live {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => {
                let mut stderr = std::io::stderr().lock();
                let _ = writeln!(stderr, "{text}");
            }
        }
    }
}

impl Default for Printer {
    fn default() -> Self {
        Printer::new()
    }
}

impl Progress for Printer {
    fn status(&self, stack: &str, region: &str, status: &str, counts: Option<(usize, usize)>) {
        let mut state = self.state.lock().unwrap();
        let counts_text = counts
            .map(|(done, total)| format!("{done}/{total} resources"))
            .unwrap_or_default();
        match &self.live {
            Some(multi) => {
                let (bar, since) = state.bars.entry(stack.to_string()).or_insert_with(|| {
                    let bar = multi.add(indicatif::ProgressBar::new_spinner());
                    bar.set_style(
                        indicatif::ProgressStyle::with_template("{spinner} {msg}")
                            .expect("a valid template"),
                    );
                    bar.enable_steady_tick(Duration::from_millis(120));
                    (bar, Instant::now())
                });
                let message = format!(
                    "{stack:<44} {region:<15} {status:<28} {counts_text:<16} {:>4}s",
                    since.elapsed().as_secs()
                );
                bar.set_message(message);
                if !status.ends_with("_IN_PROGRESS") {
                    bar.finish();
                }
            }
            None => {
                let key = format!("{stack}/{region}");
                if state.last_status.get(&key).map(String::as_str) != Some(status) {
                    state.last_status.insert(key, status.to_string());
                    let line = format!(
                        "{} {stack} ({region}) {status} {counts_text}",
                        Printer::elapsed(&state)
                    );
                    drop(state);
                    self.line(line.trim_end());
                }
            }
        }
    }

    fn event(&self, stack: &str, region: &str, event: &StackEvent) {
        // The stack's own events repeat what its status line says.
        if event.resource_type == "AWS::CloudFormation::Stack" && !event.is_failure() {
            return;
        }
        let state = self.state.lock().unwrap();
        let reason = if event.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", event.reason)
        };
        let line = format!(
            "{} {stack} ({region}) {} {} {}{reason}",
            Printer::elapsed(&state),
            event.logical_id,
            event.resource_type,
            event.status
        );
        drop(state);
        // On a terminal the live line carries progress; only failures get a line of their own.
        if self.live.is_none() || event.is_failure() {
            self.line(&line);
        }
    }

    fn message(&self, text: &str) {
        self.line(text);
    }
}
