//! The shape of the code, checked: the top-level modules of `src/` form no import cycle, so the
//! stages stay layered (cli → config → sources → rules → review → report → deliver) and each can
//! be read, tested and replaced on its own. ARCHITECTURE.md describes the layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The files of the test modules `file` declares out of line — `#[cfg(test)]`, maybe
/// `#[path = "…"]`, then `mod name;` — and the folders of their own submodules.
fn declared_test_modules(file: &Path, text: &str) -> Vec<PathBuf> {
    let dir = file.parent().expect("a file has a folder");
    let stem = file.file_stem().unwrap().to_string_lossy();
    // Where `mod name;` looks: beside mod.rs and lib.rs, in a folder named after any other file.
    let children = if ["mod", "lib", "main"].contains(&stem.as_ref()) {
        dir.to_path_buf()
    } else {
        dir.join(stem.as_ref())
    };
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line != "#[cfg(test)]" {
            continue;
        }
        let mut path_attr = None;
        for next in lines.by_ref() {
            if next.starts_with("#[") {
                if let Some(p) = next.strip_prefix("#[path = \"") {
                    path_attr = p.strip_suffix("\"]").map(str::to_string);
                }
                continue;
            }
            let item = next.split_once("mod ").filter(|(vis, _)| {
                vis.is_empty() || (vis.starts_with("pub") && vis.ends_with(' '))
            });
            if let Some(name) = item.and_then(|(_, rest)| rest.strip_suffix(';')) {
                match &path_attr {
                    // A `#[path]` outside an inline module is relative to the declaring file's folder.
                    Some(p) => found.push(dir.join(p)),
                    None => {
                        found.push(children.join(format!("{name}.rs")));
                        found.push(children.join(name));
                    }
                }
            }
            break;
        }
    }
    found
}

/// `text` without comment lines and without the items under `#[cfg(test)]`: rustfmt starts a
/// top-level item at the start of a line and ends it there, with `}` or a line ending in `;`.
fn code_outside_tests(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == "#[cfg(test)]" {
            let at_start = |l: &str| !l.starts_with(char::is_whitespace) && !l.starts_with("#[");
            lines
                .by_ref()
                .find(|l| *l == "}" || (at_start(l) && l.ends_with(';')));
            continue;
        }
        if !line.trim_start().starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// The top-level modules each top-level module names as `crate::<module>` outside its tests
/// and comments. Tests are the inline `#[cfg(test)] mod … { … }` blocks and the files of the
/// modules declared `#[cfg(test)] mod …;`, wherever they live.
fn dependencies(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let all = rust_files(src);
    let tests: Vec<PathBuf> = all
        .iter()
        .flat_map(|f| declared_test_modules(f, &std::fs::read_to_string(f).expect("read file")))
        .collect();
    let is_test = |file: &Path| tests.iter().any(|t| file.starts_with(t));
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("read src") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "main" || is_test(&path) {
            continue;
        }
        let files = if path.is_dir() {
            rust_files(&path)
        } else {
            vec![path.clone()]
        };
        let deps = graph.entry(name.clone()).or_default();
        for file in files.iter().filter(|f| !is_test(f)) {
            let text = std::fs::read_to_string(file).expect("read file");
            for line in code_outside_tests(&text).lines() {
                for part in line.split("crate::").skip(1) {
                    let module: String = part
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !module.is_empty() && module != name {
                        deps.insert(module);
                    }
                }
            }
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    graph
}

/// A path `from` → … → `from`, if there is one.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in &graph[&node] {
            if next == from {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn the_stages_form_no_import_cycle() {
    let graph = dependencies(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.len() > 10, "modules found: {:?}", graph.keys());
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_through(&graph, m))
        .map(|c| c.join(" → "))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert("a".into(), ["b".to_string()].into());
    graph.insert("b".into(), ["a".to_string()].into());
    graph.insert("c".into(), BTreeSet::new());
    assert_eq!(
        cycle_through(&graph, "a"),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
    assert_eq!(cycle_through(&graph, "c"), None);
}

/// Test code may name any module: tests of a stage build its input with the stages before it.
/// Neither an inline test module nor a test module's file is an import of the stage.
#[test]
fn the_checker_skips_test_code_but_not_the_code_around_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod d;\n");
    write(
        "a.rs",
        "use crate::b::k;\n\n#[cfg(test)]\nmod tests {\n    use crate::c::z;\n}\n\n\
         #[cfg(test)]\nfn helper() {\n    crate::c::z()\n}\n\n\
         pub fn f() {\n    crate::d::g()\n}\n\n#[cfg(test)]\n#[path = \"a_tests.rs\"]\nmod more;\n",
    );
    write("a_tests.rs", "use crate::c::z;\n");
    write(
        "b/mod.rs",
        "#[cfg(test)]\nmod tests;\nmod inner;\n\npub fn k() {\n    crate::c::z()\n}\n",
    );
    write("b/tests.rs", "use crate::a::f;\n");
    write(
        "b/inner.rs",
        "pub fn h() {\n    crate::d::g()\n}\n\n#[cfg(test)]\nmod tests;\n",
    );
    write("b/inner/tests/mod.rs", "mod deeper;\nuse crate::a::f;\n");
    write("b/inner/tests/deeper.rs", "use crate::d::g;\n");
    write("c.rs", "pub fn z() {}\n");
    write(
        "d.rs",
        "// crate::a::f is only named in a comment\npub fn g() {}\n",
    );
    let graph = dependencies(src);
    let deps = |m: &str| graph[m].iter().cloned().collect::<Vec<String>>();
    assert_eq!(graph.keys().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    assert_eq!(deps("a"), ["b", "d"]);
    assert_eq!(deps("b"), ["c", "d"]);
    assert!(deps("c").is_empty() && deps("d").is_empty());
}
