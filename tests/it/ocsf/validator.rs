//! An OCSF event validator over the schema's source files (`schema/`, vendored from
//! `ocsf/ocsf-schema`), so the tests need no network and no OCSF server.
//!
//! It compiles what it reads the way the OCSF schema compiler (`ocsf/ocsf-schema-compiler`) does —
//! profiles `$include`d into attributes (each such attribute tagged with its profile; an
//! attribute that says `"profile": null` is in every event), `extends` flattened parent first
//! with the child's details on top, class, category and type uids and their enums derived, every
//! attribute laid over its dictionary entry — and checks an event the way the OCSF server's
//! validator (`ocsf/ocsf-server`, `validator2.ex`) does: required attributes present, no
//! attribute the class or object does not define (or that belongs to a profile the event does not
//! name in `metadata.profiles`), values of the dictionary's types (their patterns, lengths, ranges
//! and values too), objects recursively, arrays element by element, enum values among those
//! defined, `at_least_one`/`just_one` constraints, `type_uid` = `class_uid` × 100 + `activity_id`.
//!
//! It is stricter than the server where that costs our output nothing: what the server only warns
//! about is an error here (a deprecated attribute or enum value, an enum's caption sibling that
//! does not match, an event version other than the schema's), `null` is an error rather than
//! "absent", and `integer_t` must fit 32 bits (`long_t` 64), as columnar stores type them. It
//! fails closed: an object whose file is not vendored, or a pattern Rust's regex cannot compile,
//! is an error, never a pass. Not modelled: observables' `type_id` enum (built from the whole
//! schema) and the `datetime` profile's generated `*_dt` attributes; our events use neither.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use regex::Regex;
use serde_json::{Map, Value};

/// A compiled schema: the classes (by uid) and objects (by name) with their attributes resolved.
pub struct Schema {
    pub version: String,
    classes: BTreeMap<i64, Item>,
    objects: BTreeMap<String, Item>,
    types: Map<String, Value>,
    profiles: BTreeSet<String>,
    /// Each type's pattern, compiled (or why Rust's regex cannot).
    patterns: HashMap<String, Result<Regex, String>>,
}

/// A class or an object, compiled.
struct Item {
    kind: &'static str,
    name: String,
    attributes: BTreeMap<String, Attribute>,
    constraints: Map<String, Value>,
    deprecated: bool,
}

struct Attribute {
    /// A dictionary type (`string_t`, `email_t`, …) or, when `object` is set, an object name.
    type_name: String,
    object: bool,
    is_array: bool,
    required: bool,
    /// Enum values (as strings, as the schema keys them) and their details.
    enum_values: Option<Map<String, Value>>,
    sibling: Option<String>,
    /// `None`: in every event; `Some`: only when one of these profiles is applied.
    profiles: Option<Vec<String>>,
    deprecated: bool,
}

fn read(dir: &Path, rel: &str) -> Result<Value, String> {
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("cannot parse {}: {e}", path.display()))
}

/// Schema items (classes, objects, profiles) as read, by name or by path.
type Items = BTreeMap<String, Value>;

/// Every `*.json` under `dir/sub`, keyed by its `name`, and by its path relative to `dir`.
fn read_items(dir: &Path, sub: &str) -> Result<(Items, Items), String> {
    let mut by_name = BTreeMap::new();
    let mut by_path = BTreeMap::new();
    let mut pending = vec![dir.join(sub)];
    while let Some(d) = pending.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| format!("cannot list {}: {e}", d.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot list {}: {e}", d.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == "json") {
                let rel = path
                    .strip_prefix(dir)
                    .map_err(|e| e.to_string())?
                    .to_string_lossy()
                    .replace('\\', "/");
                let item = read(dir, &rel)?;
                let name = item["name"]
                    .as_str()
                    .ok_or_else(|| format!("{rel} has no name"))?
                    .to_string();
                by_name.insert(name, item.clone());
                by_path.insert(rel, item);
            }
        }
    }
    Ok((by_name, by_path))
}

fn attributes_mut<'a>(
    item: &'a mut Value,
    what: &str,
) -> Result<&'a mut Map<String, Value>, String> {
    item.as_object_mut()
        .ok_or_else(|| format!("{what} is not an object"))?
        .entry("attributes")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| format!("{what}: attributes is not an object"))
}

