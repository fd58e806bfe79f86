//! One repository's Git objects: blobs, trees and commits, named by a hash of what they hold,
//! so that writing the same object twice gives the same id, as Git does. That is what lets a
//! client that crashed after writing a commit find it again by writing it again.
//!
//! Trees are kept flat (full path → blob), which is all the Git Data API clients here need;
//! ids are SHA-256 truncated to 40 hex digits (the shape of a Git SHA-1, not its value).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// A file of a tree: its mode (`100644`, `100755`) and blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub mode: String,
    pub blob: String,
}

/// Full path → file.
pub type Tree = BTreeMap<String, Entry>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
    /// Author, committer and date, as one line: they are part of the commit's identity.
    pub signature: String,
}

/// Why an object cannot be written: it names one that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing(pub String);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Objects {
    blobs: BTreeMap<String, Vec<u8>>,
    trees: BTreeMap<String, Tree>,
    commits: BTreeMap<String, Commit>,
}

fn object_id(kind: &str, parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let mut id = hex::encode(h.finalize());
    id.truncate(40);
    id
}

impl Objects {
    pub fn put_blob(&mut self, content: Vec<u8>) -> String {
        let id = object_id("blob", &[&content]);
        self.blobs.insert(id.clone(), content);
        id
    }

    pub fn blob(&self, id: &str) -> Option<&[u8]> {
        self.blobs.get(id).map(Vec::as_slice)
    }

    pub fn put_tree(&mut self, tree: Tree) -> Result<String, Missing> {
        if let Some(e) = tree.values().find(|e| !self.blobs.contains_key(&e.blob)) {
            return Err(Missing(e.blob.clone()));
        }
        let listing: String = tree
            .iter()
            .map(|(path, e)| format!("{} {} {path}\n", e.mode, e.blob))
            .collect();
        let id = object_id("tree", &[listing.as_bytes()]);
        self.trees.insert(id.clone(), tree);
        Ok(id)
    }

    pub fn tree(&self, id: &str) -> Option<&Tree> {
        self.trees.get(id)
    }

    pub fn put_commit(&mut self, commit: Commit) -> Result<String, Missing> {
        if !self.trees.contains_key(&commit.tree) {
            return Err(Missing(commit.tree));
        }
        if let Some(p) = commit
            .parents
            .iter()
            .find(|p| !self.commits.contains_key(*p))
        {
            return Err(Missing(p.clone()));
        }
        let parents = commit.parents.join(" ");
        let id = object_id(
            "commit",
            &[
                commit.tree.as_bytes(),
                parents.as_bytes(),
                commit.message.as_bytes(),
                commit.signature.as_bytes(),
            ],
        );
        self.commits.insert(id.clone(), commit);
        Ok(id)
    }

    pub fn commit(&self, id: &str) -> Option<&Commit> {
        self.commits.get(id)
    }

    /// The tree of a commit.
    pub fn tree_of(&self, commit: &str) -> Option<&Tree> {
        self.trees.get(&self.commits.get(commit)?.tree)
    }

    /// The commits from `from` back to (not including) `base` along first parents, oldest
    /// first; None when `base` is not on that line (the move would not be a fast-forward).
    pub fn since(&self, from: &str, base: &str) -> Option<Vec<String>> {
        let mut line = Vec::new();
        let mut at = from.to_owned();
        while at != base {
            let c = self.commits.get(&at)?;
            line.push(at.clone());
            at = c.parents.first()?.clone();
        }
        line.reverse();
        Some(line)
    }

    /// The first-parent line from the root to `sha`, oldest first.
    pub fn line(&self, sha: &str) -> Vec<String> {
        let mut line = vec![sha.to_owned()];
        let mut at = sha;
        while let Some(parent) = self.commits.get(at).and_then(|c| c.parents.first()) {
            line.push(parent.clone());
            at = parent;
        }
        line.reverse();
        line
    }

    /// Every file of a commit, with its content.
    pub fn files(&self, commit: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        let tree = self.tree_of(commit)?;
        tree.iter()
            .map(|(path, e)| Some((path.clone(), self.blobs.get(&e.blob)?.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file(o: &mut Objects, content: &str) -> Entry {
        Entry {
            mode: "100644".into(),
            blob: o.put_blob(content.as_bytes().to_vec()),
        }
    }

    #[test]
    fn the_same_object_written_twice_is_one_object() {
        let mut o = Objects::default();
        let readme = file(&mut o, "hello");
        assert_eq!(file(&mut o, "hello"), readme);
        let tree = o
            .put_tree(Tree::from([("README.md".into(), readme)]))
            .unwrap();
        let root = o
            .put_commit(Commit {
                tree: tree.clone(),
                parents: vec![],
                message: "Initial commit".into(),
                signature: "a <a@x> 2026".into(),
            })
            .unwrap();
        let next = Commit {
            tree,
            parents: vec![root.clone()],
            message: "next".into(),
            signature: "a <a@x> 2026".into(),
        };
        let child = o.put_commit(next.clone()).unwrap();
        assert_eq!(
            o.put_commit(next).unwrap(),
            child,
            "written again: the same id"
        );
        assert_eq!(o.since(&child, &root), Some(vec![child.clone()]));
        assert_eq!(o.since(&root, &child), None, "not a fast-forward");
        assert_eq!(o.files(&child).unwrap()["README.md"], b"hello");

        let unknown = Commit {
            tree: "0".repeat(40),
            parents: vec![],
            message: "x".into(),
            signature: String::new(),
        };
        assert_eq!(o.put_commit(unknown), Err(Missing("0".repeat(40))));
        let dangling = Entry {
            mode: "100644".into(),
            blob: "f".repeat(40),
        };
        assert!(o.put_tree(Tree::from([("x".into(), dangling)])).is_err());
    }
}
