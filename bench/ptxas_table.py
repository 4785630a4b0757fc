#!/usr/bin/env python3
"""ptxas_table.py LOG: one line a kernel of an `nvcc -Xptxas -v` log (demangled name, registers,
stack frame, spills), for reading resource usage of bench/ builds at a glance."""
import re, subprocess, sys

cur = None
rows = {}
for line in open(sys.argv[1]):
    m = re.search(r"Compiling entry function '([^']+)'", line)
    if m:
        cur = m.group(1)
        continue
    if cur is None:
        continue
    m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
    if m:
        rows.setdefault(cur, {})["spill"] = "%s/%s/%s" % m.groups()
    m = re.search(r"Used (\d+) registers", line)
    if m:
        rows.setdefault(cur, {})["regs"] = m.group(1)
names = list(rows)
pat = sys.argv[2] if len(sys.argv) > 2 else ""
dem = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True).stdout.split("\n")
for n, d in zip(names, dem):
    if pat in d:
        print("%4s regs  stack/spill st/ld %-12s %s" % (rows[n].get("regs", "?"), rows[n].get("spill", "?"), d[:200]))
