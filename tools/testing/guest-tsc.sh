#!/usr/bin/env bash
# Prints the kernel command-line words that give a TCG/KVM guest a usable
# clock: "tsc_early_khz=N tsc=reliable", or nothing when the host's TSC is
# not constant.
#
# The test kernel has no HPET/ACPI PM timer: under TCG its TSC calibration
# against the PIT fails now and then, and the guest falls back to a 4 ms
# jiffies clock. The guest's TSC runs at the host's rate (TCG reads the
# host TSC; KVM passes it through), so measure that rate here and hand it
# over with tsc_early_khz=. tsc=reliable: on a loaded host the clocksource
# watchdog compares the TSC with the (emulated, lagging) jiffies, calls it
# unstable and falls back to a 4 ms clock, which zeroes every microsecond
# figure. (bench.sh rides these words on the ckpt.filter= word of the
# command line, which init.sh cuts at the first space.)
set -euo pipefail
grep -q constant_tsc /proc/cpuinfo || exit 0
tsc=$(mktemp -d)
trap 'rm -rf "$tsc"' EXIT
cat > "$tsc/t.c" <<'C'
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(void) { double t0 = now(); unsigned long long c0 = __rdtsc(); while (now() - t0 < 0.2) ; unsigned long long c1 = __rdtsc(); double t1 = now();
	printf("%.0f\n", (c1 - c0) / (t1 - t0) / 1e3); return 0; }
C
cc -O2 -o "$tsc/t" "$tsc/t.c" 2>/dev/null || exit 0
khz=$("$tsc/t")
if [ -n "$khz" ] && [ "$khz" -gt 100000 ]; then
	echo "tsc_early_khz=$khz tsc=reliable"
fi
