//! A validator for Docker Hub API requests and responses against Docker's published OpenAPI 3.0
//! description (reference/dockerhub-openapi.yaml, kept beside the repository in `shared/`).
//!
//! OpenAPI 3.0 schemas are converted to JSON Schema draft 4: `$ref`s are resolved inline (siblings
//! of a `$ref` are ignored, as OpenAPI 3.0 says), `nullable: true` becomes a `null` alternative, and
//! OpenAPI-only keywords are dropped. Paths are matched against the spec's templated paths (literal
//! segments win over `{params}`); operations the spec does not document return `Ok` unchecked.
//!
//! A few places where the published spec contradicts Docker Hub's observed behaviour (recorded in
//! reference/hub-api.md) are patched by [`ERRATA`]; each names the exact spec location, and loading
//! fails if that location ever disappears, so a newer spec is never silently patched.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

/// The spec ships with the repository (reference/dockerhub-openapi.yaml, an unmodified copy of
/// Docker's published file); `$VETTED_HUB_OPENAPI` points the tests at another copy.
fn spec_path() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("VETTED_HUB_OPENAPI") {
        return Ok(PathBuf::from(p));
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reference/dockerhub-openapi.yaml");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "Docker Hub OpenAPI spec not found at {}; set VETTED_HUB_OPENAPI",
            path.display()
        ))
    }
}

/// One correction of the published spec: a JSON pointer into it, why, and the replacement.
pub struct Erratum {
    pub pointer: &'static str,
    pub why: &'static str,
    pub patch: fn(&mut Value),
}

fn make_nullable(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert("nullable".into(), Value::Bool(true));
    }
}

const MEMBERS_200: &str =
    "/paths/~1v2~1orgs~1{org_name}~1members/get/responses/200/content/application~1json/schema";

/// Hub calls vetted makes (and the sandbox serves) that Docker's OpenAPI does not document, each
/// with where its form comes from (docs/docker-hub.md). A test fails when the spec starts
/// documenting one, so its row can move to the checked calls.
pub const UNDOCUMENTED: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/v2/orgs/acme/settings/registry-access-management",
        "Docker's Terraform provider, GetOrgSettingRegistryAccessManagement",
    ),
    (
        "PUT",
        "/v2/orgs/acme/settings/registry-access-management",
        "Docker's Terraform provider, SetOrgSettingRegistryAccessManagement",
    ),
    (
        "GET",
        "/v2/orgs/acme/settings/repository-allowlist",
        "unconfirmed guess (src/hub/access_settings.rs) for the provider's ListNamespaceAllowlistItems",
    ),
    (
        "POST",
        "/v2/orgs/acme/settings/repository-allowlist",
        "unconfirmed guess for the provider's AddNamespaceAllowlistItems",
    ),
    (
        "DELETE",
        "/v2/orgs/acme/settings/repository-allowlist",
        "unconfirmed guess for the provider's RemoveNamespaceAllowlistItems",
    ),
];

/// Corrections applied to the spec after loading.
pub const ERRATA: &[Erratum] = &[
    Erratum {
        pointer: MEMBERS_200,
        why: "the spec wraps the members page in an array; Docker Hub answers one {count, next, previous, results} page (hub-api.md: pagination)",
        patch: |v| *v = json!({"$ref": "#/components/schemas/org_member_paginated"}),
    },
    Erratum {
        pointer: "/paths/~1v2~1invites~1bulk/post/responses/202/content/application~1json/schema",
        why: "the spec nests bulk_invite (itself {invitees: [...]}) under another `invitees`; Docker Hub answers {invitees: [{invitee, status, invite?}]}, the shape of bulk_invite's own example (hub-api.md)",
        patch: |v| *v = json!({"$ref": "#/components/schemas/bulk_invite"}),
    },
    Erratum {
        pointer: "/components/schemas/org_member/properties/role/enum",
        why: "Docker Hub has an editor role (PUT members accepts it) and returns it capitalised",
        patch: |v| {
            if let Some(a) = v.as_array_mut() {
                a.push(json!("Editor"));
            }
        },
    },
    Erratum {
        pointer: "/components/schemas/tag/properties/images",
        why: "tags carry a list of images (hub-api.md: images[{os, architecture, variant, digest, size}]); the spec's `type: object` beside a $ref is ignored by OpenAPI 3.0",
        patch: |v| *v = json!({"type": "array", "items": {"$ref": "#/components/schemas/image"}}),
    },
    Erratum {
        pointer: "/components/schemas/org_member_paginated/properties/next",
        why: "pagination links are null on the last page",
        patch: make_nullable,
    },
    Erratum {
        pointer: "/components/schemas/org_member_paginated/properties/previous",
        why: "pagination links are null on the first page",
        patch: make_nullable,
    },
    Erratum {
        pointer: concat!(
            "/paths/~1v2~1orgs~1{org_name}~1groups/get/responses/200/content/application~1json/schema",
            "/properties/next"
        ),
        why: "pagination links are null on the last page (the spec's own example is null)",
        patch: make_nullable,
    },
    Erratum {
        pointer: concat!(
            "/paths/~1v2~1orgs~1{org_name}~1groups/get/responses/200/content/application~1json/schema",
            "/properties/previous"
        ),
        why: "pagination links are null on the first page (the spec's own example is null)",
        patch: make_nullable,
    },
    Erratum {
        pointer: concat!(
            "/paths/~1v2~1orgs~1{org_name}~1groups~1{group_name}~1members/get/responses/200/content/application~1json/schema",
            "/properties/next"
        ),
        why: "pagination links are null on the last page (the spec's own example is null)",
        patch: make_nullable,
    },
    Erratum {
        pointer: concat!(
            "/paths/~1v2~1orgs~1{org_name}~1groups~1{group_name}~1members/get/responses/200/content/application~1json/schema",
            "/properties/previous"
        ),
        why: "pagination links are null on the first page (the spec's own example is null)",
        patch: make_nullable,
    },
];

