//! Asking the person at the terminal before something that cannot be undone.

/// How a step that cannot be undone asks whether to go ahead: the terminal ([`Prompt`]),
/// or a test's fixed answer.
pub trait Confirm: Send + Sync {
    fn confirm(&self, question: &str) -> bool;
}

/// Asks on the terminal; without one (CI), the answer is no: pass `--yes` there.
pub fn ask(question: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        eprintln!("{question} [y/N] no (stdin is not a terminal; pass --yes to approve)");
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

/// Asks what `--yes` has not answered already.
pub struct Prompt {
    pub yes: bool,
}

impl Confirm for Prompt {
    fn confirm(&self, question: &str) -> bool {
        self.yes || ask(question)
    }
}

/// Has the person type `expected` (the environment's name) to confirm.
pub fn typed_name_matches(expected: &str) -> bool {
    use std::io::BufRead;
    eprint!("Deletion protection is on. Type the environment's name ({expected}) to turn it off and destroy everything: ");
    let mut typed = String::new();
    let _ = std::io::stdin().lock().read_line(&mut typed);
    typed.trim() == expected
}
