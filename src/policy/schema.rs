//! The policy's keys, described once: every section, its keys, their types and what each means. The
//! walker (`walk`) checks a table's keys against these lists (its "unknown key" errors and their
//! "valid keys: ..." help come from here), and [`json_schema`] turns the same lists into the JSON
//! Schema that `vetted schema` prints and `schema/vetted.schema.json` holds, for editors (taplo /
//! Even Better TOML read the `#:schema` line of a policy).
//!
//! Why a table here and not schemars: the policy is read by a hand-written walk over `toml_edit`
//! (spans for file:line:col errors), not by serde structs, so schemars would need a second set of
//! types kept in step with the walker by hand. The walker already needed the key lists, so they carry
//! the types and descriptions as well; adding a key is one `Key` line in one of the lists below (plus
//! the walker code that reads it), and the schema follows.
//!
//! The schema checks names against the same length limits as `rules` (its regular expressions are
//! tested against `rules`' predicates); the walker stays the authority: rules a schema cannot express
//! (references to defined teams, included files) are only checked by `vetted validate`.

use super::rules;

/// The line a policy starts with so that editors find the schema (taplo's directive), relative to
/// the policy file: `vetted schema > schema/vetted.schema.json` beside the policy puts it there.
pub const DIRECTIVE: &str = "#:schema ./schema/vetted.schema.json";

/// One key of a table.
pub struct Key {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
    pub doc: &'static str,
}

/// What a key's value is.
pub enum Type {
    Bool {
        default: Option<bool>,
    },
    Str(Text),
    /// A list of strings, at least `min_items` long, each one a [`Text`].
    Strings {
        item: Text,
        min_items: u64,
    },
    /// A number greater than 0 and at most 1.
    Fraction {
        default: f64,
    },
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A list of these strings, each at most once.
    OneOfs(&'static [&'static str]),
    /// A table with these keys; `exclusive` pairs may not both be set; setting any key of a
    /// `together` group requires the rest of that group.
    Table {
        keys: &'static [Key],
        exclusive: &'static [[&'static str; 2]],
        together: &'static [&'static [&'static str]],
    },
    /// A list of tables with these keys.
    Tables {
        keys: &'static [Key],
        max_items: usize,
    },
    /// A table whose keys are names (teams, repositories) and whose values are all one type.
    Map {
        name: Text,
        value: &'static Type,
    },
}

/// The syntax of a string (the predicates in `rules`).
#[derive(Clone, Copy)]
pub enum Text {
    Any,
    MaxChars(usize),
    OrgName,
    DockerId,
    TeamName,
    RepoName,
    ImageReference,
    /// A tag, optionally pinned as `TAG@sha256:<64 hex>`.
    PinnedTag,
    Platform,
}

pub const TOP: &[Key] = &[
    Key {
        name: "org",
        ty: Type::Str(Text::OrgName),
        required: true,
        doc: "The Docker Hub organization (namespace) this policy governs.",
    },
    Key {
        name: "image_access",
        ty: Type::Table {
            keys: IMAGE_ACCESS,
            exclusive: &[],
            together: &[IMAGE_ACCESS_FLAGS],
        },
        required: false,
        doc: "Image Access Management; absent: unmanaged. The three category keys go together; `allow_repositories` alone leaves them unmanaged.",
    },
    Key {
        name: "registry_access",
        ty: Type::Table {
            keys: REGISTRY_ACCESS,
            exclusive: &[],
            together: &[],
        },
        required: false,
        doc: "Registry Access Management (the registries members may pull from); absent: unmanaged.",
    },
    Key {
        name: "members",
        ty: Type::Table {
            keys: MEMBERS,
            exclusive: &[],
            together: &[],
        },
        required: false,
        doc: "Organization roles; absent: unmanaged. Team members not listed here become plain members.",
    },
    Key {
        name: "teams",
        ty: Type::Map {
            name: Text::TeamName,
            value: &Type::Table {
                keys: TEAM,
                exclusive: &[],
                together: &[],
            },
        },
        required: false,
        doc: "Teams: [teams.NAME]; absent: unmanaged.",
    },
    Key {
        name: "repositories",
        ty: Type::Map {
            name: Text::RepoName,
            value: &Type::Table {
                keys: REPOSITORY,
                exclusive: &[["full_description", "full_description_file"]],
                together: &[],
            },
        },
        required: false,
        doc: "Repositories: [repositories.NAME] is ORG/NAME.",
    },
    Key {
        name: "settings",
        ty: Type::Table {
            keys: SETTINGS,
            exclusive: &[],
            together: &[],
        },
        required: false,
        doc: "How plan and apply treat what the policy does not list.",
    },
    Key {
        name: "review",
        ty: Type::Table {
            keys: REVIEW,
            exclusive: &[],
            together: &[],
        },
        required: false,
        doc: "Which risky changes `vetted plan` refuses until someone acknowledges them.",
    },
];

