"""The demo: scalars, a scalar group, text, histograms, media and plugins.

Written with ferroboard; `tensorboard --logdir runs` shows it. The code is the package's
`ferroboard.demo` (also run by `ferroboard demo [LOGDIR]`).

Run through `bash scripts/demo.sh` (which builds ferroboard first) or directly with the
package installed: `python examples/demo.py [--logdir runs/demo]`.
"""

from __future__ import annotations

from ferroboard.demo import main

if __name__ == "__main__":
    main()
