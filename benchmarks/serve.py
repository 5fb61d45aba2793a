"""``seqkit serve`` under concurrent clients, beside ``seqkit translate`` on the same sentences as one file.

Workload: the first ``--sentences`` source sentences of the run's test split (Multi30k's test_2016_flickr for
the Multi30k recipes: ``SEQKIT_DATA`` must point at the corpora), decoded with the run's own ``[decoding]``.

Rows:
- ``translate (one file)``: ``Run.translate`` on all the sentences at once, in this process (the model loaded
  beforehand, one warm-up batch): what ``seqkit translate -i FILE`` does once the run is open;
- ``serve, N clients``: ``seqkit serve --run RUN`` in a process of its own, and N threads of this process, each
  sending its share of the sentences one at a time (``POST /translate`` with one line, over a kept-alive
  connection) and waiting for each answer before the next. Sentences/s counts from the first request to the
  last answer; p50 and p99 are the latencies of single requests. "same" counts the answers equal to the
  file's translation of their line (dynamic batching must not change a result).

The server's ``--window-ms``, ``--max-wait-ms`` and ``--batch-tokens`` are its defaults unless given here;
"batch" is the sentences it decoded together, on average (from ``/health``). Run with 2 threads (set here
unless already set): ``python benchmarks/serve.py --run runs/multi30k-en-de-transformer``
(``--sentences 1000 --clients 1 8 32`` by default); ``--quick`` trains a toy run for one epoch and sends 32 of
its test sentences with 1 and 4 clients (a smoke run).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: Path, port: int, extra: list[str]) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "seqkit", "serve", "--run", str(run), "--port", str(port),
                               *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"seqkit serve exited: {server.stderr.read().decode()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("seqkit serve did not answer /health within 120 s")


def clients(port: int, sentences: list[str], n: int) -> tuple[float, list[float], list[str]]:
    """``n`` threads sending ``sentences`` (thread ``i`` takes every ``n``-th from ``i``) one per request:
    (wall seconds, request latencies, translations in input order)."""
    out: list[str] = [""] * len(sentences)
    latencies: list[list[float]] = [[] for _ in range(n)]
    errors: list[str] = []

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for j in range(i, len(sentences), n):
            body = json.dumps({"text": [sentences[j]]})
            start = time.perf_counter()
            conn.request("POST", "/translate", body, {"Content-Type": "application/json"})
            answer = conn.getresponse()
            data = json.loads(answer.read())
            latencies[i].append(time.perf_counter() - start)
            if answer.status != 200:
                errors.append(f"{answer.status}: {data}")
                return
            out[j] = data["translations"][0]["text"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise SystemExit(f"the server answered {errors[0]}")
    return wall, [x for per in latencies for x in per], out


def health(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/health")
    return json.loads(conn.getresponse().read())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def toy_run(directory: Path) -> Path:
    from seqkit.cli import main

    run = directory / "toy"
    quick = ["--set", "training.epochs=1", "--set", "evaluation.dev_bleu=false",
             "--set", "evaluation.monitor='val/loss'"]  # fmt: skip
    if main(["train", str(ROOT / "recipes" / "toy-reverse.toml"), "--run-dir", str(run), "--no-progress",
             *quick]) != 0:  # fmt: skip
        raise SystemExit("could not train the toy run")
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="a run directory (required unless --quick)")
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--window-ms", type=float, help="the server's --window-ms (default: its own)")
    parser.add_argument("--max-wait-ms", type=float, help="the server's --max-wait-ms (default: its own)")
    parser.add_argument("--batch-tokens", type=int, help="the server's --batch-tokens (default: its own)")
    parser.add_argument("--quick", action="store_true", help="a toy run, 32 sentences, 1 and 4 clients")
    args = parser.parse_args()
    from seqkit.plugins import get_plugin_manager
    from seqkit.runs import Run

    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            args.run, args.sentences, args.clients = toy_run(Path(tmp)), 32, [1, 4]
        if args.run is None:
            parser.error("--run RUN_DIR is required (or --quick)")
        run = Run.open(args.run, get_plugin_manager())
        sentences = run.texts(run.recipe.data.test)[0][: args.sentences]
        run.translate(sentences[:16])  # warm-up
        start = time.perf_counter()
        reference = [h[0].text for h in run.translate(sentences)]
        file_s = time.perf_counter() - start
        extra = [] if args.window_ms is None else ["--window-ms", str(args.window_ms)]
        extra += [] if args.max_wait_ms is None else ["--max-wait-ms", str(args.max_wait_ms)]
        extra += [] if args.batch_tokens is None else ["--batch-tokens", str(args.batch_tokens)]
        port = free_port()
        server = start_server(args.run, port, extra)
        rows = []
        try:
            clients(port, sentences[:16], 4)  # warm-up
            for n in args.clients:
                before = health(port)
                wall, latencies, out = clients(port, sentences, n)
                after = health(port)
                batch = (after["sentences"] - before["sentences"]) / max(after["batches"] - before["batches"], 1)
                same = sum(a == b for a, b in zip(out, reference))
                rows.append((f"serve, {n} client{'s' * (n > 1)}", wall, latencies, batch, same))
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"{args.run}: {len(sentences)} sentences, decoding {json.dumps(run.recipe.decoding)}")
    print(f"{'':24}{'sentences/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'batch':>7}{'x file':>8}{'same':>7}")
    file_rate = len(sentences) / file_s
    batch_size = run.recipe.decoding["batch_size"]
    print(f"{'translate (one file)':24}{file_rate:12.1f}{'':>9}{'':>9}{batch_size:7d}{1.0:8.2f}{len(sentences):7d}")
    for name, wall, latencies, batch, same in rows:
        rate = len(sentences) / wall
        p50, p99 = percentile(latencies, 0.5) * 1e3, percentile(latencies, 0.99) * 1e3
        print(f"{name:24}{rate:12.1f}{p50:9.0f}{p99:9.0f}{batch:7.1f}{rate / file_rate:8.2f}{same:7d}")
    print(
        "(batch: sentences decoded together, on average; x file: sentences/s relative to translating the "
        "sentences as one file; same: answers equal to it)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
