"""Which process of a distributed job writes: rank detection and the `ranks` policy.

Pure Python and cheap: torch is never imported here. `torch.distributed` is asked only
when the program has imported it already (then it is the authority: `mp.spawn` sets no
environment variable), otherwise the launchers' environment variables are read.

Several writers in one run directory make both TensorBoard loaders show wrong plots (the
Rust data server keeps only the last file's points, the Python one concatenates the
files), so by default only rank 0 of a detected multi-process launch writes.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional, Union

#: What `ranks=` accepts after parsing: "auto", "all", "zero", or the ranks that write.
RankSpec = Union[str, frozenset]

_WORDS = ("auto", "all", "zero")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")

logger = logging.getLogger("ferroboard.ranks")
_announced = False


class Placement(NamedTuple):
    """This process's global rank and the job's world size (None: not known)."""

    rank: int
    world_size: Optional[int]
    source: str  # where it came from, for messages: "RANK", "torch.distributed", ...

    @property
    def multi_process(self) -> bool:
        # A rank above 0 is never alone, even when no launcher told the world size.
        return (self.world_size or 1) > 1 or self.rank > 0


def _env_int(environ: Mapping[str, str], name: str) -> Optional[int]:
    text = environ.get(name)
    if text is None or text.strip() == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} is not an integer") from None
    if value < 0:
        raise ValueError(f"environment variable {name}={text!r} is negative")
    return value


def _from_torch(modules: Mapping[str, Any]) -> Optional[Placement]:
    """`torch.distributed`'s rank, only if the program imported and initialized it."""
    dist = modules.get("torch.distributed")
    if dist is None:
        return None
    try:
        if not dist.is_available() or not dist.is_initialized():
            return None
        rank, world_size = int(dist.get_rank()), int(dist.get_world_size())
    except Exception:  # noqa: BLE001 - a half-torn-down group: fall back to the environment
        return None
    if rank < 0:  # not a member of the default group
        return None
    return Placement(rank, world_size, "torch.distributed")


