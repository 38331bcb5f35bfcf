//! Legal holds set through the admin API, kept in `<dir>/holds.json`
//! (`0600`). Holds from the configuration are the caller's business (its
//! retention closure); these are the ones an operator sets at run time.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::{create_dir, open_private, sync_dir, unix_ms_now, DirLock};

const HOLDS_FILE: &str = "holds.json";

/// One account on hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// Account SID.
    pub account: String,
    /// Who set it (an admin user name).
    pub by: String,
    /// Why (e.g. a case reference), if given.
    pub note: Option<String>,
    /// Unix ms when it was set.
    pub since_ms: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldsFile {
    holds: Vec<Hold>,
}

/// The holds of one CDR directory; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Holds {
    dir: PathBuf,
    holds: BTreeMap<String, Hold>,
}

fn read_file(dir: &Path) -> io::Result<BTreeMap<String, Hold>> {
    let text = match fs::read_to_string(dir.join(HOLDS_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    let f: HoldsFile = serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", dir.join(HOLDS_FILE).display()),
        )
    })?;
    Ok(f.holds
        .into_iter()
        .map(|h| (h.account.clone(), h))
        .collect())
}

impl Holds {
    /// Reads `<dir>/holds.json`; none if it does not exist.
    pub fn load(dir: &Path) -> io::Result<Holds> {
        Ok(Holds {
            dir: dir.to_path_buf(),
            holds: read_file(dir)?,
        })
    }

    /// Puts `account` on hold (`on`) or releases it, and saves the file
    /// (write, fsync, rename). Other processes' changes made since
    /// [`load`](Self::load) are merged first. Returns whether anything
    /// changed.
    pub fn set(
        &mut self,
        account: &str,
        on: bool,
        by: &str,
        note: Option<&str>,
    ) -> io::Result<bool> {
        create_dir(&self.dir)?;
        let lock = DirLock::open(&self.dir)?;
        let _guard = lock.exclusive()?;
        self.holds = read_file(&self.dir)?;
        let changed = if on {
            let hold = Hold {
                account: account.to_owned(),
                by: by.to_owned(),
                note: note.map(str::to_owned),
                since_ms: unix_ms_now(),
            };
            match self.holds.get(account) {
                Some(h) if h.by == hold.by && h.note == hold.note => false,
                _ => {
                    self.holds.insert(account.to_owned(), hold);
                    true
                }
            }
        } else {
            self.holds.remove(account).is_some()
        };
        if changed {
            self.save()?;
        }
        Ok(changed)
    }

    fn save(&self) -> io::Result<()> {
        let file = HoldsFile {
            holds: self.holds.values().cloned().collect(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(io::Error::other)?;
        let path = self.dir.join(HOLDS_FILE);
        let tmp = self.dir.join(format!("{HOLDS_FILE}.tmp"));
        let mut f = open_private(&tmp, false)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)
    }

    /// Whether `account` is on hold (as of the last load or set).
    pub fn is_held(&self, account: &str) -> bool {
        self.holds.contains_key(account)
    }

    /// Every hold, by account.
    pub fn list(&self) -> Vec<Hold> {
        self.holds.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn holds_persist_and_merge() {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = Holds::load(tmp.path()).unwrap();
        assert!(a.list().is_empty());
        assert!(a.set("acme", true, "alice", Some("case 12")).unwrap());
        assert!(!a.set("acme", true, "alice", Some("case 12")).unwrap());
        assert!(a.is_held("acme"));
        // Another process's view merges on set.
        let mut b = Holds::load(tmp.path()).unwrap();
        assert!(b.is_held("acme"));
        assert!(b.set("beta", true, "bob", None).unwrap());
        assert!(a.set("acme", false, "alice", None).unwrap());
        assert!(!a.is_held("acme"));
        assert!(a.is_held("beta"));
        let again = Holds::load(tmp.path()).unwrap();
        let list = again.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].account, "beta");
        assert_eq!(list[0].by, "bob");
        let mode = std::fs::metadata(tmp.path().join(HOLDS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(tmp.path().join(HOLDS_FILE), b"{not json").unwrap();
        assert!(Holds::load(tmp.path()).is_err());
    }
}
