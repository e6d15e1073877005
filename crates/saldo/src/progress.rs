//! Progress bars of large statement imports, on the terminal.

use std::path::{Path, PathBuf};

/// Progress bars on stderr for large files, only when a person watches (a terminal).
pub struct ProgressBars {
    enabled: bool,
    current: std::sync::Mutex<Option<(PathBuf, indicatif::ProgressBar)>>,
}

impl ProgressBars {
    /// Files smaller than this are done before a bar would help.
    const LARGE: u64 = 16 * 1024 * 1024;

    pub fn new(wanted: bool) -> ProgressBars {
        let enabled = wanted && std::io::IsTerminal::is_terminal(&std::io::stderr());
        ProgressBars { enabled, current: std::sync::Mutex::new(None) }
    }

    pub fn show(&self, path: &Path, read: u64, size: u64) {
        if !self.enabled || size < Self::LARGE {
            return;
        }
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_none_or(|(p, _)| p != path) {
            if let Some((_, bar)) = current.take() {
                bar.finish_and_clear();
            }
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} ({eta})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(path.display().to_string());
            *current = Some((path.to_path_buf(), bar));
        }
        if let Some((_, bar)) = current.as_ref() {
            bar.set_position(read);
        }
    }

    pub fn finish(&self) {
        if let Some((_, bar)) = self.current.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}
