"""Where the operator's CPU goes, from py-spy's collapsed stacks (`--profile DIR` of run.py).

    .venv/bin/python -m tests.bench.profile_layers /tmp/prof/burst-operator-300.txt [--top 25]

Each sample is attributed to the first layer (in LAYERS order) whose pattern occurs in any
frame of its stack, so a Kubernetes call made from ccoperator code counts as the client
layer, not as ccoperator. Also prints the frames with the most samples at the top of the
stack (self time) and the most samples anywhere in the stack (inclusive).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

LAYERS: list[tuple[str, str]] = [
    ("Kubernetes calls (kube.py, kube_http.py, kube_watch.py; official client)",
     r"kubernetes/client|urllib3|\(kube\w*\.py:"),
    ("identity client (httpx/httpcore)",
     r"httpx|httpcore|\((client|transport|tokens|retry|paths|errors|models)\.py:"),
    ("kopf: posting events", r"kopf/_core/engines/posting"),
    ("kopf: finalizer and patches", r"kopf/_cogs/clients/patching|kopf/_core/actions/application"),
    ("kopf: watch streams (reading, parsing)", r"kopf/_cogs/clients/watching"),
    ("logging", r"logging/|\(logs\.py:"),
    # py-spy names files outside site-packages by their bare name (ours, and the stdlib's);
    # cli.py and app.py are left out: they are at the bottom of every stack.
    ("ccoperator (reconcile, models, status, handlers)",
     r"\((controller|reconcile|runtime|handlers|remote|resource|conditions|secret_body"
     r"|secret_cache|metrics|settings|failpoints|streams|workers|queue|timers|gate|policy"
     r"|ownership|registry)\.py:"),
    ("kopf: per-event processing (causes, handler invocation, daemons)", r"kopf/"),
    ("aiohttp (other)", r"aiohttp/"),
    ("pydantic (other)", r"pydantic"),
    ("asyncio event loop", r"asyncio/"),
]


def read_stacks(path: Path) -> Counter[str]:
    stacks: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    return stacks


def layer_of(stack: str) -> str:
    for name, pattern in LAYERS:
        if re.search(pattern, stack):
            return name
    return "other (GC, C code without a Python frame, threads)"


def frame_name(frame: str) -> str:
    # py-spy frames look like "function (path/to/module.py:123)"; drop the line number.
    return re.sub(r":\d+\)$", ")", frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    stacks = read_stacks(args.profile)
    total = sum(stacks.values()) or 1
    layers: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in stacks.items():
        layers[layer_of(stack)] += count
        frames = [frame_name(f) for f in stack.split(";")]
        leaf[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"{total} samples in {args.profile}")
    print("\n| layer | share |\n|---|---|")
    for name, count in layers.most_common():
        print(f"| {name} | {100 * count / total:.1f}% |")
    if args.top <= 0:
        return
    print(f"\nTop {args.top} by self samples:")
    for frame, count in leaf.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print(f"\nTop {args.top} by inclusive samples:")
    for frame, count in inclusive.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
