#!/bin/sh
# SPDX-License-Identifier: MIT
# layout-counts.sh — the counts by which the runtime's layout is judged,
# each one a command anyone can rerun on any revision of the tree:
#
#   sh tools/layout-counts.sh [BUILD_DIR]
#
# BUILD_DIR (default: build) is a configured and built tree; only the last
# count (the largest call/include cycle) reads its object files.  Every
# count covers the library's and gdump's sources (wherever the tree keeps
# them: core/, signals/, arch/ or src/, and tools/gdump/).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
cd "$top"
dirs=
for d in src core signals arch tools/gdump; do
	[ -d "$d" ] && dirs="$dirs $d"
done
files=$(find $dirs -name '*.[chS]' | sort)

# 1. Source files that call sigaction(2) (a `struct sigaction` is not a
#    call).
n=$(grep -lP '(?<!struct )\bsigaction\s*\(' $(echo "$files" | grep '\.c$') | wc -l)
echo "files calling sigaction:                  $n"

# 2. Definitions of the dump format's goroutine state labels: code (not a
#    comment) that spells the label "syscall", the one every definition
#    of the labels must spell.
n=$(grep -P '"syscall"' $files | grep -vP '^[^:]+:\s*(/?\*|//)' | wc -l)
echo "state label definitions:                  $n"

# 3. Files that write a field of struct sched (assignment, ++/--, compound
#    assignment, or an atomic store/RMW on &sched.X).
n=$(grep -lP '\bsched\.[A-Za-z_][A-Za-z0-9_.\[\]]*\s*([-+*/|&^]?=(?!=)|\+\+|--)|(atomic|__atomic)_\w*(store|exchange|fetch|add|sub|or|and|compare)\w*\s*\(\s*&sched\.|(\+\+|--)\s*sched\.' $files | wc -l)
echo "files writing sched.* fields:             $n"

# 4. volatile casts and __atomic_* builtins at the point of use, and copies
#    of the memory-order shorthands.
v=$(grep -oP '\([^()]*\bvolatile\b[^()]*\*\s*\)' $files | wc -l)
a=$(grep -oP '\b__atomic_\w+\s*\(' $files | wc -l)
r=$(grep -lP '^\s*#\s*define\s+RELAXED\b' $files | wc -l)
echo "volatile casts:                           $v"
echo "__atomic_* builtin calls:                 $a"
echo "files defining RELAXED:                   $r"

# 5. References to documents outside the repository.
n=$(grep -P 'DESIGN\.md|https?://' $files | wc -l)
echo "references to outside documents:          $n"

# 6. Includes that climb: a file under src/ that includes a header of a
#    folder above its own in the order src/runtime.h gives (the root
#    header, runtime.h, is every folder's; main.c is on top).  Each one
#    should be a sanctioned upcall that runtime.h names.
if [ -d src/sched ]; then
python3 - $files <<'PY'
import os, re, sys
order = ['arch', 'base', 'stack', 'sched', 'time', 'io', 'sync',
         'signals', 'preempt', 'sysmon', 'debug', 'main']
tier = {f: i for i, f in enumerate(order)}
tier.update(time=tier['sched'], io=tier['sched'])  # the scheduler's core
def folder(p):
    parts = p.split('/')
    if parts[0] != 'src':
        return None
    return 'main' if len(parts) == 2 else parts[1]
hdr = {}
for f in sys.argv[1:]:
    if f.endswith('.h') and f.startswith('src/'):
        hdr[os.path.basename(f)] = f
up = []
for f in sys.argv[1:]:
    a = folder(f)
    if a is None:
        continue
    for h in re.findall(r'#\s*include\s+"([^"]+)"', open(f).read()):
        b = folder(hdr.get(h, ''))
        if b and h != 'runtime.h' and tier[b] > tier[a]:
            up.append('%s -> %s' % (f, hdr[h]))
print("includes that climb:                      %d" % len(up))
for u in up:
    print("  " + u)
PY
fi

# 7. The largest group of source files that reach each other in a cycle of
#    #include and call edges (a strongly connected component).  A call edge
#    A -> B: A's object file uses a function B's defines (nm: T or W; data
#    such as struct sched is not a call).  An include edge A -> B: A
#    includes B's header (foo.h belongs to foo.c).
python3 - "$build" $files <<'PY'
import os, re, subprocess, sys
build, files = sys.argv[1], sys.argv[2:]
stem = lambda p: os.path.splitext(os.path.basename(p))[0]
units = sorted({f for f in files if f.endswith(('.c', '.S'))})
owner = {}                     # stem -> unit path
for u in units:
    owner.setdefault(stem(u), u)
edges = {u: set() for u in units}
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
for f in files:
    src = owner.get(stem(f)) if f.endswith('.h') else f
    if src is None or src not in edges:
        continue
    for h in inc.findall(open(f, errors='replace').read()):
        dst = owner.get(stem(h))
        if dst and dst != src:
            edges[src].add(dst)
objs = {}
for root, _, names in os.walk(build):
    for n in names:
        if n.endswith('.o') and '/.libs' not in root + '/':
            s = re.sub(r'^(libgoro_la|gdump)-', '', stem(n))
            s = re.sub(r'^[a-z_]+-', '', s) if s not in owner else s
            if s in owner:
                objs.setdefault(owner[s], os.path.join(root, n))
defs, undefs = {}, {}
for u, o in objs.items():
    out = subprocess.run(['nm', o], capture_output=True, text=True).stdout
    undefs[u] = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == 'U':
            undefs[u].add(parts[1])
        elif len(parts) == 3 and parts[1] in 'TW':
            defs.setdefault(parts[2], u)
for u, us in undefs.items():
    for s in us:
        d = defs.get(s)
        if d and d != u:
            edges[u].add(d)
# Tarjan's strongly connected components (iterative).
index, low, on, stack, sccs, n = {}, {}, set(), [], [], [0]
for v0 in units:
    if v0 in index:
        continue
    work = [(v0, iter(sorted(edges[v0])))]
    index[v0] = low[v0] = n[0]; n[0] += 1; stack.append(v0); on.add(v0)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is not None:
            if w not in index:
                index[w] = low[w] = n[0]; n[0] += 1
                stack.append(w); on.add(w)
                work.append((w, iter(sorted(edges[w]))))
            elif w in on:
                low[v] = min(low[v], index[w])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            c = []
            while True:
                w = stack.pop(); on.discard(w); c.append(w)
                if w == v:
                    break
            sccs.append(sorted(c))
big = max(sccs, key=len)
print("largest include/call cycle:               %d files (%d object files read)"
      % (len(big), len(objs)))
print("  " + " ".join(os.path.relpath(c) for c in big))
PY
