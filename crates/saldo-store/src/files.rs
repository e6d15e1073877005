//! Files at rest: a household's finances, and the key to its secrets, are for the account that
//! runs saldo only. What saldo creates is made so whatever the umask; what it finds open to
//! others is named, so the person running it can close it.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the directories saldo creates.
pub const PRIVATE_DIR: u32 = 0o700;
/// Mode of the files saldo creates (database, its WAL and shared memory, key files).
pub const PRIVATE_FILE: u32 = 0o600;

/// Creates `dir` and every missing parent, each readable by its owner only. Existing directories
/// are left as they are.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).collect();
    for created in missing.into_iter().rev() {
        match DirBuilder::new().mode(PRIVATE_DIR).create(created) {
            Ok(()) => std::fs::set_permissions(created, Permissions::from_mode(PRIVATE_DIR))?,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Creates a new file (failing if it exists) that only its owner can read and write.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().write(true).create_new(true).mode(PRIVATE_FILE).open(path)?;
    file.set_permissions(Permissions::from_mode(PRIVATE_FILE))?;
    Ok(file)
}

/// Those of `paths` that exist and that other accounts of the machine may read, write or (for a
/// directory) enter, with their mode.
pub fn open_to_others(paths: &[PathBuf]) -> Vec<(PathBuf, u32)> {
    paths
        .iter()
        .filter_map(|path| {
            let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
            (mode & 0o077 != 0).then(|| (path.clone(), mode))
        })
        .collect()
}

/// The files of an SQLite database: the database, its WAL and its shared memory.
pub(crate) fn sqlite_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_saldo_creates_is_its_owner_s_only_and_loose_modes_are_named() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("b");
        create_private_dir(&dir).unwrap();
        for created in [root.path().join("a"), dir.clone()] {
            assert_eq!(std::fs::metadata(&created).unwrap().permissions().mode() & 0o777, PRIVATE_DIR);
        }
        let file = dir.join("secret.key");
        drop(create_private_file(&file).unwrap());
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, PRIVATE_FILE);
        assert!(create_private_file(&file).is_err(), "an existing file is never replaced");
        assert!(open_to_others(&[dir.clone(), file.clone(), dir.join("missing")]).is_empty());
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        assert_eq!(open_to_others(&[dir, file.clone()]), vec![(file, 0o644)]);
    }
}
