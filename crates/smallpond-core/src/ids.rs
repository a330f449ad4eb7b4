//! Identifier newtypes: never pass a bare integer where one of these is meant.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A node of the logical plan; unique within a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

/// A task of an execution plan; unique within a job, stable across runs of the same plan
/// (so that a resumed job finds the records of the tasks it already ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId(pub u32);

/// A job: one session's data root directory is named after it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobId(String);

impl JobId {
    /// Validates that the id can be used as part of a directory name.
    pub fn try_new(id: impl Into<String>) -> crate::Result<Self> {
        let id = id.into();
        let ok = !id.is_empty()
            && id.len() <= 128
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !ok || id.starts_with('.') {
            return Err(crate::Error::InvalidArgument {
                argument: "job_id".into(),
                reason: format!(
                    "{id:?} must be 1-128 characters of letters, digits, '-', '_' or '.', not starting with '.'"
                ),
            });
        }
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node-{}", self.0)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task-{:06}", self.0)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_id_rejects_path_separators() {
        assert!(JobId::try_new("abc-1_2.x").is_ok());
        assert!(JobId::try_new("../x").is_err());
        assert!(JobId::try_new("a/b").is_err());
        assert!(JobId::try_new("").is_err());
    }
}
