"""Corpus manifests, checksum verification, the data directory, the cache and downloads."""

import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from seqkit import corpora
from seqkit.errors import UserError
from seqkit.plugins import Registry

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "corpora"
needs_multi30k = pytest.mark.skipif(
    not (SHARED / "multi30k").is_dir(), reason=f"Multi30k is not in {SHARED / 'multi30k'} (it is never bundled)"
)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own cache and no data directory or offline setting from the environment."""
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    monkeypatch.delenv("SEQKIT_OFFLINE", raising=False)


def manifests():
    return {m.name: m for m in corpora.builtin_manifests()}


def write_corpus(folder: Path, name: str = "toy", *, urls=(), bundled=False, content=b"hallo\nwelt\n"):
    """A one-split manifest for a corpus whose two files hold ``content``; returns (manifest path, sha256)."""
    sha = hashlib.sha256(content).hexdigest()
    url_list = ", ".join(f'"{u}"' for u in urls)
    text = f"""format = 1
name = "{name}"
languages = ["de", "en"]
license = "test"
attribution = "test"
redistributable = true
bundled = {str(bundled).lower()}
[splits.train]
pairs = 2
de = {{ path = "a.de", sha256 = "{sha}", urls = [{url_list}] }}
en = {{ path = "a.en", sha256 = "{sha}", urls = [{url_list}] }}
"""
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path, sha


# ---- manifests --------------------------------------------------------------------------------------------


def test_builtin_manifests_name_their_splits_languages_and_terms():
    found = manifests()
    assert set(found) >= {"multi30k", "tatoeba-de-en"}
    m30k = found["multi30k"]
    assert m30k.languages == ("de", "en") and not m30k.bundled and not m30k.redistributable
    assert list(m30k.splits) == [
        "train", "val", "test_2016_flickr", "test_2017_flickr", "test_2017_mscoco", "test_2018_flickr"
    ]  # fmt: skip
    assert [s.pairs for s in m30k.splits.values()] == [29000, 1014, 1000, 1000, 461, 1071]
    assert all(f.urls and f.urls[0].startswith("https://") for f in m30k.files())
    assert "non-commercial" in m30k.license.lower() and "Elliott" in m30k.attribution
    tatoeba = found["tatoeba-de-en"]
    assert tatoeba.bundled and tatoeba.redistributable and "CC BY 2.0" in tatoeba.license
    assert {s: tatoeba.splits[s].pairs for s in tatoeba.splits} == {"train": 126835, "dev": 2000, "test": 2000}
    assert corpora.builtin_manifests() is corpora.builtin_manifests()  # same objects: registering twice is harmless


def test_multi30k_checksums_match_the_shared_copys_sha256sums():
    sums_file = SHARED / "multi30k" / "SHA256SUMS"
    if not sums_file.exists():
        pytest.skip(f"no {sums_file}")
    sums = dict(reversed(line.split()) for line in sums_file.read_text().splitlines())
    for f in manifests()["multi30k"].files():
        assert sums[f.path] == f.sha256, f.path


def test_multi30k_data_is_never_in_the_repository():
    """Its terms forbid bundling: no file under corpora/ may be one of its files."""
    shas = {f.sha256 for f in manifests()["multi30k"].files()}
    for path in (ROOT / "corpora").rglob("*"):
        if path.is_file():
            assert corpora.sha256_of(path) not in shas, path
    assert not (ROOT / "corpora" / "multi30k").exists()


def test_direction_either_way_and_bad_languages():
    m = manifests()["multi30k"]
    assert m.direction() == ("de", "en")
    assert m.direction("en") == ("en", "de") and m.direction(tgt_lang="de") == ("en", "de")
    with pytest.raises(UserError, match=r"multi30k is de-en .*not fr-en"):
        m.direction("fr", "en")


def test_unknown_split_lists_the_splits_and_suggests_one():
    with pytest.raises(UserError, match=r"no split 'tset'.*did you mean 'test'"):
        manifests()["tatoeba-de-en"].split("tset")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace("format = 1", "format = 9"), "manifest format 9 is not supported"),
        (lambda t: t.replace('license = "test"\n', ""), "missing key 'license'"),
        (lambda t: t.replace("bundled = false", 'bundled = "no"'), "bundled must be bool"),
        (lambda t: t.replace('sha256 = "', 'sha256 = "zz', 1), r"splits.train.de: sha256 must be 64 hex digits"),
        (lambda t: t.replace('path = "a.de"', 'path = "../a.de"'), "path must be relative"),
        (lambda t: t.replace('["de", "en"]', '["de"]'), "languages must name two different languages"),
        (lambda t: t.replace("[splits.train]", "[splits.train"), "not valid TOML"),
    ],
)
def test_malformed_manifests_name_the_file_and_key(tmp_path, edit, message):
    path, _ = write_corpus(tmp_path)
    path.write_text(edit(path.read_text()))
    with pytest.raises(UserError, match=message) as info:
        corpora.load_manifest(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_get_corpus_by_registered_name_or_toml_path(tmp_path):
    registry = Registry("corpus")
    for m in corpora.builtin_manifests():
        registry.add(m.name, m)
    assert corpora.get_corpus("multi30k", registry) is manifests()["multi30k"]
    path, _ = write_corpus(tmp_path)
    assert corpora.get_corpus(str(path), registry).name == "toy"
    with pytest.raises(UserError, match="did you mean 'multi30k'"):
        corpora.get_corpus("multi30", registry)


# ---- local copies -----------------------------------------------------------------------------------------


@needs_multi30k
def test_multi30k_verifies_against_the_shared_copy_through_the_data_directory(monkeypatch):
    m = manifests()["multi30k"]
    monkeypatch.setenv("SEQKIT_DATA", str(SHARED))
    data = corpora.data_dir()
    for f in m.files():
        assert corpora.locate(m, f, data=data, download=False) == SHARED / "multi30k" / f.path
    src, tgt = corpora.split_paths(m, "val", "en", data=data, download=False)
    assert (src.name, tgt.name) == ("val.en.gz", "val.de.gz")


def test_tatoeba_bundle_verifies_and_holds_the_stated_pairs():
    m = manifests()["tatoeba-de-en"]
    for split in m.splits.values():
        counts = []
        for f in split.files.values():
            path = corpora.locate(m, f, download=False)
            assert path.parent == ROOT / "corpora" / "tatoeba-de-en"
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                counts.append(sum(1 for _ in fh))
        assert counts == [split.pairs, split.pairs], split.name
    folder = ROOT / "corpora" / "tatoeba-de-en"
    assert (folder / "NOTICE.md").is_file() and (folder / "UPSTREAM_about.txt").is_file()
    assert (
        "CC BY 2.0" in (folder / "NOTICE.md").read_text() and "What was changed" in (folder / "NOTICE.md").read_text()
    )
    assert sum(p.stat().st_size for p in folder.iterdir()) < 4_000_000


def test_tatoeba_splits_share_no_sentence_on_either_side():
    m = manifests()["tatoeba-de-en"]
    sides = {}
    for split in m.splits.values():
        for lang, f in split.files.items():
            with gzip.open(corpora.locate(m, f, download=False), "rt", encoding="utf-8") as fh:
                sides[split.name, lang] = {line.rstrip("\n") for line in fh}
    for lang in ("de", "en"):
        train = sides["train", lang]
        assert not train & sides["dev", lang] and not train & sides["test", lang]
        assert not sides["dev", lang] & sides["test", lang]


def test_checksum_mismatch_names_file_and_both_hashes_and_the_file_is_not_used(tmp_path):
    path, sha = write_corpus(tmp_path)
    m = corpora.load_manifest(path)
    data = tmp_path / "data"
    (data / "toy").mkdir(parents=True)
    bad = data / "toy" / "a.de"
    bad.write_bytes(b"tampered\n")
    actual = hashlib.sha256(b"tampered\n").hexdigest()
    with pytest.raises(UserError) as info:
        corpora.locate(m, m.split("train").files["de"], data=data)
    message = str(info.value)
    assert str(bad) in message and f"expected {sha}" in message and f"got {actual}" in message
    assert "not used" in message


def test_missing_file_offline_says_where_to_put_it(tmp_path, monkeypatch):
    path, sha = write_corpus(tmp_path, urls=["https://example.invalid/a"])
    m = corpora.load_manifest(path)
    monkeypatch.setenv("SEQKIT_OFFLINE", "1")
    f = m.split("train").files["en"]
    with pytest.raises(UserError) as info:
        corpora.locate(m, f, data=tmp_path / "data")
    message = str(info.value)
    assert str(tmp_path / "data" / "toy" / "a.en") in message and sha in message and "offline" in message
    assert str(corpora.cache_root() / "corpora" / "toy" / "a.en") in message
    with pytest.raises(UserError, match=r"DATA_DIR/toy/a.en \(set \$SEQKIT_DATA or --data-dir\)"):
        corpora.locate(m, f)


def test_data_dir_flag_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path / "env"))
    assert corpora.data_dir() == tmp_path / "env"
    assert corpora.data_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("SEQKIT_DATA")
    assert corpora.data_dir() is None


# ---- downloads --------------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_dir(tmp_path):
    """A folder served on 127.0.0.1 for the length of one test: yields (folder, base URL)."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=folder))
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_missing_file_is_downloaded_into_the_cache_verified_and_reused(tmp_path, http_dir):
    served, base = http_dir
    content = b"ein satz\nnoch einer\n"
    (served / "a.de").write_bytes(content)
    path, _ = write_corpus(tmp_path, urls=[f"{base}/a.de"], content=content)
    m = corpora.load_manifest(path)
    f = m.split("train").files["de"]
    seen = []
    got = corpora.locate(m, f, progress=lambda done, total: seen.append((done, total)))
    assert got == corpora.cache_root() / "corpora" / "toy" / "a.de" and got.read_bytes() == content
    assert seen[-1] == (len(content), len(content))
    (served / "a.de").unlink()
    assert corpora.locate(m, f) == got  # from the cache, no download
    assert [p.name for p in got.parent.iterdir()] == ["a.de"]  # no temporary files left behind


