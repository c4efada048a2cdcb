"""URL log dirs against a real S3 server (moto, on 127.0.0.1) and the in-process
``memory://`` store: what reaches the store, in what order, for how many bytes, what
TensorBoard's own reader sees, and what happens when the server goes away or the writer
is killed (docs/storage.md)."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest
from ferroboard import FileWriter, SummaryWriter, _core
from s3_server import ENV, S3Server, events, records, scalar_steps

#: Publishes of one segment before it is sealed, and the resulting bound on bytes
#: uploaded per byte logged ((K + 1) / 2).
K = 8
AMPLIFICATION = (K + 1) / 2
SEGMENT_BYTES = 32 << 20
HERE = Path(__file__).resolve().parent

_names = itertools.count()

#: Reads runs with TensorBoard's EventAccumulator: argv[1] is {url: tag}; prints
#: {url: [[step, value], ...]}.
READ_WITH_TENSORBOARD = """
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
out = {}
for url, tag in json.loads(sys.argv[1]).items():
    acc = EventAccumulator(url, size_guidance={"scalars": 0})
    acc.Reload()
    out[url] = [[e.step, e.value] for e in acc.Scalars(tag)]
print(json.dumps(out))
"""


def wait_for(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture(scope="module")
def s3() -> Any:
    server = S3Server()
    server.start()
    saved = {k: os.environ.get(k) for k in [*ENV, "S3_ENDPOINT"]}
    os.environ.update(ENV, S3_ENDPOINT=server.endpoint)
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def bucket(s3: S3Server) -> str:
    name = f"ferro-{os.getpid()}-{next(_names)}"
    s3.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(autouse=True)
def staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "staging"
    monkeypatch.setenv("FERROBOARD_STAGING_DIR", str(root))
    return root


def writer_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def segment_index(key: str) -> int:
    match = re.search(r"\.(\d{6})$", key)
    assert match, key
    return int(match.group(1))


# -- what reaches the store -----------------------------------------------------------------


def test_every_event_is_stored_once_in_order_across_flushes_and_rotations(s3, bucket, staging):
    url = f"s3://{bucket}/runs/exp1"
    writer = SummaryWriter(url, flush_secs=0.05)
    step = 0
    for _ in range(30):
        for _ in range(7):
            writer.add_scalar("loss", float(step), step)
            step += 1
        writer.flush()
        time.sleep(0.08)  # one publish per round: flush_secs is the publish interval
    writer.close()

    objects = s3.objects(bucket, "runs/exp1/")
    assert list(scalar_steps(objects)) == list(range(step))  # each once, in order
    keys = [k for k, _ in objects]
    # One writer: one fixed name, a zero-padded index per segment, in write order.
    assert len({k.rsplit(".", 1)[0] for k in keys}) == 1
    assert [segment_index(k) for k in keys] == list(range(len(keys)))
    assert len(keys) >= 30 // K  # sealed after K publishes
    puts = Counter(r.path.split("/", 2)[2] for r in s3.uploads(bucket))
    assert set(puts) == set(keys)
    assert max(puts.values()) <= K
    logged = sum(len(data) for _, data in objects)
    uploaded = sum(r.body_bytes for r in s3.uploads(bucket))
    assert logged <= uploaded <= AMPLIFICATION * logged
    assert writer_dirs(staging) == []  # all stored: the staging files are gone


def test_segments_are_sealed_at_the_size_limit_and_a_larger_record_goes_up_in_parts(s3, bucket):
    url = f"s3://{bucket}/big"
    writer = SummaryWriter(url, flush_secs=0.05)
    for step in range(4):
        writer.add_text("t", "x" * (12 << 20), step)
        writer.flush()
    writer.add_text("huge", "y" * (SEGMENT_BYTES + (1 << 20)), 4)
    writer.add_scalar("after", 1.0, 5)
    writer.close()

    objects = s3.objects(bucket, "big/")
    per_object = [[e.step for e in events(data)] for _, data in objects]
    assert [s for steps in per_object for s in steps] == list(range(6))
    huge = [i for i, steps in enumerate(per_object) if 4 in steps]
    assert [per_object[i] for i in huge] == [[4]]  # alone in its object
    for i, (_, data) in enumerate(objects):
        if i not in huge:
            assert len(data) <= SEGMENT_BYTES
    huge_key = objects[huge[0]][0]
    parts = [r for r in s3.uploads(bucket) if huge_key in r.path and "partNumber" in r.query]
    assert len(parts) >= 2  # a multipart upload, used for this record only
    assert all("partNumber" not in r.query for r in s3.uploads(bucket) if huge_key not in r.path)


def test_an_idle_writer_makes_no_request(s3, bucket):
    writer = SummaryWriter(f"s3://{bucket}/idle", flush_secs=0.05)
    writer.add_scalar("s", 1.0, 0)
    writer.flush()
    wait_for(lambda: s3.uploads(bucket))
    count = len(s3.uploads(bucket))
    time.sleep(0.6)  # a dozen publish intervals without new events
    writer.flush()
    writer.close()
    assert len(s3.uploads(bucket)) == count


def test_tensorboard_reads_the_run_from_s3(s3, bucket):
    url = f"s3://{bucket}/tb/run"
    writer = SummaryWriter(url, flush_secs=0.05)
    for step in range(200):
        writer.add_scalar("loss", step / 10, step)
        if step % 10 == 9:
            writer.flush()
            time.sleep(0.06)
    writer.add_scalars("pair", {"a": 1.0, "b": 2.0}, 7)
    writer.close()
    assert len(s3.objects(bucket, "tb/run/events")) >= 2  # several segments to walk

    # TensorBoard's own loader, through its S3 file system (boto3, S3_ENDPOINT), in a
    # fresh interpreter: that file system reads S3_ENDPOINT when it is first imported.
    runs = {url: "loss", f"{url}/pair_a": "pair"}
    done = subprocess.run(
        [sys.executable, "-c", READ_WITH_TENSORBOARD, json.dumps(runs)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen[url] == [[s, pytest.approx(s / 10)] for s in range(200)]
    assert seen[f"{url}/pair_a"] == [[7, 1.0]]


def test_endpoint_from_aws_endpoint_url_or_storage_options(s3, bucket, monkeypatch):
    monkeypatch.delenv("S3_ENDPOINT")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    with SummaryWriter(f"s3://{bucket}/env") as writer:
        writer.add_scalar("s", 1.0, 1)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    options = {"endpoint": s3.endpoint, "allow_http": True}
    with SummaryWriter(f"s3://{bucket}/opts", storage_options=options) as writer:
        writer.add_scalar("s", 2.0, 2)
    assert list(scalar_steps(s3.objects(bucket, "env/"))) == [1]
    assert list(scalar_steps(s3.objects(bucket, "opts/"))) == [2]


def test_hparams_sub_runs_go_to_the_store(s3, bucket):
    url = f"s3://{bucket}/hp"
    with SummaryWriter(url) as writer:
        writer.add_hparams({"lr": 0.1}, {"acc": 0.5}, run_name="trial")
    keys = [k for k, _ in s3.objects(bucket, "hp/")]
    assert keys and all(k.startswith("hp/trial/events.out.tfevents.") for k in keys)


def test_a_forked_child_uploads_through_its_own_uploader(s3, bucket):
    url = f"s3://{bucket}/fork"
    writer = SummaryWriter(url, flush_secs=0.05)
    writer.add_scalar("parent", 1.0, 0)
    writer.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            writer.add_scalar("child", 2.0, 1)
            writer.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    writer.add_scalar("parent", 3.0, 2)
    writer.close()
    by_pid: dict = {}
    for key, data in s3.objects(bucket, "fork/"):
        key_pid = int(key.split(".")[-3])
        by_pid.setdefault(key_pid, []).extend(
            (e.step, e.summary.value[0].tag) for e in events(data)
        )
    assert by_pid == {os.getpid(): [(0, "parent"), (2, "parent")], pid: [(1, "child")]}


def test_embedding_files_and_projector_config_go_to_the_store(s3, bucket, tmp_path, staging):
    np = pytest.importorskip("numpy")
    mat = np.arange(12, dtype=np.float32).reshape(4, 3)
    labels = ["a", "b", "c", "d"]
    images = np.zeros((4, 3, 8, 8), dtype=np.float32)
    url = f"s3://{bucket}/emb"
    with SummaryWriter(url) as writer:
        writer.add_embedding(mat, labels, images, global_step=3, tag="points")
    local = tmp_path / "local"
    with SummaryWriter(local) as writer:
        writer.add_embedding(mat, labels, images, global_step=3, tag="points")

    stored = {k[len("emb/") :]: data for k, data in s3.objects(bucket, "emb/")}
    expected = {
        str(p.relative_to(local)): p.read_bytes()
        for p in local.rglob("*")
        if p.is_file() and not p.name.startswith("events.out.tfevents.")
    }
    assert set(expected) == {
        "projector_config.pbtxt",
        "00003/points/tensors.tsv",
        "00003/points/metadata.tsv",
        "00003/points/sprite.png",
    }
    assert stored == expected  # the same files, byte for byte
    puts = Counter(r.path.split("/", 2)[2] for r in s3.uploads(bucket))
    assert all(puts[f"emb/{name}"] == 1 for name in expected)  # one PUT each
    assert writer_dirs(staging) == []


# -- failures and recovery ------------------------------------------------------------------


def sync(staging: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ferroboard.sync", str(staging)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_server_gone_close_raises_naming_what_is_missing_then_sync_completes(
    tmp_path, staging, monkeypatch
):
    server = S3Server()
    server.start()
    for key, value in {**ENV, "S3_ENDPOINT": server.endpoint}.items():
        monkeypatch.setenv(key, value)
    server.client().create_bucket(Bucket="gone")
    url = "s3://gone/run"
    writer = SummaryWriter(url, flush_secs=0.05, close_timeout=3)
    for step in range(10):
        writer.add_scalar("s", float(step), step)
    writer.flush()
    wait_for(lambda: len(list(scalar_steps(server.objects("gone", "run/")))) == 10)

    server.stop()
    for step in range(10, 20):  # local writing goes on
        writer.add_scalar("s", float(step), step)
        writer.flush()
    start = time.monotonic()
    with pytest.raises(OSError) as info:
        writer.close()
    assert time.monotonic() - start < 3 + 10  # close_timeout, plus a margin for a slow box
    [kept] = writer_dirs(staging)
    message = str(info.value)
    assert url in message and str(kept) in message
    assert "10 accepted event(s) not stored" in message
    assert "python -m ferroboard.sync" in message

    server.start()  # same port, same buckets
    done = sync(staging, dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "1 staging dir(s) completed" in done.stdout
    assert list(scalar_steps(server.objects("gone", "run/"))) == list(range(20))
    assert writer_dirs(staging) == []
    again = sync(staging, dict(os.environ))  # nothing left: harmless
    assert again.returncode == 0 and "0 staging dir(s)" in again.stdout
    server.stop()


def test_sigkill_leaves_a_record_aligned_prefix_that_sync_completes(s3, bucket, staging):
    url = f"s3://{bucket}/killed"
    env = {**os.environ, "FERROBOARD_STAGING_DIR": str(staging)}
    child = subprocess.Popen(
        [sys.executable, str(HERE / "store_child.py"), url],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(s3.objects(bucket, "killed/")) >= 2, timeout=60)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    objects = s3.objects(bucket, "killed/")
    for _, data in objects:
        assert records(data)[1], "an object ends in a torn record"
    stored = list(scalar_steps(objects))
    assert stored == list(range(len(stored))) and stored

    done = sync(staging, env)
    assert done.returncode == 0, done.stderr
    synced = list(scalar_steps(s3.objects(bucket, "killed/")))
    assert synced == list(range(len(synced))) and len(synced) >= len(stored)


# -- memory:// and argument checks ----------------------------------------------------------


def test_memory_store(staging):
    url = "memory://mem/run"
    writer = SummaryWriter(url, flush_secs=0.05)
    for step in range(50):
        writer.add_scalar("s", float(step), step)
        if step % 10 == 9:
            writer.flush()
            time.sleep(0.06)
    writer.close()
    names = [name for name, _ in _core.list_objects(url)]
    assert names and all(n.startswith("events.out.tfevents.") for n in names)
    objects = [(n, _core.read_object(url, n)) for n in names]
    assert list(scalar_steps(objects)) == list(range(50))
    assert writer_dirs(staging) == []


@pytest.mark.parametrize("url", ["hdfs://nn/run", "file:///tmp/run", "gcs+x.y-z://b/g"])
def test_an_unsupported_scheme_names_the_supported_ones(tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)
    for make in (lambda: SummaryWriter(url), lambda: FileWriter(url)):
        with pytest.raises(ValueError) as info:
            make()
        message = str(info.value)
        assert repr(url) in message
        assert all(f"{s}://" in message for s in ("s3", "gs", "az", "abfss", "memory"))
    assert os.listdir(tmp_path) == []


def test_bad_storage_options_are_named(tmp_path, staging):
    with pytest.raises(ValueError, match='storage_options: unknown key "colour"'):
        SummaryWriter("s3://b/run", storage_options={"colour": "red"})
    with pytest.raises(TypeError, match=r"storage_options\['region'\]"):
        SummaryWriter("s3://b/run", storage_options={"region": object()})
    with pytest.raises(ValueError, match="local path"):
        SummaryWriter(tmp_path / "run", storage_options={"aws_region": "eu-west-1"})
    with pytest.raises(ValueError, match="close_timeout"):
        SummaryWriter("memory://m/run", close_timeout=0)
    with pytest.raises(ValueError, match="no bucket"):
        SummaryWriter("s3:///run")
    assert writer_dirs(staging) == []
