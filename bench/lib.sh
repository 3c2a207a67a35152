# bench/lib.sh - shell functions the benchmark scripts share (sourced by
# run-dkim-bench.sh and run-milter-bench.sh).

# Share of all CPU time (percent of all cores) spent busy over one second:
# anything else running on the machine skews a benchmark's rows.
cpu_busy_pct() {
    local a b
    a=$(head -n 1 /proc/stat); sleep 1; b=$(head -n 1 /proc/stat)
    awk -v a="$a" -v b="$b" -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" 'BEGIN {
        k = split(a, x, " "); split(b, y, " ")
        for (i = 2; i <= k; i++) if (i != 5 && i != 6) t += y[i] - x[i]
        printf "%.0f", 100 * t / hz / n }'
}

# The median of the arguments (numbers); empty without arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
    else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
