//! The import graph of the whole crate, read from the source: every `.rs` file under
//! `src/` is a node (a `mod.rs` or `lib.rs` is its folder's module), and a path a file
//! names through `crate::…`, `super::…`, `self::…` or a child module of its own is an edge
//! to the file that defines the module the path reaches (use trees with braces expanded).
//! Declaring a child (`mod x;`) is not an edge; comments, doc links and `#[cfg(test)] mod
//! tests` are left out. The graph must have no cycle, so that every module can be read
//! knowing only the ones below it. The library (`lib.rs` and its modules) and the binary
//! (`main.rs` and `cli/`) are two crates, checked apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`index/segment/blocks`; `""` for the crate root) → source.
type Sources = BTreeMap<String, String>;
/// Module path → the module paths it imports from.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every `.rs` file under `dir`, by module path relative to `root`, skipping `skip`.
fn collect(root: &Path, dir: &Path, skip: &[&str], out: &mut Sources) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if skip
            .iter()
            .any(|s| rel == *s || rel.starts_with(&format!("{s}/")))
        {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, skip, out);
        } else if rel.ends_with(".rs") {
            let name = rel.trim_end_matches(".rs");
            let name = name
                .strip_suffix("/mod")
                .unwrap_or(if matches!(name, "mod" | "lib" | "main") {
                    ""
                } else {
                    name
                })
                .to_string();
            out.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The code of a file without comments and without its test module.
fn code_of(source: &str) -> String {
    let source = source
        .find("#[cfg(test)]\nmod tests")
        .map_or(source, |at| &source[..at]);
    source
        .lines()
        .map(|line| match line.find("//") {
            // A comment that starts the line, or follows code outside a string.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Children a module declares with `mod x;` (files, not inline modules).
fn declared_children(code: &str) -> BTreeSet<String> {
    code.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub(super) "))
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(|n| n.trim().to_string())
        })
        .collect()
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Expands the path or use tree at the start of `text` into its paths (segments each).
fn paths_at(text: &str) -> Vec<Vec<String>> {
    fn tree(chars: &[char], at: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        let mut path = prefix;
        loop {
            while *at < chars.len() && chars[*at].is_whitespace() {
                *at += 1;
            }
            if *at < chars.len() && chars[*at] == '{' {
                *at += 1;
                loop {
                    tree(chars, at, path.clone(), out);
                    while *at < chars.len() && chars[*at].is_whitespace() {
                        *at += 1;
                    }
                    match chars.get(*at) {
                        Some(',') => {
                            *at += 1;
                            while *at < chars.len() && chars[*at].is_whitespace() {
                                *at += 1;
                            }
                            if chars.get(*at) == Some(&'}') {
                                *at += 1;
                                return;
                            }
                        }
                        Some('}') => {
                            *at += 1;
                            return;
                        }
                        _ => return,
                    }
                }
            }
            let start = *at;
            while *at < chars.len() && is_ident(chars[*at]) {
                *at += 1;
            }
            if *at == start {
                out.push(path);
                return;
            }
            path.push(chars[start..*at].iter().collect());
            if chars.get(*at) == Some(&':') && chars.get(*at + 1) == Some(&':') {
                *at += 2;
            } else {
                out.push(path);
                return;
            }
        }
    }
    let chars: Vec<char> = text.chars().take(4000).collect();
    let mut out = Vec::new();
    tree(&chars, &mut 0, Vec::new(), &mut out);
    out
}

/// The modules `module`'s code names, resolved to known module paths.
fn imports(module: &str, code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let here: Vec<String> = module
        .split('/')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let children = declared_children(code);
    let mut out = BTreeSet::new();
    let mut previous = ' ';
    for (at, c) in code.char_indices() {
        let starts_word = !is_ident(previous) && previous != ':';
        previous = c;
        if !starts_word || !is_ident(c) {
            continue;
        }
        for path in paths_at(&code[at..]) {
            if path.len() < 2 {
                continue;
            }
            let mut base = match path[0].as_str() {
                "crate" => Vec::new(),
                "self" => here.clone(),
                "super" => {
                    let mut b = here.clone();
                    b.pop();
                    b
                }
                first if children.contains(first) => here.clone(),
                _ => continue,
            };
            let mut rest = &path[1..];
            if path[0] == "super" {
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            let mut segments: Vec<&String> = Vec::new();
            if children.contains(&path[0]) {
                segments.push(&path[0]);
            }
            segments.extend(rest.iter());
            // The longest module path the named path reaches.
            let mut target = base;
            for segment in segments {
                let mut candidate = target.clone();
                candidate.push(segment.clone());
                if known.contains(&candidate.join("/")) {
                    target = candidate;
                } else {
                    break;
                }
            }
            out.insert(target.join("/"));
        }
    }
    out.remove(module);
    out
}

/// The file-level import graph of the sources.
fn graph(sources: &Sources) -> Graph {
    let known: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(module, source)| (module.clone(), imports(module, &code_of(source), &known)))
        .collect()
}

/// The first cycle found, as a path of modules back to where it started.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if done.contains(node) {
            return None;
        }
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

/// Every group of modules that import each other round about (strongly connected
/// components of more than one module), for the failure message.
fn tangles(graph: &Graph) -> Vec<Vec<String>> {
    // Two modules are tangled when each reaches the other.
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(n) = todo.pop() {
            for next in graph.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for (module, reached) in &reaches {
        if !reached.contains(*module) || out.iter().any(|g| g.contains(module)) {
            continue;
        }
        let group: Vec<String> = reached
            .iter()
            .filter(|other| reaches.get(other).is_some_and(|r| r.contains(*module)))
            .cloned()
            .collect();
        out.push(group);
    }
    out
}

fn show(cycle: &[String]) -> String {
    cycle
        .iter()
        .map(|m| if m.is_empty() { "(crate root)" } else { m })
        .collect::<Vec<_>>()
        .join(" -> ")
}

fn src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn the_library_has_no_import_cycle() {
    let mut sources = Sources::new();
    collect(&src(), &src(), &["main.rs", "cli"], &mut sources);
    assert!(sources.len() > 50, "read {} files", sources.len());
    let graph = graph(&sources);
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle in src/: {}\nevery tangle: {:?}",
            show(&cycle),
            tangles(&graph)
        );
    }
    // The layering ARCHITECTURE.md names, spot-checked so that a resolver that found no
    // edges at all would fail here.
    assert!(graph["index/generation"].contains("index/reader"));
    assert!(graph["index/compact"].contains("journal"));
    assert!(graph["live"].contains("journal"));
    assert!(graph["index/segment"].contains("index/segment/blocks/read"));
    // Leaves: `durable` and `hashing` import nothing of the crate; `index/table` nothing
    // of the index.
    for leaf in ["durable", "hashing"] {
        assert!(
            graph[leaf].is_empty(),
            "{leaf} is a leaf, imports {:?}",
            graph[leaf]
        );
    }
    let inside: Vec<_> = graph["index/table"]
        .iter()
        .filter(|t| t.starts_with("index"))
        .collect();
    assert!(inside.is_empty(), "index/table imports {inside:?}");
    // The index's front door is a front door: nothing inside imports from it.
    for (module, targets) in &graph {
        if module.starts_with("index/") {
            assert!(
                !targets.contains("index"),
                "src/{module}.rs imports from index/mod.rs (the front door): import from the module that defines the item"
            );
        }
    }
}

#[test]
fn the_binary_has_no_import_cycle() {
    let mut sources = Sources::new();
    sources.insert(
        String::new(),
        std::fs::read_to_string(src().join("main.rs")).unwrap(),
    );
    let mut cli = Sources::new();
    collect(&src(), &src().join("cli"), &[], &mut cli);
    sources.extend(cli);
    let graph = graph(&sources);
    assert!(
        graph["cli/check"].contains("cli"),
        "{:?}",
        graph["cli/check"]
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle in the binary: {}", show(&cycle));
    }
}

/// The checker itself: a cycle through a `mod.rs`, through a use tree with braces, and
/// round about through three files, are each found; the same files without the offending
/// line are not.
#[test]
fn a_deliberate_cycle_is_found() {
    let tree = |files: &[(&str, &str)]| -> Graph {
        graph(
            &files
                .iter()
                .map(|(m, s)| (m.to_string(), s.to_string()))
                .collect(),
        )
    };
    let parent = "mod a;\nmod b;\npub use a::Thing;\n";
    let clean = tree(&[
        ("", "mod seg;\n"),
        ("seg", parent),
        ("seg/a", "use super::b::Other;\npub struct Thing;\n"),
        ("seg/b", "pub struct Other;\n"),
    ]);
    assert_eq!(find_cycle(&clean), None, "{clean:?}");
    let through_mod = tree(&[
        ("", "mod seg;\n"),
        ("seg", &format!("{parent}pub trait Seam {{}}\n")),
        ("seg/a", "use super::{b::Other, Seam};\npub struct Thing;\n"),
        ("seg/b", "pub struct Other;\n"),
    ]);
    assert!(find_cycle(&through_mod).is_some(), "{through_mod:?}");
    let round_about = tree(&[
        ("", "mod x;\nmod y;\nmod z;\n"),
        ("x", "use crate::y::Y;\n"),
        ("y", "pub struct Y(crate::z::Z);\n"),
        (
            "z",
            "pub struct Z;\nfn f() { let _ = crate::x::f; } // crate::nothing\n",
        ),
    ]);
    assert_eq!(
        find_cycle(&round_about).map(|c| show(&c)),
        Some("x -> y -> z -> x".to_string())
    );
    // A comment or a doc link is not an import.
    let comments = tree(&[
        ("", "mod x;\nmod y;\n"),
        ("x", "use crate::y::Y;\n"),
        ("y", "/// See [`crate::x::f`].\npub struct Y; // crate::x\n"),
    ]);
    assert_eq!(find_cycle(&comments), None);
}

/// The whole graph, for looking at: `cargo test --test imports dump -- --ignored --nocapture`.
#[test]
#[ignore]
fn dump() {
    let mut sources = Sources::new();
    collect(&src(), &src(), &["main.rs", "cli"], &mut sources);
    for (m, t) in graph(&sources) {
        println!("{m:30} -> {t:?}");
    }
}
