"""``seqkit serve``: the JSON API against ``seqkit translate`` and ``seqkit score``, its answers to bad requests,
dynamic batching under concurrent clients, and the web page in a real browser (Chromium)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

starlette = pytest.importorskip("starlette", reason="seqkit serve needs the [serve] extra (Starlette, uvicorn)")
uvicorn = pytest.importorskip("uvicorn", reason="seqkit serve needs the [serve] extra (Starlette, uvicorn)")
from helpers import train_toy_run  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402 (after the skip)

from seqkit.cli import main  # noqa: E402
from seqkit.plugins import get_plugin_manager  # noqa: E402
from seqkit.runs import Run  # noqa: E402
from seqkit.serve import Batcher, Limits, Service, make_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LINES = ["a b c d", "", "l k", "e f g", "q r s t u"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("runs") / "toy"
    train_toy_run(directory)
    return directory


@pytest.fixture(scope="module")
def service(run_dir):
    return Service({"toy": Run.open(run_dir, get_plugin_manager())}, Limits(max_lines=8, max_line_chars=40))


@pytest.fixture
def client(service):
    with TestClient(make_app(service)) as c:
        yield c


def _cli(capsys, tmp_path, *args) -> list[str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.splitlines()


def test_translations_are_what_seqkit_translate_gives(run_dir, client, capsys, tmp_path):
    (tmp_path / "in.txt").write_text("".join(line + "\n" for line in LINES))
    cases = (({}, []), ({"beam": 3}, ["--beam", "3"]), ({"strategy": "greedy"}, ["--strategy", "greedy"]))
    for settings, flags in cases:
        answer = client.post("/translate", json={"text": LINES, **settings})
        assert answer.status_code == 200, answer.text
        got = [f"{t['score']:.6f}\t{t['text']}" for t in answer.json()["translations"]]
        assert got == _cli(capsys, tmp_path, "translate", "--run", str(run_dir), "-i", str(tmp_path / "in.txt"),
                           "--scores", *flags), settings  # fmt: skip
    answer = client.post("/translate", json={"text": LINES, "beam": 4, "nbest": 3}).json()
    nbest = [f"{i} ||| {h['text']} ||| {h['score']:.6f}" for i, t in enumerate(answer["translations"])
             for h in t["nbest"]]  # fmt: skip
    assert nbest == _cli(capsys, tmp_path, "translate", "--run", str(run_dir), "-i", str(tmp_path / "in.txt"),
                         "--beam", "4", "--nbest", "3")  # fmt: skip
    assert answer["model"] == "toy"
    one = client.post("/translate", json={"text": "a b c d", "beam": 4, "nbest": 3}).json()  # a string: one line
    for alone, batched in zip(one["translations"][0]["nbest"], answer["translations"][0]["nbest"], strict=True):
        assert alone["text"] == batched["text"]  # other batch shapes: the same texts, scores to float32 rounding
        assert alone["score"] == pytest.approx(batched["score"], rel=1e-5)


def test_attention_comes_with_each_hypothesis_and_its_tokens(client):
    t = client.post("/translate", json={"text": ["a b c d"], "beam": 3, "nbest": 2, "attention": True}).json()
    for h in t["translations"][0]["nbest"]:
        att = h["attention"]
        assert att["source"] and len(att["weights"]) == len(att["target"])
        for row in att["weights"]:
            assert len(row) == len(att["source"]) and sum(row) == pytest.approx(1.0, abs=1e-5)


def test_scores_are_what_seqkit_score_gives(run_dir, client, capsys, tmp_path):
    sources, targets = ["a b c d", "l k", "e f g"], ["d c b a", "k l", "x"]
    (tmp_path / "s.txt").write_text("".join(s + "\n" for s in sources))
    (tmp_path / "t.txt").write_text("".join(t + "\n" for t in targets))
    cli = _cli(capsys, tmp_path, "score", "--run", str(run_dir), "-s", str(tmp_path / "s.txt"), "-t",
               str(tmp_path / "t.txt"), "--tokens")  # fmt: skip
    answer = client.post("/score", json={"source": sources, "target": targets, "tokens": True})
    assert answer.status_code == 200, answer.text
    got = [f"{s['log_prob']:.6f}\t{' '.join(f'{x:.6f}' for x in s['tokens'])}" for s in answer.json()["scores"]]
    assert got == cli


def test_models_and_health(client, run_dir):
    models = client.get("/models").json()["models"]
    assert [m["name"] for m in models] == ["toy"] and models[0]["run"] == str(run_dir)
    assert models[0]["decoding"]["strategy"] == "beam"
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["models"] == 1


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        ({"text": ["a b"], "beam": 0}, 400, "beam", "decoding.beam must be in [1, 1000], got 0"),
        ({"text": ["a b"], "beam": 2, "nbest": 3}, 400, "nbest", "gives at most 2 hypotheses per sentence"),
        ({"text": ["a b"], "beam": "five"}, 400, "beam", "beam must be a int, got 'five'"),
        ({"text": ["a b"], "nbest": 1.5}, 400, "nbest", "nbest must be a int"),
        ({"text": 3}, 400, "text", "text must be a string or a list of strings"),
        ({"txt": ["a b"]}, 400, "txt", "unknown field 'txt'"),
        ({"text": ["a b"], "model": "nope"}, 404, "model", "unknown model 'nope'; the models are: toy"),
        ({"text": ["a"] * 9}, 413, "text", "text has 9 lines; at most 8 per request"),
        ({"text": ["a", "b " * 21]}, 413, "text[1]", "text[1] has 42 characters; at most 40"),
        ({"text": ["a b"], "prefix": ["x", "y"]}, 400, "prefix", "prefix has 2 lines for 1 lines of text"),
        ({"text": ["a b"], "strategy": "beem"}, 400, "strategy", "unknown decoding_strategy 'beem'"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_field(client, body, status, field, message):
    answer = client.post("/translate", json=body)
    assert answer.status_code == status and answer.json()["field"] == field, answer.text
    assert message in answer.json()["error"]


def test_bodies_that_are_not_json_objects_or_too_big(client, service):
    assert client.post("/translate", content=b"{not json").status_code == 400
    assert client.post("/translate", content=b"[1, 2]").json()["error"] == "the request body must be a JSON object"
    big = json.dumps({"text": ["a"], "pad": "x" * service.limits.max_body_bytes}).encode()
    assert client.post("/translate", content=big).status_code == 413
    answer = client.post("/score", json={"source": ["a b", ""], "target": ["b a", "x"]})
    assert answer.status_code == 400 and answer.json()["field"] == "source[1]"


def test_a_failing_batch_is_a_500_and_the_server_goes_on(client, service, monkeypatch):
    def broken(key, sentences, prefixes):
        raise RuntimeError("the decoder broke")

    monkeypatch.setattr(service.batcher, "decode", broken)
    answer = client.post("/translate", json={"text": ["a b"]})
    assert answer.status_code == 500 and "RuntimeError: the decoder broke" in answer.json()["error"]
    monkeypatch.undo()
    assert client.post("/translate", json={"text": ["a b"]}).status_code == 200


# ---- a real server --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def serving(service):
    """``service`` on uvicorn in a thread of this process, at a free port of 127.0.0.1: yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(service), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def test_concurrent_requests_share_batches(run_dir):
    """16 clients each sending one line at once: fewer decoder batches than requests, and every answer what
    the line gets alone."""
    service = Service({"toy": Run.open(run_dir, get_plugin_manager())}, Limits(window_ms=200, max_wait_ms=1000))
    lines = [" ".join("abcdefghij"[j] for j in range(i % 7 + 1)) for i in range(16)]
    alone = [h[0].text for h in service.runs["toy"].translate(lines)]
    with serving(service) as url:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda line: _post(f"{url}/translate", {"text": [line]}), lines))
        health = json.loads(urllib.request.urlopen(f"{url}/health", timeout=60).read())
    assert [a["translations"][0]["text"] for a in answers] == alone
    assert health["sentences"] == 16 and health["batches"] < 16, health