/// An attribute's `"profile": p` becomes `"profiles": [p]`, and `"profile": null` becomes
/// `"profiles": null` (in every event, even though a profile includes it).
fn upgrade_profiles(item: &mut Value, what: &str) -> Result<(), String> {
    for (_, attr) in attributes_mut(item, what)?.iter_mut() {
        if let Some(a) = attr.as_object_mut()
            && let Some(p) = a.remove("profile")
        {
            let profiles = match p {
                Value::Null => Value::Null,
                p => Value::Array(vec![p]),
            };
            a.insert("profiles".into(), profiles);
        }
    }
    Ok(())
}

/// `dest` with `source` merged in recursively, `source` winning; arrays are replaced.
fn deep_merge(dest: &mut Value, source: &Value) {
    match (dest, source) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                match d.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        d.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (d, s) => *d = s.clone(),
    }
}

/// The compiler's merge of one attribute's details onto another's: new keys are added,
/// `profiles` are united (or cleared by `null`), objects are merged, anything else replaced.
fn merge_attribute(dest: &mut Map<String, Value>, source: &Map<String, Value>) {
    for (k, v) in source {
        match dest.get_mut(k) {
            None => {
                dest.insert(k.clone(), v.clone());
            }
            Some(existing) if existing == v => {}
            Some(existing) if k == "profiles" => {
                *existing = match (existing.as_array(), v.as_array()) {
                    (Some(a), Some(b)) => {
                        let set: BTreeSet<&str> =
                            a.iter().chain(b).filter_map(Value::as_str).collect();
                        Value::Array(set.into_iter().map(Value::from).collect())
                    }
                    _ => Value::Null,
                };
            }
            Some(existing) if existing.is_object() && v.is_object() => deep_merge(existing, v),
            Some(existing) => *existing = v.clone(),
        }
    }
}

fn merge_attributes(dest: &mut Map<String, Value>, source: &Map<String, Value>) {
    for (name, attr) in source {
        match (
            dest.get_mut(name).and_then(Value::as_object_mut),
            attr.as_object(),
        ) {
            (Some(d), Some(s)) => merge_attribute(d, s),
            _ => {
                dest.insert(name.clone(), attr.clone());
            }
        }
    }
}

