#!/usr/bin/env python3
"""CPython peer of `peftlab bench interpreter`: the same arithmetic loop, run as a notebook
cell runs in ipykernel (compiled and executed at module level, so `s` is a global and `i` the
loop's variable), timed with time.perf_counter; the median of --repeats runs after one untimed.

Prints one JSON object {"peer": "cpython", "python", "iterations", "seconds", "value"}.
"""
import argparse
import json
import platform
import statistics
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cell = compile(f"s = 0\nfor i in range({args.iterations}):\n    s = s + i * 2 % 7\n", "<cell>", "exec")
    namespace = {}
    exec(cell, namespace)
    times = []
    for _ in range(max(1, args.repeats)):
        namespace = {}
        start = time.perf_counter()
        exec(cell, namespace)
        times.append(time.perf_counter() - start)
    print(json.dumps({"peer": "cpython", "python": platform.python_version(), "iterations": args.iterations,
                      "seconds": statistics.median(times), "value": namespace["s"]}))


if __name__ == "__main__":
    main()