pub const IMAGE_ACCESS: &[Key] = &[
    Key {
        name: "enabled",
        ty: Type::Bool { default: None },
        required: false,
        doc: "Members may pull only organization images and the categories allowed below.",
    },
    Key {
        name: "allow_official_images",
        ty: Type::Bool { default: None },
        required: false,
        doc: "Allow Docker Official Images.",
    },
    Key {
        name: "allow_verified_publishers",
        ty: Type::Bool { default: None },
        required: false,
        doc: "Allow Verified Publisher images.",
    },
    Key {
        name: "allow_repositories",
        ty: Type::Strings {
            item: Text::ImageReference,
            min_items: 0,
        },
        required: false,
        doc: "Docker Hub repositories members may pull whatever the categories above (`namespace/name`, no tag): every upstream push, unreviewed.",
    },
];

/// The category keys of `[image_access]`: any one of them manages all three.
pub const IMAGE_ACCESS_FLAGS: &[&str] = &[
    "enabled",
    "allow_official_images",
    "allow_verified_publishers",
];

pub const REGISTRY_ACCESS: &[Key] = &[
    Key {
        name: "enabled",
        ty: Type::Bool { default: None },
        required: true,
        doc: "Members may pull only from the registries allowed here.",
    },
    Key {
        name: "docker_hub",
        ty: Type::Bool {
            default: Some(true),
        },
        required: false,
        doc: "Docker Hub is allowed.",
    },
    Key {
        name: "registries",
        ty: Type::Tables {
            keys: CUSTOM_REGISTRY,
            max_items: rules::CUSTOM_REGISTRIES_MAX,
        },
        required: false,
        doc: "Other registries: `{ address, name, allowed }`.",
    },
];

pub const CUSTOM_REGISTRY: &[Key] = &[
    Key {
        name: "address",
        ty: Type::Str(Text::Any),
        required: true,
        doc: "The registry's host (and port), lowercase, no scheme: e.g. `ghcr.io`.",
    },
    Key {
        name: "name",
        ty: Type::Str(Text::MaxChars(100)),
        required: true,
        doc: "The registry's friendly name shown in Docker Hub.",
    },
    Key {
        name: "allowed",
        ty: Type::Bool {
            default: Some(true),
        },
        required: false,
        doc: "Members may pull from it.",
    },
];

const USERS: Type = Type::Strings {
    item: Text::DockerId,
    min_items: 0,
};

pub const MEMBERS: &[Key] = &[
    Key {
        name: "owners",
        ty: Type::Strings {
            item: Text::DockerId,
            min_items: 1,
        },
        required: true,
        doc: "Docker IDs with the owner role; an organization needs at least one.",
    },
    Key {
        name: "editors",
        ty: USERS,
        required: false,
        doc: "Docker IDs with the editor role.",
    },
    Key {
        name: "members",
        ty: USERS,
        required: false,
        doc: "Docker IDs with the member role (team members need not be listed).",
    },
];

pub const TEAM: &[Key] = &[
    Key {
        name: "description",
        ty: Type::Str(Text::Any),
        required: false,
        doc: "The team's description; absent: unmanaged.",
    },
    Key {
        name: "members",
        ty: USERS,
        required: false,
        doc: "Docker IDs in the team.",
    },
];

pub const REPOSITORY: &[Key] = &[
    Key {
        name: "private",
        ty: Type::Bool {
            default: Some(true),
        },
        required: false,
        doc: "Whether the repository is private.",
    },
    Key {
        name: "description",
        ty: Type::Str(Text::MaxChars(rules::DESCRIPTION_MAX)),
        required: false,
        doc: "The short description.",
    },
    Key {
        name: "full_description",
        ty: Type::Str(Text::MaxChars(rules::FULL_DESCRIPTION_MAX)),
        required: false,
        doc: "The overview (markdown); or full_description_file, not both.",
    },
    Key {
        name: "full_description_file",
        ty: Type::Str(Text::Any),
        required: false,
        doc: "A file beside the policy holding the overview; or full_description, not both.",
    },
    Key {
        name: "teams",
        ty: Type::Map {
            name: Text::TeamName,
            value: &Type::OneOf(&["read", "write", "admin"]),
        },
        required: false,
        doc: "Team grants: TEAM = \"read\" | \"write\" | \"admin\"; absent: unmanaged.",
    },
    Key {
        name: "mirror",
        ty: Type::Table {
            keys: MIRROR,
            exclusive: &[],
            together: &[],
        },
        required: false,
        doc: "Copy these upstream tags into the repository.",
    },
];

