//! The walk over the parsed policy: a hand-written pass over the `toml_edit` document (which keeps a
//! byte span on every key and value) that checks keys, types and rules, collects every error, and
//! builds the desired [`OrgState`] when there are none.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Range;
use std::path::Path;

use toml_edit::{Document, Item, TableLike, Value};

use super::PolicySettings;
use super::diagnostics::Diagnostic;
use super::rules;
use crate::model::{
    CustomRegistry, ImageAccess, Members, Mirror, OrgState, Permission, RegistryAccess, Repository,
    Role, Team, Username,
};

// The keys of each table, their types and docs: one description shared with the JSON Schema.
use super::schema::{
    CUSTOM_REGISTRY as CUSTOM_REGISTRY_KEYS, IMAGE_ACCESS as IMAGE_ACCESS_KEYS, IMAGE_ACCESS_FLAGS,
    Key, MEMBERS as MEMBERS_KEYS, MIRROR as MIRROR_KEYS, REGISTRY_ACCESS as REGISTRY_ACCESS_KEYS,
    REPOSITORY as REPO_KEYS, SETTINGS as SETTINGS_KEYS, TEAM as TEAM_KEYS, TOP as TOP_KEYS,
};

type Span = Option<Range<usize>>;

mod verify;

/// A string with where it was written.
struct Spanned {
    value: String,
    span: Span,
}

pub(super) fn walk(
    source: &str,
    base: &Path,
) -> Result<(OrgState, PolicySettings), Vec<Diagnostic>> {
    let doc = match Document::parse(source) {
        Ok(doc) => doc,
        Err(e) => {
            return Err(vec![Diagnostic {
                message: "invalid TOML".to_string(),
                span: e.span(),
                label: e.message().trim().to_string(),
                help: None,
            }]);
        }
    };
    let mut w = Walker {
        base,
        diags: Vec::new(),
    };
    let root = doc.as_table();
    w.check_keys(root, "the policy", TOP_KEYS);

    let org = match w.string(root, "org", "org") {
        Some(org) => {
            if !rules::is_org_name(&org.value) {
                w.err(
                    org.span.clone(),
                    format!("invalid organization name `{}`", org.value),
                    "not a Docker Hub namespace",
                    Some("use 2 to 255 lowercase letters and digits".to_string()),
                );
            }
            org.value
        }
        None => {
            if root.get("org").is_none() {
                w.err(
                    None,
                    "missing required key `org`".to_string(),
                    "",
                    Some("add `org = \"<your Docker Hub organization>\"` at the top".to_string()),
                );
            }
            String::new()
        }
    };

    let image_table = w.table(root, "image_access", "image_access");
    let allowlist = image_table.and_then(|t| w.allowlist(t));
    let image_access = image_table.and_then(|t| {
        w.check_keys(t, "[image_access]", IMAGE_ACCESS_KEYS);
        // A section that only lists `allow_repositories` leaves the three category settings
        // unmanaged; writing any of them manages all three.
        if t.get("allow_repositories").is_some()
            && IMAGE_ACCESS_FLAGS.iter().all(|k| t.get(k).is_none())
        {
            return None;
        }
        let span = w.item_span(root, "image_access");
        let req = |w: &mut Walker<'_>, key: &str| {
            let v = w.bool(t, key, &format!("image_access.{key}"));
            if v.is_none() && t.get(key).is_none() {
                w.err(
                    span.clone(),
                    format!("missing `{key}` in [image_access]"),
                    "this section sets Image Access Management",
                    Some(format!(
                        "Docker Hub takes all three settings at once: set `{key}` to true or false"
                    )),
                );
            }
            v
        };
        let enabled = req(&mut w, "enabled");
        let official = req(&mut w, "allow_official_images");
        let verified = req(&mut w, "allow_verified_publishers");
        Some(ImageAccess {
            enabled: enabled?,
            allow_official_images: official?,
            allow_verified_publishers: verified?,
        })
    });
    let registry_access = w.registry_access(root);

    let teams = w.teams(root);
    let roles = w.members(root, teams.as_ref());
    let team_names: Vec<String> = teams
        .as_ref()
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    let repositories = w.repositories(root, teams.is_some(), &team_names);
    let settings = w.settings(root);

    if !w.diags.is_empty() {
        return Err(w.diags);
    }
    Ok((
        OrgState {
            org,
            image_access,
            allowlist,
            registry_access,
            members: roles.map(|roles| Members {
                roles,
                invites: Vec::new(),
            }),
            teams,
            partial_grants: Default::default(),
            repositories,
        },
        settings,
    ))
}

