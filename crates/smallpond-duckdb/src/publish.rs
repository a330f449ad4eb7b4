//! Putting a finished result into the user's directory so that, whatever moment a process
//! is killed at, the directory holds one whole result, the earlier or the new one, and the
//! next publish (a retry, or a later job) completes or rolls back what was interrupted.
//!
//! ```text
//!  parent/.smallpond-<h>.<tag>.new    1. the attempt assembles the new result here
//!  parent/<dest>                      2. swapped in: renameat2(RENAME_EXCHANGE), atomic;
//!                                        the earlier result is now at .new
//!  parent/.smallpond-<h>.<tag>.trash  3. renamed, then removed
//! ```
//! `<h>` is a hash of the destination's name (so that names stay short however long it
//! is) and `<tag>` names the attempt, its host and its process. Where the file system has
//! no atomic exchange (NFS, some FUSE), the swap is two renames: the earlier result is
//! renamed to `.old` (whole), the new one into place, then `.old` to `.trash`; a kill
//! between the two leaves the destination missing until the next publish rolls `.old`
//! back.
//!
//! Before each publish, [`Destination::recover`] finishes what earlier ones left: a whole
//! `.old` goes back into place if the destination is missing (else to the trash), trash is
//! removed, and a `.new` of a process of this host that no longer exists is removed (it is
//! a half-assembled result, or an earlier result swapped out just before the kill).

use std::path::{Path, PathBuf};

use crate::error::io;
use crate::{Error, Result};

/// A directory that results are published into.
pub struct Destination {
    path: PathBuf,
    parent: PathBuf,
    /// `.smallpond-<h>.`: the prefix of everything publishing leaves beside it.
    prefix: String,
}

impl Destination {
    pub fn new(path: &Path) -> Self {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        Self {
            path: path.to_path_buf(),
            parent,
            prefix: format!(".smallpond-{h:016x}."),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `.smallpond-<h>.`: how the names of everything publishing leaves beside it start.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Recovers interrupted publishes, then creates the empty directory in which attempt
    /// `attempt` (e.g. `task-000005.1`) of this process assembles its result.
    pub fn stage(&self, attempt: &str) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.parent).map_err(io(&self.parent))?;
        self.recover()?;
        let stage = self.sibling(&format!("{attempt}-{}", this_process()), "new");
        if stage.exists() {
            std::fs::remove_dir_all(&stage).map_err(io(&stage))?;
        }
        std::fs::create_dir(&stage).map_err(io(&stage))?;
        Ok(stage)
    }

    /// Makes `stage` the destination's content.
    pub fn publish(&self, stage: &Path) -> Result<()> {
        let tag = self.tag_of(stage, "new")?;
        if std::fs::symlink_metadata(&self.path).is_err() {
            return std::fs::rename(stage, &self.path).map_err(io(&self.path));
        }
        let earlier = match exchange(stage, &self.path) {
            // The earlier result is where the stage was.
            Ok(()) => stage.to_path_buf(),
            Err(e) if exchange_unsupported(&e) => {
                let old = self.sibling(&tag, "old");
                std::fs::rename(&self.path, &old).map_err(io(&self.path))?;
                if let Err(e) = std::fs::rename(stage, &self.path) {
                    // Put the earlier result back: the destination stays as it was.
                    let _ = std::fs::rename(&old, &self.path);
                    return Err(io(&self.path)(e));
                }
                old
            }
            Err(e) => return Err(io(&self.path)(e)),
        };
        let trash = self.sibling(&tag, "trash");
        std::fs::rename(&earlier, &trash).map_err(io(&earlier))?;
        if let Err(e) = std::fs::remove_dir_all(&trash) {
            // Published all the same; the next publish removes the rest.
            tracing::warn!("removing the earlier result {}: {e}", trash.display());
        }
        Ok(())
    }

    /// Removes a stage that will not be published.
    pub fn discard(&self, stage: &Path) {
        if stage.exists() {
            let _ = std::fs::remove_dir_all(stage);
        }
    }

    /// Completes or rolls back what interrupted publishes to this destination left.
    pub fn recover(&self) -> Result<()> {
        let entries = match std::fs::read_dir(&self.parent) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(&self.parent)(e)),
        };
        let mut ours: Vec<(String, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                name.starts_with(&self.prefix).then(|| (name, e.path()))
            })
            .collect();
        ours.sort();
        for (name, path) in &ours {
            if let Some(tag) = name.strip_suffix(".old") {
                if std::fs::symlink_metadata(&self.path).is_err() {
                    tracing::warn!(
                        "{}: rolling back an interrupted publish",
                        self.path.display()
                    );
                    std::fs::rename(path, &self.path).map_err(io(&self.path))?;
                } else {
                    let trash = PathBuf::from(format!("{tag}.trash"));
                    let trash = self.parent.join(trash);
                    std::fs::rename(path, &trash).map_err(io(path))?;
                    remove(&trash)?;
                }
            } else if name.ends_with(".trash") {
                remove(path)?;
            } else if let Some(tag) = name.strip_suffix(".new") {
                if !alive(tag) {
                    remove(path)?;
                }
            }
        }
        Ok(())
    }

    fn sibling(&self, tag: &str, kind: &str) -> PathBuf {
        self.parent.join(format!("{}{tag}.{kind}", self.prefix))
    }

    /// The tag of a stage made by [`Destination::stage`].
    fn tag_of(&self, stage: &Path, kind: &str) -> Result<String> {
        stage
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(&self.prefix))
            .and_then(|n| n.strip_suffix(&format!(".{kind}")))
            .map(String::from)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{} is not a stage of {}",
                    stage.display(),
                    self.path.display()
                ))
            })
    }
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

