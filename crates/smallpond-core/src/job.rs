//! The job directory: what a job leaves on disk, and the one protocol by which its driver,
//! its workers (threads, processes, Ray tasks on other nodes) and a later run of the same
//! job share it.
//!
//! ```text
//!  data_root/<job_time>.<job_id>/     (job_time has no '.': the first '.' ends it)
//!    lock                             locked by the driver while it runs (pid, host inside)
//!    status                           running | success | failure | cancelled (by the driver)
//!    config/                          plans and tasks as JSON
//!    log/                             task logs, copies of the records
//!    staging/.tmp-<task>.<n>-<pid>/   attempt n's private output ─┐ one rename
//!    staging/<task>.<n>/              attempt n's published output ◄┘
//!    staging/.tmp-<task>.<n>-<pid>.parquet, staging/<task>.<n>.parquet   the same, for a
//!                                     query's one output file (no directory)
//!    staging/records-<host>-<pid>.jsonl  completed-task records, one line each, written last
//!    temp/<task>.<n>-<pid>/           DuckDB's spill for that attempt
//!    output/
//! ```
//! A reader learns of files only through a record, and a record is written only after the
//! files it names are published, so a crash at any moment leaves either a usable record or
//! nothing that anyone reads. A later run of the job reuses a record only for the same task
//! ([`Records::reusable`]). A successful job removes `staging/` and `temp/`; a failed
//! one keeps them for inspection and for the next run.
//!
//! A job directory has one driver at a time: [`JobDirs::open`] takes an exclusive lock on
//! `lock` (an OS file lock, so a driver that is killed releases it with its process) and a
//! second driver is refused with the first one's pid and host.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::task::{TaskRecord, TaskSpec};
use crate::{Error, JobId, Result, TaskId};

/// The directories of one job: a plain path, so that a task carries it to any worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDirs {
    pub root: PathBuf,
    /// Where partition tasks stage their outputs (shuffle data, which the next stage reads
    /// once) instead of `staging/`: a directory of this job on a memory-backed file system
    /// ([`JobDirs::with_shuffle`]). A successful job removes it with `staging/`; a failed
    /// one may keep it for a re-run (the session decides: only a job whose id was given can
    /// be re-run), for [`SHUFFLE_KEPT_FOR`] at least ([`sweep_shuffle`]: it holds memory),
    /// after which a re-run recomputes what was there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shuffle: Option<PathBuf>,
}

/// What the status file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Running,
    Success,
    Failure,
    /// Stopped by the user (Ctrl-C, a signal): kept like a failure, so a re-run resumes.
    Cancelled,
}

impl std::str::FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "running" => Ok(JobStatus::Running),
            "success" => Ok(JobStatus::Success),
            "failure" => Ok(JobStatus::Failure),
            "cancelled" => Ok(JobStatus::Cancelled),
            other => Err(format!("{other:?} is not a job status")),
        }
    }
}

/// Whether a driver holds the job now, as seen from another process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverState {
    /// Its lock is held: by the holder named in the lock file (`pid N on HOST`).
    Alive(String),
    /// Nobody holds the lock: the last driver ended, or died (`pid N on HOST`, if known).
    Gone(Option<String>),
    /// The file system cannot lock files (or there is no lock file): nothing can be said.
    Unknown,
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobStatus::Running => "running",
            JobStatus::Success => "success",
            JobStatus::Failure => "failure",
            JobStatus::Cancelled => "cancelled",
        })
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The driver's hold on a job directory: while it lives, no other driver opens the job.
#[derive(Debug)]
pub struct JobLock {
    _file: std::fs::File,
}

impl JobDirs {
    /// The directories of the job at `root` (shuffle data in `staging/` with the rest).
    pub fn new(root: PathBuf) -> Self {
        JobDirs {
            root,
            shuffle: None,
        }
    }

    /// This job with its shuffle data ([`JobDirs::shuffle`]) in a directory of its own
    /// under `base`, created now: `smallpond-<job directory name>-<hash of its path>`,
    /// holding a file `job` that names the job directory, so that [`sweep_shuffle`] can
    /// tell whose it is.
    pub fn with_shuffle(mut self, base: &Path) -> Result<Self> {
        let name = self
            .root
            .file_name()
            .map_or_else(|| "job".into(), |n| n.to_string_lossy().into_owned());
        let root = self.root.to_string_lossy().into_owned();
        let dir = base.join(format!(
            "smallpond-{name}-{:08x}",
            content_hash(root.as_bytes()) as u32
        ));
        std::fs::create_dir_all(dir.join("staging")).map_err(io(&dir))?;
        let owner = dir.join("job");
        std::fs::write(&owner, &root).map_err(io(&owner))?;
        self.shuffle = Some(dir);
        Ok(self)
    }

