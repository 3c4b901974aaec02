#!/usr/bin/env python3
"""Turn ckpt-bench's guest JSON and the host micro-benchmark JSON into
results/DATE/{results.md,results.json,restart.svg}. Standard library only."""
import argparse
import hashlib, datetime, json, math, os, platform, re, subprocess

# Issue 11's targets: (figure id pattern, target, test(ckpt, baseline, figure)),
# where ckpt and baseline are the figure's {median, min, max, runs}.
TARGETS = [
    (r"raw_(m2s|s2m)_64k", "ckpt >= 2x native", lambda c, n, f: c["median"] >= 2 * n["median"]),
    (r"raw_(m2s|s2m)_1b", "ckpt >= 1x native", lambda c, n, f: c["median"] >= n["median"]),
    (r"canon_lines", "ckpt >= 1x native", lambda c, n, f: c["median"] >= n["median"]),
    (r"echo_rtt", "ckpt <= 1x native", lambda c, n, f: c["median"] <= n["median"]),
    (r"ckpt_one_pair", "<= 0.25x a native 4 KiB write+read",
     lambda c, n, f: c["median"] <= 0.25 * n["median"]),
    (r"ckpt_blocked_window", "<= 2x an ordinary write",
     lambda c, n, f: c["median"] <= 2 * n["median"]),
    (r"restart_n1024", ">= 5x faster than native dense allocation",
     lambda c, n, f: n["median"] >= 5 * c["median"]),
    (r"restart_sparse_n\d+_exact", "every pair at its index (all runs) where CRIU's method fails",
     lambda c, n, f: c["min"] == f["n"] and n["median"] < f["n"]),
    (r"mem_(available|slab)_per_pair", "ckpt <= native", lambda c, n, f: c["median"] <= n["median"]),
]
# Host figures whose target is >= 50% of a memcpy of the same bytes.
HOST_TARGETS = {
    "ldterm_raw_m2s_4k": ">= 50% of memcpy",
    "ldterm_raw_m2s_64": ">= 50% of memcpy",
}


def target_of(f):
    """(target, met) of a guest figure; ("", "") when it has none."""
    for pattern, text, test in TARGETS:
        if re.fullmatch(pattern, f["id"]):
            if not (f["ckpt"] and f["native"]):
                return text, "not measured"
            return text, "yes" if test(f["ckpt"], f["native"], f) else "**no**"
    return "", ""


def least_squares(xs, ys):
    """(intercept, slope) of the line through (xs, ys) by least squares.

    >>> least_squares([1, 2, 4], [3, 5, 9])
    (1.0, 2.0)
    """
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - slope * mx, slope


def scaling(figs):
    """Per-pair restart cost over N for both sides, the least-squares
    slope (us per pair) and the per-pair cost at the largest N over the
    smallest; None with fewer than two N."""
    rows = sorted((f["n"], f) for f in figs if f["group"] == "restart" and f["ckpt"] and f.get("n"))
    if len({n for n, _ in rows}) < 2:
        return None
    out = {"n": [n for n, _ in rows]}
    for side in ("ckpt", "native"):
        if not all(f[side] for _, f in rows):
            continue
        ms = [f[side]["median"] for _, f in rows]
        per_pair = [{k: f[side][k] * 1e3 / n for k in ("median", "min", "max")} for n, f in rows]
        intercept, slope = least_squares(out["n"], ms)
        out[side] = {"ms": ms, "per_pair_us": per_pair, "slope_us_per_pair": slope * 1e3,
                     "intercept_ms": intercept,
                     "ratio_largest_to_smallest": per_pair[-1]["median"] / per_pair[0]["median"]}
    return out