def _batches_of(arrivals_ms: list[float], limits: Limits) -> list[list[int]]:
    """The batches (job numbers) a Batcher forms from jobs submitted at ``arrivals_ms`` (one token each)."""
    decoded: list[list[int]] = []

    def decode(key, sentences, prefixes):
        decoded.append([int(s) for s in sentences])
        return [[s] for s in sentences]

    async def scenario():
        batcher = Batcher(decode, limits, ThreadPoolExecutor(1))
        batcher.start()

        async def job(i: int, at: float):
            await asyncio.sleep(at / 1000)
            assert await batcher.submit("key", [str(i)], None, 1) == [[str(i)]]

        await asyncio.gather(*(job(i, at) for i, at in enumerate(arrivals_ms)))
        await batcher.stop()

    asyncio.run(scenario())
    return decoded


def test_a_batch_stays_open_while_requests_keep_joining():
    """Requests 20 ms apart join one batch with a 100 ms window however long the train (up to max_wait_ms);
    a 420 ms pause opens a new batch; max_wait_ms and the token budget close a batch that would grow on."""
    steady = [20.0 * i for i in range(10)]  # 180 ms from first to last, each within 100 ms of the one before
    assert _batches_of([*steady, 600.0, 620.0], Limits(window_ms=100, max_wait_ms=1000)) == [list(range(10)), [10, 11]]
    capped = _batches_of(steady, Limits(window_ms=50, max_wait_ms=90))
    assert len(capped) >= 2 and capped[0] == list(range(len(capped[0]))) and len(capped[0]) <= 6, capped
    assert _batches_of([0.0] * 5, Limits(window_ms=50, batch_tokens=2)) == [[0, 1], [2, 3], [4]]


