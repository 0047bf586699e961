//! The stable instance id of an index directory: the `Inst` of offline fiscal tag 1265 and
//! the LM-style `inst` field.

use std::io::Write;
use std::path::Path;

use super::IndexError;
use super::manifest::sync_dir;

/// File under the index directory holding the id.
pub const INSTANCE_FILE: &str = "INSTANCE";

/// The id of the index in `dir`, made on first use: a UUID written to `INSTANCE` and never
/// changed, so tag 1265 names the same instance across restarts, rebuilds and compactions.
/// Two processes making it at once agree: the file is published with a link that fails if
/// another was first, and then that one is read.
pub fn instance_id(dir: &Path) -> Result<String, IndexError> {
    let path = dir.join(INSTANCE_FILE);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IndexError::Io { path, source }
    };
    if let Some(id) = read(&path)? {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let tmp = dir.join(format!("{INSTANCE_FILE}.{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(format!("{id}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io(&tmp))?;
    drop(f);
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(dir)?;
            Ok(id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(&path)?.ok_or_else(|| {
            IndexError::Refused(format!("{} exists but holds no id", path.display()))
        }),
        Err(e) => Err(io(&path)(e)),
    }
}

fn read(path: &Path) -> Result<Option<String>, IndexError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let id = text.trim();
            if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(IndexError::Refused(format!(
                    "{} does not hold an instance id",
                    path.display()
                )));
            }
            Ok(Some(id.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(IndexError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let id = super::instance_id(dir.path()).unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(super::instance_id(dir.path()).unwrap(), id);
        std::fs::write(dir.path().join(super::INSTANCE_FILE), "\n").unwrap();
        assert!(super::instance_id(dir.path()).is_err());
    }
}