def fmt(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    a = abs(x)
    if a >= 1e9:
        return f"{x/1e9:.2f} G"
    if a >= 1e6:
        return f"{x/1e6:.2f} M"
    if a >= 1e4:
        return f"{x/1e3:.1f} k"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def cell(s):
    if not s:
        return "-"
    return f"{fmt(s['median'])} [{fmt(s['min'])}..{fmt(s['max'])}] ({s['runs']})"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""


def svg_loglog(path, title, unit, series, hlines=()):
    """A log-log plot: series [(name, color, [(n, {median, min, max})])]
    as lines through the medians with min..max bars; hlines [(value,
    color, label)] dashed."""
    W, H, L, R, T, B = 640, 420, 70, 190, 40, 50
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W/2}" y="20" text-anchor="middle" font-size="14">{title}</text>']
    series = [(name, color, pts) for name, color, pts in series if pts]
    if not series:
        out.append('<text x="50" y="100">no figures</text></svg>')
        open(path, "w").write("\n".join(out) + "\n")
        return
    ns = sorted({n for _, _, pts in series for n, _ in pts})
    vals = [v for _, _, pts in series for _, st in pts for v in (st["min"], st["max"]) if v and v > 0]
    vals += [v for v, _, _ in hlines if v > 0]
    xlo, xhi = math.log10(max(min(ns), 1)), math.log10(max(max(ns), 1))
    if xhi - xlo < 1e-9:
        xlo, xhi = xlo - 0.5, xhi + 0.5
    ylo, yhi = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
    if yhi == ylo:
        yhi += 1
    X = lambda n: L + (math.log10(max(n, 1)) - xlo) / (xhi - xlo) * (W - L - R)
    Y = lambda v: T + (yhi - math.log10(max(v, 1e-12))) / (yhi - ylo) * (H - T - B)
    out.append(f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>')
    out.append(f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>')
    for e in range(ylo, yhi + 1):
        y = Y(10 ** e)
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W-R}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L-6}" y="{y+4:.1f}" text-anchor="end">{fmt(10**e)} {unit}</text>')
    for n in ns:
        x = X(n)
        out.append(f'<line x1="{x:.1f}" y1="{H-B}" x2="{x:.1f}" y2="{H-B+5}" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{H-B+18}" text-anchor="middle">{n}</text>')
    out.append(f'<text x="{(L+W-R)/2}" y="{H-10}" text-anchor="middle">N pairs (log)</text>')
    legend = []
    for name, color, pts in series:
        d = " ".join(f"{'M' if i == 0 else 'L'}{X(n):.1f},{Y(st['median']):.1f}" for i, (n, st) in enumerate(pts))
        out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
        for n, st in pts:
            x = X(n)
            out.append(f'<line x1="{x:.1f}" y1="{Y(st["min"]):.1f}" x2="{x:.1f}" y2="{Y(st["max"]):.1f}" stroke="{color}"/>')
            out.append(f'<circle cx="{x:.1f}" cy="{Y(st["median"]):.1f}" r="3" fill="{color}"/>')
        legend.append((name, color, ""))
    for v, color, label in hlines:
        if v > 0:
            out.append(f'<line x1="{L}" y1="{Y(v):.1f}" x2="{W-R}" y2="{Y(v):.1f}" stroke="{color}" stroke-dasharray="6,4"/>')
            legend.append((label, color, "6,4"))
    for k, (name, color, dash) in enumerate(legend):
        ly = T + 20 + 20 * k
        out.append(f'<line x1="{W-R+10}" y1="{ly}" x2="{W-R+30}" y2="{ly}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash or "none"}"/>')
        out.append(f'<text x="{W-R+34}" y="{ly+4}">{name}</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


CKPT_COLOR, NATIVE_COLOR = "#1f77b4", "#d62728"


def svg_restart(figs, path, accel):
    rows = sorted((f["n"], f) for f in figs if f["group"] == "restart" and f["ckpt"] and f["native"])
    svg_loglog(path, f"Restart time of N pairs ({accel.upper()} guest, median, bars min..max)", "ms",
               [("ckpt_pty session", CKPT_COLOR, [(n, f["ckpt"]) for n, f in rows]),
                ("native dense reopen", NATIVE_COLOR, [(n, f["native"]) for n, f in rows])])


def svg_scaling(scale, path, accel):
    series, hlines = [], []
    for side, name, color in (("ckpt", "ckpt_pty session", CKPT_COLOR), ("native", "native dense reopen", NATIVE_COLOR)):
        if scale and side in scale:
            series.append((name, color, list(zip(scale["n"], scale[side]["per_pair_us"]))))
            hlines.append((scale[side]["slope_us_per_pair"], color, f"fit slope {fmt(scale[side]['slope_us_per_pair'])} us"))
    svg_loglog(path, f"Restart cost per pair against N ({accel.upper()} guest)", "us", series, hlines)


def guest_table(figs):
    md = ["| figure | unit | ckpt_pty | baseline | baseline is | ckpt/baseline | ckpt advantage | target | met |",
          "|---|---|---|---|---|---|---|---|---|"]
    for f in figs:
        c, n = f["ckpt"], f["native"]
        ratio = adv = "-"
        if c and n and n["median"]:
            r = c["median"] / n["median"]
            ratio = f"{r:.3f}"
            adv = f"{(r if f['better'] == 'higher' else (1 / r if r else float('inf'))):.2f}x"
        md.append(f"| `{f['id']}` {f['what']} | {f['unit']} | {cell(c)} | {cell(n)} | {f['baseline']} | {ratio} | {adv} | {f['target']} | {f['met']} |")
    met = [f for f in figs if f["target"]]
    if met:
        md += ["", f"Targets met: {sum(f['met'] == 'yes' for f in met)} of {len(met)} guest rows with a target."]
    return md


def scaling_md(scale):
    if not scale:
        return []
    md = ["", "## Restart scaling (dense indexes)", "",
          "| N | ckpt_pty ms | ckpt_pty us/pair | native ms | native us/pair | native/ckpt |",
          "|---|---|---|---|---|---|"]
    for i, n in enumerate(scale["n"]):
        c = scale.get("ckpt")
        nat = scale.get("native")
        cm = c["ms"][i] if c else None
        nm = nat["ms"][i] if nat else None
        md.append(f"| {n} | {fmt(cm)} | {fmt(c['per_pair_us'][i]['median']) if c else '-'} | {fmt(nm)} | "
                  f"{fmt(nat['per_pair_us'][i]['median']) if nat else '-'} | {fmt(nm / cm) if cm and nm else '-'} |")
    md.append("")
    for side, name in (("ckpt", "ckpt_pty"), ("native", "native dense reopen")):
        if side in scale:
            x = scale[side]
            md.append(f"- {name}: least-squares time = {fmt(x['intercept_ms'])} ms + {fmt(x['slope_us_per_pair'])} us x N; "
                      f"per-pair cost at N = {scale['n'][-1]} is {x['ratio_largest_to_smallest']:.2f}x the one at N = {scale['n'][0]}")
    return md


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--guest", required=True, action="append",
                    help="guest JSON; repeat to merge runs (later ones win per figure id)")
    ap.add_argument("--host", default="")
    ap.add_argument("--accel", default="unknown")
    ap.add_argument("--kernel", default="")
    ap.add_argument("--flavour", default="release", help="release or debug test kernel")
    ap.add_argument("--out", required=True)
    ap.add_argument("--console", default="")
    a = ap.parse_args()
    runs = [json.load(open(g)) for g in a.guest]
    guest = dict(runs[-1])
    figs, errors, seconds = {}, [], 0.0
    for r in runs:
        ids = {f["id"] for f in r["figures"]}
        # An error of an earlier run whose figure a later run measured is moot.
        errors = [e for e in errors if not any(e.split(":")[0].replace(" ", "_").startswith(i) or i.startswith(e.split(" ")[0] + "_") for i in ids)]
        for f in r["figures"]:
            figs[f["id"]] = f
        errors += r.get("errors", [])
        seconds += r.get("guest_seconds") or 0
    guest["figures"] = list(figs.values())
    guest["errors"] = errors
    guest["guest_seconds"] = round(seconds, 1)
    guest["max_n"] = max([f["n"] for f in figs.values() if f["group"] == "restart"] or [0])
    guest["merged_runs"] = len(runs)
    host = json.load(open(a.host)) if a.host and os.path.exists(a.host) else None
    os.makedirs(a.out, exist_ok=True)
    clocksource = "unknown"
    if a.console and os.path.exists(a.console):
        for line in open(a.console, errors="replace"):
            if "Switched to clocksource" in line:
                clocksource = line.rsplit(" ", 1)[-1].strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    cpu = sh("sed -n 's/^model name\\s*: //p' /proc/cpuinfo | head -1")
    machine = {"cpu": cpu, "host_cpus": os.cpu_count(), "host_kernel": platform.release(),
               "qemu": sh("qemu-system-x86_64 --version | head -1"), "guest_memory_mb": 1024, "guest_cpus": guest.get("guest_cpus"),
               "guest_clocksource": clocksource}
    config = os.path.join(a.kernel, ".config")
    config_hash = hashlib.sha256(open(config, "rb").read()).hexdigest()[:16] if os.path.exists(config) else "unknown"
    doc = {"date": now, "accel": a.accel, "machine": machine,
           "guest_kernel": guest.get("guest_kernel"), "test_kernel_dir": a.kernel,
           "kernel_flavour": a.flavour, "kernel_config_sha256": config_hash,
           "guest": guest, "host": host}
    for f in guest["figures"]:
        f["target"], f["met"] = target_of(f)
    scale = scaling(guest["figures"])
    doc["restart_scaling"] = scale
    json.dump(doc, open(os.path.join(a.out, "results.json"), "w"), indent=2)
    svg_restart(guest["figures"], os.path.join(a.out, "restart.svg"), a.accel)
    svg_scaling(scale, os.path.join(a.out, "scaling.svg"), a.accel)

    md = [f"# ckpt_pty benchmarks, {now}", "",
          f"- accelerator: **{a.accel.upper()}**" + (" (software emulation: absolute guest times are inflated, compare the ratios)" if a.accel == "tcg" else ""),
          f"- host: {cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}; {machine['qemu']}",
          f"- kernel: **{a.flavour}** flavour of the test kernel ("
          + ("debugging off: no KASAN, lockdep, kmemleak or Rust overflow checks" if a.flavour == "release" else "KASAN, lockdep, kmemleak: ratios are not the ones users see")
          + f"), .config sha256 {config_hash}, tree {os.path.basename(a.kernel)}",
          f"- guest: {guest.get('guest_kernel')}, {guest.get('guest_cpus')} vCPUs, 1024 MiB, clocksource {clocksource}"
          + (" (**jiffies: timings below 4 ms are not resolved, discard this run**)" if "jiffies" in clocksource else ""),
          f"- guest: {guest.get('merged_runs', 1)} boot(s) of the same kernel and module, {guest.get('guest_seconds')} s of measuring in all; largest N {guest.get('max_n')}, smoke {guest.get('smoke')}",
          "- every cell: median [min..max] (number of measured runs; one warm-up run before them is discarded)",
          "", "## Guest: ckpt_pty vs its baseline (both sides of a row measured in the same boot)", ""]
    md += guest_table(guest["figures"])
    md += scaling_md(scale)
    if guest.get("errors"):
        md += ["", "Errors in the guest run:", ""] + [f"- {e}" for e in guest["errors"]]
    if host:
        md += ["", f"## Host: pure core (`cargo bench -p pty_core`), {host.get('host_cpu')}", "",
               "| figure | unit | value | memcpy of the same bytes (B/s) | value/memcpy | target | met |",
               "|---|---|---|---|---|---|---|"]
        for f in host["figures"]:
            tgt = HOST_TARGETS.get(f["id"], "")
            met = ("yes" if f["ratio_to_memcpy"] >= 0.5 else "**no**") if tgt else ""
            md.append(f"| `{f['id']}` {f['what']} | {f['unit']} | {cell(f['value'])} | {cell(f['memcpy_bytes_per_s'])} | {f['ratio_to_memcpy']:.3f} | {tgt} | {met} |")
    md += ["", "![restart time against N](restart.svg)", "", "![restart cost per pair against N](scaling.svg)", ""]
    open(os.path.join(a.out, "results.md"), "w").write("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