struct Walker<'a> {
    base: &'a Path,
    diags: Vec<Diagnostic>,
}

fn suggest<'s>(word: &str, candidates: impl IntoIterator<Item = &'s str>) -> Option<&'s str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Walker<'_> {
    fn err(&mut self, span: Span, message: String, label: &str, help: Option<String>) {
        self.diags.push(Diagnostic {
            message,
            span,
            label: label.to_string(),
            help,
        });
    }

    fn key_span(t: &dyn TableLike, key: &str) -> Span {
        t.get_key_value(key).and_then(|(k, _)| k.span())
    }

    /// The value's span, or the key's when the value has none (implicit tables).
    fn item_span(&self, t: &dyn TableLike, key: &str) -> Span {
        t.get(key)
            .and_then(Item::span)
            .or_else(|| Self::key_span(t, key))
    }

    fn check_keys(&mut self, t: &dyn TableLike, ctx: &str, keys: &[Key]) {
        let allowed = super::schema::names(keys);
        let allowed = allowed.as_slice();
        for (key, _) in t.iter() {
            if allowed.contains(&key) {
                continue;
            }
            let help = match suggest(key, allowed.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("valid keys: {}", backticked(allowed)),
            };
            self.err(
                Self::key_span(t, key),
                format!("unknown key `{key}` in {ctx}"),
                "unknown key",
                Some(help),
            );
        }
    }

    fn wrong_type(&mut self, t: &dyn TableLike, key: &str, what: &str, expected: &str) {
        let found = t.get(key).map(Item::type_name).unwrap_or("nothing");
        let span = self.item_span(t, key);
        self.err(
            span,
            format!("`{what}` must be {expected}"),
            &format!("found {found}"),
            None,
        );
    }

    fn bool(&mut self, t: &dyn TableLike, key: &str, what: &str) -> Option<bool> {
        let item = t.get(key)?;
        match item.as_bool() {
            Some(b) => Some(b),
            None => {
                self.wrong_type(t, key, what, "a boolean (true or false)");
                None
            }
        }
    }

    fn string(&mut self, t: &dyn TableLike, key: &str, what: &str) -> Option<Spanned> {
        let item = t.get(key)?;
        match item.as_str() {
            Some(s) => Some(Spanned {
                value: s.to_string(),
                span: item.span(),
            }),
            None => {
                self.wrong_type(t, key, what, "a string");
                None
            }
        }
    }

    fn table<'t>(
        &mut self,
        t: &'t dyn TableLike,
        key: &str,
        what: &str,
    ) -> Option<&'t dyn TableLike> {
        let item = t.get(key)?;
        match item.as_table_like() {
            Some(tl) => Some(tl),
            None => {
                self.wrong_type(t, key, what, "a table");
                None
            }
        }
    }

    /// A list of strings; each element keeps its span. Reports non-string elements.
    fn strings(&mut self, t: &dyn TableLike, key: &str, what: &str) -> Option<Vec<Spanned>> {
        let item = t.get(key)?;
        let Some(array) = item.as_array() else {
            self.wrong_type(t, key, what, "a list of strings");
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        let mut ok = true;
        for v in array.iter() {
            match v.as_str() {
                Some(s) => out.push(Spanned {
                    value: s.to_string(),
                    span: v.span(),
                }),
                None => {
                    ok = false;
                    self.err(
                        v.span(),
                        format!("`{what}` must be a list of strings"),
                        &format!("found {}", v.type_name()),
                        None,
                    );
                }
            }
        }
        ok.then_some(out)
    }

    /// Docker IDs in a list: syntax checked, duplicates (case-insensitive) reported. Linear in the
    /// list's length (a set of the names seen), so a list of 100,000 members loads at once.
    fn usernames(&mut self, t: &dyn TableLike, key: &str, what: &str) -> Vec<(Username, Span)> {
        let mut out: Vec<(Username, Span)> = Vec::new();
        let mut seen: HashSet<Username> = HashSet::new();
        for s in self.strings(t, key, what).unwrap_or_default() {
            if !rules::is_docker_id(s.value.trim()) {
                self.err(
                    s.span.clone(),
                    format!("invalid Docker ID `{}` in `{what}`", s.value),
                    "not a Docker ID",
                    Some(format!(
                        "Docker IDs are {} to {} letters and digits",
                        rules::DOCKER_ID_LEN.start(),
                        rules::DOCKER_ID_LEN.end()
                    )),
                );
                continue;
            }
            let user = Username::new(&s.value);
            if !seen.insert(user.clone()) {
                self.err(
                    s.span.clone(),
                    format!("`{}` is listed twice in `{what}`", s.value),
                    "duplicate (Docker IDs are case-insensitive)",
                    None,
                );
                continue;
            }
            out.push((user, s.span));
        }
        out
    }

    /// `[image_access] allow_repositories`: Docker Hub repositories, normalised to `namespace/name`;
    /// syntax, other registries, tags and duplicates (after normalisation) are errors.
    fn allowlist(&mut self, t: &dyn TableLike) -> Option<BTreeSet<String>> {
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
    fn registry_access(&mut self, root: &dyn TableLike) -> Option<RegistryAccess> {
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

    fn team_name_error(&mut self, span: Span, name: &str) {
        let (rule, len) = rules::TEAM_NAME_RULE;
        self.err(
            span,
            format!("invalid team name `{name}`"),
            "not a valid team name",
            Some(format!(
                "team names are {rule}, {} to {} characters",
                len.start(),
                len.end()
            )),
        );
    }

    fn teams(&mut self, root: &dyn TableLike) -> Option<BTreeMap<String, Team>> {
        let teams = self.table(root, "teams", "teams")?;
        let mut out = BTreeMap::new();
        for (name, _) in teams.iter() {
            let what = format!("teams.{name}");
            if !rules::is_team_name(name) {
                self.team_name_error(Self::key_span(teams, name), name);
            }
            let Some(team) = self.table(teams, name, &what) else {
                continue;
            };
            self.check_keys(team, &format!("[{what}]"), TEAM_KEYS);
            let description = self
                .string(team, "description", &format!("{what}.description"))
                .map(|s| s.value);
            let members = self
                .usernames(team, "members", &format!("{what}.members"))
                .into_iter()
                .map(|(u, _)| u)
                .collect::<BTreeSet<_>>();
            out.insert(
                name.to_string(),
                Team {
                    description,
                    members,
                },
            );
        }
        Some(out)
    }

    fn members(
        &mut self,
        root: &dyn TableLike,
        teams: Option<&BTreeMap<String, Team>>,
    ) -> Option<BTreeMap<Username, Role>> {
        let members = self.table(root, "members", "members")?;
        self.check_keys(members, "[members]", MEMBERS_KEYS);
        let mut roles: BTreeMap<Username, (Role, String)> = BTreeMap::new();
        for (key, role) in [
            ("owners", Role::Owner),
            ("editors", Role::Editor),
            ("members", Role::Member),
        ] {
            for (user, span) in self.usernames(members, key, &format!("members.{key}")) {
                if let Some((other, other_key)) = roles.get(&user) {
                    self.err(
                        span,
                        format!(
                            "`{user}` is both {} and {} (in `members.{other_key}` and `members.{key}`)",
                            other.as_str(),
                            role.as_str()
                        ),
                        "listed under two roles",
                        Some("an organization member has exactly one role: keep one entry".to_string()),
                    );
                    continue;
                }
                roles.insert(user, (role, key.to_string()));
            }
        }
        // Only when no owner is written at all: an invalid entry is reported on its own.
        let owners_written = members
            .get("owners")
            .is_some_and(|o| o.as_array().is_none_or(|a| !a.is_empty()));
        if !owners_written {
            let span = self.item_span(root, "members");
            self.err(
                span,
                "`[members]` lists no owner".to_string(),
                "organization roles are managed here",
                Some(
                    "an organization needs at least one owner: add `owners = [\"<Docker ID>\"]`, or remove [members] to leave roles unmanaged"
                        .to_string(),
                ),
            );
        }
        let mut roles: BTreeMap<Username, Role> =
            roles.into_iter().map(|(u, (r, _))| (u, r)).collect();
        // Team members not given a role are plain members of the organization.
        for team in teams.into_iter().flat_map(|t| t.values()) {
            for user in &team.members {
                roles.entry(user.clone()).or_insert(Role::Member);
            }
        }
        Some(roles)
    }

    fn repositories(
        &mut self,
        root: &dyn TableLike,
        teams_managed: bool,
        team_names: &[String],
    ) -> BTreeMap<String, Repository> {
        let mut out = BTreeMap::new();
        let Some(repos) = self.table(root, "repositories", "repositories") else {
            return out;
        };
        for (name, _) in repos.iter() {
            let what = format!("repositories.{name}");
            if !rules::is_repo_name(name) {
                self.err(
                    Self::key_span(repos, name),
                    format!("invalid repository name `{name}`"),
                    "not a Docker Hub repository name",
                    Some(format!(
                        "use {} to {} characters matching `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`",
                        rules::REPO_NAME_LEN.start(),
                        rules::REPO_NAME_LEN.end()
                    )),
                );
            }
            let Some(repo) = self.table(repos, name, &what) else {
                continue;
            };
            if let Some(r) = self.repository(repo, &what, teams_managed, team_names) {
                out.insert(name.to_string(), r);
            }
        }
        out
    }

    fn repository(
        &mut self,
        repo: &dyn TableLike,
        what: &str,
        teams_managed: bool,
        team_names: &[String],
    ) -> Option<Repository> {
        self.check_keys(repo, &format!("[{what}]"), REPO_KEYS);
        let private = self
            .bool(repo, "private", &format!("{what}.private"))
            .unwrap_or(true);
        let description = self
            .string(repo, "description", &format!("{what}.description"))
            .map(|s| {
                self.check_len(&s, rules::DESCRIPTION_MAX, &format!("{what}.description"));
                s.value
            });
        let full_description = self.full_description(repo, what);
        let grants = self.grants(repo, what, teams_managed, team_names);
        let mirror = match self.table(repo, "mirror", &format!("{what}.mirror")) {
            Some(m) => {
                let span = self.item_span(repo, "mirror");
                Some(self.mirror(m, span, &format!("{what}.mirror"))?)
            }
            None => None,
        };
        Some(Repository {
            private,
            description,
            full_description,
            grants,
            mirror,
            tags: None,
        })
    }

    fn check_len(&mut self, s: &Spanned, max: usize, what: &str) {
        let n = s.value.chars().count();
        if n > max {
            self.err(
                s.span.clone(),
                format!("`{what}` is {n} characters long; Docker Hub allows at most {max}"),
                "too long",
                None,
            );
        }
    }

    fn full_description(&mut self, repo: &dyn TableLike, what: &str) -> Option<String> {
        let inline = self.string(
            repo,
            "full_description",
            &format!("{what}.full_description"),
        );
        let file = self.string(
            repo,
            "full_description_file",
            &format!("{what}.full_description_file"),
        );
        match (inline, file) {
            (Some(_), Some(f)) => {
                self.err(
                    f.span,
                    format!("`{what}` sets both `full_description` and `full_description_file`"),
                    "second source of the full description",
                    Some("keep one of the two".to_string()),
                );
                None
            }
            (Some(s), None) => {
                self.check_len(
                    &s,
                    rules::FULL_DESCRIPTION_MAX,
                    &format!("{what}.full_description"),
                );
                Some(s.value)
            }
            (None, Some(f)) => match super::include::read(self.base, &f.value) {
                Ok(text) => Some(text),
                Err(r) => {
                    self.err(f.span, r.message, &r.label, Some(r.help));
                    None
                }
            },
            (None, None) => None,
        }
    }

    fn grants(
        &mut self,
        repo: &dyn TableLike,
        what: &str,
        teams_managed: bool,
        team_names: &[String],
    ) -> Option<BTreeMap<String, Permission>> {
        let what = format!("{what}.teams");
        let grants = self.table(repo, "teams", &what)?;
        let mut out = BTreeMap::new();
        for (team, item) in grants.iter() {
            let span = item.span().or_else(|| Self::key_span(grants, team));
            let perm = match item.as_str() {
                Some(p) => match Permission::parse(p) {
                    Some(perm) => Some(perm),
                    None => {
                        self.err(
                            span,
                            format!("invalid permission `{p}` for team `{team}` in `{what}`"),
                            "not a permission",
                            Some("valid permissions: `read`, `write`, `admin`".to_string()),
                        );
                        None
                    }
                },
                None => {
                    self.wrong_type(
                        grants,
                        team,
                        &format!("{what}.{team}"),
                        "\"read\", \"write\" or \"admin\"",
                    );
                    None
                }
            };
            if !rules::is_team_name(team) {
                self.team_name_error(Self::key_span(grants, team), team);
            } else if teams_managed && !team_names.iter().any(|t| t == team) {
                let help = match suggest(team, team_names.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if team_names.is_empty() => "no team is defined under [teams]".to_string(),
                    None => format!(
                        "defined teams: {}",
                        backticked(&team_names.iter().map(String::as_str).collect::<Vec<_>>())
                    ),
                };
                self.err(
                    Self::key_span(grants, team),
                    format!("`{what}` grants to undefined team `{team}`"),
                    "no [teams.NAME] section defines this team",
                    Some(help),
                );
            }
            if let Some(perm) = perm {
                out.insert(team.to_string(), perm);
            }
        }
        Some(out)
    }

    fn mirror(&mut self, m: &dyn TableLike, span: Span, what: &str) -> Option<Mirror> {
        self.check_keys(m, &format!("`{what}`"), MIRROR_KEYS);
        let from = self.string(m, "from", &format!("{what}.from"));
        if let Some(f) = &from
            && let Some(why) = rules::image_reference_error(&f.value)
        {
            self.err(
                f.span.clone(),
                format!("invalid image reference `{}` in `{what}.from`", f.value),
                why,
                Some("write the source repository, e.g. `nginx`, `bitnami/redis`, `ghcr.io/org/tool`".to_string()),
            );
        }
        if from.is_none() && m.get("from").is_none() {
            self.err(
                span.clone(),
                format!("missing `from` in `{what}`"),
                "this mirror has no source",
                Some("add `from = \"<image>\"`, e.g. `from = \"bitnami/redis\"`".to_string()),
            );
        }
        let tags = self.mirror_tags(m, span, what);
        let platforms = self.platforms(m, what);
        let signatures = self
            .bool(m, "signatures", &format!("{what}.signatures"))
            .unwrap_or(false);
        let verify = self.mirror_verify(m, what);
        Some(Mirror {
            from: from?.value,
            tags: tags?,
            platforms,
            signatures,
            verify,
        })
    }

    fn mirror_tags(
        &mut self,
        m: &dyn TableLike,
        span: Span,
        what: &str,
    ) -> Option<BTreeMap<String, Option<String>>> {
        let key_what = format!("{what}.tags");
        let Some(list) = self.strings(m, "tags", &key_what) else {
            if m.get("tags").is_none() {
                self.err(
                    span,
                    format!("missing `tags` in `{what}`"),
                    "this mirror lists no tags",
                    Some("add `tags = [\"1.27\"]`: a mirror copies exact tags only".to_string()),
                );
            }
            return None;
        };
        if list.is_empty() {
            let span = self.item_span(m, "tags");
            self.err(
                span,
                format!("`{key_what}` is empty"),
                "no tags",
                Some("list at least one tag".to_string()),
            );
            return None;
        }
        let mut out = BTreeMap::new();
        let mut ok = true;
        for s in list {
            let (tag, digest) = match s.value.split_once('@') {
                Some((t, d)) => (t, Some(d)),
                None => (s.value.as_str(), None),
            };
            if !rules::is_tag(tag) {
                ok = false;
                self.err(
                    s.span,
                    format!("invalid tag `{tag}` in `{key_what}`"),
                    "not a tag name",
                    Some("tags match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; optionally pin one as \"TAG@sha256:<64 hex>\"".to_string()),
                );
                continue;
            }
            if let Some(d) = digest
                && !rules::is_sha256_digest(d)
            {
                ok = false;
                self.err(
                    s.span,
                    format!("invalid digest `{d}` for tag `{tag}` in `{key_what}`"),
                    "not a sha256 digest",
                    Some("pin as \"TAG@sha256:<64 lowercase hex digits>\"".to_string()),
                );
                continue;
            }
            if out.contains_key(tag) {
                ok = false;
                self.err(
                    s.span,
                    format!("tag `{tag}` is listed twice in `{key_what}`"),
                    "duplicate tag",
                    None,
                );
                continue;
            }
            out.insert(tag.to_string(), digest.map(str::to_string));
        }
        ok.then_some(out)
    }

    fn platforms(&mut self, m: &dyn TableLike, what: &str) -> Option<Vec<String>> {
        let key_what = format!("{what}.platforms");
        let list = self.strings(m, "platforms", &key_what)?;
        if list.is_empty() {
            let span = self.item_span(m, "platforms");
            self.err(
                span,
                format!("`{key_what}` is empty"),
                "no platforms",
                Some(
                    "list platforms like \"linux/amd64\", or remove the key to copy all"
                        .to_string(),
                ),
            );
            return None;
        }
        let mut out: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for s in list {
            if !rules::is_platform(&s.value) {
                self.err(
                    s.span,
                    format!("invalid platform `{}` in `{key_what}`", s.value),
                    "not os/arch[/variant]",
                    Some("write platforms like \"linux/amd64\" or \"linux/arm64/v8\"".to_string()),
                );
            } else if !seen.insert(s.value.clone()) {
                self.err(
                    s.span,
                    format!("platform `{}` is listed twice in `{key_what}`", s.value),
                    "duplicate platform",
                    None,
                );
            } else {
                out.push(s.value);
            }
        }
        out.sort();
        Some(out)
    }

    fn settings(&mut self, root: &dyn TableLike) -> PolicySettings {
        let mut settings = PolicySettings::default();
        let Some(t) = self.table(root, "settings", "settings") else {
            return settings;
        };
        self.check_keys(t, "[settings]", SETTINGS_KEYS);
        if let Some(prune) = self.bool(t, "prune", "settings.prune") {
            settings.prune = prune;
        }
        if let Some(item) = t.get("delete_threshold") {
            let span = item.span();
            let value = match item.as_value() {
                Some(Value::Float(f)) => Some(*f.value()),
                Some(Value::Integer(i)) => Some(*i.value() as f64),
                _ => None,
            };
            match value {
                Some(v) if v > 0.0 && v <= 1.0 => settings.delete_threshold = v,
                Some(v) => self.err(
                    span,
                    format!("`settings.delete_threshold` is {v}; it must be greater than 0 and at most 1"),
                    "out of range",
                    Some("it is a fraction of the managed items of a kind, e.g. 0.25".to_string()),
                ),
                None => self.wrong_type(t, "delete_threshold", "settings.delete_threshold", "a number"),
            }
        }
        settings
    }
}
