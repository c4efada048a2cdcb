"""Runs the benchmark suite and prints a markdown table of medians and ratios.

    python benches/report.py                      # run everything, print the table
    python benches/report.py -k scalar            # extra arguments go to pytest
    python benches/report.py --from-json FILE     # only print the table of an earlier run
    python benches/report.py --markdown OUT.md    # also write the table to a file

The JSON of the run is kept in .benchmarks/report.json (``--json`` to change). Each row
is one benchmark case; values are the median over rounds, divided by the calls (events,
steps) one round makes. "torch / ferroboard" is the anchor's median over ferroboard's:
how many times faster ferroboard is. Targets are docs/architecture.md's.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
WRITERS = ("ferroboard", "torch", "tensorboardX")
SECTIONS = (
    "add_scalar",
    "add_histogram 1e4",
    "add_histogram 1e6",
    "add_histogram 1e7",
    "all-params",
    "close()",
)


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:.3g}×" if ratio < 100 else f"{ratio:.0f}×"


def fmt_rate(per_second: float) -> str:
    for suffix, scale in (("M", 1e6), ("k", 1e3)):
        if per_second >= scale:
            return f"{per_second / scale:.3g}{suffix}/s"
    return f"{per_second:.3g}/s"


class Case:
    """One report row: per-unit medians by writer."""

    def __init__(self, name: str, unit: str) -> None:
        self.name = name
        self.unit = unit
        self.median: dict[str, float] = {}  # writer -> seconds per unit
        self.rounds: dict[str, int] = {}

    @property
    def ferroboard(self) -> Optional[float]:
        return self.median.get("ferroboard")

    def speedup(self, anchor: str) -> Optional[float]:
        if anchor in self.median and self.ferroboard:
            return self.median[anchor] / self.ferroboard
        return None


def load_cases(data: dict) -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "case" not in info:
            continue
        case = cases.setdefault(info["case"], Case(info["case"], info["unit"]))
        case.median[info["writer"]] = bench["stats"]["median"] / info["units"]
        case.rounds[info["writer"]] = bench["stats"]["rounds"]
    return cases


def baseline_for(case: Case, cases: dict[str, Case]) -> Optional[Case]:
    """The floor a caller-side row is compared with (memcpy, empty method call)."""
    if not case.name.endswith(", caller"):
        return None
    if case.name.startswith("add_scalar"):
        key = "baseline: empty method call"
    elif case.name.startswith("add_histogram"):
        size = case.name.split()[1]
        key = f"baseline: memcpy (arr.copy()) {size} f32"
    elif case.name.startswith("all-params"):
        key = next((k for k in cases if k.startswith("baseline: memcpy of all params")), "")
    else:
        return None
    return cases.get(key)


def baseline_value(case: Case) -> float:
    return next(iter(case.median.values()))


# Targets (docs/architecture.md): case prefix -> (description, check(case, baseline)).
Check = Callable[[Case, Optional[Case]], Optional[bool]]
TARGETS: dict[str, tuple[str, Check]] = {
    "add_scalar, caller": (
        "≤ 1 µs/call",
        lambda c, b: c.ferroboard <= 1e-6,
    ),
    "add_scalar on a non-writing rank, caller": (
        "< 1 µs/call (issue 13)",
        lambda c, b: c.ferroboard < 1e-6,
    ),
    "add_scalar, end to end": (
        "≥ 1M events/s",
        lambda c, b: 1 / c.ferroboard >= 1e6,
    ),
    "add_histogram 1e7 f32, caller": (
        "≤ 2× memcpy",
        lambda c, b: None if b is None else c.ferroboard <= 2 * baseline_value(b),
    ),
    "add_histogram 1e7 f32, end to end": (
        "≥ 10× faster than torch",
        lambda c, b: None if c.speedup("torch") is None else c.speedup("torch") >= 10,
    ),
    "all-params histograms": (
        "≤ 20 ms/step",
        lambda c, b: c.ferroboard <= 20e-3 if c.name.endswith(", caller") else None,
    ),
    # The issues' own targets (media: issue 3; plugins: issue 4).
    "add_image 1024x1024x3 u8, caller": (
        "≤ 1 ms/call (issue 3)",
        lambda c, b: c.ferroboard <= 1e-3,
    ),
    "add_image": ("≥ 5× faster than torch (issue 3)", lambda c, b: _faster(c, 5)),
    "add_audio": ("≥ 5× faster than torch (issue 3)", lambda c, b: _faster(c, 5)),
    "add_pr_curve": ("≥ 10× faster than torch (issue 4)", lambda c, b: _faster(c, 10)),
    "add_embedding 20000x128 + metadata, end to end (TSV": (
        "≥ 10× faster than torch (issue 4)",
        lambda c, b: _faster(c, 10),
    ),
}


def _faster(case: Case, times: float) -> Optional[bool]:
    """Whether ferroboard is `times` faster than torch end to end (None for other rows)."""
    if "end to end" not in case.name or case.speedup("torch") is None:
        return None
    return case.speedup("torch") >= times


def target_cell(case: Case, baseline: Optional[Case]) -> str:
    if case.ferroboard is None:
        return ""
    for prefix, (text, check) in TARGETS.items():
        if case.name.startswith(prefix):
            met = check(case, baseline)
            if met is None:
                continue
            return f"{text}: {'met' if met else '**missed**'}"
    return ""


def section_of(name: str) -> int:
    for i, prefix in enumerate(SECTIONS):
        if name.startswith(prefix):
            return i
    return len(SECTIONS)


def table(data: dict) -> str:
    cases = load_cases(data)
    rows = [c for c in cases.values() if not c.name.startswith("baseline:")]
    order = {name: i for i, name in enumerate(cases)}
    rows.sort(key=lambda c: (section_of(c.name), order[c.name]))
    lines = [
        "| benchmark | ferroboard | torch | tensorboardX | torch / ferroboard "
        "| tensorboardX / ferroboard | ferroboard / floor | target (docs/architecture.md) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case in rows:
        cells = [f"{case.name} (per {case.unit})"]
        for writer in WRITERS:
            value = case.median.get(writer)
            text = "—" if value is None else fmt_time(value)
            if value is not None and case.unit == "event":
                text += f" ({fmt_rate(1 / value)})"
            cells.append(text)
        for anchor in WRITERS[1:]:
            ratio = case.speedup(anchor)
            cells.append("—" if ratio is None else fmt_ratio(ratio))
        baseline = baseline_for(case, cases)
        if baseline is not None and case.ferroboard is not None:
            floor = baseline_value(baseline)
            kind = "call" if "method call" in baseline.name else "memcpy"
            cells.append(f"{case.ferroboard / floor:.3g}× {kind} ({fmt_time(floor)})")
        else:
            cells.append("")
        cells.append(target_cell(case, baseline))
        lines.append("| " + " | ".join(cells) + " |")

    baselines = [c for c in cases.values() if c.name.startswith("baseline:")]
    if baselines:
        lines += ["", "| floor (same run) | median |", "|---|---:|"]
        for case in baselines:
            name = case.name[len("baseline: ") :]
            lines.append(f"| {name} (per {case.unit}) | {fmt_time(baseline_value(case))} |")
    return "\n".join(lines)


def footer(data: dict, command: Optional[str]) -> str:
    machine = data.get("machine_info", {})
    packages = machine.get("packages", {})
    parts = [
        f"{machine.get('cpu_count', '?')} CPUs ({machine.get('cpu', {}).get('brand_raw', '?')})",
        f"Python {machine.get('python_version', '?')}",
    ]
    parts += [f"{k} {v}" for k, v in packages.items()]
    lines = [
        "",
        "Medians over rounds; every round uses a fresh writer in a fresh logdir, default "
        "settings (max_queue=10, flush_secs=120). Ratios above 1: ferroboard is faster. "
        "Floor: the same work without a writer (a Python loop calling an empty method; "
        "copying the input).",
        "",
        "Environment: " + ", ".join(parts) + ".",
    ]
    if machine.get("quick"):
        lines.append("**Quick mode (FERROBOARD_BENCH_QUICK=1): smoke-test numbers only.**")
    if command:
        lines.append(f"Command: `{command}`")
    return "\n".join(lines)


def run_suite(json_path: Path, pytest_args: list[str]) -> str:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "benches"),
        "-q",
        "-p",
        "no:randomly",
        "--benchmark-columns=min,median,max,rounds",
        f"--benchmark-json={json_path}",
        *pytest_args,
    ]
    print("+ " + shlex.join(cmd), file=sys.stderr, flush=True)
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"benchmark run failed (exit {result.returncode})")
    shown = [arg.replace(f"{ROOT}/", "") for arg in cmd[4:]]
    return shlex.join(["python", "-m", "pytest", "benches", *shown])


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-json", type=Path, help="print the table of an earlier run")
    parser.add_argument(
        "--json", type=Path, default=ROOT / ".benchmarks" / "report.json", help="JSON output"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args, pytest_args = parser.parse_known_args(argv)

    command = None
    path = args.from_json
    if path is None:
        command = run_suite(args.json, pytest_args)
        path = args.json
    data = json.loads(path.read_text())
    text = table(data) + "\n" + footer(data, command) + "\n"
    text = re.sub(r"\n{3,}", "\n\n", text)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