pub struct Spec {
    doc: Value,
    /// (segments of the templated path, the path string)
    paths: Vec<(Vec<String>, String)>,
}

static SPEC: OnceLock<Result<Spec, String>> = OnceLock::new();

/// The loaded, patched spec (loaded once per test run).
pub fn spec() -> Result<&'static Spec, String> {
    SPEC.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn yaml_to_json(v: serde_yaml::Value) -> Result<Value, String> {
    Ok(match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        serde_yaml::Value::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    other => return Err(format!("unsupported YAML key {other:?}")),
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(t) => yaml_to_json(t.value)?,
    })
}

fn load() -> Result<Spec, String> {
    let path = spec_path()?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut doc = yaml_to_json(yaml)?;
    for e in ERRATA {
        let target = doc
            .pointer_mut(e.pointer)
            .ok_or_else(|| format!("erratum target {} is not in the spec", e.pointer))?;
        (e.patch)(target);
    }
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("spec has no paths")?
        .keys()
        .map(|p| (segments(p), p.clone()))
        .collect();
    Ok(Spec { doc, paths })
}

fn segments(path: &str) -> Vec<String> {
    path.split('/').map(str::to_string).collect()
}

fn is_param(seg: &str) -> bool {
    seg.starts_with('{') && seg.ends_with('}')
}

impl Spec {
    /// The spec's templated path matching a concrete path (exact segment count), preferring the
    /// most literal segments. One trailing slash is ignored: Docker Hub answers a path in both forms
    /// (Docker's provider sends the slash form of paths the spec documents without it), so both are
    /// held to the documented operation.
    pub fn match_path(&self, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or(path);
        let path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        let segs = segments(path);
        self.paths
            .iter()
            .filter(|(tpl, _)| {
                tpl.len() == segs.len()
                    && tpl
                        .iter()
                        .zip(&segs)
                        .all(|(t, s)| is_param(t) && !s.is_empty() || t == s)
            })
            .max_by_key(|(tpl, _)| tpl.iter().filter(|t| !is_param(t)).count())
            .map(|(_, p)| p.as_str())
    }

