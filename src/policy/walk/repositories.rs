//! The walk over `[repositories]`: each repository's fields, its team grants and its mirror
//! (source, tags, platforms).

use std::collections::{BTreeMap, HashSet};

use toml_edit::TableLike;

use super::{Span, Spanned, Walker, backticked, rules, suggest};
use crate::model::{Mirror, Permission, Repository};
use crate::policy::schema::{MIRROR as MIRROR_KEYS, REPOSITORY as REPO_KEYS};

impl Walker<'_> {
    pub(super) fn repositories(
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
            (None, Some(f)) => match crate::policy::include::read(self.base, &f.value) {
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
}