    /// The directory of job `job_id` under `data_root` (an existing one of that id, so that
    /// a re-run resumes it, or a new `<job_time>.<job_id>`), locked for this driver and
    /// created with its subdirectories, its status `running`. A job in use by another
    /// driver is refused.
    pub fn open(
        data_root: &Path,
        job_id: &JobId,
        job_time: Option<String>,
    ) -> Result<(Self, JobLock)> {
        let dirs = JobDirs::new(resolve(data_root, job_id, job_time)?);
        std::fs::create_dir_all(&dirs.root).map_err(io(&dirs.root))?;
        let lock = dirs.lock(job_id)?;
        for dir in [
            dirs.config(),
            dirs.log(),
            dirs.staging(),
            dirs.temp(),
            dirs.output(),
        ] {
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        }
        dirs.set_status(JobStatus::Running)?;
        Ok((dirs, lock))
    }

    fn lock(&self, job_id: &JobId) -> Result<JobLock> {
        use std::io::{Read, Seek, Write};
        let path = self.root.join("lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::JobInUse {
                    job_id: job_id.to_string(),
                    dir: self.root.clone(),
                    holder: holder.trim().to_string(),
                });
            }
            // A file system without locks (some network and FUSE ones): run unguarded.
            Err(std::fs::TryLockError::Error(e))
                if e.kind() == std::io::ErrorKind::Unsupported
                    || e.raw_os_error() == Some(37 /* ENOLCK */) =>
            {
                tracing::warn!(
                    "{}: this file system cannot lock files ({e}); a second driver on this job \
                     would not be detected",
                    path.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        let me = format!("pid {} on {}\n", std::process::id(), hostname());
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()))
            .map_err(io(&path))?;
        Ok(JobLock { _file: file })
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("config")
    }
    pub fn log(&self) -> PathBuf {
        self.root.join("log")
    }
    pub fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }
    pub fn temp(&self) -> PathBuf {
        self.root.join("temp")
    }
    pub fn output(&self) -> PathBuf {
        self.root.join("output")
    }
    pub fn status_file(&self) -> PathBuf {
        self.root.join("status")
    }

    /// What the status file says, if it says something readable.
    pub fn status(&self) -> Option<JobStatus> {
        std::fs::read_to_string(self.status_file())
            .ok()?
            .parse()
            .ok()
    }

    /// Whether a driver runs the job now: probed with a shared lock, which its driver's
    /// exclusive one refuses (and which the probe drops at once). A killed driver's lock is
    /// released by the kernel, so a dead job is never seen as running.
    pub fn driver(&self) -> DriverState {
        use std::io::Read;
        let path = self.root.join("lock");
        let Ok(mut file) = std::fs::File::open(&path) else {
            return DriverState::Unknown;
        };
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim().to_string();
        match file.try_lock_shared() {
            Ok(()) => DriverState::Gone((!holder.is_empty()).then_some(holder)),
            Err(std::fs::TryLockError::WouldBlock) => DriverState::Alive(holder),
            Err(std::fs::TryLockError::Error(_)) => DriverState::Unknown,
        }
    }

    pub fn set_status(&self, status: JobStatus) -> Result<()> {
        let path = self.status_file();
        std::fs::write(&path, format!("{status}\n")).map_err(io(&path))
    }

    /// Ends the job with `status`: a successful one removes its intermediate data, a failed
    /// or cancelled one keeps it (for inspection, and so that a re-run resumes from it).
    pub fn finish(&self, status: JobStatus) -> Result<()> {
        if status != JobStatus::Success {
            return self.set_status(status);
        }
        for dir in [self.staging(), self.temp()]
            .into_iter()
            .chain(self.shuffle.clone())
        {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
            }
        }
        self.set_status(JobStatus::Success)
    }

    /// Where an attempt's output is published (each attempt has its own, so a late
    /// attempt can never overwrite files that a finished one already reported).
    pub fn task_output(&self, task: TaskId, attempt: u32) -> PathBuf {
        self.staging().join(format!("{task}.{attempt}"))
    }

    /// The completed-task records this process appends to: one file per process (named by
    /// host and pid), so that appends from several machines never share a file. One file per
    /// process rather than per task: each file a job creates costs an inode, and on ext4 an
    /// inode costs in proportion to those freed shortly before it.
    pub fn records_file(&self) -> PathBuf {
        self.staging().join(format!(
            "records-{}-{}.jsonl",
            file_safe(&hostname()),
            std::process::id()
        ))
    }

    /// The log that the process `pid` on `host` appends the stories of its attempts to, when
    /// a task's first attempt succeeds (see [`Self::task_log`]): one file per process, not
    /// one per task, for the inode each file costs (see [`Self::records_file`]).
    pub fn attempts_log(&self, host: &str, pid: u32) -> PathBuf {
        self.log()
            .join(format!("attempts-{}-{pid}.log", file_safe(host)))
    }

    /// The log of task `task`'s troubles: every attempt that failed and every later
    /// attempt (a retry, a speculative copy) writes its story there, so that a failure and
    /// what followed it read in one file.
    pub fn task_log(&self, task: TaskId) -> PathBuf {
        self.log().join(format!("{task}.log"))
    }

    /// Every completed-task record of the job's journals (`staging/records-*.jsonl`). A line
    /// that does not parse (cut short by a crash) is skipped: its task is simply not done.
    pub fn records(&self) -> Records {
        let mut by_task: HashMap<TaskId, Vec<TaskRecord>> = HashMap::new();
        let Ok(entries) = std::fs::read_dir(self.staging()) else {
            return Records(by_task);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with("records-") && name.ends_with(".jsonl")) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            for line in text.lines().filter(|l| !l.is_empty()) {
                if let Ok(record) = serde_json::from_str::<TaskRecord>(line) {
                    by_task.entry(record.task).or_default().push(record);
                }
            }
        }
        Records(by_task)
    }

    /// An attempt's directories, `(private, spill)`: its output directory, created empty,
    /// and its spill directory, absent (DuckDB makes it when it spills, which few attempts
    /// do). Only the attempt running in process `pid` writes there. With `shuffle` (a
    /// partition task's outputs), the output directory is in the job's shuffle directory
    /// if it has one; the spill directory is always in `temp/`.
    pub fn attempt_dirs(
        &self,
        task: TaskId,
        attempt: u32,
        pid: u32,
        shuffle: bool,
    ) -> Result<(PathBuf, PathBuf)> {
        let staging = match &self.shuffle {
            Some(dir) if shuffle => dir.join("staging"),
            _ => self.staging(),
        };
        let private = staging.join(format!(".tmp-{task}.{attempt}-{pid}"));
        let spill = self.spill_dir(task, attempt, pid)?;
        if private.exists() {
            std::fs::remove_dir_all(&private).map_err(io(&private))?;
        }
        std::fs::create_dir_all(&private).map_err(io(&private))?;
        Ok((private, spill))
    }

    /// Like [`Self::attempt_dirs`] for an attempt whose output is one Parquet file: a file
    /// of its own in `staging/` instead of a directory, absent (the attempt creates it).
    /// On ext4 every inode a job creates costs in proportion to those freed shortly before
    /// it; a job of 1,000 tiny queries saves 1,000 directories.
    pub fn attempt_file(&self, task: TaskId, attempt: u32, pid: u32) -> Result<(PathBuf, PathBuf)> {
        let private = self
            .staging()
            .join(format!(".tmp-{task}.{attempt}-{pid}.parquet"));
        let spill = self.spill_dir(task, attempt, pid)?;
        if private.exists() {
            std::fs::remove_file(&private).map_err(io(&private))?;
        }
        std::fs::create_dir_all(self.staging()).map_err(io(&self.staging()))?;
        Ok((private, spill))
    }

    /// An attempt's spill directory, absent: DuckDB makes it when it spills, which few
    /// attempts do. One an earlier process with the same pid left is removed.
    fn spill_dir(&self, task: TaskId, attempt: u32, pid: u32) -> Result<PathBuf> {
        let spill = self.temp().join(format!("{task}.{attempt}-{pid}"));
        if spill.exists() {
            std::fs::remove_dir_all(&spill).map_err(io(&spill))?;
        }
        Ok(spill)
    }

    /// Publishes an attempt's private file (from [`Self::attempt_file`]) as
    /// `staging/<task>.<n>.parquet`, in one rename, and returns where it now is.
    pub fn publish_attempt_file(
        &self,
        private: &Path,
        task: TaskId,
        attempt: u32,
    ) -> Result<PathBuf> {
        let published = private.with_file_name(format!("{task}.{attempt}.parquet"));
        // One left by an attempt of an earlier run that died before writing its record is
        // replaced by the rename.
        std::fs::rename(private, &published).map_err(io(&published))?;
        Ok(published)
    }

    /// Publishes an attempt's private directory (from [`Self::attempt_dirs`]) as its
    /// output, in one rename beside it, and returns where it now is.
    pub fn publish_attempt(&self, private: &Path, task: TaskId, attempt: u32) -> Result<PathBuf> {
        let published = private.with_file_name(format!("{task}.{attempt}"));
        if published.exists() {
            // Left by an attempt of an earlier run that died before writing its record.
            std::fs::remove_dir_all(&published).map_err(io(&published))?;
        }
        std::fs::rename(private, &published).map_err(io(&published))?;
        Ok(published)
    }

    /// Appends the completed-task record to this process's journal ([`Self::records_file`])
    /// in one `write` on an `O_APPEND` file: a crash cuts at most that line, which readers
    /// skip. A line an earlier process with the same pid left unfinished is ended first, so
    /// that it spoils only itself.
    pub fn write_record(&self, record: &TaskRecord) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::FileExt;
        // The driver's runner threads share a process, so they share its journal.
        static APPEND: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let path = self.records_file();
        let mut line = serde_json::to_vec(record).expect("records serialise");
        line.push(b'\n');
        let _one_at_a_time = APPEND.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io(&path))?;
        let len = file.metadata().map_err(io(&path))?.len();
        let mut last = [b'\n'];
        if len > 0 {
            file.read_at(&mut last, len - 1).map_err(io(&path))?;
        }
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
        file.write_all(&line).map_err(io(&path))
    }

    /// Stores an in-memory input, written to the file `written`, under `staging/arrow/`
    /// with a name derived from its content: a re-run of the job with the same data finds
    /// the same file (unchanged, so its tasks' records still hold), one with other data
    /// gets another file (so nothing computed from the old data is reused).
    pub fn store_input(&self, written: &Path) -> Result<PathBuf> {
        let bytes = std::fs::read(written).map_err(io(written))?;
        let dir = self.staging().join("arrow");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(format!("input-{:016x}.parquet", content_hash(&bytes)));
        match std::fs::metadata(&path) {
            Ok(m) if m.len() == bytes.len() as u64 => {
                std::fs::remove_file(written).map_err(io(written))?;
            }
            _ => std::fs::rename(written, &path).map_err(io(&path))?,
        }
        Ok(path)
    }
}