    /// The operation object for a method and concrete path, if the spec documents it.
    pub fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        let tpl = self.match_path(path)?;
        self.doc
            .get("paths")?
            .get(tpl)?
            .get(method.to_ascii_lowercase())
    }

    fn resolve<'a>(&'a self, mut v: &'a Value) -> Result<&'a Value, String> {
        for _ in 0..32 {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    let ptr = r
                        .strip_prefix('#')
                        .ok_or_else(|| format!("external $ref {r} is not supported"))?;
                    v = self
                        .doc
                        .pointer(ptr)
                        .ok_or_else(|| format!("unresolvable $ref {r}"))?;
                }
                None => return Ok(v),
            }
        }
        Err("$ref chain too long".into())
    }

    /// Converts an OpenAPI 3.0 schema object to JSON Schema draft 4.
    pub fn to_json_schema(&self, schema: &Value, depth: usize) -> Result<Value, String> {
        if depth > 64 {
            return Err("schema nesting too deep (recursive $ref?)".into());
        }
        let schema = self.resolve(schema)?;
        let Some(obj) = schema.as_object() else {
            return Ok(schema.clone());
        };
        let mut out = Map::new();
        for (k, v) in obj {
            match k.as_str() {
                "properties" => {
                    let mut props = Map::new();
                    for (name, s) in v.as_object().into_iter().flatten() {
                        props.insert(name.clone(), self.to_json_schema(s, depth + 1)?);
                    }
                    out.insert(k.clone(), Value::Object(props));
                }
                "items" | "not" => {
                    out.insert(k.clone(), self.to_json_schema(v, depth + 1)?);
                }
                "additionalProperties" => {
                    let conv = if v.is_object() {
                        self.to_json_schema(v, depth + 1)?
                    } else {
                        v.clone()
                    };
                    out.insert(k.clone(), conv);
                }
                "allOf" | "anyOf" | "oneOf" => {
                    let list = v
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|s| self.to_json_schema(s, depth + 1))
                        .collect::<Result<Vec<_>, _>>()?;
                    out.insert(k.clone(), Value::Array(list));
                }
                "nullable" | "example" | "examples" | "deprecated" | "discriminator" | "xml"
                | "externalDocs" | "readOnly" | "writeOnly" => {}
                _ if k.starts_with("x-") => {}
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        // In OpenAPI 3.0 `required` only makes sense with `type: object`; keep as is.
        if obj.get("nullable") == Some(&Value::Bool(true)) {
            if let Some(t) = out.get("type").and_then(Value::as_str).map(str::to_string) {
                out.insert("type".into(), json!([t, "null"]));
            }
            if let Some(Value::Array(e)) = out.get_mut("enum") {
                if !e.contains(&Value::Null) {
                    e.push(Value::Null);
                }
            }
            if !out.contains_key("type") && !out.contains_key("enum") {
                return Ok(json!({"anyOf": [Value::Object(out), {"type": "null"}]}));
            }
        }
        Ok(Value::Object(out))
    }

    fn check(&self, schema: &Value, instance: &Value, what: &str) -> Result<(), String> {
        let converted = self.to_json_schema(schema, 0)?;
        let validator = jsonschema::draft4::new(&converted)
            .map_err(|e| format!("{what}: spec schema does not compile: {e}"))?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("at {}: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{what}: {}", errors.join("; ")))
        }
    }

    fn json_schema_of<'a>(&'a self, holder: &'a Value) -> Result<Option<&'a Value>, String> {
        let holder = self.resolve(holder)?;
        Ok(holder
            .get("content")
            .and_then(|c| c.get("application/json"))
            .and_then(|m| m.get("schema")))
    }
}

/// Validates a response body against the spec. Undocumented operations are `Ok`; a documented
/// operation answering a status the spec does not list is an error. HEAD bodies are not checked.
pub fn validate_response(
    method: &str,
    path: &str,
    status: u16,
    body: &Value,
) -> Result<(), String> {
    let spec = spec()?;
    let Some(op) = spec.operation(method, path) else {
        return Ok(());
    };
    let what = format!("{method} {path} -> {status}");
    let responses = op
        .get("responses")
        .ok_or_else(|| format!("{what}: operation has no responses"))?;
    let resp = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"))
        .ok_or_else(|| format!("{what}: status {status} is not documented for this operation"))?;
    if method.eq_ignore_ascii_case("HEAD") {
        return Ok(());
    }
    match spec.json_schema_of(resp)? {
        Some(schema) => spec.check(schema, body, &what),
        None => Ok(()),
    }
}

/// Validates a request body against the spec's requestBody schema (undocumented operations and
/// operations without a JSON body are `Ok`).
pub fn validate_request(method: &str, path: &str, body: &Value) -> Result<(), String> {
    let spec = spec()?;
    let Some(op) = spec.operation(method, path) else {
        return Ok(());
    };
    let Some(rb) = op.get("requestBody") else {
        return Ok(());
    };
    match spec.json_schema_of(rb)? {
        Some(schema) => spec.check(schema, body, &format!("{method} {path} request")),
        None => Ok(()),
    }
}

#[test]
fn spec_loads_and_every_erratum_applies() {
    let s = spec().unwrap();
    assert_eq!(s.doc["openapi"], "3.0.3");
    for e in ERRATA {
        assert!(
            s.doc.pointer(e.pointer).is_some(),
            "{}: {}",
            e.pointer,
            e.why
        );
    }
}

