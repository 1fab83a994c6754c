# bench/common.sh: helpers the benchmark scripts share (sourced by bench/run.sh and
# bench/churn/run.sh): BENCH-line fields, medians and ratios, machine load, the expected
# binary-trees output, Shade's version, the machine description, and the results files.

# The value of key=value in a BENCH line, or "-".
field() { # key line
  local value
  value=$(printf '%s\n' "$2" | sed -n "s/.* $1=\([^ ]*\).*/\1/p")
  echo "${value:--}"
}

# Median of the numbers on stdin ("-" when none).
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
  }'
}

# Median and largest of a space-separated list of runs' values on stdin (missing runs, "-" or
# empty, left out; "-" when none is left).
median_of_runs() { tr ' ' '\n' | grep -v '^-*$' | median; }
worst_of_runs() {
  tr ' ' '\n' | grep -v '^-*$' | sort -g | awk '{ w = $1 } END { print (NR ? w : "-") }'
}

# Writes a results file: "# <title>", the machine, Shade's version, <how> (the command and the
# runs), then <body>. Does nothing when <file> is "" (the scripts' *_RESULTS= for nowhere).
write_results() { # file build-dir root title how body
  [ -n "$1" ] || return 0
  { echo "# $4"; echo
    echo "$(machine_description "$2") Shade $(shade_version "$3"). $5"
    echo; printf '%s\n' "$6"; } > "$1"
}

ratio() { # numerator denominator: a / b to two decimals, or "-"
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

load_average() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0; }
# Whether a load average means other processes compete for the CPUs (above a quarter of them).
busy() { awk -v l="$1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 4) }'; }

# The Benchmarks Game output for binary-trees of depth $1, computed, so any depth can be checked.
expected_binary_trees() {
  awk -v n="$1" 'BEGIN {
    min = 4; max = (n < min + 2) ? min + 2 : n
    printf "stretch tree of depth %d\t check: %.0f\n", max + 1, 2 ^ (max + 2) - 1
    for (d = min; d <= max; d += 2) {
      iterations = 2 ^ (max - d + min)
      printf "%.0f\t trees of depth %d\t check: %.0f\n", iterations, d, iterations * (2 ^ (d + 1) - 1)
    }
    printf "long lived tree of depth %d\t check: %.0f\n", max, 2 ^ (max + 1) - 1
  }'
}

# The commit under test, noting uncommitted changes to the library. $1: the repository.
shade_version() {
  local version
  version=$(git -C "$1" rev-parse --short HEAD 2>/dev/null || echo '?')
  if ! GIT_OPTIONAL_LOCKS=0 git -C "$1" diff --quiet HEAD -- src include 2>/dev/null; then
    version="$version + uncommitted changes in src/ or include/"
  fi
  echo "$version"
}

# Date, CPUs, kernel, compiler and build type of $1 (a build directory), bdwgc's version.
machine_description() {
  local compiler build_type
  compiler=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$1/CMakeCache.txt" 2>/dev/null)
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$1/CMakeCache.txt" 2>/dev/null)
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPU(s) ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)),"
  echo "Linux $(uname -r), $(${compiler:-cc} --version 2>/dev/null | head -1), build type ${build_type:-?},"
  echo "bdwgc $(dpkg-query -W -f '${Version}' libgc-dev 2>/dev/null || echo '?') with its defaults,"
}
