//! The template catalog of axhub-local: `--template-catalog FILE` (the same JSON document as
//! `AXHUB_TEMPLATE_CATALOG` in AWS), or with the simulated GitHub the demo catalog, whose
//! templates this module puts into the sim's public repository `axhub-templates/starters`.

use std::path::Path;

use anyhow::Context;
use axhub_app::templates::Catalog;
use axhub_simgithub::SimGitHub;

/// The demo catalog (ids fixed, so the SDK tests and the docs can name them).
pub const DEMO_CATALOG: &str = include_str!("../templates/catalog.json");

/// The demo templates' files: (folder/path, content).
const DEMO_FILES: &[(&str, &str)] = &[
    (
        "node-hello/package.json",
        include_str!("../templates/node-hello/package.json"),
    ),
    (
        "node-hello/server.js",
        include_str!("../templates/node-hello/server.js"),
    ),
    (
        "node-hello/Dockerfile",
        include_str!("../templates/node-hello/Dockerfile"),
    ),
    (
        "static-site/index.html",
        include_str!("../templates/static-site/index.html"),
    ),
    (
        "static-site/Dockerfile",
        include_str!("../templates/static-site/Dockerfile"),
    ),
];

/// Reads `--template-catalog`.
pub fn from_file(path: &Path) -> anyhow::Result<Catalog> {
    let json = std::fs::read_to_string(path)
        .with_context(|| format!("reading the template catalog {}", path.display()))?;
    Catalog::parse(&json).map_err(anyhow::Error::msg)
}

/// The demo catalog, its templates put into the simulated GitHub.
pub fn demo(sim: &SimGitHub) -> anyhow::Result<Catalog> {
    let catalog = Catalog::parse(DEMO_CATALOG).map_err(anyhow::Error::msg)?;
    let (owner, _) = catalog
        .repository
        .split_once('/')
        .context("the demo catalog's repository")?;
    sim.add_org(owner, &[]);
    sim.add_repo(&catalog.repository, &catalog.git_ref, false);
    let files: Vec<(&str, &[u8])> = DEMO_FILES
        .iter()
        .map(|(path, content)| (*path, content.as_bytes()))
        .collect();
    sim.add_files(
        &catalog.repository,
        &catalog.git_ref,
        &files,
        "The starter templates",
    )
    .context("writing the demo templates into the simulated GitHub")?;
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Every template of the demo catalog has files in the sim, and only those exist.
    #[test]
    fn every_demo_template_has_its_files() {
        let sim = SimGitHub::new();
        let catalog = demo(&sim).unwrap();
        let files = sim.files(&catalog.repository, &catalog.git_ref).unwrap();
        for t in &catalog.items {
            let prefix = format!("{}/", t.folder_name);
            assert!(
                files.keys().any(|p| p.starts_with(&prefix)),
                "{} has no files",
                t.name
            );
            assert!(
                files.contains_key(&format!("{prefix}Dockerfile")),
                "{} has no Dockerfile",
                t.name
            );
        }
    }
}
