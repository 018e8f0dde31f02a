"""Remembered searches on disk: a later process answers known queries without opening the retriever.

Docs-only indexes over the fixtures (they build in milliseconds); "a new process" is `clear_memo()` and a
new load, except where imports are checked, which needs a real subprocess.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import retrieval.index as index_module
from retrieval import DocsIndex, clear_memo

FIXTURES = Path(__file__).parent / "fixtures" / "docs"
ROOT = Path(__file__).resolve().parent.parent
SEARCHES = [("retry policy", 3), ("retry policy", 5), ("webhooks notification destination", 5),
            ("zanzibar timetable pause", 1), ("what does the wombat team get mailed on failure", 5),
            ("narwhal", 5), ("cluster workers", 20)]


@pytest.fixture(autouse=True)
def _fresh_memo():
    clear_memo()
    yield
    clear_memo()


def _load(cache: Path) -> DocsIndex:
    return DocsIndex.load_or_build(docs_dir=FIXTURES, cache_dir=cache, include_sdk=False)


def _fresh(cache: Path) -> DocsIndex:
    """What a new process finds."""
    clear_memo()
    return _load(cache)


def _live(cache: Path) -> dict:
    """Every search run by BM25 on a retriever opened from the cache (no memory at all)."""
    index = _fresh(cache)
    index.results_kept = 0
    found = {key: index.search(*key) for key in SEARCHES}
    assert index._retriever is not None
    return found


def test_remembered_answers_equal_live_searches(tmp_path: Path):
    cache = tmp_path / "cache"
    built = _load(cache)
    assert not built.built_from_cache
    from_built = {key: built.search(*key) for key in SEARCHES}
    assert any(from_built.values()) and from_built[("narwhal", 5)] == []
    lines = (built.cache_path / index_module.SEARCHES_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(SEARCHES)

    remembered = _fresh(cache)
    assert remembered.built_from_cache and remembered._retriever is None
    answers = {key: remembered.search(*key) for key in SEARCHES}
    assert remembered._retriever is None  # nothing opened: all answered from the file
    live = _live(cache)
    assert answers == live == from_built
    for key, passages in answers.items():  # same order, scores, metadata, types
        assert [(type(p.score), list(p.metadata)) for p in passages] == [
            (float, list(p.metadata)) for p in live[key]]
        assert len(passages) <= key[1]
    again = _fresh(cache)
    again.search("retry policy", k=3)
    assert len((again.cache_path / index_module.SEARCHES_FILE).read_text().splitlines()) == len(SEARCHES)


def test_a_fresh_process_answers_remembered_queries_without_llama_index(tmp_path: Path):
    cache = tmp_path / "cache"
    built = _load(cache)
    expected = [p.__dict__ for p in built.search("retry policy", k=3)]
    unknown = [p.__dict__ for p in built.search("timeout seconds", k=4)]
    built._persisted.discard(("timeout seconds", 4))  # not written: must be searched by the child
    lines = (built.cache_path / index_module.SEARCHES_FILE).read_text().splitlines()
    (built.cache_path / index_module.SEARCHES_FILE).write_text(lines[0] + "\n")
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from retrieval import DocsIndex\n"
        f"index = DocsIndex.load_or_build(docs_dir=Path({str(FIXTURES)!r}), cache_dir=Path({str(cache)!r}),"
        " include_sdk=False)\n"
        "known = [p.__dict__ for p in index.search('retry policy', k=3)]\n"
        "before = sorted(m for m in ('llama_index.core', 'bm25s') if m in sys.modules)\n"
        "unknown = [p.__dict__ for p in index.search('timeout seconds', k=4)]\n"
        "after = sorted(m for m in ('llama_index.core', 'bm25s') if m in sys.modules)\n"
        "print(json.dumps({'cached': index.built_from_cache, 'known': known, 'before': before,"
        " 'unknown': unknown, 'after': after}))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    child = json.loads(done.stdout.strip().splitlines()[-1])
    assert child["cached"] and child["known"] == expected and child["before"] == []
    assert child["unknown"] == unknown and child["after"] == ["bm25s", "llama_index.core"]


def test_unknown_query_opens_the_retriever(tmp_path: Path):
    cache = tmp_path / "cache"
    built = _load(cache)
    built.search("retry policy", k=3)
    fresh = _fresh(cache)
    assert fresh._retriever is None
    hit = fresh.search("webhooks notification destination")[0]
    assert fresh._retriever is not None and hit.url == "https://docs.example.test/jobs/alerts"
    query = "webhooks notification destination"
    assert fresh.search(query) == built.search(query)


def test_damaged_lines_are_skipped_and_the_file_rewritten(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    cache = tmp_path / "cache"
    built = _load(cache)
    for key in SEARCHES:
        built.search(*key)
    path = built.cache_path / index_module.SEARCHES_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    tampered = json.loads(lines[1])
    tampered["p"][0][3] = "not a score"
    foreign = json.loads(lines[2])
    foreign["v"] = "bm25s=0.0.1"  # answered by another engine version: not ours to serve
    path.write_bytes(b"".join([lines[0], b"garbage\n", b"\xff\xfe\n", json.dumps(tampered).encode() + b"\n",
                               json.dumps(foreign).encode() + b"\n", *lines[3:], lines[1][:40]]))
    with caplog.at_level(logging.WARNING, logger="retrieval"):
        fresh = _fresh(cache)
    assert "damaged lines" in caplog.text
    assert fresh._persisted == {SEARCHES[0], *SEARCHES[3:]}
    rewritten = path.read_bytes()
    assert rewritten.endswith(b"\n") and b"garbage" not in rewritten and len(rewritten.splitlines()) == 5
    assert fresh.search(*SEARCHES[0]) == built.search(*SEARCHES[0]) and fresh._retriever is None
    live = _live(cache)
    assert {key: fresh.search(*key) for key in SEARCHES} == live
    assert len(path.read_bytes().splitlines()) == len(SEARCHES)  # the lost ones were searched and added


def test_unreadable_searches_file_is_not_fatal(tmp_path: Path):
    cache = tmp_path / "cache"
    built = _load(cache)
    (built.cache_path / index_module.SEARCHES_FILE).mkdir()  # neither readable nor appendable
    fresh = _fresh(cache)
    assert fresh.search("retry policy", k=3) == built.search("retry policy", k=3)


def test_damage_found_by_the_first_search_rebuilds(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    cache = tmp_path / "cache"
    built = _load(cache)
    known = built.search("retry policy", k=3)
    corpus_file = built.cache_path / "corpus.jsonl"
    corpus_file.write_bytes(b"x" * corpus_file.stat().st_size)  # same size: the manifest cannot tell
    fresh = _fresh(cache)
    assert fresh.built_from_cache and fresh.search("retry policy", k=3) == known
    with caplog.at_level(logging.WARNING, logger="retrieval"):
        hit = fresh.search("webhooks notification destination")[0]
    assert "unusable" in caplog.text and not fresh.built_from_cache
    assert hit.url == "https://docs.example.test/jobs/alerts"
    assert fresh.search("retry policy", k=3) == known
    after = _fresh(cache)
    assert after.built_from_cache and after.search("webhooks notification destination")[0] == hit
    assert after._retriever is None  # the rebuilt entry remembered it


def test_truncated_cache_file_rebuilds_at_load(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    cache = tmp_path / "cache"
    built = _load(cache)
    (built.cache_path / "vocab.index.json").write_text("{}", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="retrieval"):
        again = _fresh(cache)
    assert "unusable" in caplog.text and not again.built_from_cache and again._retriever is not None


def test_the_file_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cache = tmp_path / "cache"
    built = _load(cache)
    one = len(index_module._search_line(("retry policy", 1), tuple(built.search("retry policy", k=1))))
    monkeypatch.setattr(index_module, "SEARCHES_MAX_BYTES", one * 6)
    path = built.cache_path / index_module.SEARCHES_FILE
    words = ["retry", "policy", "webhooks", "alerts", "email", "failure", "schedule", "pause", "cron",
             "timetable", "zanzibar", "wombat"]
    for word in words:
        built.search(word, k=1)
        assert path.stat().st_size <= one * 8
    fresh = _fresh(cache)
    assert ("wombat", 1) in fresh._persisted and ("retry policy", 1) not in fresh._persisted
    assert fresh.search("wombat", k=1) == built.search("wombat", k=1)


def test_no_memory_means_no_file(tmp_path: Path):
    cache = tmp_path / "cache"
    built = _load(cache)
    built.results_kept = 0
    built.search("retry policy", k=3)
    assert not (built.cache_path / index_module.SEARCHES_FILE).exists()