# ---- the page in a browser --------------------------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
def test_the_page_translates_and_draws_attention_in_chromium(service, tmp_path):
    """Chromium (the system's, driven by Playwright) loads the page, translates two typed lines, lists their
    n-best hypotheses with scores, and draws the chosen one's attention; the screenshot goes to
    docs/serving-page.png when SEQKIT_UPDATE_DOCS=1."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="no Playwright: pip install playwright")
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run installs it)")
    lines = ["a b c d", "e f g"]
    with serving(service) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(url + "/")
        page.wait_for_selector("#model option", state="attached")
        page.fill("#text", "\n".join(lines))
        page.fill("#beam", "4")
        page.fill("#nbest", "3")
        page.click("#translate")
        page.wait_for_selector("#heatmap table")
        shown = page.locator(".translation").all_inner_texts()
        api = _post(f"{url}/translate", {"text": lines, "strategy": "beam", "beam": 4, "nbest": 3, "attention": True})
        assert shown == [t["text"] for t in api["translations"]]
        assert page.locator(".sentence").nth(0).locator(".nbest li").count() == 3
        page.locator(".sentence").nth(1).locator(".nbest li").nth(1).click()
        assert "sentence 2, hypothesis 2" in page.inner_text("#attention-of")
        att = api["translations"][1]["nbest"][1]["attention"]
        assert page.locator("#heatmap tbody tr").count() == len(att["weights"])
        assert page.locator("#heatmap thead th").count() == len(att["source"]) + 1
        page.fill("#beam", "2")
        page.click("#translate")
        page.wait_for_selector(".nbest li >> nth=0")
        assert not page.is_visible("#error")
        page.locator(".sentence").nth(0).locator(".nbest li").nth(0).click()
        shot = tmp_path / "serving-page.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("SEQKIT_UPDATE_DOCS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "serving-page.png")


# ---- the docs' examples -------------------------------------------------------------------------------------------
def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl on this machine")
def test_every_curl_example_of_the_serving_page_runs(run_dir):
    """docs/serving.md's ``$ curl ...`` lines, run against a server of a toy run named as the page's
    (quickstart): each answers 200 with JSON holding every field the page shows after it."""
    import re
    import shlex
    import subprocess

    lines = (ROOT / "docs" / "serving.md").read_text(encoding="utf-8").splitlines()
    examples = [(line[2:], lines[i + 1]) for i, line in enumerate(lines) if line.startswith("$ curl ")]
    assert len(examples) >= 5
    service = Service({"quickstart": Run.open(run_dir, get_plugin_manager())})
    with serving(service) as url:
        for command, shown in examples:
            args = [a.replace("localhost:8080", url) for a in shlex.split(command)]
            done = subprocess.run([*args, "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=120)
            body, status = done.stdout.rsplit("\n", 1)
            assert status == "200", (command, body)
            fields = set(re.findall(r'"(\w+)":', shown))
            assert fields <= _keys(json.loads(body)), (command, fields - _keys(json.loads(body)))
