//! The process's own figures, read from /proc when scraped.

/// Resident memory, threads and open descriptors; zero where unknown.
#[derive(Clone, Copy, Debug, Default)]
pub struct Process {
    pub resident_bytes: u64,
    pub threads: u64,
    pub open_fds: u64,
}

pub fn read() -> Process {
    let mut process = Process::default();
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            let number = |l: &str| {
                l.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0)
            };
            if line.starts_with("VmRSS:") {
                process.resident_bytes = number(line) * 1024;
            } else if line.starts_with("Threads:") {
                process.threads = number(line);
            }
        }
    }
    process.open_fds =
        std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or_default();
    process
}
