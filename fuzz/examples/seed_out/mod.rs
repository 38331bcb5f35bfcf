//! The seed writer both seed generators share: `corpus/<target>/seed-NN-<name>`
//! files, replacing earlier `seed-*` files and leaving the fuzzer's own.

use std::fs;
use std::path::{Path, PathBuf};

/// `corpus/<target>`, created, with its old `seed-*` files removed.
fn dir(target: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&d).expect("create corpus dir");
    for entry in fs::read_dir(&d).expect("read corpus dir") {
        let path = entry.expect("dir entry").path();
        let is_seed = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("seed-"));
        if is_seed {
            fs::remove_file(&path).expect("remove old seed");
        }
    }
    d
}

/// Numbered seeds for one target.
pub struct Out {
    dir: PathBuf,
    n: usize,
}

impl Out {
    /// Starts the seeds of `target`.
    pub fn new(target: &str) -> Out {
        Out {
            dir: dir(target),
            n: 0,
        }
    }

    /// Writes the next seed.
    pub fn put(&mut self, name: &str, data: &[u8]) {
        let file = self.dir.join(format!("seed-{:02}-{name}", self.n));
        fs::write(&file, data).expect("write seed");
        self.n += 1;
    }

    /// Prints where the seeds went and how many.
    pub fn report(&self) {
        println!("{}: {} seeds", self.dir.display(), self.n);
    }
}
