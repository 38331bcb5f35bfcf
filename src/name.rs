//! Interned names of carriers and accounts.
//!
//! A message's path names its account and its carrier several times: in
//! the DLR mapping stored at the carrier's response, in the mapping a
//! receipt finds, in what the bind's reader hands the ESME side. As
//! `Arc<str>`, each of those copies and drops writes the name's reference
//! count: one cache line per name, shared by every message of the account,
//! which the worker threads would pass between their cores on every
//! message. A [`Name`] is a pointer to the one copy of its text: copied,
//! compared and hashed without writing shared memory.

use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{LazyLock, Mutex};

/// The name of a carrier or an account (`[[carrier]] name`, `system_id`),
/// interned: one copy of each distinct text per process.
///
/// Names are made only from the configuration and from the DLR store's
/// own files, never from what a peer sends, so the set stays the size of
/// the names the operator has configured; each is kept for the process's
/// life (what an interned name costs is its text).
#[derive(Clone, Copy)]
pub struct Name(&'static str);

static NAMES: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Default::default);

impl Name {
    /// The name `text`, interned on first use.
    pub fn new(text: &str) -> Name {
        let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&n) = names.get(text) {
            return Name(n);
        }
        let n: &'static str = Box::leak(Box::from(text));
        names.insert(n);
        Name(n)
    }

    /// The text.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// Interned: the same text is the same pointer.
impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.0, state);
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(&s)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_name() {
        let a = Name::new("carrier-a");
        let b = Name::from(String::from("carrier-a"));
        let c = Name::new("carrier-b");
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_ne!(a, c);
        assert_eq!(a, "carrier-a");
        assert_eq!(&*c, "carrier-b");
        assert_eq!(format!("{a} {c:?}"), "carrier-a \"carrier-b\"");
        let set: HashSet<Name> = [a, b, c].into_iter().collect();
        assert_eq!(set.len(), 2);
    }
}