/// How long the shuffle data of a job that failed (or whose driver was killed) is kept for a
/// re-run after its driver has gone.
pub const SHUFFLE_KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes the shuffle directories under `base` ([`JobDirs::with_shuffle`]) of jobs whose
/// driver has been gone for [`SHUFFLE_KEPT_FOR`] (or whose job directory is gone): a failed
/// job keeps its own for a re-run, a killed driver could not remove its own, and they hold
/// memory.
pub fn sweep_shuffle(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with("smallpond-")
        {
            continue;
        }
        let dir = entry.path();
        let Ok(root) = std::fs::read_to_string(dir.join("job")) else {
            continue;
        };
        let job = JobDirs::new(PathBuf::from(root));
        // A job that ended a moment ago may be about to be re-run (its script fixed).
        let ended_long_ago = std::fs::metadata(job.status_file())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|idle| idle > SHUFFLE_KEPT_FOR);
        let gone = match job.driver() {
            DriverState::Gone(_) => ended_long_ago,
            // No lock file: the job directory itself is gone.
            DriverState::Unknown => !job.root.join("lock").exists(),
            DriverState::Alive(_) => false,
        };
        if gone {
            tracing::info!(dir = %dir.display(), "removing the shuffle data of a job whose driver is gone");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// The completed-task records of a job's journals, by task ([`JobDirs::records`]).
#[derive(Debug, Default)]
pub struct Records(HashMap<TaskId, Vec<TaskRecord>>);

impl Records {
    /// The last record written for `task` (the latest to finish, if attempts of several
    /// runs or speculative copies finished).
    pub fn latest(&self, task: TaskId) -> Option<&TaskRecord> {
        self.0.get(&task)?.iter().max_by_key(|r| r.end_us)
    }

    /// A record an earlier run of this job left for `spec`, if it describes the same task
    /// (node, partition, and `fingerprint`, [`TaskSpec::fingerprint`] of this run) and all
    /// its output files are still there; the latest such.
    pub fn reusable(&self, spec: &TaskSpec, fingerprint: u64) -> Option<TaskRecord> {
        self.0
            .get(&spec.id)?
            .iter()
            .filter(|r| {
                r.node == spec.node
                    && r.partition == spec.partition
                    && r.fingerprint == fingerprint
                    && r.outputs.iter().flatten().all(|f| f.is_file())
            })
            .max_by_key(|r| r.end_us)
            .cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A stable 64-bit hash of `bytes` (FNV-1a over 8-byte words: several bytes per cycle).
fn content_hash(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3);
    }
    for b in words.remainder() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ bytes.len() as u64).wrapping_mul(0x0000_0100_0000_01b3)
}

