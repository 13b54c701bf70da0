"""Plots and the generated section of docs/PERFORMANCE.md, from a results dict (latest.json).

    .venv/bin/python -m tests.bench.report docs/bench/latest.json [--doc docs/PERFORMANCE.md]

Only the text between the markers `<!-- bench:begin -->` and `<!-- bench:end -->` is
rewritten; the analysis around it is kept.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# The floor of what a change must cost (see floor.py and docs/PERFORMANCE.md).
FLOOR_UPDATE = {"k8s_writes": 1, "identity_calls": 1}   # PUT client + status patch
FLOOR_DELETE = {"k8s_writes": 1, "identity_calls": 1}   # DELETE client + finalizer removal


def _get(d: Any, *path: Any) -> Any:
    for p in path:
        if d is None:
            return None
        d = d[p] if isinstance(d, list) else d.get(p)
    return d


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return "n/a"
    if b == 0:
        return "0 = floor" if a == 0 else "∞ (floor 0)"
    return f"{a / b:.2f}x"


def fmt(v: Any, unit: str = "", digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}{unit}"
    return f"{v}{unit}"


def ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 1000:.0f} ms"


# ---------------------------------------------------------------------------------- plots

def plots(results: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[Path] = []
    op, fl = results.get("single_operator"), results.get("single_floor")
    if op and fl:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        for data, label, color in ((fl, "floor", "tab:gray"), (op, "ccoperator", "tab:blue")):
            values = [s * 1000 for s in data["samples_s"]]
            ax1.hist(values, bins=25, alpha=0.6, label=label, color=color)
            ordered = sorted(values)
            ax2.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))],
                     label=label, color=color)
        ax1.set_xlabel("create → Ready with Secret (ms)")
        ax1.set_ylabel("samples")
        ax1.set_title(f"Single resource, {len(op['samples_s'])} samples")
        ax1.legend()
        ax2.set_xlabel("latency (ms)")
        ax2.set_ylabel("fraction of samples")
        ax2.set_title("CDF")
        ax2.grid(alpha=0.3)
        ax2.legend()
        fig.tight_layout()
        made.append(out / "latency.png")
        fig.savefig(made[-1], dpi=110)
        plt.close(fig)

    bo, bf = results.get("burst_operator"), results.get("burst_floor")
    if bo:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        for data, label, color in ((bf, "floor", "tab:gray"), (bo, "ccoperator", "tab:blue")):
            if not data or not data.get("ready_times_s"):
                continue
            times = data["ready_times_s"]
            ax1.plot(times, range(1, len(times) + 1), label=label, color=color)
            width = max(1.0, math.ceil(times[-1] / 40))
            bins = [i * width for i in range(int(times[-1] // width) + 2)]
            counts = [0] * (len(bins) - 1)
            for t in times:
                counts[min(int(t // width), len(counts) - 1)] += 1
            ax2.step(bins[:-1], [c / width for c in counts], where="post", label=label,
                     color=color)
        ax1.set_xlabel("seconds since the burst was created")
        ax1.set_ylabel("resources Ready with Secret")
        ax1.set_title(f"Burst of {bo['resources']}: progress")
        ax1.grid(alpha=0.3)
        ax1.legend()
        ax2.set_xlabel("seconds")
        ax2.set_ylabel("resources Ready per second")
        ax2.set_title("Throughput over time")
        ax2.grid(alpha=0.3)
        ax2.legend()
        fig.tight_layout()
        made.append(out / "burst.png")
        fig.savefig(made[-1], dpi=110)
        plt.close(fig)

    grows = [g for g in results.get("grow") or [] if g.get("ready_times_s")]
    if grows:
        fig, ax = plt.subplots(figsize=(6, 4))
        for g in grows:
            times = g["ready_times_s"]
            ax.plot(times, range(1, len(times) + 1), label=f"+{g['resources']}")
        ax.set_xlabel("seconds since created")
        ax.set_ylabel("resources Ready with Secret")
        ax.set_title("Growing the population (operator)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        made.append(out / "grow.png")
        fig.savefig(made[-1], dpi=110)
        plt.close(fig)

    mem = results.get("memory") or []
    if mem:
        fig, ax = plt.subplots(figsize=(6, 4))
        labels = [str(m["resources"]) for m in mem]
        xs = range(len(mem))
        w = 0.27
        ax.bar([x - w for x in xs], [m["operator_rss_mib"] for m in mem], w, label="ccoperator")
        ax.bar(list(xs), [m["noop_daemons_rss_mib"] for m in mem], w,
               label="kopf no-op, daemon per object")
        ax.bar([x + w for x in xs], [m["noop_events_rss_mib"] for m in mem], w,
               label="kopf no-op, events only")
        ax.set_xticks(list(xs), labels)
        ax.set_xlabel("resources")
        ax.set_ylabel("RSS (MiB)")
        ax.set_title("Memory")
        ax.legend()
        fig.tight_layout()
        made.append(out / "memory.png")
        fig.savefig(made[-1], dpi=110)
        plt.close(fig)
    return made


# ---------------------------------------------------------------------------------- text

def section(results: dict[str, Any], out: Path, doc: Path) -> str:
    rel = Path("bench") if out.resolve() == (doc.parent / "bench").resolve() else out
    m = results.get("machine", {})
    s = results.get("settings", {})
    lines = [
        f"Measured {results.get('started', '?')} (operator at commit "
        f"`{results.get('operator_commit', '?')}`) with `{results.get('command', '')}` on "
        f"{m.get('nproc')} vCPU ({m.get('cpu_model')}), {m.get('memory_gib')} GiB, "
        f"Linux {m.get('kernel')}, Python {m.get('python')}; load average at start "
        f"{m.get('load_average_at_start')}. Identity concurrency {s.get('identity_concurrency')}"
        f" (operator and floor), resync period {s.get('resync')} (from the first restart on: "
        f"{s.get('restart_resync', s.get('resync'))}), {len(s.get('tenants', []))} "
        f"tenants, {s.get('namespaces')} namespaces.",
        "",
        "| figure | ccoperator | floor | ratio |",
        "|---|---|---|---|",
    ]
    so, sf = results.get("single_operator") or {}, results.get("single_floor") or {}
    for q in ("p50", "p95", "p99"):
        lines.append(f"| single resource, create → Ready + Secret, {q} "
                     f"({len(so.get('samples_s', []))} samples) | {ms(so.get(q + '_s'))} | "
                     f"{ms(sf.get(q + '_s'))} | {ratio(so.get(q + '_s'), sf.get(q + '_s'))} |")
    bo, bf = results.get("burst_operator") or {}, results.get("burst_floor") or {}
    lines.append(f"| burst of {bo.get('resources')}: all Ready | "
                 f"{fmt(bo.get('all_ready_s'), ' s', 1)} | {fmt(bf.get('all_ready_s'), ' s', 1)} | "
                 f"{ratio(bo.get('all_ready_s'), bf.get('all_ready_s'))} |")
    lines.append(f"| burst: throughput | {fmt(bo.get('throughput_per_s'), '/s', 1)} | "
                 f"{fmt(bf.get('throughput_per_s'), '/s', 1)} | "
                 f"{ratio(bo.get('throughput_per_s'), bf.get('throughput_per_s'))} |")
    lines.append(f"| burst: CPU seconds of the process | {fmt(bo.get('cpu_seconds'), ' s', 1)} | "
                 f"{fmt(bf.get('cpu_seconds'), ' s', 1)} | "
                 f"{ratio(bo.get('cpu_seconds'), bf.get('cpu_seconds'))} |")
    # The control plane shares the machine: its work per create (writes, watch fan-out, the
    # audit log) is part of what bounds a burst, for the operator and the floor alike.
    plane_o = _plane_cpu(bo)
    plane_f = _plane_cpu(bf)
    if plane_o is not None and plane_f is not None:
        lines.append(f"| burst: CPU seconds of kube-apiserver + etcd | {fmt(plane_o, ' s', 1)} | "
                     f"{fmt(plane_f, ' s', 1)} | {ratio(plane_o, plane_f)} |")
    ocpu = (bo.get("cpu") or {}).get("other_cpu_seconds")
    fcpu = (bf.get("cpu") or {}).get("other_cpu_seconds")
    if ocpu is not None or fcpu is not None:
        lines.append(f"| burst: CPU seconds used meanwhile by processes outside the benchmark "
                     f"(noise) | {fmt(ocpu, ' s', 1)} | {fmt(fcpu, ' s', 1)} | |")
    bc, fc = bo.get("cost") or {}, bf.get("cost") or {}
    lines.append(f"| burst: Kubernetes writes | {bc.get('k8s_writes')} | {fc.get('k8s_writes')} | "
                 f"{ratio(bc.get('k8s_writes'), fc.get('k8s_writes'))} |")
    lines.append(f"| burst: identity calls | {bc.get('identity_calls')} | "
                 f"{fc.get('identity_calls')} | "
                 f"{ratio(bc.get('identity_calls'), fc.get('identity_calls'))} |")
    st = results.get("steady") or {}
    if st:
        n = st.get("changes") or 0
        floor_reads = st.get("identity_floor")
        lines.append(f"| steady state, one resync period ({fmt(st.get('window_s'), ' s', 0)}, "
                     f"{fmt(st.get('resync_reconciles'), '', 0)} resync passes over {n}): "
                     f"Kubernetes writes | {st.get('k8s_writes')} | 0 | "
                     f"{ratio(st.get('k8s_writes'), 0)} |")
        lines.append(f"| steady state: identity calls | {st.get('identity_calls')} "
                     f"({_routes(st.get('identity_by_route'))}) | {floor_reads} "
                     f"(one paged list per tenant) | "
                     f"{ratio(st.get('identity_calls'), floor_reads)} |")
    for rs in results.get("restart") or []:
        fv = rs.get("floor") or {}
        n = rs["resources"]
        lines.append(f"| restart over {n}: all verified (from process start) | "
                     f"{fmt(rs.get('verified_s'), ' s', 1)} | {fmt(fv.get('verified_s'), ' s', 1)}"
                     f" | {ratio(rs.get('verified_s'), fv.get('verified_s'))} |")
        reads = sum((rs.get("identity_reads") or {}).values())
        lines.append(f"| restart over {n}: identity reads | {reads} "
                     f"({_routes(rs.get('identity_reads'))}) | {rs.get('identity_reads_floor')} "
                     f"list pages | {ratio(reads, rs.get('identity_reads_floor'))} |")
        lines.append(f"| restart over {n}: Kubernetes writes | {rs.get('k8s_writes')} | 0 | "
                     f"{ratio(rs.get('k8s_writes'), 0)} |")
    for mem in results.get("memory") or []:
        n = mem["resources"]
        lines.append(f"| RSS at {n} resources (vs kopf no-op, daemon per object) | "
                     f"{fmt(mem.get('operator_rss_mib'), ' MiB', 0)} | "
                     f"{fmt(mem.get('noop_daemons_rss_mib'), ' MiB', 0)} | "
                     f"{ratio(mem.get('operator_rss_mib'), mem.get('noop_daemons_rss_mib'))} |")
        lines.append(f"| RSS at {n} resources (vs kopf no-op, event handlers only) | "
                     f"{fmt(mem.get('operator_rss_mib'), ' MiB', 0)} | "
                     f"{fmt(mem.get('noop_events_rss_mib'), ' MiB', 0)} | "
                     f"{ratio(mem.get('operator_rss_mib'), mem.get('noop_events_rss_mib'))} |")
    for g in results.get("grow") or []:
        lines.append(f"| growing the population by {g['resources']} (operator only) | "
                     f"{fmt(g.get('all_ready_s'), ' s', 1)} "
                     f"({fmt(g.get('throughput_per_s'), '/s', 1)}) | | |")

    fo = results.get("failover") or {}
    if fo:
        lines.append(f"| failover over {fo.get('resources')} (two replicas, leader SIGKILLed; "
                     f"lease {fo.get('lease_duration_s')} s): standby leads | "
                     f"{fmt(fo.get('takeover_s'), ' s', 1)} | | |")
        lines.append(f"| failover: every resource verified by the new leader | "
                     f"{fmt(fo.get('verified_s'), ' s', 1)} | | |")
    lines += admission(results)
    lines += ["", "Targets of this round (issue 12), from this run:", "",
              "| target | figure | goal | met |", "|---|---|---|---|"]
    lines += targets(results)

    lines += ["", "Cost per change (Kubernetes PATCH/PUT/POST/DELETE calls by the process's "
              "ServiceAccount, from the audit log; identity calls from the simulator's call "
              "log, token grants not counted):", "",
              "| change | Kubernetes writes: ccoperator | floor | ratio | identity calls: "
              "ccoperator | floor | ratio |", "|---|---|---|---|---|---|---|"]
    oc = so.get("cost_create") or {}
    fcc = sf.get("cost_create") or {}
    lines.append(_cost_row("create", oc, fcc.get("k8s_writes_per_change"),
                           fcc.get("identity_calls_per_change")))
    cc = results.get("cost_changes") or {}
    lines.append(_cost_row("update (spec.name)", cc.get("update") or {},
                           FLOOR_UPDATE["k8s_writes"], FLOOR_UPDATE["identity_calls"]))
    if st:
        n = st.get("changes") or 1
        lines.append(_cost_row("no-op resync (per resource)", st, 0,
                               floor_reads / n if n and floor_reads else None))
    lines.append(_cost_row("delete", cc.get("delete") or {}, FLOOR_DELETE["k8s_writes"],
                           FLOOR_DELETE["identity_calls"]))
    lines += ["", "What the writes were:", ""]
    for label, cost in (("create", oc), ("update", cc.get("update") or {}),
                        ("delete", cc.get("delete") or {}), ("floor create", fcc)):
        if cost:
            per = cost.get("changes") or 1
            kinds = ", ".join(f"{k} {v / per:.2f}"
                              for k, v in sorted((cost.get("k8s_writes_by_kind") or {}).items()))
            routes = ", ".join(f"{k} {v / per:.2f}"
                               for k, v in sorted((cost.get("identity_by_route") or {}).items()))
            lines.append(f"- {label}, per change: Kubernetes {kinds or 'none'}; identity {routes}")
    lines += ["", "Plots:", ""]
    for name, title in (("latency.png", "single-resource latency"),
                        ("burst.png", "burst progress and throughput"),
                        ("grow.png", "growing the population"), ("memory.png", "memory")):
        if (out / name).exists():
            lines.append(f"![{title}]({rel / name})")
    failures = results.get("failures") or {}
    if failures:
        lines += ["", "Phases that failed in this run: " + ", ".join(sorted(failures)) + "."]
    return "\n".join(lines)


def admission(results: dict[str, Any]) -> list[str]:
    """The cost of deploy/'s admission policies (issue 20), measured in the same run with
    `--admission-policies`: the same figures without and with them."""
    sp = results.get("single_operator_policies") or {}
    bp = results.get("burst_operator_policies") or {}
    if not sp and not bp:
        return []
    so, bo = results.get("single_operator") or {}, results.get("burst_operator") or {}
    lines = ["", "Admission policies (issue 20; `--admission-policies`): the same phases again "
             "with deploy/'s ValidatingAdmissionPolicies installed, in this run. The burst with "
             "them runs after the steady state, with the first burst's resources still there.",
             "", "| figure | without the policies | with them | ratio |", "|---|---|---|---|"]
    if sp:
        for label, key in (("single resource, create → Ready + Secret, p50", "p50_s"),
                           ("single resource, the create call alone, p50", "create_call_p50_s")):
            lines.append(f"| {label} | {ms(so.get(key))} | {ms(sp.get(key))} | "
                         f"{ratio(sp.get(key), so.get(key))} |")
    if bp:
        n = bp.get("resources")
        lines.append(f"| burst of {n}: all Ready | {fmt(bo.get('all_ready_s'), ' s', 1)} | "
                     f"{fmt(bp.get('all_ready_s'), ' s', 1)} | "
                     f"{ratio(bp.get('all_ready_s'), bo.get('all_ready_s'))} |")
        lines.append(f"| burst of {n}: the create calls | {fmt(bo.get('create_calls_s'), ' s', 1)}"
                     f" | {fmt(bp.get('create_calls_s'), ' s', 1)} | "
                     f"{ratio(bp.get('create_calls_s'), bo.get('create_calls_s'))} |")
        plane_o, plane_p = _plane_cpu(bo), _plane_cpu(bp)
        lines.append(f"| burst of {n}: CPU seconds of kube-apiserver + etcd | "
                     f"{fmt(plane_o, ' s', 1)} | {fmt(plane_p, ' s', 1)} | "
                     f"{ratio(plane_p, plane_o)} |")
    return lines


def _quotient(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or (isinstance(a, float) and math.isnan(a)):
        return None
    return a / b


def targets(results: dict[str, Any]) -> list[str]:
    """Each target of the round against its figure from this run."""
    rows: list[tuple[str, float | None, float, str]] = []
    restarts = results.get("restart") or []
    if restarts:
        big = max(restarts, key=lambda r: r["resources"])
        rows.append((f"restart over {big['resources']} / floor",
                     _quotient(big.get("verified_s"), (big.get("floor") or {}).get("verified_s")),
                     3.0, "x"))
    mems = results.get("memory") or []
    if mems:
        big = max(mems, key=lambda m: m["resources"])
        rows.append((f"RSS at {big['resources']} / kopf no-op (event handlers only)",
                     _quotient(big.get("operator_rss_mib"), big.get("noop_events_rss_mib")),
                     1.3, "x"))
    bo, bf = results.get("burst_operator") or {}, results.get("burst_floor") or {}
    rows.append((f"burst of {bo.get('resources')} / floor",
                 _quotient(bo.get("all_ready_s"), bf.get("all_ready_s")), 2.0, "x"))
    so, sf = results.get("single_operator") or {}, results.get("single_floor") or {}
    rows.append(("single create p50 / floor", _quotient(so.get("p50_s"), sf.get("p50_s")),
                 1.5, "x"))
    rows.append(("Kubernetes writes per create",
                 (so.get("cost_create") or {}).get("k8s_writes_per_change"), 4.0, ""))
    update = (results.get("cost_changes") or {}).get("update") or {}
    rows.append(("identity calls per update", update.get("identity_calls_per_change"), 1.0, ""))
    chaos = results.get("chaos") or {}
    rows.append(("fault-suite amplification (tests/faults, two replicas)",
                 chaos.get("amplification"), 2.5, "x"))
    fo = results.get("failover") or {}
    if fo:
        rows.append((f"failover over {fo.get('resources')}: takeover (reported; no target)",
                     fo.get("takeover_s"), math.inf, " s"))
    out = []
    for label, value, goal, unit in rows:
        met = "n/a" if value is None else ("yes" if value <= goal else "**no**")
        shown = "n/a" if value is None else f"{value:.2f}{unit}"
        out.append(f"| {label} | {shown} | {'—' if math.isinf(goal) else f'≤ {goal:g}{unit}'}"
                   f" | {met if not math.isinf(goal) else ''} |")
    return out


def _routes(routes: dict[str, Any] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted((routes or {}).items())) or "none"


def _cost_row(label: str, cost: dict[str, Any], floor_writes: float | None,
              floor_identity: float | None) -> str:
    w, i = cost.get("k8s_writes_per_change"), cost.get("identity_calls_per_change")
    return (f"| {label} | {fmt(w)} | {fmt(floor_writes)} | {ratio(w, floor_writes)} | "
            f"{fmt(i)} | {fmt(floor_identity)} | {ratio(i, floor_identity)} |")


def write_doc(results: dict[str, Any], doc: Path, out: Path) -> None:
    body = section(results, out, doc)
    text = doc.read_text() if doc.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def _plane_cpu(burst: dict[str, Any]) -> float | None:
    seconds = (burst.get("cpu") or {}).get("cpu_seconds") or {}
    parts = [seconds.get(name) for name in ("kube-apiserver", "etcd")]
    if any(p is None for p in parts):
        return None
    return float(sum(p for p in parts if p is not None))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.report")
    parser.add_argument("results", type=Path)
    parser.add_argument("--doc", type=Path)
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    out = args.results.parent
    plots(results, out)
    if args.doc:
        write_doc(results, args.doc, out)
    else:
        print(section(results, out, out.parent / "PERFORMANCE.md"))


if __name__ == "__main__":
    main()