def test_download_with_the_wrong_bytes_is_rejected_and_not_kept(tmp_path, http_dir):
    served, base = http_dir
    (served / "a.de").write_bytes(b"something else\n")
    path, sha = write_corpus(tmp_path, urls=[f"{base}/a.de"])
    m = corpora.load_manifest(path)
    with pytest.raises(UserError, match=f"sha256 mismatch: expected {sha}, got [0-9a-f]{{64}}; not saved"):
        corpora.locate(m, m.split("train").files["de"])
    cache = corpora.cache_root() / "corpora" / "toy"
    assert not cache.exists() or not list(cache.iterdir())


def test_failed_download_tries_every_url_then_says_where_to_put_the_file(tmp_path, http_dir):
    served, base = http_dir
    content = b"x\n"
    (served / "mirror.de").write_bytes(content)
    path, _ = write_corpus(tmp_path, urls=[f"{base}/gone.de", f"{base}/mirror.de"], content=content)
    m = corpora.load_manifest(path)
    assert corpora.locate(m, m.split("train").files["de"]).read_bytes() == content  # second URL
    path, _ = write_corpus(tmp_path, name="toy2", urls=[f"{base}/gone.de"], content=content)
    m = corpora.load_manifest(path)
    with pytest.raises(UserError, match=r"toy2: a.de .* is missing; put it at .*download failed: .*404"):
        corpora.locate(m, m.split("train").files["de"])


def test_file_urls_work_too(tmp_path):
    source = tmp_path / "upstream.en"
    source.write_bytes(b"hallo\nwelt\n")
    path, _ = write_corpus(tmp_path, urls=[source.as_uri()])
    m = corpora.load_manifest(path)
    assert corpora.locate(m, m.split("train").files["en"]).read_bytes() == b"hallo\nwelt\n"
