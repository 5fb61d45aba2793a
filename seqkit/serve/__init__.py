"""The translation server of ``seqkit serve``: a JSON API and a web page over trained runs, on Starlette.

- ``POST /translate`` ``{"text": [...], "model": NAME, "beam": 5, "nbest": 1, "attention": false, ...}`` ->
  ``{"model": NAME, "translations": [{"text", "score", "log_prob", "nbest": [...]}, ...]}``;
- ``POST /score`` ``{"source": [...], "target": [...], "model": NAME, "tokens": false}`` ->
  ``{"model": NAME, "scores": [{"log_prob": ..., "tokens": [...]}, ...]}`` (forced decoding, ``Run.score``);
- ``GET /models``, ``GET /health``, and ``GET /`` the page (``page/``: plain HTML, JavaScript and CSS).

Requests that arrive together share decoder steps: a ``Batcher`` holds a batch open while requests keep joining
it (each within ``Limits.window_ms`` of the one before, for at most ``Limits.max_wait_ms``), up to
``Limits.batch_tokens`` source tokens, then decodes the sentences of all the requests with the same model and
settings as one input (each sentence's hypotheses do not depend on the others in its batch, so a response is
what ``seqkit translate`` gives for its lines). Decoding runs in one worker thread, a batch at a time, while
the event loop goes on accepting requests.

Bad requests get a 4xx answer ``{"error": MESSAGE, "field": NAME}``; an exception while decoding becomes a 500
answer for the requests of that batch and leaves the server running.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from seqkit.data import normalize
from seqkit.errors import UserError

PAGE = Path(__file__).parent / "page"
#: the decoding settings a translate request may give, as [decoding] keys ("strategy" switches the strategy)
DECODING_FIELDS = {"strategy": str, "beam": int, "alpha": float, "length_penalty": str}


@dataclasses.dataclass
class Limits:
    """What one request may ask, and how requests are batched."""

    max_lines: int = 64  # lines (or pairs) in one request
    max_line_chars: int = 2000  # characters in one line
    max_body_bytes: int = 1 << 20  # bytes in one request body
    batch_tokens: int = 4000  # source tokens decoded together at most (a longer request is one batch of its own)
    window_ms: float = 10.0  # a batch closes when no request has joined it for this long ...
    max_wait_ms: float = 100.0  # ... or this long after it opened

    def __post_init__(self) -> None:
        for name in ("max_lines", "max_line_chars", "max_body_bytes", "batch_tokens"):
            if getattr(self, name) < 1:
                raise UserError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("window_ms", "max_wait_ms"):
            if not 0 <= getattr(self, name) <= 10_000:
                raise UserError(f"{name.replace('_', '-')} must be between 0 and 10000, got {getattr(self, name)}")
        if self.window_ms > self.max_wait_ms:
            raise UserError(f"window-ms ({self.window_ms}) must not exceed max-wait-ms ({self.max_wait_ms}): a "
                            "batch waits at most max-wait-ms")  # fmt: skip


class BadRequest(Exception):
    """A 4xx answer: ``{"error": message, "field": field}`` with ``status``."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.status = field, status


@dataclasses.dataclass
class _Job:
    key: tuple  # (model name, decoding table as sorted items, nbest, attention): jobs decoded together share it
    sentences: list[str]
    prefixes: list[str] | None
    tokens: int
    arrived: float
    future: asyncio.Future


