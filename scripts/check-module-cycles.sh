#!/usr/bin/env bash
# Checks that the child modules of one Rust module directory do not import
# each other in a cycle.
#
# Usage: scripts/check-module-cycles.sh src/gossip [src/remote ...]
#
# For a directory `src/X` (module `crate::X`, facade `src/X.rs`) the nodes
# are the child modules (`src/X/a.rs` and everything under `src/X/a/`)
# plus the facade itself, shown as `(X)`. An edge a -> b is any path from a
# into b: `super::b::…`, `crate::X::b::…`, grouped `use super::{…}` paths,
# and items the facade re-exports (`crate::X::Item` counts as an edge to
# the child that defines `Item`). Items defined in the facade itself are an
# edge to `(X)`; the facade's `mod` and `pub use` lines are not edges, its
# own code is. Test code counts too. Comments are ignored. Prints the edges,
# then every cycle (strongly connected component), and exits 1 if there is
# one.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 <module dir> [<module dir> ...]" >&2
    exit 2
fi

status=0
for dir in "$@"; do
    python3 - "$dir" <<'PY' || status=1
import os, re, sys

root = sys.argv[1].rstrip("/")
if not os.path.isdir(root) or not os.path.isfile(root + ".rs"):
    sys.exit(f"{root}: expected a directory with a facade {root}.rs")
# crate path of the directory: src/a/b -> ["a", "b"]
parts = os.path.normpath(root).split(os.sep)
crate_prefix = parts[parts.index("src") + 1:] if "src" in parts else [parts[-1]]
facade = "(" + "::".join(crate_prefix) + ")"

children = set()
files = []  # (path, module path relative to the directory module)
for dirpath, _, names in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    base = [] if rel == "." else rel.split(os.sep)
    for n in sorted(names):
        if n.endswith(".rs"):
            stem = n[:-3]
            mod = base + ([] if stem == "mod" else [stem])
            files.append((os.path.join(dirpath, n), mod))
            if not base:
                children.add(stem)
for d in os.listdir(root):
    if os.path.isdir(os.path.join(root, d)):
        children.add(d)

def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\*")

def parse(s, i):
    """Paths (lists of segments) of the use-tree starting at s[i]."""
    m = IDENT.match(s, i)
    if not m:
        return [], i
    seg, i = m.group(0), m.end()
    j = i
    while j < len(s) and s[j] in " \t\n":
        j += 1
    if not s.startswith("::", j):
        return [[seg]], i
    j += 2
    while j < len(s) and s[j] in " \t\n":
        j += 1
    if j < len(s) and s[j] == "{":
        j += 1
        out = []
        while True:
            while j < len(s) and s[j] in " \t\n,":
                j += 1
            if j >= len(s) or s[j] == "}":
                return [[seg] + p for p in out] or [[seg]], j + 1
            sub, k = parse(s, j)
            if k == j:  # not a path: give up on this group
                return [[seg] + p for p in out] or [[seg]], j
            out += sub
            j = k
    sub, k = parse(s, j)
    return [[seg] + p for p in sub] or [[seg]], k

# facade re-exports: item -> child
reexports = {}
facade_text = strip_comments(open(root + ".rs").read())
for m in re.finditer(r"pub(?:\([a-z]+\))?\s+use\s+", facade_text):
    for p in parse(facade_text, m.end())[0]:
        if len(p) >= 2 and p[0] in children:
            reexports[p[-1]] = p[0]

def node_of(rel):
    """The node a path relative to the directory module lands in."""
    if not rel or rel[0] in ("*", "self"):
        return facade
    if rel[0] in children:
        return rel[0]
    return reexports.get(rel[0], facade)

START = re.compile(r"(?<![A-Za-z0-9_:])(super|crate)\s*::")
INLINE_MOD = re.compile(r"^(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_0-9]+)\s*\{", re.M)

edges = {}
def add(a, b, where):
    if a != b:
        edges.setdefault((a, b), where)

def scan(text, mod, own, where):
    # inline `mod x {` … `}` blocks at column 0 shift what `super` means
    spans = []
    for m in INLINE_MOD.finditer(text):
        end = re.compile(r"^\}", re.M).search(text, m.end())
        spans.append((m.start(), end.end() if end else len(text), m.group(1)))
    for m in START.finditer(text):
        inner = next((n for a, b, n in spans if a <= m.start() < b), None)
        here = mod + ([inner] if inner else [])
        for p in parse(text, m.start())[0]:
            if p[0] == "crate":
                if p[1:1 + len(crate_prefix)] != crate_prefix:
                    continue
                rel = p[1 + len(crate_prefix):]
            else:
                cur = list(here)
                while p and p[0] == "super":
                    if not cur:
                        cur = None
                        break
                    cur.pop()
                    p = p[1:]
                if cur is None:
                    continue  # leaves the directory module
                rel = cur + p
            add(own, node_of(rel), where)

for path, mod in files:
    text = strip_comments(open(path).read())
    scan(text, mod, mod[0] if mod else facade, path)
# the facade's own code: relative `child::` paths outside `mod`/`pub use`
facade_code = re.sub(r"(?m)^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+[^\n]*", "", facade_text)
facade_code = re.sub(r"pub(?:\([a-z]+\))?\s+use\s+[^;]*;", "", facade_code)
for m in re.finditer(r"(?<![A-Za-z0-9_:])([a-z_][a-z0-9_]*)\s*::", facade_code):
    if m.group(1) in children:
        add(facade, m.group(1), root + ".rs")
scan(facade_code, [], facade, root + ".rs")

print(f"== {root}: {len(children)} child modules, {len(edges)} edges")
for (a, b) in sorted(edges):
    print(f"  {a} -> {b}")

# Tarjan's strongly connected components
graph = {}
for a, b in edges:
    graph.setdefault(a, []).append(b)
    graph.setdefault(b, [])
index, low, on, stack, sccs, n = {}, {}, set(), [], [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1
    stack.append(v); on.add(v)
    for w in graph[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in sorted(graph):
    if v not in index:
        visit(v)
if sccs:
    for c in sccs:
        print("  CYCLE among: " + ", ".join(c))
        for (a, b) in sorted(edges):
            if a in c and b in c:
                print(f"    {a} -> {b}   ({edges[(a, b)]})")
    sys.exit(1)
print("  no cycle")
PY
done
exit "$status"