pub const MIRROR: &[Key] = &[
    Key {
        name: "from",
        ty: Type::Str(Text::ImageReference),
        required: true,
        doc: "The source repository, without tag or digest: nginx, bitnami/redis, ghcr.io/org/tool.",
    },
    Key {
        name: "tags",
        ty: Type::Strings {
            item: Text::PinnedTag,
            min_items: 1,
        },
        required: true,
        doc: "Exact tags, optionally pinned as \"TAG@sha256:<64 hex>\".",
    },
    Key {
        name: "platforms",
        ty: Type::Strings {
            item: Text::Platform,
            min_items: 1,
        },
        required: false,
        doc: "os/arch[/variant] to copy; absent: every platform (keeps upstream digests).",
    },
    Key {
        name: "signatures",
        ty: Type::Bool {
            default: Some(false),
        },
        required: false,
        doc: "Also copy cosign signatures, attestations and SBOMs.",
    },
    Key {
        name: "verify",
        ty: Type::Table {
            keys: VERIFY,
            exclusive: &[
                ["key", "identity"],
                ["key", "issuer"],
                ["key", "trusted_root"],
            ],
            together: &[&["identity", "issuer", "trusted_root"]],
        },
        required: false,
        doc: "The signature gate: lock and apply refuse an upstream digest without a valid cosign signature by this key or keyless identity.",
    },
];

pub const VERIFY: &[Key] = &[
    Key {
        name: "key",
        ty: Type::Str(Text::Any),
        required: false,
        doc: "A cosign public key (PEM, ECDSA P-256), relative to the policy file and inside its repository.",
    },
    Key {
        name: "identity",
        ty: Type::Str(Text::Any),
        required: false,
        doc: "Keyless: the signing certificate's subject alternative name (email or URI), exactly.",
    },
    Key {
        name: "issuer",
        ty: Type::Str(Text::Any),
        required: false,
        doc: "Keyless: the OIDC issuer the certificate records, exactly.",
    },
    Key {
        name: "trusted_root",
        ty: Type::Str(Text::Any),
        required: false,
        doc: "Keyless: a Sigstore trusted_root.json (Fulcio CAs, Rekor keys), relative to the policy file and inside its repository; checked offline.",
    },
];

pub const SETTINGS: &[Key] = &[
    Key {
        name: "prune",
        ty: Type::Bool {
            default: Some(false),
        },
        required: false,
        doc: "Delete teams, repositories, grants and members the policy does not list.",
    },
    Key {
        name: "delete_threshold",
        ty: Type::Fraction { default: 0.25 },
        required: false,
        doc: "Refuse plans deleting more than this fraction of the managed items of a kind (unless --force).",
    },
];

/// The risk classes `[review] require_acknowledgement` may list (src/plan/risk.rs; routine needs no
/// acknowledgement).
pub const ACKNOWLEDGEABLE: &[&str] = &["privilege", "exposure", "destruction"];

/// The longest label GitHub accepts.
pub const LABEL_MAX: usize = 50;

pub const REVIEW: &[Key] = &[
    Key {
        name: "require_acknowledgement",
        ty: Type::OneOfs(ACKNOWLEDGEABLE),
        required: false,
        doc: "Risk classes that make `vetted plan` exit 1 while the plan holds such a change and neither `--acknowledge` nor the pull-request label `ack_label` acknowledges it. `apply` is not gated.",
    },
    Key {
        name: "ack_label",
        ty: Type::Str(Text::MaxChars(LABEL_MAX)),
        required: false,
        doc: "A pull-request label that acknowledges every class (the GitHub action checks it and passes `--acknowledge`).",
    },
];

/// The names of a table's keys, in their order.
pub fn names(keys: &[Key]) -> Vec<&'static str> {
    keys.iter().map(|k| k.name).collect()
}

mod json;
pub use json::{json_schema, string};

#[cfg(test)]
mod tests;