/// Resolve `"$include": [profiles…]` in an item's attributes: the included attributes, tagged
/// with their profile and its annotations, with the item's own details on top.
fn resolve_includes(item: &mut Value, what: &str, files: &Items) -> Result<(), String> {
    let attrs = attributes_mut(item, what)?;
    let includes = match attrs.remove("$include") {
        None => return Ok(()),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|v| v.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("{what}: $include holds a non-string"))?,
        Some(other) => return Err(format!("{what}: $include is {other}")),
    };
    if attrs
        .values()
        .any(|a| a.as_object().is_some_and(|a| a.contains_key("$include")))
    {
        return Err(format!(
            "{what}: an attribute-level $include is not supported"
        ));
    }
    for path in includes {
        let included = files
            .get(&path)
            .ok_or_else(|| format!("{what} includes {path}, which is not vendored"))?;
        let mut merged = included["attributes"]
            .as_object()
            .cloned()
            .ok_or_else(|| format!("{path} has no attributes"))?;
        let profile = (included["meta"] == "profile").then(|| included["name"].clone());
        for (_, attr) in merged.iter_mut() {
            let a = attr
                .as_object_mut()
                .ok_or_else(|| format!("{path}: an attribute is not an object"))?;
            if let Some(p) = &profile {
                a.insert("profiles".into(), Value::Array(vec![p.clone()]));
            }
            if let Some(annotations) = included["annotations"].as_object() {
                for (k, v) in annotations {
                    a.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        merge_attributes(&mut merged, attrs);
        *attrs = merged;
    }
    Ok(())
}

/// Flatten `extends`: a copy of the (flattened) parent with the item's attributes merged on top,
/// its profiles united, and its other keys replacing the parent's.
fn resolve_extends(name: &str, raw: &Items, done: &mut Items, kind: &str) -> Result<Value, String> {
    if let Some(v) = done.get(name) {
        return Ok(v.clone());
    }
    let item = raw
        .get(name)
        .ok_or_else(|| format!("{kind} `{name}` is not vendored"))?;
    let flat = match item["extends"].as_str() {
        None => item.clone(),
        Some(parent) => {
            let mut flat = resolve_extends(parent, raw, done, kind)?;
            let obj = flat
                .as_object_mut()
                .ok_or_else(|| format!("{kind} `{parent}` is not an object"))?;
            for (k, v) in item.as_object().into_iter().flatten() {
                match k.as_str() {
                    "attributes" => {
                        let dest = obj
                            .entry("attributes")
                            .or_insert_with(|| Value::Object(Map::new()))
                            .as_object_mut()
                            .ok_or_else(|| format!("{kind} `{parent}`: attributes"))?;
                        if let Some(src) = v.as_object() {
                            merge_attributes(dest, src);
                        }
                    }
                    "profiles" => {
                        let set: BTreeSet<String> = obj
                            .get("profiles")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .chain(v.as_array().into_iter().flatten())
                            .filter_map(|p| p.as_str().map(String::from))
                            .collect();
                        obj.insert("profiles".into(), set.into_iter().collect());
                    }
                    _ => {
                        obj.insert(k.clone(), v.clone());
                    }
                }
            }
            flat
        }
    };
    done.insert(name.to_string(), flat.clone());
    Ok(flat)
}

/// The classes (`events/`) or objects (`objects/`) under `dir`, their profiles included and their
/// `extends` flattened.
fn flatten(dir: &Path, sub: &str, kind: &str, profile_files: &Items) -> Result<Items, String> {
    let (mut raw, _) = read_items(dir, sub)?;
    for (name, item) in raw.iter_mut() {
        let what = format!("{kind} `{name}`");
        upgrade_profiles(item, &what)?;
        resolve_includes(item, &what, profile_files)?;
    }
    let mut done = BTreeMap::new();
    for name in raw.keys() {
        resolve_extends(name, &raw, &mut done, kind)?;
    }
    Ok(done)
}

impl Schema {
    /// Compile the schema files under `dir`.
    pub fn load(dir: &Path) -> Result<Schema, String> {
        let version = read(dir, "version.json")?["version"]
            .as_str()
            .ok_or("version.json has no version")?
            .to_string();
        let categories = read(dir, "categories.json")?;
        let dictionary = read(dir, "dictionary.json")?;
        let dict_attrs = dictionary["attributes"]
            .as_object()
            .ok_or("dictionary.json has no attributes")?;
        let types = dictionary["types"]["attributes"]
            .as_object()
            .ok_or("dictionary.json has no types")?
            .clone();
        let (profiles, profile_files) = read_items(dir, "profiles")?;

        let classes_flat = flatten(dir, "events", "class", &profile_files)?;
        let objects_flat = flatten(dir, "objects", "object", &profile_files)?;

        let finish = |kind: &'static str, name: &str, item: &Value| -> Result<Item, String> {
            let mut attributes = BTreeMap::new();
            for (attr_name, details) in item["attributes"].as_object().into_iter().flatten() {
                let mut merged = dict_attrs.get(attr_name).cloned().ok_or_else(|| {
                    format!("{kind} `{name}`: `{attr_name}` is not in the dictionary")
                })?;
                deep_merge(&mut merged, details);
                let type_name = merged["type"]
                    .as_str()
                    .ok_or_else(|| format!("`{attr_name}` has no type"))?
                    .to_string();
                attributes.insert(
                    attr_name.clone(),
                    Attribute {
                        object: !types.contains_key(&type_name),
                        type_name,
                        is_array: merged["is_array"] == true,
                        required: merged["requirement"] == "required",
                        enum_values: merged["enum"].as_object().cloned(),
                        sibling: merged["sibling"].as_str().map(String::from),
                        profiles: merged["profiles"].as_array().map(|a| {
                            a.iter()
                                .filter_map(|p| p.as_str().map(String::from))
                                .collect()
                        }),
                        deprecated: merged.get("@deprecated").is_some(),
                    },
                );
            }
            Ok(Item {
                kind,
                name: name.to_string(),
                attributes,
                constraints: item["constraints"].as_object().cloned().unwrap_or_default(),
                deprecated: item.get("@deprecated").is_some(),
            })
        };

        let mut objects = BTreeMap::new();
        for (name, item) in &objects_flat {
            // `_entity`, `_resource`: only there to be extended.
            if !name.starts_with('_') {
                objects.insert(name.clone(), finish("object", name, item)?);
            }
        }

        let mut classes = BTreeMap::new();
        for (name, raw_class) in &classes_flat {
            let mut class = raw_class.clone();
            // Abstract classes (`finding`) have no uid; `base_event` is concrete, uid 0.
            if name != "base_event" && class.get("uid").is_none() {
                continue;
            }
            let category_key = class["category"].as_str().unwrap_or("other");
            let category = &categories["attributes"][category_key];
            let category_uid = category["uid"].as_i64().unwrap_or(0);
            let uid = category_uid * 1000 + class["uid"].as_i64().unwrap_or(0);
            let caption = class["caption"].as_str().unwrap_or_default().to_string();
            let attrs = attributes_mut(&mut class, name)?;
            let activities = attrs["activity_id"]["enum"]
                .as_object()
                .cloned()
                .ok_or_else(|| format!("class `{name}` defines no activity_id enum"))?;
            let mut type_enum = Map::new();
            for (activity, details) in &activities {
                let activity: i64 = activity
                    .parse()
                    .map_err(|_| format!("class `{name}`: activity `{activity}`"))?;
                let mut d = details.clone();
                let activity_caption = details["caption"].as_str().unwrap_or("<unknown>");
                d["caption"] = format!("{caption}: {activity_caption}").into();
                type_enum.insert((uid * 100 + activity).to_string(), d);
            }
            type_enum.insert(
                (uid * 100).to_string(),
                serde_json::json!({ "caption": format!("{caption}: Unknown") }),
            );
            let set_enum =
                |attrs: &mut Map<String, Value>, attr: &str, values: Map<String, Value>| {
                    let a = attrs
                        .entry(attr)
                        .or_insert_with(|| Value::Object(Map::new()));
                    a["enum"] = Value::Object(values);
                };
            set_enum(attrs, "type_uid", type_enum);
            let mut class_enum = Map::new();
            class_enum.insert(uid.to_string(), serde_json::json!({ "caption": caption }));
            set_enum(attrs, "class_uid", class_enum);
            if category.is_object() {
                let mut category_enum = Map::new();
                category_enum.insert(category_uid.to_string(), category.clone());
                set_enum(attrs, "category_uid", category_enum);
            }
            classes.insert(uid, finish("class", name, &class)?);
        }

        let patterns = types
            .iter()
            .filter_map(|(name, t)| {
                let pattern = t["regex"].as_str()?;
                Some((name.clone(), Regex::new(pattern).map_err(|e| e.to_string())))
            })
            .collect();
        Ok(Schema {
            version,
            classes,
            objects,
            types,
            profiles: profiles.into_keys().collect(),
            patterns,
        })
    }

    /// The attributes a class requires of every event (no profile applied), by name.
    pub fn required(&self, class_uid: i64) -> Option<Vec<String>> {
        let class = self.classes.get(&class_uid)?;
        Some(
            class
                .attributes
                .iter()
                .filter(|(_, a)| a.required && a.profiles.is_none())
                .map(|(name, _)| name.clone())
                .collect(),
        )
    }

    /// Every way `event` departs from the schema; empty when it is valid.
    pub fn validate(&self, event: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        let Some(map) = event.as_object() else {
            return vec!["the event is not a JSON object".into()];
        };
        let class_uid = match map.get("class_uid") {
            None => return vec!["missing required attribute `class_uid`".into()],
            Some(v) => match v.as_i64() {
                Some(uid) => uid,
                None => return vec![format!("`class_uid` is {v}, not an integer_t")],
            },
        };
        if !self.classes.contains_key(&class_uid) {
            return vec![format!(
                "`class_uid` {class_uid} is no class of this schema"
            )];
        }

        let mut profiles = Vec::new();
        if let Some(list) = event
            .pointer("/metadata/profiles")
            .and_then(Value::as_array)
        {
            for p in list.iter().filter_map(Value::as_str) {
                if !self.profiles.contains(p) {
                    errors.push(format!(
                        "`metadata.profiles` names `{p}`, which is no profile of this schema"
                    ));
                }
                profiles.push(p.to_string());
            }
        }

        Check {
            schema: self,
            profiles: &profiles,
            errors: &mut errors,
        }
        .item("", map, &self.classes[&class_uid]);

        if let Some(v) = event.pointer("/metadata/version").and_then(Value::as_str)
            && v != self.version
        {
            errors.push(format!(
                "`metadata.version` is {v}, the schema is {}",
                self.version
            ));
        }
        if let (Some(activity), Some(type_uid)) = (
            map.get("activity_id").and_then(Value::as_i64),
            map.get("type_uid").and_then(Value::as_i64),
        ) && type_uid != class_uid * 100 + activity
        {
            errors.push(format!(
                "`type_uid` is {type_uid}, not class_uid × 100 + activity_id = {}",
                class_uid * 100 + activity
            ));
        }
        errors
    }
}

/// One event's check: the schema, the profiles it applies, what is wrong so far.
struct Check<'a> {
    schema: &'a Schema,
    profiles: &'a [String],
    errors: &'a mut Vec<String>,
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// An enum key for a value: the schema keys enums by the value written as a string.
fn enum_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Check<'_> {
    fn applies(&self, attr: &Attribute) -> bool {
        attr.profiles
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| self.profiles.contains(p)))
    }

    fn item(&mut self, path: &str, map: &Map<String, Value>, item: &Item) {
        if item.deprecated {
            self.errors.push(format!(
                "`{path}` is a deprecated {} `{}`",
                item.kind, item.name
            ));
        }
        for (name, attr) in &item.attributes {
            let at = join(path, name);
            let Some(value) = map.get(name) else {
                if attr.required && self.applies(attr) {
                    self.errors
                        .push(format!("missing required attribute `{at}`"));
                }
                continue;
            };
            if !self.applies(attr) {
                self.errors.push(format!(
                    "`{at}` belongs to profile(s) {:?}, which `metadata.profiles` does not name",
                    attr.profiles.as_deref().unwrap_or_default()
                ));
                continue;
            }
            if value.is_null() {
                self.errors
                    .push(format!("`{at}` is null: leave it out instead"));
                continue;
            }
            if attr.deprecated {
                self.errors.push(format!("`{at}` is deprecated"));
            }
            if attr.is_array {
                match value.as_array() {
                    Some(values) => {
                        for (i, v) in values.iter().enumerate() {
                            self.value(&format!("{at}[{i}]"), v, attr);
                        }
                    }
                    None => self.errors.push(format!(
                        "`{at}` is {value}, not an array of {}",
                        attr.type_name
                    )),
                }
            } else {
                self.value(&at, value, attr);
            }
            self.enum_value(path, map, name, value, attr);
        }
        // An object that defines no attribute (`object`, the type of `unmapped`) takes any.
        if !item.attributes.is_empty() {
            for key in map.keys().filter(|k| !item.attributes.contains_key(*k)) {
                self.errors.push(format!(
                    "unknown attribute `{}`: {} `{}` has no such attribute",
                    join(path, key),
                    item.kind,
                    item.name
                ));
            }
        }
        for (constraint, keys) in &item.constraints {
            let keys: Vec<&str> = keys
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let present = keys
                .iter()
                .filter(|k| map.get(**k).is_some_and(|v| !v.is_null()))
                .count();
            let ok = match constraint.as_str() {
                "at_least_one" => present >= 1,
                "just_one" => present == 1,
                other => {
                    self.errors.push(format!(
                        "{} `{}`: unknown constraint `{other}`",
                        item.kind, item.name
                    ));
                    continue;
                }
            };
            if !ok {
                self.errors.push(format!(
                    "`{}` breaks {} `{}`'s constraint {constraint} of {keys:?} ({present} present)",
                    if path.is_empty() { "the event" } else { path },
                    item.kind,
                    item.name
                ));
            }
        }
    }

    fn enum_value(
        &mut self,
        path: &str,
        map: &Map<String, Value>,
        name: &str,
        value: &Value,
        attr: &Attribute,
    ) {
        let Some(values) = &attr.enum_values else {
            return;
        };
        let at = join(path, name);
        let elements: Vec<&Value> = match value.as_array() {
            Some(a) if attr.is_array => a.iter().collect(),
            _ => vec![value],
        };
        for v in elements {
            let key = enum_key(v);
            let Some(entry) = values.get(&key) else {
                self.errors.push(format!(
                    "`{at}` is {v}, not one of its enum values {:?}",
                    values.keys().collect::<Vec<_>>()
                ));
                continue;
            };
            if entry.get("@deprecated").is_some() {
                self.errors.push(format!("`{at}` value {v} is deprecated"));
            }
            if let Some(sibling) = &attr.sibling
                && let Some(text) = map.get(sibling)
                && key != "99"
                && !attr.is_array
                && *text != entry["caption"]
            {
                self.errors.push(format!(
                    "`{}` is {text}, but `{at}` {v} is {}",
                    join(path, sibling),
                    entry["caption"]
                ));
            }
        }
    }

    fn value(&mut self, at: &str, v: &Value, attr: &Attribute) {
        if attr.object {
            let Some(object) = self.schema.objects.get(&attr.type_name) else {
                self.errors.push(format!(
                    "`{at}` is an object `{}`, whose schema file is not vendored",
                    attr.type_name
                ));
                return;
            };
            match v.as_object() {
                Some(map) => self.item(at, map, object),
                None => self
                    .errors
                    .push(format!("`{at}` is {v}, not an object `{}`", attr.type_name)),
            }
            return;
        }
        self.typed(at, v, &attr.type_name);
    }

    /// A value of a dictionary type: its primitive, then the type's own rules.
    fn typed(&mut self, at: &str, v: &Value, type_name: &str) {
        let Some(t) = self.schema.types.get(type_name) else {
            self.errors.push(format!(
                "`{at}`: type `{type_name}` is not in the dictionary"
            ));
            return;
        };
        let primitive = t["type"].as_str().unwrap_or(type_name);
        let ok = match primitive {
            "boolean_t" => v.is_boolean(),
            "integer_t" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            "long_t" => v.as_i64().is_some(),
            "float_t" => v.is_number(),
            "string_t" => v.is_string(),
            "json_t" => true,
            other => {
                self.errors
                    .push(format!("`{at}`: primitive type `{other}` is not known"));
                return;
            }
        };
        if !ok {
            self.errors
                .push(format!("`{at}` is {v}, not a {type_name} ({primitive})"));
            return;
        }
        // The type's rules, then its parent's (a subtype inherits `values` and `range`).
        let parent = self.schema.types.get(primitive).unwrap_or(&Value::Null);
        for (name, rules) in [(type_name, t), (primitive, parent)] {
            if let Some(values) = rules["values"].as_array()
                && !values.contains(v)
            {
                self.errors.push(format!(
                    "`{at}` is {v}, not one of {name}'s values {values:?}"
                ));
            }
            if let (Some(range), Some(n)) = (rules["range"].as_array(), v.as_f64()) {
                let (lo, hi) = (range[0].as_f64(), range[1].as_f64());
                if lo.is_some_and(|lo| n < lo) || hi.is_some_and(|hi| n > hi) {
                    self.errors
                        .push(format!("`{at}` is {v}, outside {name}'s range {range:?}"));
                }
            }
            if name == primitive {
                break;
            }
        }
        if let Some(s) = v.as_str() {
            if let Some(max) = t["max_len"].as_u64()
                && s.len() as u64 > max
            {
                self.errors.push(format!(
                    "`{at}` is {} bytes, more than {type_name}'s {max}",
                    s.len()
                ));
            }
            if let Some(compiled) = self.schema.patterns.get(type_name) {
                match compiled {
                    Ok(re) if re.is_match(s) => {}
                    Ok(_) => self.errors.push(format!(
                        "`{at}` is {v}, which {type_name}'s pattern refuses"
                    )),
                    Err(e) => self.errors.push(format!(
                        "`{at}`: {type_name}'s pattern does not compile here: {e}"
                    )),
                }
            }
        }
    }
}
