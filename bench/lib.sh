# bench/lib.sh - shell functions the benchmark scripts share (sourced by
# the run-*.sh scripts).

# Busy CPU ticks of the whole machine (all cores) between two "cpu" lines
# of /proc/stat.
busy_ticks() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, x, " "); split(b, y, " ")
        for (i = 2; i <= n; i++) if (i != 5 && i != 6) t += y[i] - x[i]
        printf "%d", t }'
}

# Share of all CPU time (percent of all cores) spent busy over one second:
# anything else running on the machine skews a benchmark's rows.
cpu_busy_pct() {
    local a b
    a=$(head -n 1 /proc/stat); sleep 1; b=$(head -n 1 /proc/stat)
    awk -v busy="$(busy_ticks "$a" "$b")" -v hz="$(getconf CLK_TCK)" \
        -v n="$(nproc)" 'BEGIN { printf "%.0f", 100 * busy / hz / n }'
}

# The median of the arguments (numbers); empty without arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
    else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Set MAMORI to the mamori CLI: as given, else BUILD's (meson setup and
# ninja as needed; ROOT and BUILD set by the caller, progress on stderr).
mamori_cli() {
    [ -n "${MAMORI:-}" ] && return 0
    [ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$ROOT" >&2
    printf '== ninja -C %s src/cli/mamori\n' "$BUILD" >&2
    ninja -C "$BUILD" src/cli/mamori >&2
    MAMORI=$BUILD/src/cli/mamori
}
