"""Documentation retrieval: SDK reference extraction, docs-page chunking, BM25 ranking and caching.

One SDK+fixtures index is built per module (a couple of seconds); cache and rebuild tests use docs-only
indexes, which build in milliseconds.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from retrieval import DocsIndex, Passage, clear_memo, default_index
from retrieval.expand import expand_query, identifier_parts
from retrieval.pages import load_page, parse_rst
from retrieval.sdk_reference import field_paths, load_classes, sdk_chunks

FIXTURES = Path(__file__).parent / "fixtures" / "docs"
JOBS_CREATE = "https://docs.databricks.com/api/workspace/jobs/create"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> DocsIndex:
    return DocsIndex.load_or_build(docs_dir=FIXTURES, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def chunks_by_title() -> dict:
    return {c.title.split(" (")[0]: c for c in sdk_chunks()}


def _haystack(p: Passage) -> str:
    return " ".join([p.title, str(p.metadata.get("field", "")), str(p.metadata.get("path", ""))])


# Plain-English requests and the API names at least one of the top 5 passages must be about.
QUERIES = [
    ("run it every weekday at 2am Berlin time", ["quartz_cron_expression", "timezone_id"]),
    ("refresh the dashboard data nightly at midnight UTC", ["quartz_cron_expression", "CronSchedule"]),
    ("I need this to kick off every Sunday evening", ["quartz_cron_expression", "CronSchedule"]),
    ("on a small cluster with 4 workers", ["num_workers"]),
    ("give it a cluster that scales from 2 up to 10 workers", ["min_workers", "max_workers"]),
    ("use r5.large nodes for the workers", ["node_type_id"]),
    ("email me when it fails", ["on_failure"]),
    ("let ops@acme.com know if the run errors out", ["on_failure"]),
    ("send an email when the job succeeds", ["on_success"]),
    ("retry twice with 5 minutes between attempts", ["max_retries", "min_retry_interval_millis"]),
    ("it's flaky, so retry it a few times", ["max_retries"]),
    ("with param env=prod", ["parameters", "base_parameters"]),
    ("pass the run date as a parameter to the notebook", ["base_parameters", "parameters"]),
    ("run when new files land in the volume", ["file_arrival"]),
    ("start processing whenever a file is uploaded to the landing folder", ["file_arrival"]),
    ("run the report task only after the ingest task has finished", ["depends_on"]),
    ("the load step depends on the extract step", ["depends_on"]),
    ("stop the job if it takes longer than two hours", ["timeout_seconds"]),
    ("set a timeout of 45 minutes", ["timeout_seconds"]),
    ("never run two copies of this job concurrently", ["max_concurrent_runs"]),
    ("allow up to 3 runs in parallel", ["max_concurrent_runs"]),
    ("run it on serverless, I don't want to manage a cluster", ["environment_key", "environments"]),
    ("tag the job with team=finance", ["tags"]),
    ("label it with our cost center", ["tags"]),
    ("let the data-eng group manage the job", ["access_control_list", "permission"]),
    ("run as the etl service principal", ["run_as", "service_principal_name"]),
    ("run the notebook at /Repos/etl/main", ["notebook_path"]),
    ("keep the job always running", ["continuous"]),
    ("install numpy from PyPI for the task", ["pypi", "libraries"]),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_plain_english_requests_find_the_right_field(index: DocsIndex, query: str, expected: list[str]):
    top = index.search(query, k=5)
    assert top, query
    assert any(name in _haystack(p) for p in top for name in expected), [p.title for p in top]


def test_api_spelling_and_split_spelling_match_each_other(index: DocsIndex):
    assert identifier_parts("quartz_cron_expression JobSettings") == "quartz cron expression job settings"
    for query in ("quartz_cron_expression", "quartz cron expression"):
        assert index.search(query, k=3)[0].metadata.get("field") == "quartz_cron_expression"
    assert "min_retry_interval_millis" in expand_query("retry it later")


def test_field_path_queries(index: DocsIndex):
    top = index.search("tasks[].new_cluster.autoscale.min_workers", k=3)
    found = {(p.metadata.get("class"), p.metadata.get("field")) for p in top}
    assert ("AutoScale", "min_workers") in found


def test_passages_carry_citation_fields(index: DocsIndex):
    p = index.search("email me when it fails", k=1)[0]
    assert isinstance(p.score, float) and p.score > 0
    assert p.source == "sdk" and p.url == JOBS_CREATE and p.text
    assert p.metadata["kind"] == "field" and p.metadata["class"] and p.metadata["field"] == "on_failure"
    assert not {"title", "url", "source", "terms"} & p.metadata.keys()


def test_search_edge_cases(index: DocsIndex):
    assert index.search("   ") == []
    assert index.search("cluster", k=0) == []
    assert len(index.search("cluster workers", k=7)) == 7
    assert index.size > 1000


def test_sdk_reference_from_source(chunks_by_title: dict):
    quartz = chunks_by_title["CronSchedule.quartz_cron_expression"]
    assert "Quartz" in quartz.text and "schedule.quartz_cron_expression" in quartz.title
    assert quartz.metadata == {"class": "CronSchedule", "module": "jobs", "kind": "field",
                               "field": "quartz_cron_expression", "type": "str",
                               "path": "schedule.quartz_cron_expression"}
    assert chunks_by_title["JobSettings.schedule"].url == JOBS_CREATE
    assert "quartz_cron_expression" in chunks_by_title["CronSchedule"].text  # type chunk lists fields
    assert "UNPAUSED" in chunks_by_title["PauseStatus"].text and chunks_by_title["PauseStatus"].metadata[
        "kind"] == "enum"
    assert chunks_by_title["AutoScale.min_workers"].url.endswith("/clusters/create")
    run_now = chunks_by_title["JobsAPI.run_now"]
    assert run_now.url.endswith("/jobs/runnow") and run_now.metadata["kind"] == "method"
    assert ":param" not in run_now.text
    assert chunks_by_title["PermissionsAPI.set"].url == "https://docs.databricks.com/api/workspace/permissions/set"
    assert chunks_by_title["JobAccessControlRequest"].metadata["module"] == "jobs"


def test_field_paths_walk_from_job_settings():
    paths = {p for found in field_paths(load_classes()).values() for p in found}
    for expected in ("schedule.quartz_cron_expression", "tasks[].notebook_task.notebook_path",
                     "email_notifications.on_failure", "tasks[].new_cluster.autoscale.min_workers",
                     "tasks[].depends_on", "trigger.file_arrival.url"):
        assert expected in paths


def test_markdown_pages_split_by_heading():
    chunks = load_page(FIXTURES / "scheduling.md", FIXTURES)
    by_path = {c.metadata["heading_path"]: c for c in chunks}
    assert set(by_path) == {"Scheduling jobs", "Scheduling jobs > Cron schedules",
                            "Scheduling jobs > Cron schedules > Pausing a schedule",
                            "Scheduling jobs > Continuous jobs"}
    pausing = by_path["Scheduling jobs > Cron schedules > Pausing a schedule"]
    assert pausing.title == "Scheduling jobs > Cron schedules > Pausing a schedule"
    assert pausing.url == "https://docs.example.test/jobs/scheduling"
    assert pausing.source == "docs" and pausing.metadata["page_title"] == "Scheduling jobs"
    assert "# Not a heading" in by_path["Scheduling jobs > Cron schedules"].text  # fenced code stays put

    retries = load_page(FIXTURES / "guides" / "retries.md", FIXTURES)
    assert [c.url for c in retries] == ["https://docs.example.test/jobs/retries"]
    assert retries[0].metadata["file"] == "guides/retries.md"


def test_html_pages_drop_chrome_and_split_by_h1_to_h3():
    chunks = load_page(FIXTURES / "alerts.html", FIXTURES)
    assert {c.url for c in chunks} == {"https://docs.example.test/jobs/alerts"}
    assert [c.metadata["heading_path"] for c in chunks] == [
        "Job alerts", "Job alerts > Email on failure", "Job alerts > Email on failure > Skipping noise",
        "Job alerts > Webhooks"]
    assert chunks[1].metadata["page_title"] == "Job alerts | Example Docs"
    assert "email_notifications.on_failure" in chunks[1].text
    assert not any("quokka" in c.text for c in chunks)  # nav, header, footer, aside, script


def test_rst_and_url_fallback(tmp_path: Path):
    meta, sections = parse_rst("Jobs\n====\n\nIntro.\n\nRetries\n-------\n\nSet max_retries.\n")
    assert [(level, heading) for level, heading, _ in sections] == [(0, ""), (1, "Jobs"), (2, "Retries")]
    page = tmp_path / "plain.md"
    page.write_text("Just text about clusters.\n", encoding="utf-8")
    [chunk] = load_page(page)
    assert chunk.url.startswith("file://") and chunk.title == "plain"


def test_docs_pages_are_searchable_with_their_citation(index: DocsIndex):
    top = index.search("what does the wombat team get mailed on failure", k=5)
    hit = next(p for p in top if p.source == "docs")
    assert hit.url == "https://docs.example.test/jobs/alerts"
    assert hit.metadata["heading_path"] == "Job alerts > Email on failure"
    pausing = index.search("zanzibar timetable pause", k=3)[0]
    assert pausing.metadata["heading_path"].endswith("Pausing a schedule")


def test_second_load_comes_from_disk_cache_and_memo(tmp_path: Path):
    docs = tmp_path / "docs"
    shutil.copytree(FIXTURES, docs)
    cache = tmp_path / "cache"
    first = DocsIndex.load_or_build(docs_dir=docs, cache_dir=cache, include_sdk=False)
    assert not first.built_from_cache and first.size > 5
    assert DocsIndex.load_or_build(docs_dir=docs, cache_dir=cache, include_sdk=False) is first  # memo

    clear_memo()
    second = DocsIndex.load_or_build(docs_dir=docs, cache_dir=cache, include_sdk=False)
    assert second.built_from_cache and second is not first
    assert (second.fingerprint, second.size) == (first.fingerprint, first.size)
    assert [p.title for p in second.search("retry policy")] == [p.title for p in first.search("retry policy")]


def test_changed_docs_dir_rebuilds(tmp_path: Path):
    docs = tmp_path / "docs"
    shutil.copytree(FIXTURES, docs)
    cache = tmp_path / "cache"
    before = DocsIndex.load_or_build(docs_dir=docs, cache_dir=cache, include_sdk=False)
    (docs / "guides" / "new.md").write_text("# Narwhal guide\n\n## Setup\n\nNarwhal steps.\n", "utf-8")
    clear_memo()
    after = DocsIndex.load_or_build(docs_dir=docs, cache_dir=cache, include_sdk=False)
    assert after.fingerprint != before.fingerprint and not after.built_from_cache
    assert after.search("narwhal")[0].title == "Narwhal guide > Setup"
    assert before.search("narwhal") == []


def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    cache = tmp_path / "cache"
    built = DocsIndex.load_or_build(docs_dir=FIXTURES, cache_dir=cache, include_sdk=False)
    (built.cache_path / "corpus.jsonl").write_text("{not json", encoding="utf-8")
    clear_memo()
    with caplog.at_level(logging.WARNING, logger="retrieval"):
        again = DocsIndex.load_or_build(docs_dir=FIXTURES, cache_dir=cache, include_sdk=False)
    assert not again.built_from_cache and "unusable" in caplog.text
    assert again.search("webhooks notification destination")[0].url == "https://docs.example.test/jobs/alerts"
    clear_memo()
    assert DocsIndex.load_or_build(docs_dir=FIXTURES, cache_dir=cache, include_sdk=False).built_from_cache


def test_missing_docs_dir_and_empty_corpus(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="retrieval"):
        empty = DocsIndex.load_or_build(docs_dir=tmp_path / "nope", cache_dir=tmp_path / "cache",
                                        include_sdk=False)
    assert empty.size == 0 and empty.search("anything") == []
    assert "does not exist" in caplog.text


def test_default_index_reuses_the_cached_project_index(index: DocsIndex):
    again = default_index(index.cache_path.parent.parent, FIXTURES)
    assert again.fingerprint == index.fingerprint
    assert again is index or again.built_from_cache


def test_repeated_searches_come_from_memory_as_fresh_passages(tmp_path: Path):
    built = DocsIndex.load_or_build(docs_dir=FIXTURES, cache_dir=tmp_path / "cache", include_sdk=False)
    first = built.search("retry policy", k=3)
    first[0].metadata["scribbled"] = True  # a caller's changes never reach the next caller
    again = built.search("retry policy", k=3)
    assert again == built.search("retry policy", k=3) and "scribbled" not in again[0].metadata
    assert again and again[0] is not first[0]
    assert [p.title for p in built.search("retry policy", k=2)] == [p.title for p in again[:2]]  # k: its own

    clear_memo()
    searching = DocsIndex.load_or_build(docs_dir=FIXTURES, cache_dir=tmp_path / "cache", include_sdk=False)
    searching.results_kept = 0  # no memory: every search runs BM25, with the same answer
    assert searching.search("retry policy", k=3) == again
    assert searching.search("retry policy", k=3) == again

    built.results_kept = 2
    for query in ("retry policy", "webhooks", "narwhal", "timeout"):
        built.search(query)
    assert [q for q, _ in built._results] == ["narwhal", "timeout"]  # the least recently used go first
    built.forget_results()
    assert not built._results and built.search("retry policy", k=3) == again
