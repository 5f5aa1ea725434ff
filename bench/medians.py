#!/usr/bin/env python3
"""Prints a Markdown table of medians from a hyperfine --export-json file, with each
command's ratio to the first command."""
import json
import sys

results = json.load(open(sys.argv[1]))["results"]
base = results[0]["median"]
print("| command | median (ms) | min (ms) | max (ms) | runs | ratio to first |")
print("|---|---:|---:|---:|---:|---:|")
for r in results:
    print(
        f"| `{r['command']}` | {r['median'] * 1000:.2f} | {r['min'] * 1000:.2f} "
        f"| {r['max'] * 1000:.2f} | {len(r['times'])} | {r['median'] / base:.2f}x |"
    )