#[test]
fn paths_match_templates_preferring_literals() {
    let s = spec().unwrap();
    assert_eq!(
        s.match_path("/v2/orgs/acme/groups/dev/members"),
        Some("/v2/orgs/{org_name}/groups/{group_name}/members")
    );
    assert_eq!(s.match_path("/v2/invites/bulk"), Some("/v2/invites/bulk"));
    assert_eq!(s.match_path("/v2/invites/abc"), Some("/v2/invites/{id}"));
    assert_eq!(
        s.match_path("/v2/orgs/acme/members/export"),
        Some("/v2/orgs/{org_name}/members/export")
    );
    assert_eq!(s.match_path("/v2/repositories/acme/x/"), None);
    assert_eq!(
        s.match_path("/v2/orgs/acme/groups/"),
        Some("/v2/orgs/{org_name}/groups")
    );
    assert_eq!(
        s.match_path("/v2/orgs/acme/settings/"),
        Some("/v2/orgs/{name}/settings")
    );
    assert_eq!(s.match_path("/v2/orgs/acme/groups//"), None);
}

#[test]
fn validator_catches_wrong_shapes() {
    // A documented operation: the org_group schema wants a numeric id.
    let ok = json!({"id": 3, "uuid": "u", "name": "dev", "description": "", "member_count": 0});
    validate_response("GET", "/v2/orgs/acme/groups/dev", 200, &ok).unwrap();
    let bad = json!({"id": "3", "name": "dev"});
    assert!(validate_response("GET", "/v2/orgs/acme/groups/dev", 200, &bad).is_err());
    // An undocumented status of a documented operation.
    assert!(validate_response("GET", "/v2/orgs/acme/groups/dev", 418, &ok).is_err());
    // nullable: repository_info.full_description may be null, description may not.
    let mut repo = json!({
        "user": "acme", "name": "ab", "namespace": "acme", "status": 1,
        "status_description": "active", "description": "d", "is_private": false,
        "is_automated": false, "star_count": 0, "pull_count": 0,
        "last_updated": "2021-01-05T21:06:53.506400Z", "date_registered": "2021-01-05T21:06:53.506400Z",
        "collaborator_count": 0, "has_starred": false, "full_description": null,
        "permissions": {"read": true, "write": true, "admin": true},
        "media_types": [], "content_types": [], "categories": [],
        "immutable_tags_settings": {"enabled": false, "rules": []}
    });
    validate_response("GET", "/v2/namespaces/acme/repositories/ab", 200, &repo).unwrap();
    repo["description"] = Value::Null;
    assert!(validate_response("GET", "/v2/namespaces/acme/repositories/ab", 200, &repo).is_err());
    // Request bodies: repository name pattern and description length.
    let create = json!({"name": "ok-name", "namespace": "acme", "description": "x"});
    validate_request("POST", "/v2/namespaces/acme/repositories", &create).unwrap();
    let bad = json!({"name": "Bad_Name_", "namespace": "acme"});
    assert!(validate_request("POST", "/v2/namespaces/acme/repositories", &bad).is_err());
    let long = json!({"name": "ok", "namespace": "acme", "description": "x".repeat(101)});
    assert!(validate_request("POST", "/v2/namespaces/acme/repositories", &long).is_err());
    // Undocumented operations are not checked.
    validate_response("PATCH", "/v2/repositories/acme/x/", 200, &json!(1)).unwrap();
    validate_request("PATCH", "/v2/repositories/acme/x/", &json!(1)).unwrap();
}

#[test]
fn settings_put_requires_all_three_fields() {
    let full = json!({"restricted_images": {"enabled": true, "allow_official_images": true, "allow_verified_publishers": false}});
    validate_request("PUT", "/v2/orgs/acme/settings", &full).unwrap();
    let partial = json!({"restricted_images": {"enabled": true}});
    assert!(validate_request("PUT", "/v2/orgs/acme/settings", &partial).is_err());
}

#[test]
fn undocumented_calls_are_absent_from_the_spec() {
    let s = spec().unwrap();
    for (method, path, source) in UNDOCUMENTED {
        let documented = s.match_path(path).is_some_and(|template| {
            s.doc["paths"][template]
                .get(method.to_ascii_lowercase())
                .is_some()
        });
        assert!(
            !documented,
            "{method} {path} ({source}) is documented now: check vetted's form against the spec"
        );
    }
}
