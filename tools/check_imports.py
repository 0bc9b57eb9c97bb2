#!/usr/bin/env python3
"""Import cycles and file sizes in a crate's src/ (default trainer/src): every `crate::a::b`
path in a file is an edge from that file to the file that defines module `a::b` (or `a`).
Prints the strongly connected components with more than one file and the files over the line
limit; exits 1 if there is a cycle.  Usage: tools/check_imports.py [SRC_DIR] [MAX_LINES]"""
import os, re, sys

src = sys.argv[1] if len(sys.argv) > 1 else "trainer/src"
max_lines = int(sys.argv[2]) if len(sys.argv) > 2 else 450
files = {}
for d, _, names in os.walk(src):
    for n in names:
        if n.endswith(".rs"):
            p = os.path.join(d, n)
            rel = os.path.relpath(p, src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            files[tuple(rel)] = p

def file_of(path):
    for k in range(len(path), 0, -1):
        if tuple(path[:k]) in files:
            return tuple(path[:k])
    return None

def strip_tests(text):
    i = text.find("#[cfg(test)]")
    return text if i < 0 else text[:i]

edges = {k: set() for k in files}
for mod, p in files.items():
    text = strip_tests(open(p).read())
    for m in re.finditer(r"crate::((?:\w+::)*\w+)", text):
        target = file_of(m.group(1).split("::"))
        if target and target != mod:
            edges[mod].add(target)
    # `use crate::x::{a, b::c}` groups
    for m in re.finditer(r"crate::((?:\w+::)*)\{([^}]*)\}", text):
        base = m.group(1).rstrip(":").split("::") if m.group(1) else []
        for item in m.group(2).split(","):
            item = item.strip().split(" as ")[0]
            if item and item != "self":
                target = file_of(base + item.split("::"))
                if target and target != mod:
                    edges[mod].add(target)
    # a parent module file depends on its children only through `mod`, not an import.

index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
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
        sccs.append(comp)
sys.setrecursionlimit(10000)
for v in files:
    if v not in index:
        visit(v)
cycles = [c for c in sccs if len(c) > 1]
for c in cycles:
    print("cycle:", ", ".join(sorted(files[m] for m in c)))
big = [(sum(1 for _ in open(p)), p) for p in files.values()]
for n, p in sorted(big, reverse=True):
    if n > max_lines:
        print(f"over {max_lines} lines: {p} ({n})")
print(f"{len(files)} files, {sum(len(e) for e in edges.values())} imports, {len(cycles)} cycle(s)")
sys.exit(1 if cycles else 0)
