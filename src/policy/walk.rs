//! The walk over the parsed policy: a hand-written pass over the `toml_edit` document (which keeps a
//! byte span on every key and value) that checks keys, types and rules, collects every error, and
//! builds the desired [`OrgState`] when there are none. This file owns the walk's entry point, the
//! typed readers every table uses (keys, strings, booleans, usernames, each reporting its own
//! errors) and `[settings]`; the organization's tables have their own files: `access`
//! (`[image_access]` allowlist, `[registry_access]`), `teams` (`[teams]`, `[members]`) and
//! `repositories` (`[repositories]`, their grants and mirrors).

mod access;
mod repositories;
mod teams;

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use toml_edit::{Document, Item, TableLike, Value};

mod review;

use super::diagnostics::Diagnostic;
use super::rules;
use super::{PolicySettings, Review};
use crate::model::{ImageAccess, Members, OrgState, Username};

// The keys of each table, their types and docs: one description shared with the JSON Schema.
use super::schema::{
    IMAGE_ACCESS as IMAGE_ACCESS_KEYS, IMAGE_ACCESS_FLAGS, Key, SETTINGS as SETTINGS_KEYS,
    TOP as TOP_KEYS,
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
) -> Result<(OrgState, PolicySettings, Review), Vec<Diagnostic>> {
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
    let review = w.review(root);

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
        review,
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
