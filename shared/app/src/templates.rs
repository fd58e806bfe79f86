//! The template catalog: what `GET /api/v1/templates` lists and a bootstrap starts from. It is
//! configuration (`AXHUB_TEMPLATE_CATALOG`, a JSON document; axhub-local embeds a demo one),
//! not state: every template is a folder of one templates repository on GitHub, read when a
//! saga pushes it.

use axhub_domain::{Error, Principal};
use axhub_ports::github::TemplateSource;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Deps, access};

/// One template as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Template {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// The folder of the templates repository holding the template's files.
    pub folder_name: String,
    /// The size of workload it is made for (`small`, `medium`, …), as the catalog says.
    pub resource_tier: String,
}

/// `GET /api/v1/templates`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    pub items: Vec<Template>,
}

/// The catalog: the templates repository (`owner/repo` at a ref) and its templates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    #[serde(default)]
    pub repository: String,
    #[serde(default = "default_ref", rename = "ref")]
    pub git_ref: String,
    #[serde(default)]
    pub items: Vec<Template>,
}

fn default_ref() -> String {
    "main".to_owned()
}

impl Catalog {
    /// Reads and checks a catalog document: a repository named as `owner/repo` when there
    /// are templates, unique ids, folders that stay inside the repository.
    pub fn parse(json: &str) -> Result<Self, String> {
        let c: Catalog =
            serde_json::from_str(json).map_err(|e| format!("template catalog: {e}"))?;
        if !c.items.is_empty() {
            axhub_domain::validate::repo_full_name(Some(&c.repository))
                .map_err(|_| format!("template catalog: repository {:?}", c.repository))?;
        }
        for (i, t) in c.items.iter().enumerate() {
            if c.items[..i].iter().any(|o| o.id == t.id) {
                return Err(format!("template catalog: id {} twice", t.id));
            }
            let folder_ok = !t.folder_name.is_empty()
                && t.folder_name
                    .split('/')
                    .all(|p| !p.is_empty() && p != "." && p != "..");
            if !folder_ok || t.name.trim().is_empty() {
                return Err(format!(
                    "template catalog: template {} needs a name and a folder inside the repository",
                    t.id
                ));
            }
        }
        Ok(c)
    }

    pub fn get(&self, id: Uuid) -> Option<&Template> {
        self.items.iter().find(|t| t.id == id)
    }

    /// Where a template's files are.
    pub fn source(&self, t: &Template) -> TemplateSource {
        TemplateSource {
            repo_full_name: self.repository.clone(),
            git_ref: self.git_ref.clone(),
            folder: t.folder_name.clone(),
        }
    }
}

/// `GET /api/v1/templates`: every signed-in caller may read the catalog.
pub fn list(deps: &Deps, who: &Principal) -> Result<TemplateList, Error> {
    access::caller_may(who, axhub_domain::Access::Read)?;
    Ok(TemplateList {
        items: deps.templates.items.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ONE: &str = r#"{"repository":"axhub/templates","items":[{"id":"0190a000-0000-7000-8000-000000000001","name":"Node","description":"","folder_name":"node","resource_tier":"small"}]}"#;

    #[test]
    fn a_catalog_is_checked_when_read() {
        let c = Catalog::parse(ONE).unwrap();
        assert_eq!(c.git_ref, "main");
        let t = &c.items[0];
        assert_eq!(c.source(t).folder, "node");
        assert!(Catalog::parse("{}").unwrap().items.is_empty());
        assert!(Catalog::parse(&ONE.replace("axhub/templates", "nope")).is_err());
        assert!(Catalog::parse(&ONE.replace("\"node\"", "\"../x\"")).is_err());
        let twice = ONE.replace("}]}", "},{\"id\":\"0190a000-0000-7000-8000-000000000001\",\"name\":\"B\",\"description\":\"\",\"folder_name\":\"b\",\"resource_tier\":\"small\"}]}");
        assert!(Catalog::parse(&twice).unwrap_err().contains("twice"));
    }
}
