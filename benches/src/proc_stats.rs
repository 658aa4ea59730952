//! Process CPU time and memory from Linux's `/proc`, for the load runs'
//! per-node figures, and a description of the machine.

use std::collections::HashMap;

use anyhow::Context as _;

/// Resident set size (`VmRSS`) of process `pid`, in bytes.
pub fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib * 1024)
}

/// The fields of `/proc/<pid>/stat` after the command name, which is in
/// parentheses and may contain spaces: index 0 is field 3 (`state`).
fn stat_fields(pid: u32) -> anyhow::Result<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat
        .rsplit_once(')')
        .with_context(|| format!("/proc/{pid}/stat has no command name"))?
        .1;
    Ok(after.split_whitespace().map(str::to_owned).collect())
}

/// CPU time of process `pid` in clock ticks: `utime + stime` (all its
/// threads) plus `cutime + cstime` (its children that exited and were
/// waited for). Summed over a process tree at two moments, the difference
/// is the tree's CPU time in between, also of processes that exited.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let fields = stat_fields(pid)?;
    // utime, stime, cutime, cstime: fields 14 to 17.
    let mut ticks = 0u64;
    for field in &fields[11..15] {
        // cutime and cstime are signed in the kernel's format.
        ticks += field.parse::<i64>()?.max(0) as u64;
    }
    Ok(ticks)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 when that fails).
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Every process's parent, from `/proc/*/stat`.
fn parents() -> HashMap<u32, u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let parent = stat_fields(pid).ok()?.get(1)?.parse().ok()?;
            Some((pid, parent))
        })
        .collect()
}

/// `root` and all its descendants (children, their children, …) now.
pub fn process_tree(root: u32) -> Vec<u32> {
    let parents = parents();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        let mut children: Vec<u32> = parents
            .iter()
            .filter(|&(_, &p)| p == parent)
            .map(|(&pid, _)| pid)
            .collect();
        children.sort_unstable();
        tree.extend(children);
        i += 1;
    }
    tree
}

/// A process tree at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct TreeSample {
    /// Processes in the tree.
    pub processes: usize,
    /// Their CPU time ([`cpu_ticks`]), summed.
    pub ticks: u64,
    /// Their resident set sizes, summed, in bytes (shared pages, such as
    /// PostgreSQL's shared buffers, count once per process mapping them).
    pub rss: u64,
}

/// Samples `root`'s process tree; processes that vanish while it is read
/// are left out.
pub fn sample_tree(root: u32) -> TreeSample {
    let mut sample = TreeSample::default();
    for pid in process_tree(root) {
        if let (Ok(ticks), Ok(rss)) = (cpu_ticks(pid), rss(pid)) {
            sample.processes += 1;
            sample.ticks += ticks;
            sample.rss += rss;
        }
    }
    sample
}

/// The whole machine's CPU time from the first line of `/proc/stat`, in
/// clock ticks: (busy, total); busy excludes idle and iowait.
pub fn machine_ticks() -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("/proc/stat is empty")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(values.len() >= 5, "/proc/stat's cpu line is short");
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values[3] + values[4];
    Ok((total - idle, total))
}

/// The machine, for reports: CPUs, their model, memory and kernel.
#[derive(Debug, Clone)]
pub struct Machine {
    /// CPUs this process may run on (`nproc`).
    pub cpus: usize,
    /// `model name` of the first CPU in `/proc/cpuinfo`.
    pub model: String,
    /// `MemTotal` in bytes.
    pub memory: u64,
    /// The kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads the description from `/proc`.
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned());
        Self {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            model,
            memory,
            kernel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_tree_cpu_time_and_memory() {
        let me = std::process::id();
        assert_eq!(process_tree(me)[0], me);
        let sample = sample_tree(me);
        assert!(sample.processes >= 1);
        assert!(sample.rss > 0);
        assert!(clock_ticks() > 0);
        let (busy, total) = machine_ticks().unwrap();
        assert!(busy <= total);
    }

    #[test]
    fn a_child_is_in_the_tree() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let tree = process_tree(std::process::id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(tree.contains(&child.id()), "{tree:?}");
    }
}