/// `data_root/<job_time>.<job_id>`: the existing directory of exactly that job id (the
/// latest, if several), or a new one.
fn resolve(data_root: &Path, job_id: &JobId, time: Option<String>) -> Result<PathBuf> {
    if let Some(time) = &time {
        if time.is_empty() || time.contains(['/', '\\', '.']) {
            return Err(Error::invalid(
                "job_time",
                format!("{time:?} cannot start a job directory's name (no '/', '\\' or '.')"),
            ));
        }
    }
    std::fs::create_dir_all(data_root).map_err(io(data_root))?;
    let mut existing: Vec<PathBuf> = std::fs::read_dir(data_root)
        .map_err(io(data_root))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name().is_some_and(|n| {
                    n.to_str()
                        .and_then(|n| n.split_once('.'))
                        .is_some_and(|(_, id)| id == job_id.as_str())
                })
        })
        .collect();
    existing.sort();
    if let Some(dir) = existing.pop() {
        return Ok(dir);
    }
    let time = time.unwrap_or_else(job_time);
    Ok(data_root.join(format!("{time}.{job_id}")))
}

/// `name` with every character but letters, digits, `-` and `.` made `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// This machine's name (for locks and task records).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into())
}

/// Now, as `YYYY-MM-DD-HH-MM-SS` (UTC).
fn job_time() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let [year, month, day, h, m, s] = utc(secs);
    format!("{year:04}-{month:02}-{day:02}-{h:02}-{m:02}-{s:02}")
}