/// This process, as a stage's tag ends: `<host hash>-<pid>`.
fn this_process() -> String {
    format!("{:08x}-{}", host_hash(), std::process::id())
}

fn host_hash() -> u32 {
    let host = crate::hostname();
    host.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Whether the process that made a stage tagged `tag` may still be using it: yes unless it
/// was a process of this host that no longer exists.
fn alive(tag: &str) -> bool {
    let mut fields = tag.rsplitn(3, '-');
    let (Some(pid), Some(host), Some(_)) = (fields.next(), fields.next(), fields.next()) else {
        return true;
    };
    match (u32::from_str_radix(host, 16), pid.parse::<u32>()) {
        (Ok(host), Ok(pid)) if host == host_hash() => process_runs(pid),
        _ => true,
    }
}

/// Whether process `pid` of this host exists and is not a zombie: a killed worker whose
/// parent died stays a zombie until its new parent reaps it, and uses nothing meanwhile.
fn process_runs(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last parenthesis (comm may hold one).
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Swaps `a` and `b` in one step (Linux renameat2 RENAME_EXCHANGE).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

fn exchange_unsupported(e: &std::io::Error) -> bool {
    // EINVAL: the file system has no RENAME_EXCHANGE; ENOSYS: the kernel has no renameat2.
    e.kind() == std::io::ErrorKind::Unsupported || matches!(e.raw_os_error(), Some(22 | 38))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zombie_does_not_hold_its_stage() {
        assert!(process_runs(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not waited for: once it has exited it is a zombie until reaped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while process_runs(pid) {
            assert!(std::time::Instant::now() < deadline, "{pid} still runs");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "a zombie, not reaped yet"
        );
        child.wait().unwrap();
        assert!(!process_runs(pid));
    }

    fn dir_with(path: &Path, files: &[&str]) {
        std::fs::create_dir_all(path).unwrap();
        for f in files {
            std::fs::write(path.join(f), f).unwrap();
        }
    }

    fn names(path: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_publish_replaces_the_earlier_result_and_leaves_nothing_beside_it() {
        let t = tempfile::tempdir().unwrap();
        let dest = Destination::new(&t.path().join("out"));
        dir_with(dest.path(), &["part-old-1", "part-old-2"]);
        let stage = dest.stage("task-000001.1").unwrap();
        dir_with(&stage, &["part-new"]);
        dest.publish(&stage).unwrap();
        assert_eq!(names(dest.path()), ["part-new"]);
        assert_eq!(names(t.path()), ["out"]);
        // And into a destination that does not exist yet.
        let fresh = Destination::new(&t.path().join("fresh"));
        let stage = fresh.stage("task-000001.1").unwrap();
        dir_with(&stage, &["a"]);
        fresh.publish(&stage).unwrap();
        assert_eq!(names(fresh.path()), ["a"]);
    }

    #[test]
    fn an_interrupted_swap_is_rolled_back_or_completed() {
        let t = tempfile::tempdir().unwrap();
        let dest = Destination::new(&t.path().join("out"));
        // Killed between the two renames of the fallback swap: the destination is gone,
        // the earlier result whole at .old, the new one at the stage of a dead process.
        let dead = &format!("task-000001.1-{:08x}-999999999", host_hash());
        dir_with(&dest.sibling(dead, "old"), &["part-old"]);
        dir_with(&dest.sibling(dead, "new"), &["part-new"]);
        dest.recover().unwrap();
        assert_eq!(names(dest.path()), ["part-old"], "rolled back");
        // Killed after the swap: the new result in place, the earlier one at .old.
        dir_with(&dest.sibling(dead, "old"), &["part-older"]);
        dest.recover().unwrap();
        assert_eq!(names(dest.path()), ["part-old"]);
        assert_eq!(names(t.path()), ["out"], "the earlier result is removed");
    }

    #[test]
    fn leftovers_of_dead_processes_are_removed_and_live_stages_are_kept() {
        let t = tempfile::tempdir().unwrap();
        let dest = Destination::new(&t.path().join("out"));
        dir_with(dest.path(), &["part"]);
        let mine = format!("task-000002.1-{}", this_process());
        let dead = format!("task-000002.1-{:08x}-999999999", host_hash());
        let elsewhere = "task-000002.1-0badf00d-1234";
        for (tag, kind) in [(&mine, "new"), (&dead, "new"), (&dead, "trash")] {
            dir_with(&dest.sibling(tag, kind), &["x"]);
        }
        dir_with(&dest.sibling(elsewhere, "new"), &["x"]);
        dest.recover().unwrap();
        let left = names(t.path());
        assert!(left.contains(&"out".to_string()));
        assert!(
            left.iter().any(|n| n.ends_with(&format!("{mine}.new"))),
            "{left:?}"
        );
        assert!(
            left.iter().any(|n| n.contains("0badf00d")),
            "another host's: {left:?}"
        );
        assert_eq!(left.len(), 3, "{left:?}");
    }

    #[test]
    fn a_250_byte_destination_name_leaves_short_names_beside_it() {
        let t = tempfile::tempdir().unwrap();
        let dest = Destination::new(&t.path().join("o".repeat(250)));
        let stage = dest.stage("task-000003.2").unwrap();
        assert!(stage.file_name().unwrap().len() < 80);
        dest.publish(&stage).unwrap();
        assert!(dest.path().is_dir());
    }
}