class Batcher:
    """Collects translation jobs into batches and decodes each batch in ``executor``'s thread with
    ``decode(key, sentences, prefixes)`` (a list of n-best lists, one per sentence). ``batches`` and
    ``sentences`` count what was decoded."""

    def __init__(self, decode: Callable, limits: Limits, executor: ThreadPoolExecutor) -> None:
        self.decode, self.limits, self.executor = decode, limits, executor
        self.queue: asyncio.Queue[_Job] | None = None
        self.batches = self.sentences = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start batching on the running event loop (a new queue: an app may run again on another loop)."""
        self.queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def submit(self, key: tuple, sentences: list[str], prefixes: list[str] | None, tokens: int) -> list:
        loop = asyncio.get_running_loop()
        job = _Job(key, sentences, prefixes, tokens, loop.time(), loop.create_future())
        await self.queue.put(job)
        return await job.future

    async def _collect(self) -> list[_Job]:
        """The next batch, opened when the first job is taken (the worker is free then): the jobs already
        waiting, and every job that arrives within ``window_ms`` of the one before it or of the opening, for at
        most ``max_wait_ms``, while the batch stays within the token budget. Clients that each wait for their
        last answer before sending again so come back together into one batch (also those answered by the
        batch just decoded, behind others that waited for it), however long they take to send."""
        loop = asyncio.get_running_loop()
        jobs = [await self.queue.get()]
        opened = loop.time()
        tokens = jobs[0].tokens
        last_call = opened + self.limits.max_wait_ms / 1000
        while tokens < self.limits.batch_tokens:
            try:
                wait = min(max(jobs[-1].arrived, opened) + self.limits.window_ms / 1000, last_call) - loop.time()
                job = self.queue.get_nowait() if wait <= 0 else await asyncio.wait_for(self.queue.get(), wait)
            except (asyncio.QueueEmpty, TimeoutError):
                break
            if tokens + job.tokens > self.limits.batch_tokens:
                self.queue.put_nowait(job)  # it opens the next batch (behind any job that came in meanwhile)
                break
            jobs.append(job)
            tokens += job.tokens
        return jobs

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect()
            groups: dict[tuple, list[_Job]] = {}
            for job in jobs:
                groups.setdefault(job.key, []).append(job)
            for key, group in groups.items():
                sentences = [s for job in group for s in job.sentences]
                prefixes = None
                if any(job.prefixes is not None for job in group):
                    prefixes = [p for job in group for p in (job.prefixes or [""] * len(job.sentences))]
                try:
                    found = await loop.run_in_executor(self.executor, self.decode, key, sentences, prefixes)
                except Exception as e:  # answered to the batch's requests; the server goes on
                    for job in group:
                        if not job.future.done():
                            job.future.set_exception(e)
                    continue
                self.batches += 1
                self.sentences += len(sentences)
                start = 0
                for job in group:
                    if not job.future.done():  # a client that went away cancelled its future
                        job.future.set_result(found[start : start + len(job.sentences)])
                    start += len(job.sentences)


class Service:
    """The runs served, by name, and what answers the API's requests."""

    def __init__(self, runs: dict[str, Any], limits: Limits | None = None) -> None:
        if not runs:
            raise UserError("seqkit serve needs at least one --run")
        self.runs, self.limits = runs, limits or Limits()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqkit-decode")
        self.batcher = Batcher(self._decode, self.limits, self.executor)
        self._translators: dict[tuple, Callable] = {}

    # ---- decoding (in the worker thread) ------------------------------------------------------------------------
    def _translator(self, key: tuple) -> Callable:
        if key not in self._translators:
            name, table, nbest, attention = key
            self._translators[key] = self.runs[name].translator(dict(table), nbest=nbest, keep_attention=attention)
        return self._translators[key]

    def _decode(self, key: tuple, sentences: list[str], prefixes: list[str] | None) -> list:
        return self._translator(key)(sentences, None, prefixes)

    # ---- requests ---------------------------------------------------------------------------------------------
    def model_name(self, body: dict) -> str:
        name = body.get("model", next(iter(self.runs)))
        if not isinstance(name, str) or name not in self.runs:
            raise BadRequest(f"unknown model {name!r}; the models are: {', '.join(self.runs)}", "model", 404)
        return name

    def _lines(self, body: dict, field: str, required: bool = True) -> list[str] | None:
        value = body.get(field)
        if value is None and not required:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest(f"{field} must be a string or a list of strings", field)
        if len(value) > self.limits.max_lines:
            raise BadRequest(f"{field} has {len(value)} lines; at most {self.limits.max_lines} per request", field, 413)
        for i, line in enumerate(value):
            if len(line) > self.limits.max_line_chars:
                raise BadRequest(f"{field}[{i}] has {len(line)} characters; at most {self.limits.max_line_chars}",
                                 f"{field}[{i}]", 413)  # fmt: skip
        return value

    def translation_key(self, body: dict, name: str) -> tuple:
        """The batch key of a translate request: its model, its ``[decoding]`` table, nbest and attention; a
        bad setting is ``BadRequest`` naming the field."""
        run = self.runs[name]
        changes: dict[str, Any] = {}
        for field, kind in DECODING_FIELDS.items():
            if field in body:
                changes[field] = _typed(body, field, kind)
        strategy = changes.pop("strategy", None)
        nbest = _typed(body, "nbest", int, 1)
        attention = _typed(body, "attention", bool, False)
        key = (name, tuple(sorted(run.decoding_table(strategy, changes).items())), nbest, attention)
        try:
            self._translator(key)  # checks every setting now; the worker decodes with the same translator
        except UserError as e:
            raise BadRequest(str(e), _field_named(str(e), ["nbest", *DECODING_FIELDS])) from None
        return key

    async def translate(self, body: dict) -> dict:
        _known_fields(body, {"text", "model", "nbest", "attention", "prefix", *DECODING_FIELDS})
        name = self.model_name(body)
        sentences = self._lines(body, "text")
        prefixes = self._lines(body, "prefix", required=False)
        if prefixes is not None and len(prefixes) != len(sentences):
            raise BadRequest(f"prefix has {len(prefixes)} lines for {len(sentences)} lines of text", "prefix")
        key = self.translation_key(body, name)
        run = self.runs[name]
        tokens = sum(len(run.tokenizers.source.encode(normalize(s))) for s in sentences if s.strip())
        found = await self.batcher.submit(key, sentences, prefixes, max(tokens, 1))
        return {"model": name, "translations": [self._hypotheses(run, s, hyps, key[3])
                                                for s, hyps in zip(sentences, found)]}  # fmt: skip

    def _hypotheses(self, run, sentence: str, hyps: list, attention: bool) -> dict:
        listed = [{"text": h.text, "score": h.score, "log_prob": h.log_prob} for h in hyps]
        if attention:
            source = run.tokenizers.source.vocab.decode(run.tokenizers.source.encode(normalize(sentence)))
            for entry, h in zip(listed, hyps):
                target = run.tokenizers.target.vocab.decode(h.tokens)
                weights = [] if h.attention is None else h.attention.tolist()
                entry["attention"] = {"source": source, "target": target + ["</s>"] * (len(weights) > len(target)),
                                      "weights": weights}  # fmt: skip
        return {**listed[0], "nbest": listed}

    async def score(self, body: dict) -> dict:
        _known_fields(body, {"source", "target", "model", "tokens"})
        name = self.model_name(body)
        sources, targets = self._lines(body, "source"), self._lines(body, "target")
        if len(sources) != len(targets):
            raise BadRequest(f"source has {len(sources)} lines but target {len(targets)}", "target")
        for i, s in enumerate(sources):
            if not s.strip():
                raise BadRequest(f"source[{i}] is empty: nothing to score its target against", f"source[{i}]")
        tokens = _typed(body, "tokens", bool, False)
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(self.executor, self.runs[name].score, sources, targets)
        scores = []
        for lp in found:
            entry: dict[str, Any] = {"log_prob": float(lp.cumsum()[-1])}
            if tokens:
                entry["tokens"] = [float(x) for x in lp]
            scores.append(entry)
        return {"model": name, "scores": scores}

    def models(self) -> dict:
        listed = []
        for name, run in self.runs.items():
            data = run.recipe.data
            listed.append({"name": name, "run": str(run.directory), "source": data.source, "target": data.target,
                           "model": run.recipe.model["name"], "decoding": run.recipe.decoding})  # fmt: skip
        return {"models": listed}

    def health(self) -> dict:
        return {"status": "ok", "models": len(self.runs), "batches": self.batcher.batches,
                "sentences": self.batcher.sentences}  # fmt: skip


