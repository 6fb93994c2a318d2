#!/bin/bash
# The step-2 table: python run_finite_m.py for M in 4 16 64, alpha in 1 2 3 5 8, at the given seed (default 1).
# Usage (from this directory): bash run_table.sh SEED [DAMPING [ITERATIONS]] > table_seedSEED.jsonl
seed=${1:-1}
damp=${2:-0.5}
its=${3:-300}
for M in 4 16 64; do for a in 1 2 3 5 8; do
  python run_finite_m.py $M $a 24 64 20000 $seed $damp $its | grep -E "RESULT|cpu" | tr '\n' ' '; echo
done; done
