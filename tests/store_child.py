"""Child process of the SIGKILL test: logs scalars to a URL log dir until it is killed,
flushing every 10 steps, and prints each flushed step."""

from __future__ import annotations

import sys
import time

from ferroboard import SummaryWriter

writer = SummaryWriter(sys.argv[1], flush_secs=0.05)
for step in range(1_000_000):
    writer.add_scalar("s", float(step), step)
    if step % 10 == 9:
        writer.flush()
        print(step, flush=True)
        time.sleep(0.02)
