//! The walk over the organization's access settings: `[image_access] allow_repositories` (the
//! allowlist) and `[registry_access]` (Registry Access Management).

use std::collections::{BTreeMap, BTreeSet};

use toml_edit::TableLike;

use super::{Walker, rules};
use crate::model::{CustomRegistry, RegistryAccess};
use crate::policy::schema::{
    CUSTOM_REGISTRY as CUSTOM_REGISTRY_KEYS, REGISTRY_ACCESS as REGISTRY_ACCESS_KEYS,
};

impl Walker<'_> {
    /// `[image_access] allow_repositories`: Docker Hub repositories, normalised to `namespace/name`;
    /// syntax, other registries, tags and duplicates (after normalisation) are errors.
    pub(super) fn allowlist(&mut self, t: &dyn TableLike) -> Option<BTreeSet<String>> {
        let list = self.strings(t, "allow_repositories", "image_access.allow_repositories")?;
        if list.len() > rules::ALLOWLIST_MAX {
            let span = self.item_span(t, "allow_repositories");
            self.err(
                span,
                format!(
                    "`image_access.allow_repositories` lists {} repositories, more than {}",
                    list.len(),
                    rules::ALLOWLIST_MAX
                ),
                "too many entries",
                Some("mirror the images members need instead of allowing each one".to_string()),
            );
            return None;
        }
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for s in list {
            let repo = match rules::docker_hub_repository(s.value.trim()) {
                Ok(r) => r,
                Err(why) => {
                    self.err(
                        s.span.clone(),
                        format!(
                            "invalid repository `{}` in `image_access.allow_repositories`",
                            s.value
                        ),
                        why,
                        Some(
                            "write a Docker Hub repository: `bitnami/redis`, `nginx` or `docker.io/bitnami/redis`; other registries belong in [registry_access]"
                                .to_string(),
                        ),
                    );
                    continue;
                }
            };
            if let Some(first) = out.get(&repo) {
                self.err(
                    s.span.clone(),
                    format!(
                        "`{}` is listed twice in `image_access.allow_repositories` (as `{first}` too)",
                        s.value
                    ),
                    &format!("duplicate: both mean docker.io/{repo}"),
                    Some("keep one entry".to_string()),
                );
                continue;
            }
            out.insert(repo, s.value);
        }
        Some(out.into_keys().collect())
    }

    /// `[registry_access]`: Registry Access Management, all of it at once (Docker Hub replaces the
    /// whole setting).
    pub(super) fn registry_access(&mut self, root: &dyn TableLike) -> Option<RegistryAccess> {
        let t = self.table(root, "registry_access", "registry_access")?;
        self.check_keys(t, "[registry_access]", REGISTRY_ACCESS_KEYS);
        let span = self.item_span(root, "registry_access");
        let enabled = self.bool(t, "enabled", "registry_access.enabled");
        if enabled.is_none() && t.get("enabled").is_none() {
            self.err(
                span.clone(),
                "missing `enabled` in [registry_access]".to_string(),
                "this section sets Registry Access Management",
                Some("set `enabled = true` to limit members to the registries listed here, or `false` to allow every registry".to_string()),
            );
        }
        let docker_hub = match t.get("docker_hub") {
            None => Some(true),
            Some(_) => self.bool(t, "docker_hub", "registry_access.docker_hub"),
        };
        let mut custom: Vec<CustomRegistry> = Vec::new();
        let mut ok = true;
        if let Some(item) = t.get("registries") {
            let tables: Vec<&dyn TableLike> = match (item.as_array_of_tables(), item.as_array()) {
                (Some(a), _) => a.iter().map(|t| t as &dyn TableLike).collect(),
                (None, Some(a)) => {
                    let mut v: Vec<&dyn TableLike> = Vec::new();
                    for e in a.iter() {
                        match e.as_inline_table() {
                            Some(it) => v.push(it),
                            None => {
                                ok = false;
                                self.err(
                                    e.span(),
                                    "`registry_access.registries` must be a list of tables"
                                        .to_string(),
                                    &format!("found {}", e.type_name()),
                                    Some(
                                        "write `{ address = \"ghcr.io\", name = \"GitHub\" }`"
                                            .to_string(),
                                    ),
                                );
                            }
                        }
                    }
                    v
                }
                _ => {
                    self.wrong_type(
                        t,
                        "registries",
                        "registry_access.registries",
                        "a list of tables",
                    );
                    ok = false;
                    Vec::new()
                }
            };
            if tables.len() > rules::CUSTOM_REGISTRIES_MAX {
                let span = self.item_span(t, "registries");
                self.err(
                    span,
                    format!(
                        "`registry_access.registries` lists {} registries, more than {}",
                        tables.len(),
                        rules::CUSTOM_REGISTRIES_MAX
                    ),
                    "too many entries",
                    None,
                );
                return None;
            }
            let mut seen: BTreeSet<String> = BTreeSet::new();
            for r in tables {
                self.check_keys(
                    r,
                    "a [[registry_access.registries]] entry",
                    CUSTOM_REGISTRY_KEYS,
                );
                let address = self.string(r, "address", "registry_access.registries.address");
                let name = self.string(r, "name", "registry_access.registries.name");
                let allowed = match r.get("allowed") {
                    None => Some(true),
                    Some(_) => self.bool(r, "allowed", "registry_access.registries.allowed"),
                };
                let Some(address) = address else {
                    ok = false;
                    if r.get("address").is_none() {
                        self.err(
                            span.clone(),
                            "a registry in `registry_access.registries` has no `address`"
                                .to_string(),
                            "in this section",
                            Some("add `address = \"<host>\"`, e.g. `ghcr.io`".to_string()),
                        );
                    }
                    continue;
                };
                if let Some(why) = rules::registry_address_error(&address.value) {
                    ok = false;
                    self.err(
                        address.span.clone(),
                        format!("invalid registry address `{}`", address.value),
                        why,
                        None,
                    );
                    continue;
                }
                if !seen.insert(address.value.clone()) {
                    ok = false;
                    self.err(
                        address.span.clone(),
                        format!(
                            "registry `{}` is listed twice in `registry_access.registries`",
                            address.value
                        ),
                        "duplicate",
                        Some("keep one entry".to_string()),
                    );
                    continue;
                }
                let friendly_name = match name {
                    Some(n) if n.value.chars().count() > 100 || n.value.trim().is_empty() => {
                        ok = false;
                        self.err(
                            n.span.clone(),
                            "`registry_access.registries.name` must be 1 to 100 characters"
                                .to_string(),
                            "invalid name",
                            None,
                        );
                        continue;
                    }
                    Some(n) => n.value,
                    None => address.value.clone(),
                };
                let Some(allowed) = allowed else {
                    ok = false;
                    continue;
                };
                custom.push(CustomRegistry {
                    address: address.value,
                    friendly_name,
                    allowed,
                });
            }
        }
        custom.sort();
        if !ok {
            return None;
        }
        Some(RegistryAccess {
            enabled: enabled?,
            docker_hub: docker_hub?,
            custom,
        })
    }
}
