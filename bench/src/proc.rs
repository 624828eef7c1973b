//! Reading a process's memory and threads from /proc.

/// A field of /proc/<pid>/status in kB (VmRSS, VmHWM) or a count (Threads).
fn status(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resident memory in bytes.
pub fn rss(pid: u32) -> u64 {
    status(pid, "VmRSS:").unwrap_or(0) * 1024
}

/// Peak resident memory in bytes since the last [`reset_peak`].
pub fn peak(pid: u32) -> u64 {
    status(pid, "VmHWM:").unwrap_or(0) * 1024
}

pub fn threads(pid: u32) -> u64 {
    status(pid, "Threads:").unwrap_or(0)
}

/// Resets the peak resident memory to the current (Linux: clear_refs 5).
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}