# (rank variable, world-size variable) of the launchers tried after torchrun's RANK and
# torchelastic's. Slurm's SLURM_PROCID is also set in a plain one-task job, where
# SLURM_NTASKS=1 makes it harmless.
_ENV_PAIRS = (
    ("SLURM_PROCID", "SLURM_NTASKS"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("PMI_RANK", "PMI_SIZE"),
    ("JSM_NAMESPACE_RANK", "JSM_NAMESPACE_SIZE"),
)


def _from_environment(environ: Mapping[str, str]) -> Optional[Placement]:
    found = _pair(environ, "RANK", "WORLD_SIZE")
    if found is not None:
        return found
    # torchelastic without RANK (an agent of its own): node rank x processes per node
    # + local rank. LOCAL_RANK alone is not a global rank (node 1 has a local rank 0 too).
    group, local, per_node = (
        _env_int(environ, name) for name in ("GROUP_RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    )
    if group is not None and local is not None and per_node is not None:
        return Placement(group * per_node + local, _env_int(environ, "WORLD_SIZE"), "GROUP_RANK")
    for rank_var, size_var in _ENV_PAIRS:
        found = _pair(environ, rank_var, size_var)
        if found is not None:
            return found
    return None


def _pair(environ: Mapping[str, str], rank_var: str, size_var: str) -> Optional[Placement]:
    rank = _env_int(environ, rank_var)
    if rank is None:
        return None
    size = _env_int(environ, size_var)
    if size == 0 and rank_var == "SLURM_PROCID":
        size = None
    if size is not None and rank >= size:
        raise ValueError(f"environment variable {rank_var}={rank} is not below {size_var}={size}")
    return Placement(rank, size, rank_var)


def detect(
    environ: Optional[Mapping[str, str]] = None, modules: Optional[Mapping[str, Any]] = None
) -> Optional[Placement]:
    """This process's placement, or None when nothing says it is part of a larger job.

    An initialized `torch.distributed` (if already imported) wins, then the variables of
    torchrun (`RANK`/`WORLD_SIZE`), torchelastic (`GROUP_RANK`, `LOCAL_RANK`,
    `LOCAL_WORLD_SIZE`), Slurm, Open MPI, PMI (MPICH, Intel MPI) and LSF's jsrun.
    """
    found = _from_torch(sys.modules if modules is None else modules)
    if found is not None:
        return found
    return _from_environment(os.environ if environ is None else environ)


def torch_placement() -> Optional[Placement]:
    """The lazy re-check (`mp.spawn` sets no variable): `torch.distributed` only."""
    return _from_torch(sys.modules)


def may_join_later(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether `torch.distributed` may still be initialized with a rank for this process
    after a writer was built: a `multiprocessing` child (`mp.spawn` sets no variable), or
    a process given `MASTER_ADDR`/`MASTER_PORT` for `init_process_group`.

    Only such writers pay for the lazy re-check at their first `add_*`; a plain script's
    writer is settled at construction and keeps the untouched hot path.
    """
    env = os.environ if environ is None else environ
    if "MASTER_ADDR" in env or "MASTER_PORT" in env:
        return True
    process = sys.modules.get("multiprocessing.process")  # never imported: not a child
    return process is not None and process.parent_process() is not None


# -- the policy ---------------------------------------------------------------------------


def parse_ranks(value: Any, arg: str = "ranks") -> RankSpec:
    """`ranks=`: "auto", "all", "zero", an int >= 0, or a non-empty set of them."""
    if isinstance(value, str):
        if value not in _WORDS:
            raise ValueError(
                f"{arg}={value!r}: expected 'auto', 'all', 'zero', a rank or a set of ranks"
            )
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return frozenset((_rank(value, arg),))
    if isinstance(value, (set, frozenset, list, tuple, range)):
        ranks = frozenset(_rank(item, arg) for item in value)
        if not ranks:
            raise ValueError(
                f"{arg}={value!r}: no rank would write (use write_to_disk=False for that)"
            )
        return ranks
    raise TypeError(
        f"{arg} must be 'auto', 'all', 'zero', an int or a set of ints, "
        f"got {type(value).__name__}: {value!r}"
    )


def _rank(value: Any, arg: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{arg}: a rank must be an int, got {type(value).__name__}: {value!r}")
    if value < 0:
        raise ValueError(f"{arg}: a rank must be >= 0, got {value}")
    return int(value)


def parse_ranks_env(text: str) -> RankSpec:
    """`FERROBOARD_RANKS`: "auto", "all", "zero", "3" or "0,7"."""
    name = "environment variable FERROBOARD_RANKS"
    word = text.strip().lower()
    if word in _WORDS:
        return word
    try:
        ranks = [int(part) for part in word.split(",") if part.strip()]
    except ValueError:
        ranks = []
    if not ranks or min(ranks) < 0:
        raise ValueError(
            f"{name}={text!r}: expected 'auto', 'all', 'zero', a rank or ranks such as '0,7'"
        )
    return frozenset(ranks)


def parse_flag_env(name: str, text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"environment variable {name}={text!r}: expected 1/0, true/false, yes/no")


def settle_arguments(ranks: Any, per_rank_dir: Any, rank: Any) -> tuple[RankSpec, bool, Any]:
    """Checks the arguments and applies the environment overrides.

    Precedence: an argument > the environment > the default. `ranks="auto"` and
    `per_rank_dir=False` are the defaults, so `FERROBOARD_RANKS` / `FERROBOARD_PER_RANK_DIR`
    apply to them (that is their purpose: code the user cannot edit passes nothing).
    """
    spec = parse_ranks(ranks)
    if spec == "auto":
        env = os.environ.get("FERROBOARD_RANKS", "")
        if env.strip():
            spec = parse_ranks_env(env)
    if not isinstance(per_rank_dir, bool):
        raise TypeError(
            f"per_rank_dir must be a bool, got {type(per_rank_dir).__name__}: {per_rank_dir!r}"
        )
    if not per_rank_dir:
        per_rank_dir = parse_flag_env(
            "FERROBOARD_PER_RANK_DIR", os.environ.get("FERROBOARD_PER_RANK_DIR", "")
        )
    if rank is not None:
        rank = _rank(rank, "rank")
    return spec, per_rank_dir, rank


def writes(spec: RankSpec, placement: Optional[Placement]) -> bool:
    """Whether this process writes. No placement (a plain script) is rank 0 of 1."""
    rank = placement.rank if placement is not None else 0
    if spec == "auto":
        return placement is None or not placement.multi_process or rank == 0
    if spec == "all":
        return True
    if spec == "zero":
        return rank == 0
    assert isinstance(spec, frozenset)
    world_size = placement.world_size if placement is not None else None
    if world_size is not None and min(spec) >= world_size:
        raise ValueError(
            f"ranks={sorted(spec)}: no rank below the world size {world_size} would write"
        )
    return rank in spec


def rank_dir(log_dir: str, placement: Optional[Placement]) -> str:
    """`{log_dir}/rank{N}`, N zero-padded to the width of world_size - 1 so that the runs
    sort numerically in TensorBoard."""
    rank = placement.rank if placement is not None else 0
    world_size = placement.world_size if placement is not None else None
    width = len(str(max(world_size - 1, rank))) if world_size else 1
    return os.path.join(log_dir, f"rank{rank:0{width}d}")


def announce(spec: RankSpec, per_rank_dir: bool, placement: Optional[Placement]) -> None:
    """One line, once per process, on rank 0 only (thousands of ranks stay silent).

    Through `logging` at WARNING level rather than `warnings`: Python prints it without any
    configuration (the last-resort handler), it is an announcement of intended behaviour
    rather than a problem in the caller's code, and it must never become an exception
    in programs and test suites run with `-W error`.
    """
    global _announced
    if _announced or placement is None or not placement.multi_process or placement.rank != 0:
        return
    size = placement.world_size if placement.world_size is not None else "unknown"
    if spec == "auto":
        message = (
            f"ferroboard: distributed run detected ({placement.source}, world size {size}): "
            "only rank 0 writes; pass ranks='all', per_rank_dir=True (or set "
            "FERROBOARD_RANKS=all FERROBOARD_PER_RANK_DIR=1) for one run per rank"
        )
    elif (spec == "all" or (isinstance(spec, frozenset) and len(spec) > 1)) and not per_rank_dir:
        message = (
            f"ferroboard: several ranks write into one run directory (world size {size}); "
            "TensorBoard mis-displays several event files of one run: pass "
            "per_rank_dir=True for one run per rank"
        )
    else:
        return
    _announced = True
    logger.warning(message)
