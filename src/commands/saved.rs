//! The files of saved plans (`plan --out`, `apply PLAN`, `show PLAN`): reading and atomic writing
//! of the format src/plan/saved.rs defines, and the fingerprints of the files a plan was computed
//! from (the policy's bytes, vetted.lock beside it). The format, its parsing and the comparison are
//! pure and live in the plan module.

use std::path::Path;

use crate::error::Error;
use crate::model::OrgState;
use crate::plan::saved::{Fingerprints, SavedPlan, SavedPlanError};
use crate::policy::Policy;

/// Reads and parses the saved plan at `path`.
pub(crate) fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
    let text = std::fs::read_to_string(path).map_err(|e| SavedPlanError {
        path: path.display().to_string(),
        message: format!("cannot read the saved plan: {e}"),
    })?;
    SavedPlan::parse(path, &text)
}

/// Writes the file atomically (a temporary file beside it, then a rename), so an interrupted write
/// never leaves half a plan.
pub(crate) fn write(saved: &SavedPlan, path: &Path) -> Result<(), SavedPlanError> {
    let err = |e: std::io::Error| SavedPlanError {
        path: path.display().to_string(),
        message: format!("cannot write the saved plan: {e}"),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan.json".to_string());
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, saved.to_json()).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

/// The fingerprints of a saved plan: the policy file (re-read: its bytes), vetted.lock beside it
/// (or its absence), a partial plan's `targets` and the live state, its tags included.
pub(crate) fn fingerprints(
    policy: &Policy,
    live: &OrgState,
    targets: &[String],
) -> Result<Fingerprints, Error> {
    let source = std::fs::read(&policy.path).map_err(|source| Error::Io {
        context: format!("reading {}", policy.path.display()),
        source,
    })?;
    let lock_path = crate::policy::lock::path_for(&policy.path);
    let lock = match std::fs::read(&lock_path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(Error::Io {
                context: format!("reading {}", lock_path.display()),
                source,
            });
        }
    };
    Ok(Fingerprints::compute(
        &source,
        &policy.desired,
        &policy.settings,
        lock.as_deref(),
        live,
    )
    .with_targets(targets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PolicySettings;
    use crate::plan::{Change, Plan};

    fn saved() -> SavedPlan {
        let plan = Plan {
            targets: Vec::new(),
            org: "acme".into(),
            changes: vec![Change::DeleteRepository {
                repository: "legacy".into(),
            }],
            notes: vec![],
            access: vec![],
            snapshot: None,
            drift: Default::default(),
            api_calls: 3,
        };
        let state = OrgState::empty("acme");
        let fp = Fingerprints::compute(b"", &state, &PolicySettings::default(), None, &state);
        let url = url::Url::parse("http://127.0.0.1:5080/").unwrap();
        SavedPlan::new(plan, &url, Path::new("vetted.toml"), fp)
    }

    #[test]
    fn write_puts_the_file_there_atomically_and_read_gets_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let s = saved();
        write(&s, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, s.to_json());
        assert!(text.ends_with("}\n"), "{text}");
        assert_eq!(read(&path).unwrap(), s);
        // Overwrites, and leaves no temporary file beside it.
        let mut other = saved();
        other.plan.api_calls = 99;
        write(&other, &path).unwrap();
        assert_eq!(read(&path).unwrap(), other);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["plan.json".to_string()]);
        // A directory that does not exist: an error naming the file.
        let e = write(&s, &dir.path().join("no/such/plan.json")).unwrap_err();
        assert!(e.to_string().contains("cannot write the saved plan"), "{e}");
        let e = read(&dir.path().join("missing.json")).unwrap_err();
        assert!(e.to_string().contains("cannot read the saved plan"), "{e}");
    }
}
