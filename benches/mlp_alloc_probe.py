"""Where the MLP loop's time goes: training vs logging calls, CPU and page faults per thread.

    python benches/mlp_alloc_probe.py [PYTHON_DIR]      # PYTHON_DIR: another build's python/
    HIST=0 python benches/mlp_alloc_probe.py             # scalars only

The MLP of benches/training_loop.py (300 SGD steps, loss every step, the 6 parameters and
their gradients as histograms every 10 steps) in one process, printing the training time
apart from the writer's calls, and the CPU seconds and minor page faults of each thread
name. It showed that the loop's "overhead" moved with glibc's dynamic mmap threshold
(docs/performance.md); set MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ to compare
builds without that effect.
"""

from __future__ import annotations

import collections
import os
import resource
import sys
import tempfile
import time

if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])

import ferroboard  # noqa: E402
import torch  # noqa: E402


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def per_thread() -> tuple[dict, dict]:
    """CPU seconds and minor faults of this process's threads, summed by thread name."""
    cpu: dict[str, float] = collections.defaultdict(float)
    faults: dict[str, int] = collections.defaultdict(int)
    for tid in os.listdir("/proc/self/task"):
        stat = open(f"/proc/self/task/{tid}/stat").read()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu[name] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        faults[name] += int(fields[7])
    return dict(cpu), dict(faults)


def main() -> None:
    histograms = os.environ.get("HIST", "1") == "1"
    torch.manual_seed(0)
    layers = [torch.nn.Linear(1024, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024)]
    model = torch.nn.Sequential(*layers, torch.nn.ReLU(), torch.nn.Linear(1024, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(64, 1024), torch.randint(0, 10, (64,))
    writer = ferroboard.SummaryWriter(tempfile.mkdtemp(prefix="ferroboard-probe-"))
    logging: list[float] = []
    train = 0.0
    cpu0, start = cpu_seconds(), time.perf_counter()
    for step in range(300):
        t = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        train += time.perf_counter() - t
        writer.add_scalar("loss", loss.item(), step)
        if histograms and step % 10 == 0:
            t = time.perf_counter()
            for name, p in model.named_parameters():
                writer.add_histogram(f"w/{name}", p, step)
                writer.add_histogram(f"g/{name}", p.grad, step)
            logging.append(time.perf_counter() - t)
    writer.close()
    total, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
    calls = f"{sorted(logging)[len(logging) // 2] * 1e3:.2f} ms median" if logging else "none"
    print(f"total {total:.2f} s, CPU {cpu:.2f} s, training {train:.2f} s, histogram steps {calls}")
    thread_cpu, thread_faults = per_thread()
    print("  CPU s by thread:", {k: round(v, 2) for k, v in thread_cpu.items()})
    print("  minor faults by thread:", thread_faults)


if __name__ == "__main__":
    main()
