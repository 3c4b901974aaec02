#!/usr/bin/env python3
"""Turn ckpt-bench's guest JSON and the host micro-benchmark JSON into
results/DATE/{results.md,results.json,restart.svg}. Standard library only."""
import argparse
import hashlib, datetime, json, math, os, platform, subprocess

TARGETS = {
    # id: (description, test(ckpt_median, native_median) -> bool)
    "raw_m2s_64k": ("ckpt >= 2x native", lambda c, n: c >= 2 * n),
    "raw_m2s_1b": ("ckpt >= 2x native", lambda c, n: c >= 2 * n),
    "raw_s2m_64k": ("ckpt >= 2x native", lambda c, n: c >= 2 * n),
    "raw_s2m_1b": ("ckpt >= 2x native", lambda c, n: c >= 2 * n),
    "ckpt_one_pair": ("<= 20 us (KVM)", lambda c, n: c <= 20),
    "ckpt_blocked_window": ("<= 50 us (KVM)", lambda c, n: c <= 50),
    "restart_n1024": ("<= 10 ms and >= 50x faster", lambda c, n: c <= 10 and n / c >= 50),
    "mem_available_per_pair": ("ckpt <= native", lambda c, n: c <= n),
    "mem_slab_per_pair": ("ckpt <= native", lambda c, n: c <= n),
}
HOST_TARGETS = {
    "ldterm_raw_m2s_4k": ">= 50% of memcpy",
    "ldterm_raw_m2s_64": ">= 50% of memcpy",
    "ldterm_raw_s2m_4k": ">= 50% of memcpy",
}


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


def svg_restart(figs, path, accel):
    pts = []
    for f in figs:
        if f["group"] == "restart" and f["ckpt"] and f["native"]:
            pts.append((f["n"], f["ckpt"], f["native"]))
    pts.sort()
    W, H, L, R, T, B = 640, 420, 70, 150, 40, 50
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W/2}" y="20" text-anchor="middle" font-size="14">Restart time of N pairs ({accel.upper()} guest, median, bars min..max)</text>']
    if not pts:
        out.append('<text x="50" y="100">no restart figures</text></svg>')
        open(path, "w").write("\n".join(out))
        return
    ns = [p[0] for p in pts]
    vals = [v for p in pts for s in (p[1], p[2]) for v in (s["min"], s["max"]) if v > 0]
    xlo, xhi = math.log10(max(min(ns), 1)), math.log10(max(ns))
    if xhi - xlo < 1e-9:
        xlo, xhi = xlo - 0.5, xhi + 0.5
    ylo, yhi = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
    if yhi == ylo:
        yhi += 1
    X = lambda n: L + (math.log10(n) - xlo) / (xhi - xlo) * (W - L - R)
    Y = lambda v: T + (yhi - math.log10(max(v, 1e-12))) / (yhi - ylo) * (H - T - B)
    out.append(f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>')
    out.append(f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>')
    for e in range(ylo, yhi + 1):
        y = Y(10 ** e)
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W-R}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L-6}" y="{y+4:.1f}" text-anchor="end">{fmt(10**e)} ms</text>')
    for n in ns:
        x = X(n)
        out.append(f'<line x1="{x:.1f}" y1="{H-B}" x2="{x:.1f}" y2="{H-B+5}" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{H-B+18}" text-anchor="middle">{n}</text>')
    out.append(f'<text x="{(L+W-R)/2}" y="{H-10}" text-anchor="middle">N pairs (log)</text>')
    for k, (name, color) in enumerate([("ckpt_pty session", "#1f77b4"), ("native reopen-until-index", "#d62728")]):
        series = [(p[0], p[1 + k]) for p in pts]
        d = " ".join(f"{'M' if i == 0 else 'L'}{X(n):.1f},{Y(s['median']):.1f}" for i, (n, s) in enumerate(series))
        out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
        for n, s in series:
            x = X(n)
            out.append(f'<line x1="{x:.1f}" y1="{Y(s["min"]):.1f}" x2="{x:.1f}" y2="{Y(s["max"]):.1f}" stroke="{color}"/>')
            out.append(f'<circle cx="{x:.1f}" cy="{Y(s["median"]):.1f}" r="3" fill="{color}"/>')
        ly = T + 20 + 20 * k
        out.append(f'<line x1="{W-R+10}" y1="{ly}" x2="{W-R+30}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{W-R+34}" y="{ly+4}">{name}</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


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
    json.dump(doc, open(os.path.join(a.out, "results.json"), "w"), indent=2)
    svg_restart(guest["figures"], os.path.join(a.out, "restart.svg"), a.accel)

    md = [f"# ckpt_pty benchmarks, {now}", "",
          f"- accelerator: **{a.accel.upper()}**" + (" (software emulation: absolute guest times are inflated, compare the ratios; the µs targets are for KVM)" if a.accel == "tcg" else ""),
          f"- host: {cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}; {machine['qemu']}",
          f"- kernel: **{a.flavour}** flavour of the test kernel ("
          + ("debugging off: no KASAN, lockdep, kmemleak or Rust overflow checks" if a.flavour == "release" else "KASAN, lockdep, kmemleak: ratios are not the ones users see")
          + f"), .config sha256 {config_hash}, tree {os.path.basename(a.kernel)}",
          f"- guest: {guest.get('guest_kernel')}, {guest.get('guest_cpus')} vCPUs, 1024 MiB, clocksource {clocksource}"
          + (" (**jiffies: timings below 4 ms are not resolved, discard this run**)" if "jiffies" in clocksource else ""),
          f"- guest: {guest.get('merged_runs', 1)} boot(s) of the same kernel and module, {guest.get('guest_seconds')} s of measuring in all; largest N {guest.get('max_n')}, smoke {guest.get('smoke')}",
          "- every cell: median [min..max] (number of measured runs; one warm-up run before them is discarded)",
          "", "## Guest: ckpt_pty vs its baseline (both sides of a row measured in the same boot)", "",
          "| figure | unit | ckpt_pty | baseline | baseline is | ckpt/baseline | ckpt advantage | target | met |",
          "|---|---|---|---|---|---|---|---|---|"]
    for f in guest["figures"]:
        c, n = f["ckpt"], f["native"]
        ratio = adv = "-"
        if c and n and n["median"]:
            r = c["median"] / n["median"]
            ratio = f"{r:.3f}"
            adv = f"{(r if f['better'] == 'higher' else (1 / r if r else float('inf'))):.2f}x"
        tgt, met = "", ""
        if f["id"] in TARGETS and c and n:
            tgt = TARGETS[f["id"]][0]
            ok = TARGETS[f["id"]][1](c["median"], n["median"])
            met = "yes" if ok else "**no**"
            if a.accel != "kvm" and "KVM" in tgt:
                met += " (TCG)"
        md.append(f"| `{f['id']}` {f['what']} | {f['unit']} | {cell(c)} | {cell(n)} | {f['baseline']} | {ratio} | {adv} | {tgt} | {met} |")
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
    md += ["", "![restart time against N](restart.svg)", ""]
    open(os.path.join(a.out, "results.md"), "w").write("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