def _typed(body: dict, field: str, kind: type, default: Any = None) -> Any:
    """``body[field]`` as ``kind`` (an int for a float field too), or ``default`` when absent."""
    if field not in body:
        return default
    value = body[field]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok or (kind is float and not math.isfinite(value)):
        raise BadRequest(f"{field} must be {'a number' if kind is float else 'a ' + kind.__name__}, got {value!r}",
                         field)  # fmt: skip
    return value


def _known_fields(body: dict, known: set[str]) -> None:
    for field in body:
        if field not in known:
            raise BadRequest(f"unknown field {field!r}; known fields: {', '.join(sorted(known))}", field)


def _field_named(message: str, fields: Sequence[str]) -> str | None:
    """The request field a decoding error's message is about, when it names one."""
    return next((f for f in fields if f in message), None)


def make_app(service: Service) -> Starlette:
    """The Starlette application answering ``service``'s API and serving the page."""

    async def body_of(request: Request) -> dict:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > service.limits.max_body_bytes:
            raise BadRequest(f"the request body has {declared} bytes; at most {service.limits.max_body_bytes}",
                             None, 413)  # fmt: skip
        raw = await request.body()
        if len(raw) > service.limits.max_body_bytes:
            raise BadRequest(f"the request body has {len(raw)} bytes; at most {service.limits.max_body_bytes}",
                             None, 413)  # fmt: skip
        try:
            body = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as e:
            raise BadRequest(f"the request body is not JSON ({e})") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        return body

    def endpoint(answer: Callable, with_body: bool = True) -> Callable:
        async def handle(request: Request) -> Response:
            try:
                result = answer(await body_of(request)) if with_body else answer()
                if asyncio.iscoroutine(result):
                    result = await result
                return JSONResponse(result)
            except BadRequest as e:
                return JSONResponse({"error": str(e), "field": e.field}, status_code=e.status)
            except UserError as e:
                return JSONResponse({"error": str(e), "field": None}, status_code=400)
            except Exception as e:  # a request never ends the server
                return JSONResponse({"error": f"{type(e).__name__}: {e}", "field": None}, status_code=500)

        return handle

    async def page(request: Request) -> Response:
        path = (PAGE / (request.path_params.get("name") or "index.html")).resolve()
        if path.parent != PAGE.resolve() or not path.is_file():
            return JSONResponse({"error": "not found", "field": None}, status_code=404)
        return FileResponse(path)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        service.batcher.start()
        try:
            yield
        finally:
            await service.batcher.stop()

    routes = [
        Route("/translate", endpoint(service.translate), methods=["POST"]),
        Route("/score", endpoint(service.score), methods=["POST"]),
        Route("/models", endpoint(service.models, with_body=False), methods=["GET"]),
        Route("/health", endpoint(service.health, with_body=False), methods=["GET"]),
        Route("/", page, methods=["GET"]),
        Route("/page/{name}", page, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def serve(service: Service, host: str, port: int, log: Callable[[str], None] = print) -> None:
    """Serve until interrupted."""
    import uvicorn

    config = uvicorn.Config(make_app(service), host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    started = time.monotonic()
    log(f"serving {', '.join(service.runs)} at http://{host}:{port}/ (Ctrl-C stops)")
    server.run()
    log(f"stopped after {time.monotonic() - started:.0f} s: {service.batcher.sentences} sentences in "
        f"{service.batcher.batches} batches")  # fmt: skip


__all__ = ["BadRequest", "Batcher", "Limits", "Service", "make_app", "serve"]
