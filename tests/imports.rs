//! The import graph of `src/index/`: `mod.rs` is the front door and nothing inside imports
//! from it, and no two modules import each other, directly or round about. Read from the
//! source, so that a new `use` that breaks the layering fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, as a module path relative to `src/index` (`segment/blocks`).
fn modules(root: &Path, dir: &Path, out: &mut BTreeMap<String, PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            modules(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let name = rel.to_string_lossy().replace('\\', "/");
            let name = name.strip_suffix("/mod").unwrap_or(&name).to_string();
            out.insert(if name == "mod" { String::new() } else { name }, path);
        }
    }
}

/// The source without its test module (`use super::*` there is the file's own module).
fn without_tests(source: &str) -> &str {
    source
        .find("#[cfg(test)]\nmod tests")
        .map_or(source, |at| &source[..at])
}

/// The paths a file names through `super::…` or `crate::index::…`, resolved to module paths
/// under `src/index` (`""` is `mod.rs`).
fn targets(module: &str, source: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let parent: Vec<&str> = module.split('/').filter(|s| !s.is_empty()).collect();
    // A file `a/b` is module `a::b`; `super` is `a`; for `a/mod.rs` (module `a`), `super` is
    // the index root.
    let is_dir_module = known.iter().any(|k| k.starts_with(&format!("{module}/")));
    let mut out = BTreeSet::new();
    let code = without_tests(source);
    let mut rest = code;
    while let Some(at) = rest.find(['s', 'c']) {
        rest = &rest[at..];
        let (base, after): (Vec<&str>, &str) = if let Some(r) = rest.strip_prefix("crate::index::")
        {
            (Vec::new(), r)
        } else if rest.starts_with("super::") {
            // Count the `super::` steps.
            let mut here: Vec<&str> = parent.clone();
            if !is_dir_module {
                here.pop();
            }
            let mut r = rest;
            let mut first = true;
            while let Some(next) = r.strip_prefix("super::") {
                if !first {
                    here.pop();
                }
                first = false;
                r = next;
            }
            (here, r)
        } else {
            rest = &rest[1..];
            continue;
        };
        // The longest module path the named path starts with.
        let segments: Vec<&str> = after
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
            .split("::")
            .collect();
        let mut target = base.join("/");
        for seg in segments {
            let candidate = if target.is_empty() {
                seg.to_string()
            } else {
                format!("{target}/{seg}")
            };
            if known.contains(&candidate) {
                target = candidate;
            } else {
                break;
            }
        }
        out.insert(target);
        rest = &rest[1..];
    }
    out.remove(module);
    out
}

#[test]
fn index_modules_import_downwards_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/index");
    let mut files = BTreeMap::new();
    modules(&root, &root, &mut files);
    let known: BTreeSet<String> = files.keys().cloned().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in &files {
        let source = std::fs::read_to_string(path).unwrap();
        graph.insert(module.clone(), targets(module, &source, &known));
    }
    // Nothing below the front door imports from it.
    for (module, targets) in &graph {
        if !module.is_empty() {
            assert!(
                !targets.contains(""),
                "src/index/{module}.rs imports from index/mod.rs (the front door): import from the module that defines the item"
            );
        }
    }
    // No cycle: a depth-first search finds no edge back to a module on the stack.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = stack.iter().position(|n| n == node) {
            panic!("import cycle: {}", stack[at..].join(" -> ") + " -> " + node);
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done);
        }
        stack.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(module, &graph, &mut Vec::new(), &mut done);
    }
    // The layering the front door's documentation names, spot-checked.
    assert!(
        graph["table"].is_empty(),
        "table is a leaf: {:?}",
        graph["table"]
    );
    assert!(!graph["format"].contains("segment"));
    assert!(graph["generation"].contains("reader"));
}
