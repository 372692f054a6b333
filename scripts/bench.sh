#!/usr/bin/env bash
# Benchmarks (make bench): not written yet.
echo "bench: not yet" >&2
exit 1
