#!/bin/bash
# decision_work: instructions and simulated cache misses per relay decision at 1k, 100k and
# 1M rules, counted by callgrind (deterministic, unlike wall time on a shared machine).
# Shows whether the work per decision grows with the rule count. Run: test/bench/decision_work.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
bench=$build/test/bench/policy_bench
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf "%10s %16s %16s %16s\n" rules "instr/decision" "D1 miss/decision" "LL miss/decision"
for rules in 1000 100000 1000000; do
  # Last level simulated as 8 MB, 16-way: what pointer-chasing measured on these machines.
  valgrind --tool=callgrind --cache-sim=yes --LL=8388608,16,64 --toggle-collect='*decision_loop*' \
    --callgrind-out-file="$out/cg.$rules" "$bench" --work "$rules" >/dev/null 2>&1
  # The totals line, events in this order: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw ("." is zero)
  read -r ir _ _ _ d1mr d1mw _ dlmr dlmw < <(callgrind_annotate "$out/cg.$rules" 2>/dev/null |
    awk '/PROGRAM TOTALS/ { line = ""
      for (i = 1; i <= NF && $i != "PROGRAM"; i++) {
        if ($i ~ /^\(/) continue
        v = $i; gsub(",", "", v); if (v == ".") v = 0
        line = line v " "
      }
      print line; exit }')
  awk -v r="$rules" -v ir="$ir" -v d1="$((d1mr + d1mw))" -v ll="$((dlmr + dlmw))" \
    'BEGIN { n = 200000; printf "%10d %16.1f %16.2f %16.2f\n", r, ir / n, d1 / n, ll / n }'
done