/// Unix time `secs` as UTC `[year, month, day, hour, minute, second]`.
pub fn utc(secs: u64) -> [u64; 6] {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    [
        year as u64,
        month as u64,
        day as u64,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    ]
}

#[cfg(test)]
mod tests {
    use super::JobDirs;
    use crate::task::TaskRecord;
    use crate::{NodeId, TaskId};

    fn record(task: u32, attempt: u32, end_us: u64) -> TaskRecord {
        TaskRecord {
            task: TaskId(task),
            node: NodeId(1),
            node_kind: "SqlEngine".into(),
            partition: task,
            attempt,
            fingerprint: 7,
            host: "h".into(),
            worker: "w".into(),
            start_us: 1,
            end_us,
            rows: 10,
            bytes: 20,
            outputs: vec![vec!["/x/out.parquet".into()]],
            schema_file: None,
        }
    }

    #[test]
    fn records_are_appended_to_one_journal_and_a_line_cut_by_a_crash_spoils_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let job = JobDirs::new(dir.path().to_path_buf());
        std::fs::create_dir_all(job.staging()).unwrap();
        assert!(job.records().is_empty());
        job.write_record(&record(0, 1, 100)).unwrap();
        job.write_record(&record(1, 1, 200)).unwrap();
        // A process that died in the middle of its append (same pid, same file).
        let journal = job.records_file();
        let mut text = std::fs::read(&journal).unwrap();
        text.extend_from_slice(br#"{"task":2,"node":1,"node_k"#);
        std::fs::write(&journal, &text).unwrap();
        job.write_record(&record(0, 2, 300)).unwrap();
        // Another process's journal.
        let other = job.staging().join("records-elsewhere-1.jsonl");
        let line = serde_json::to_string(&record(3, 1, 50)).unwrap();
        std::fs::write(other, format!("{line}\n")).unwrap();

        let files: Vec<_> = std::fs::read_dir(job.staging()).unwrap().collect();
        assert_eq!(files.len(), 2, "one journal per process, no file per task");
        let records = job.records();
        assert_eq!(records.latest(TaskId(0)), Some(&record(0, 2, 300)));
        assert_eq!(records.latest(TaskId(1)), Some(&record(1, 1, 200)));
        assert_eq!(records.latest(TaskId(2)), None, "the cut line is skipped");
        assert_eq!(records.latest(TaskId(3)), Some(&record(3, 1, 50)));
    }

    #[test]
    fn job_time_is_a_civil_date() {
        let t = super::job_time();
        assert_eq!(t.len(), "2026-11-28-04-30-00".len());
        assert!(t.starts_with("20"), "{t}");
        assert_eq!(super::utc(951_782_400 + 3_723), [2000, 2, 29, 1, 2, 3]);
    }
}
