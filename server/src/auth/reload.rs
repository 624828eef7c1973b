//! A file that is parsed once and parsed again when it changes, so keys,
//! passwords and identities rotate without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How often the file's modification time is looked at, at most.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The parsed content of a file, kept current.
pub struct Reloading<T> {
    path: PathBuf,
    parse: fn(&str) -> Result<T, String>,
    state: Mutex<State<T>>,
}

struct State<T> {
    value: Arc<T>,
    modified: Option<SystemTime>,
    checked: Instant,
}

impl<T> Reloading<T> {
    /// Reads and parses the file; a problem names it.
    pub fn new(path: &Path, parse: fn(&str) -> Result<T, String>) -> Result<Self, String> {
        let modified = modified(path);
        let value = load(path, parse)?;
        let state = State { value: Arc::new(value), modified, checked: Instant::now() };
        Ok(Self { path: path.to_path_buf(), parse, state: Mutex::new(state) })
    }

    /// The current content. A change that does not parse keeps the previous
    /// content, and is logged once.
    pub fn get(&self) -> Arc<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.checked.elapsed() >= CHECK_EVERY {
            state.checked = Instant::now();
            let now = modified(&self.path);
            if now != state.modified {
                state.modified = now;
                match load(&self.path, self.parse) {
                    Ok(value) => {
                        tracing::info!(file = %self.path.display(), "reloaded");
                        state.value = Arc::new(value);
                    }
                    Err(e) => tracing::warn!(error = %e, "kept the previous content"),
                }
            }
        }
        state.value.clone()
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn load<T>(path: &Path, parse: fn(&str) -> Result<T, String>) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}
