"""Code in a Git repository: `git_source`, and tasks whose paths are relative to the repository root.

Read right after the entities: a relative path ("notebooks/etl/ingest") is only a task once a repository
is named, and the ref ("tag v1.2", "commit abc123") must not reach the number-reading grammars. The
provider comes from the URL's host (or the words naming it); the Jobs API needs exactly one of branch, tag
or commit, so a repository without one is a question, never a guessed "main".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead.anchor import Anchor
from agent.techlead.leftover import FILLER
from agent.techlead.scan import Entity, Scan, basename

# host → GitProvider value (databricks.sdk.service.jobs.GitProvider)
_HOSTS = (
    (r"(?:www\.)?github\.com", "gitHub"),
    (r"(?:www\.)?gitlab\.com", "gitLab"),
    (r"(?:www\.)?bitbucket\.org", "bitbucketCloud"),
    (r"(?:[\w-]+\.)*dev\.azure\.com|[\w-]+\.visualstudio\.com", "azureDevOpsServices"),
    (r"git-codecommit\.[\w-]+\.amazonaws\.com", "awsCodeCommit"),
    (r"[\w.-]*github[\w.-]*", "gitHubEnterprise"),
    (r"[\w.-]*gitlab[\w.-]*", "gitLabEnterpriseEdition"),
    (r"[\w.-]*bitbucket[\w.-]*", "bitbucketServer"),
)
# words naming a provider, most specific first
_NAMES = (
    (r"github\s+enterprise(?:\s+server)?|ghe", "gitHubEnterprise"),
    (
        r"gitlab\s+(?:enterprise(?:\s+edition)?|self[\s-]?(?:managed|hosted)|ee)|self[\s-]?(?:managed|hosted)"
        r"\s+gitlab",
        "gitLabEnterpriseEdition",
    ),
    (r"bitbucket\s+(?:server|data\s+center)", "bitbucketServer"),
    (r"azure\s+devops(?:\s+services)?|azure\s+repos|ado", "azureDevOpsServices"),
    (r"(?:aws\s+)?code\s?commit", "awsCodeCommit"),
    (r"github", "gitHub"),
    (r"gitlab", "gitLab"),
    (r"bitbucket(?:\s+cloud)?", "bitbucketCloud"),
)
_NAME = "|".join(rx for rx, _ in _NAMES)
_LEAD = re.compile(
    r"(?:\b(?:code|source|it)\s+(?:is\s+|lives\s+|sits\s+)?)?"
    rf"(?:\b(?:from|in|of|on|at|using|use|with)\s+)?(?:(?:our|the|my|a|this|that)\s+)?(?:(?:{_NAME})\s+)?"
    r"(?:\bgit\s+)?(?:\b(?:repo(?:sitory)?|git)(?:\s+url)?)?\s*(?:[:=]\s*)?$",
    re.I,
)
_CUE = re.compile(r"\b(?:repo(?:sitory)?|git)\b", re.I)
_NOT_CODE = re.compile(r"\b(?:pypi|pip|maven|index|mirror|artifactory|nexus)\b[^.;\n]{0,30}$", re.I)
_BARE_HOST = re.compile(
    r"(?<![\w./@:-])(?:www\.)?(?:github\.com|gitlab\.com|bitbucket\.org|dev\.azure\.com)"
    r"/[^\s'\"`<>,;()\[\]{}|]+",
    re.I,
)
_SSH = re.compile(
    r"(?<![\w.-])(?:ssh://)?[\w.-]+@(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?::\d+)?[:/]"
    r"(?P<path>[\w.~-]+(?:/[\w.~-]+)*\.git|[\w.~-]+(?:/[\w.~-]+)+)",
)
_Q = r"[`'\"]?"
_AT = r"(?:(?:pin(?:ned)?\s+(?:it\s+)?to|on|from|using|use|at|of|to)\s+)?"
_REF = r"[\w][\w./-]*[\w]|\w"
_BRANCH = re.compile(
    rf"\b{_AT}(?:the\s+)?(?:git[\s_-]*)?branch\s*(?:[:=]|is|named|called)?\s*"
    rf"{_Q}(?P<b>{_REF}){_Q}",
    re.I,
)
# "the dev branch": one space before "branch", so a word before a blanked URL is never read as the name
_NAMED_BRANCH = re.compile(
    rf"\b{_AT}(?:the\s+|its\s+)?{_Q}(?P<b>(?!(?:the|a|same|default|git|"
    rf"new|other|that|this|which|what|its|any|some|another)\b)[A-Za-z][\w./-]*){_Q}[ \t]branch\b",
    re.I,
)
_TAG = re.compile(
    rf"\b{_AT}(?:the\s+)?(?:git[\s_-]*|release[\s_-]*)?tag\s*(?:[:=]|is)?\s*"
    rf"{_Q}(?P<t>[\w.-]*\d[\w./-]*){_Q}(?![\w=:])",
    re.I,
)
_COMMIT = re.compile(
    rf"\b{_AT}(?:the\s+)?"
    rf"(?:git[\s_-]*)?(?:commit|sha|revision|rev)(?:\s+(?:hash|id|sha))?\s*(?:[:=]|is)?\s*"
    rf"{_Q}(?P<c>[0-9a-f]{{6,40}}){_Q}\b",
    re.I,
)
# Paths relative to the repository root: "notebooks/etl/ingest", "jobs/load.py", "load.py".
_RELATIVE = re.compile(
    r"(?<![\w/:.@~$-])(?:\./)?(?P<p>[A-Za-z_][\w.-]*(?:/[\w.-]+)+/?|[A-Za-z_][\w-]*\.(?:py|sql|ipynb|scala|r))"
    r"(?![\w/])",
)
_NOT_PATHS = {"and/or", "w/o", "n/a", "i/o", "on/off", "yes/no", "y/n", "a/b", "24/7"}
_NOT_CODE_FILES = re.compile(r"\.(?:whl|jar|txt|ya?ml|json|csv|parquet|md|egg|zip)$", re.I)
_REFS = ("git_branch", "git_tag", "git_commit")


@dataclass
class Repo:
    url: str | None
    provider: str | None
    refs: dict[str, str] = field(default_factory=dict)  # git_branch / git_tag / git_commit as said
    paths: list[Entity] = field(default_factory=list)  # relative paths (entities of kind "path")
    current: dict | None = None  # the job's git_source, on a change
    workspace: list[str] = field(default_factory=list)  # the job's tasks that run workspace paths
    notes: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)

    def attach(self, anchors: list[Anchor], draft) -> None:
        """Relative paths no other grammar took become notebooks; every task gets its source, the job
        its git_source."""
        for e in self.paths:
            if not e.used:
                e.used = True
                body = {"notebook_task": {"notebook_path": e.value}}
                anchors.append(
                    Anchor("notebook", e.start, e.end, body, basename(e.value), e.value, source=e.value)
                )
        anchors.sort(key=lambda a: a.start)
        for a in anchors:
            self._source(a, draft)
        draft.topic("git")
        said = self.url is not None or bool(self.refs)  # else: a task added to a job already on Git
        source = self._git_source() if said else None
        moved = source is not None and source != self.current
        if moved and self.workspace and not any(a.source and not a.source.startswith("/") for a in anchors):
            self.notes.append(
                f"{', '.join(self.workspace)} keep{'s' if len(self.workspace) == 1 else ''} running "
                "workspace paths (source WORKSPACE); give their paths in the repository to run them from Git."
            )
        draft.assume(*self.notes)
        draft.ask(*self.questions)
        if self.questions or (said and source is None):
            draft.blocked = True
        if moved:
            draft.set("git_source", source)

    def _source(self, a: Anchor, draft) -> None:
        where = {"notebook": "notebook_task", "python": "spark_python_task", "dbt": "dbt_task"}.get(a.kind)
        body = a.body.get(where) if where else (a.body.get("sql_task") or {}).get("file")
        if body is None:
            return
        path = (
            body.get("notebook_path")
            or body.get("python_file")
            or body.get("project_directory")
            or (body.get("path") if a.kind == "sql" else None)
        )
        if a.kind == "dbt" and path is None:
            a.missing = [q for q in a.missing if "dbt project" not in q]
            draft.assume("The dbt project is at the root of the repository (say “project <folder>” if not).")
        if path and path.startswith("/"):
            body["source"] = "WORKSPACE"
            draft.assume(f"{path} is a workspace path: that task keeps source WORKSPACE, not the repository.")
        else:
            body["source"] = "GIT"

    def _git_source(self) -> dict | None:
        if len(self.refs) > 1:
            said = ", ".join(f"{k.removeprefix('git_')} {v}" for k, v in self.refs.items())
            self.questions.append(f"A job checks out one ref, and {said} were given: which one?")
            return None
        if self.current and not self.url:
            if not self.refs:
                return None
            return {**{k: v for k, v in self.current.items() if k not in _REFS}, **self.refs}
        refs = self.refs
        if not refs and self.current:
            refs = {k: self.current[k] for k in _REFS if k in self.current}
            if refs:
                kind, value = next(iter(refs.items()))
                self.notes.append(f"Kept the job's {kind.removeprefix('git_')} {value}.")
        if not refs:
            self.questions.append(
                f"Which branch, tag or commit of {self.url} should the job check out? The Jobs API needs one "
                "(e.g. “branch main”)."
            )
            return None
        if not self.provider:
            self.questions.append(
                f"Which Git provider hosts {self.url}? (GitHub, GitHub Enterprise, GitLab, Bitbucket, Azure "
                "DevOps or AWS CodeCommit)"
            )
            return None
        return {"git_url": self.url, "git_provider": self.provider, **refs}


def read_repo(scan: Scan, base: dict | None) -> Repo | None:
    """The repository named (or the job's own, on a change), its ref and the relative paths in it."""
    current = (base or {}).get("git_source")
    repo = _url(scan)
    if repo is None and current:
        repo = Repo(None, current.get("git_provider"), current=current)
    if repo is None:
        return None
    repo.current = current
    repo.workspace = [t["task_key"] for t in (base or {}).get("tasks", []) if _workspace_path(t)]
    _refs(scan, repo)
    if repo.url is None and not repo.refs and not _has_relative(scan):
        return None
    for m in scan.find(_RELATIVE, 0):
        value = m.group("p").rstrip(".")
        if value.lower() in _NOT_PATHS or _NOT_CODE_FILES.search(value):
            continue
        start = m.start("p")
        e = Entity("path", value.rstrip("/") or value, start, start + len(value))
        scan.entities.append(e)
        scan.consume(e.start, e.end)
        repo.paths.append(e)
    scan.entities.sort(key=lambda e: e.start)
    return repo


def _workspace_path(task: dict) -> bool:
    bodies = [task.get(f) or {} for f in ("notebook_task", "spark_python_task", "dbt_task")]
    bodies.append((task.get("sql_task") or {}).get("file") or {})
    paths = [
        b.get("notebook_path") or b.get("python_file") or b.get("project_directory") or b.get("path")
        for b in bodies
    ]
    return any(
        p and p.startswith("/") and b.get("source") != "GIT" for p, b in zip(paths, bodies, strict=True)
    )


def _has_relative(scan: Scan) -> bool:
    return any(m.group("p").lower() not in _NOT_PATHS for m in scan.find(_RELATIVE, 0))


def _url(scan: Scan) -> Repo | None:
    found: list[tuple[int, int, str, str, Entity | None, str]] = []  # start, end, url, host, entity, note
    for e in scan.of("url"):
        if not e.value.lower().startswith("http"):
            continue
        host = re.sub(r"^https?://(?:[^@/]+@)?", "", e.value).split("/")[0].lower()
        before = scan.masked[max(0, e.start - 50) : e.start]
        known = any(re.fullmatch(rx, host) for rx, _ in _HOSTS[:5])
        cued = known or e.value.endswith(".git") or _CUE.search(before.split(".")[-1]) or _named(host)
        if cued and not _NOT_CODE.search(before):
            found.append((e.start, e.end, e.value, host, e, ""))
    for m in scan.find(_BARE_HOST, 0):  # a Slack link shows only its label: "github.com/acme/x"
        value = m.group(0).rstrip(".,:;!?)]}'\"")
        found.append(
            (m.start(), m.start() + len(value), "https://" + value, value.split("/")[0].lower(), None, "")
        )
    for m in _SSH.finditer(scan.text):  # git@host:org/repo.git (its "git@host" was read as an e-mail)
        if any(e.kind != "email" and e.start < m.end() and m.start() < e.end for e in scan.entities):
            continue
        host, path = m.group("host").lower(), m.group("path")
        if host == "ssh.dev.azure.com":  # git@ssh.dev.azure.com:v3/org/project/repo
            parts = path.split("/")
            if len(parts) != 4:
                continue
            url = f"https://dev.azure.com/{parts[1]}/{parts[2]}/_git/{parts[3]}"
        else:
            url = f"https://{host}/{path}"
        note = f"Databricks clones over HTTPS: {m.group(0)} is read as {url}."
        found.append((m.start(), m.end(), url, host.removeprefix("ssh."), None, note))
    if not found:
        return None
    found.sort(key=lambda f: f[0])
    start, end, url, host, entity, note = found[0]
    if entity is not None:
        entity.used = True
    scan.entities = [e for e in scan.entities if not (e.kind == "email" and start <= e.start < end)]
    scan.consume(start, end)
    lead = _LEAD.search(scan.masked[max(0, start - 60) : start])
    said = lead.group(0) if lead else ""
    if said.strip():
        scan.consume(start - len(said), start)
    trail = re.match(r"\s*\(?\s*(?:git\s+)?repo(?:sitory)?\b\s*\)?", scan.masked[end:], re.I)
    if trail:
        scan.consume(end, end + trail.end())
    typed = url
    url, refs = _ref_in_url(url)
    notes = [note] if note else []
    if refs and "@" in typed[len(url) :]:
        kind, ref = next(iter(refs.items()))
        notes.append(f"Read “@{ref}” as the {kind.removeprefix('git_')} {ref}.")
    repo = Repo(url, _provider(host, said, scan), refs=refs, notes=notes)
    for other in dict.fromkeys(f[2] for f in found[1:] if f[2] != url):
        repo.questions.append(f"A job has one Git repository, and both {url} and {other} were named: which?")
    return repo


def _ref_in_url(url: str) -> tuple[str, dict[str, str]]:
    """ "…/etl/tree/dev" (a branch's page) or "…/etl@v1.2" (pip style) → the repository and its ref."""
    path_at = url.find("/", url.find("//") + 2)
    tree = re.search(r"/(?:-/)?tree/(?P<ref>[^?#\s]+?)/?$", url)
    if tree:
        return url[: tree.start()], {"git_branch": tree.group("ref")}
    at = re.search(r"@(?P<ref>[\w.-]+(?:/[\w.-]+)*)$", url[path_at:]) if path_at > 0 else None
    if not at:
        return url, {}
    ref = at.group("ref")
    kind = (
        "git_commit"
        if re.fullmatch(r"[0-9a-f]{7,40}", ref)
        else "git_tag"
        if re.fullmatch(r"v?\d+(?:\.\d+)+\S*", ref)
        else "git_branch"
    )
    return url[: path_at + at.start()], {kind: ref}


def _named(host: str) -> bool:
    return any(w in host for w in ("github", "gitlab", "bitbucket", "codecommit", "azure"))


def _provider(host: str, said: str, scan: Scan) -> str | None:
    """The host names the provider; words name it for a server of one's own ("our GitHub Enterprise")."""
    by_host = next((value for rx, value in _HOSTS[:5] if re.fullmatch(rx, host)), None)
    for rx, value in _NAMES:
        if re.search(rf"\b(?:{rx})\b", said, re.I) and by_host in (None, value):
            return value
    for rx, value in _NAMES:
        if by_host in (None, value) and scan.take_one(rf"\b(?:{rx})\b(?:\s+(?:server|instance))?"):
            return value
    return by_host or next((value for rx, value in _HOSTS[5:] if re.fullmatch(rx, host)), None)


def _refs(scan: Scan, repo: Repo) -> None:
    for rx, key, group in (
        (_COMMIT, "git_commit", "c"),
        (_TAG, "git_tag", "t"),
        (_BRANCH, "git_branch", "b"),
        (_NAMED_BRANCH, "git_branch", "b"),
    ):
        for m in scan.find(rx):
            if m.group(group).lower() not in FILLER:  # "the dev branch pls": "pls" is no branch
                scan.consume(*m.span())
                repo.refs.setdefault(key, m.group(group))
