#!/usr/bin/python3
"""Finds call and include cycles among the library's modules.

    cycles.py calls OBJECT...   modules are object files; A -> B when A
                                has an undefined symbol that B defines
    cycles.py includes DIR      files are the .c and .h files of DIR and of
                                DIR/include/kbus; A -> B when A has
                                #include "B" (resolved beside A, then in
                                DIR/include); a cycle among them fails

Layers call down and never back (framework/core.h lists them): a lower
module reaches a higher one only through a function pointer it was handed,
which leaves no symbol reference behind.  So any cycle in these graphs is a layering
mistake.  Each cycle found is printed with what makes each of its edges;
the exit status is 1 if there is one, 0 if not, 2 on a usage or tool error.
"""

import os
import re
import subprocess
import sys


def module_of(path):
    """libkbus_core_la-record.o -> record"""
    name = os.path.basename(path)
    name = re.sub(r"\.(o|lo)$", "", name)
    return name.split("-", 1)[1] if "-" in name else name


def call_graph(objects):
    """{module: {module it uses: [symbols]}} from `nm -P` of each object."""
    defined = {}  # symbol -> module
    undefined = {}  # module -> set of symbols
    for obj in objects:
        mod = module_of(obj)
        try:
            out = subprocess.run(["nm", "-P", obj], check=True,
                                 capture_output=True, text=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            sys.exit("cycles: nm %s: %s" % (obj, e))
        undefined.setdefault(mod, set())
        for line in out.splitlines():
            fields = line.split()
            if len(fields) < 2:
                continue
            sym, kind = fields[0], fields[1]
            if kind == "U":
                undefined[mod].add(sym)
            elif kind in "TDBRCGSVW":  # global definitions; lower case is local
                defined[sym] = mod
    graph = {mod: {} for mod in undefined}
    for mod, syms in undefined.items():
        for sym in sorted(syms):
            to = defined.get(sym)
            if to and to != mod:
                graph[mod].setdefault(to, []).append(sym)
    return graph


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def include_graph(top):
    """{file: {file it includes: [line numbers]}} over top/*.[ch] and
    top/include/kbus/*.h, names relative to top."""
    files = []
    for d in (top, os.path.join(top, "include", "kbus")):
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                files.append(os.path.relpath(os.path.join(d, name), top))
    known = set(files)
    graph = {f: {} for f in files}
    for f in files:
        with open(os.path.join(top, f), encoding="utf-8") as src:
            text = src.read()
        for m in INCLUDE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            for cand in (os.path.normpath(os.path.join(os.path.dirname(f),
                                                       m.group(1))),
                         os.path.normpath(os.path.join("include",
                                                       m.group(1)))):
                if cand in known:
                    graph[f].setdefault(cand, []).append(line)
                    break
    return graph


def components(graph):
    """Strongly connected components (Tarjan, iteratively)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            pushed = False
            for nxt in it:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    pushed = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if pushed:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.append(n)
                    if n == node:
                        break
                out.append(sorted(comp))
    return out


def cycle_in(graph, comp):
    """One cycle through the first node of a component, as a node list
    that starts and ends with that node (shortest, by breadth first)."""
    members = set(comp)
    start = comp[0]
    prev = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt not in members:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start] + path[::-1][1:] + [start]
                if nxt not in prev:
                    prev[nxt] = node
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return [start, start]


def report(graph, what, why):
    found = 0
    for comp in components(graph):
        if len(comp) < 2:
            continue
        found += 1
        cyc = cycle_in(graph, comp)
        print("%s cycle: %s" % (what, " -> ".join(cyc)))
        for a, b in zip(cyc, cyc[1:]):
            print("    %s -> %s: %s" % (a, b, why(graph[a][b])))
        if len(comp) > len(cyc) - 1:
            print("    (all of %s reach each other)" % ", ".join(comp))
    return found


def main(argv):
    if len(argv) >= 3 and argv[1] == "calls":
        graph = call_graph(argv[2:])
        n = report(graph, "call",
                   lambda syms: ", ".join(syms[:4]) +
                   (" ..." if len(syms) > 4 else ""))
        print("%d modules, %d call edges, %d cycles" %
              (len(graph), sum(len(v) for v in graph.values()), n))
    elif len(argv) == 3 and argv[1] == "includes":
        graph = include_graph(argv[2])
        n = report(graph, "include",
                   lambda lines: "#include at line " +
                   ", ".join(str(x) for x in lines))
        print("%d files, %d include edges, %d cycles" %
              (len(graph), sum(len(v) for v in graph.values()), n))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
