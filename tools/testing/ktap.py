#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one `make check` run.

Parses the KTAP in the guest console log (KUnit suites printed by the kernel)
and in the guest test results, the host `cargo test` summaries, and scans the
whole console log for kernel trouble (oops, BUG, WARN, KASAN, lockdep,
kmemleak). Prints every failure, then one final line `N passed, N failed`,
and exits 1 when anything failed or the kernel complained.

  ktap.py --console console.log --guest results.ktap --host host.log
"""
import argparse
import os
import re
import sys

TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")
RESULT = re.compile(r"^(?P<indent>\s*)(?P<ok>ok|not ok) (?P<num>\d+)\s*(?:- )?(?P<name>[^#]*?)\s*(?:#\s*(?P<directive>\S+).*)?$")
PLAN = re.compile(r"^(?P<indent>\s*)1\.\.(?P<count>\d+)\s*$")

# Lines that mean the kernel found a bug, wherever they appear.
TROUBLE = [
    re.compile(p)
    for p in (
        r"\bBUG[: ]",
        r"WARNING: ",
        r"\bOops\b",
        r"KASAN",
        r"general protection fault",
        r"Kernel panic",
        r"kernel BUG",
        r"unreferenced object",  # kmemleak
        r"possible (recursive|circular) locking",
        r"inconsistent lock state",
        r"lock held when returning",
        r"suspicious RCU usage",
        r"sleeping function called from invalid context",
        r"panicked at",  # Rust panic
        r"Call Trace:",
        r"UBSAN",
    )
]


def strip(line):
    return TIMESTAMP.sub("", line.rstrip("\r\n"))


def parse_ktap(lines, source):
    """Leaf results of every KTAP document in `lines`, plus plan problems.

    A result line is a leaf when no deeper result came since the previous
    result at its depth: suites summarise their cases, we count the cases.
    Returns (passed, failed, skipped, failures) with failures as names.
    """
    passed = failed = skipped = 0
    failures = []
    children = {}  # depth -> whether results at that depth appeared since its parent's last result
    names = {}  # depth -> current subtest name (from "# Subtest:")
    plans = {}  # depth -> [expected, seen]
    for raw in lines:
        line = strip(raw)
        if "KTAP version" in line and line.strip().startswith("KTAP version"):
            depth = (len(line) - len(line.lstrip(" "))) // 4
            plans.pop(depth, None)
            continue
        m = re.match(r"^(\s*)# Subtest: (.*)$", line)
        if m:
            names[len(m.group(1)) // 4] = m.group(2).strip()
            continue
        m = PLAN.match(line)
        if m:
            plans[len(m.group("indent")) // 4] = [int(m.group("count")), 0]
            continue
        m = RESULT.match(line)
        if not m:
            continue
        depth = len(m.group("indent")) // 4
        if depth in plans:
            plans[depth][1] += 1
        leaf = not children.get(depth + 1, False)
        children[depth + 1] = False
        children[depth] = True
        # A suite whose plan promised more cases than it printed lost some.
        deeper = plans.get(depth + 1)
        if not leaf and deeper and deeper[1] < deeper[0]:
            missing = deeper[0] - deeper[1]
            failed += missing
            failures.append(f"{source}: {m.group('name')}: {missing} case(s) never reported")
        if not leaf:
            plans.pop(depth + 1, None)
            continue
        directive = (m.group("directive") or "").upper()
        suite = names.get(depth - 1, "") if depth > 0 else names.get(0, "")
        name = f"{suite}.{m.group('name')}" if suite else m.group("name")
        if directive == "SKIP":
            skipped += 1
        elif m.group("ok") == "ok":
            passed += 1
        else:
            failed += 1
            failures.append(f"{source}: {name}")
    for depth, (want, seen) in plans.items():
        if seen < want:
            failed += want - seen
            failures.append(f"{source}: plan 1..{want} but only {seen} result(s) at depth {depth}")
    return passed, failed, skipped, failures


def scan_trouble(console, problems, warnings):
    """Kernel trouble in a console log (several boots may be concatenated).

    Reports from a boot before our module is loaded (before the guest's
    "CKPT-STAGE: insmod") cannot come from ckpt_pty: they are listed as
    warnings; everything from the insmod on fails the run.
    """
    ours = False
    for l in console:
        s = strip(l)
        if s.startswith("Linux version "):
            ours = False
        if "CKPT-STAGE: insmod" in s:
            ours = True
        if any(t.search(s) for t in TROUBLE):
            (problems if ours else warnings).append(f"kernel: {s}")
        if s.startswith("CKPT-ERROR"):
            problems.append(f"guest: {s}")


def parse_host(lines):
    passed = failed = 0
    failures = []
    for line in lines:
        m = re.search(r"test result: \w+\. (\d+) passed; (\d+) failed", line)
        if m:
            passed += int(m.group(1))
            failed += int(m.group(2))
        m = re.match(r"^test (\S+) \.\.\. FAILED", line)
        if m:
            failures.append(f"host: {m.group(1)}")
    return passed, failed, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--console", action="append", default=[],
                    help="guest serial console log; the first is the test run (KUnit counted), "
                    "later ones are only scanned for kernel trouble")
    ap.add_argument("--guest", action="append", default=[], help="guest tests KTAP (ttyS1)")
    ap.add_argument("--host", action="append", default=[], help="cargo test output")
    ap.add_argument("--expect-kunit", type=int, default=1, help="minimum KUnit cases expected")
    args = ap.parse_args()

    total_pass = total_fail = 0
    problems = []
    warnings = []
    rows = []

    for path in args.host:
        with open(path, errors="replace") as f:
            p, fl, fails = parse_host(f)
        if p + fl == 0:
            problems.append(f"host: no test ran in {path}")
        rows.append(("host (cargo test)", p, fl, 0))
        total_pass += p
        total_fail += fl
        problems += fails

    for n, path in enumerate(args.console):
        try:
            with open(path, errors="replace") as f:
                console = f.readlines()
        except OSError:
            problems.append(f"guest: no console log {path}")
            continue
        if n > 0:
            scan_trouble(console, problems, warnings)
            continue
        # KUnit's KTAP: the kernel prints it; guest userspace lines are ours.
        kunit_lines = [l for l in console if not strip(l).startswith("CKPT")]
        # KUnit runs at insmod; the next stage (guest tests, criu, ...) is ours.
        guest_start = next((i for i, l in enumerate(console)
                            if "CKPT-STAGE: " in l and "CKPT-STAGE: insmod" not in l), len(console))
        p, fl, sk, fails = parse_ktap(kunit_lines[:guest_start], "kunit")
        if p + fl < args.expect_kunit:
            problems.append(f"kunit: expected at least {args.expect_kunit} KUnit cases, saw {p + fl}")
            fl += 1
        rows.append(("KUnit (in kernel)", p, fl, sk))
        total_pass += p
        total_fail += fl
        problems += fails
        scan_trouble(console, problems, warnings)
        if not any("CKPT-DONE" in l for l in console):
            problems.append("guest: never reached CKPT-DONE (crash or timeout)")

    for n, path in enumerate(args.guest):
        try:
            with open(path, errors="replace") as f:
                guest = f.readlines()
        except OSError:
            guest = []
        p, fl, sk, fails = parse_ktap(guest, "guest")
        if p + fl == 0:
            problems.append(f"guest: no guest test result in {path}")
            fl += 1
        rows.append(("guest tests" if n == 0 else f"guest ({os.path.basename(os.path.dirname(path))})", p, fl, sk))
        total_pass += p
        total_fail += fl
        problems += fails

    for name, p, fl, sk in rows:
        extra = f", {sk} skipped" if sk else ""
        print(f"  {name:20} {p} passed, {fl} failed{extra}")
    kernel_trouble = [x for x in problems if x.startswith(("kernel:", "guest:", "kunit: expected", "host: no"))]
    for x in warnings:
        print(f"WARN (boot, before ckpt_pty loaded) {x}")
    for x in problems:
        print(f"FAIL {x}")
    if kernel_trouble and total_fail == 0:
        total_fail = 1
    print(f"{total_pass} passed, {total_fail} failed")
    return 1 if total_fail or problems else 0


if __name__ == "__main__":
    sys.exit(main())
