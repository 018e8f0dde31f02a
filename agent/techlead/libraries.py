"""Task libraries: PyPI packages, Maven coordinates, wheels, JARs and requirements files.

Read right after the entities, before the tasks and their parameters: "pandas==2.2.0" after a notebook
would otherwise become its parameter, a library wheel a wheel task and a library jar a JAR task. Placed
once the tasks and the compute are known: on the tasks that run on a cluster (or the one named); on
serverless, Python libraries become environment dependencies (see build.compute_for_create). What cannot
be installed where the tasks run is given back unread, so the plan reports it, and a note says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead.leftover import FILLER
from agent.techlead.merge import needs_cluster, needs_environment
from agent.techlead.scan import Entity, Scan, basename
from agent.techlead.typos import KEYWORDS

_OPS = r"(?:===|==|>=|<=|~=|!=|<|>)"
_VER = r"[\w.*+!-]*\w"
_SPEC = rf"[A-Za-z][\w.-]*\w(?:\[[\w,.-]+\])?(?:\s*{_OPS}\s*{_VER}(?:\s*,\s*{_OPS}\s*{_VER})*)?|[A-Za-z]"
_ITEM = re.compile(rf"[`'\"]?(?P<s>{_SPEC})[`'\"]?")
_PINNED = re.compile(r"(?<![\w.-])[A-Za-z][\w.-]*(?:\[[\w,.-]+\])?\s*(?:===|==|>=|<=|~=|!=)\s*\d")
_JOIN = re.compile(r"\s*(?:,|&|\+|\band\b|\bplus\b)?\s*", re.I)
_KINDS = r"(?:packages?|librar(?:y|ies)|libs?|deps|dependenc(?:y|ies)|reqs|modules?)"
_HEAD = re.compile(  # not "dbt deps": a dbt command
    rf"(?<!dbt\s)\b(?:pip3?\s+install(?:\s+(?:-U|--upgrade))?"
    rf"|(?:also\s+)?install\s+(?:the\s+)?(?:(?:python|pypi|pip)\s+)?"
    rf"(?:{_KINDS}\s+)?|(?:python|pypi|pip)\s+{_KINDS}|pypi|librar(?:y|ies)|libs|deps|dependenc(?:y|ies)"
    rf"|packages)\b\s*(?:[:=]\s*)?",
    re.I,
)
_ADD = re.compile(r"\badd\s+(?:the\s+)?(?:(?:python|pypi|pip)\s+)?(?:(?:package|library|lib)s?\s+)?", re.I)
_TAIL = re.compile(
    r"\s*(?:\(\s*(?:from\s+|on\s+)?pypi\s*\)|(?:from|on|via|off|using|through)\s+(?:the\s+)?(?:pypi|pip)\b"
    r"(?:\s+(?:index|repo(?:sitory)?))?)",
    re.I,
)
_INDEX = re.compile(
    r"\s*(?:(?:from|via|using|through|on)\s+)?(?:our\s+|the\s+|a\s+)?(?:private\s+|internal\s+|custom\s+)?"
    r"(?:pypi\s+|pip\s+|maven\s+)?(?:index|mirror|repo(?:sitory)?)(?:\s+url)?\s*(?:at\s+|[:=]\s*)?$",
    re.I,
)
_NOT_NAMES = FILLER | KEYWORDS | {"pypi", "pip", "maven", "wheel", "whl", "jar", "library", "libraries"}
_STRONG = r"(?:(?:pip3?\s+)?install|attach|librar(?:y|ies)|libs?|dependenc(?:y|ies)|deps)"
_LEAD = re.compile(
    rf"(?:\b(?:{_STRONG}|add|with|plus|using|include)\s+(?:the\s+|a\s+)?"
    r"(?:(?:python\s+)?(?:wheel|whl|jar|java)\s+)?(?:(?:library|lib|package|dependency)\s+)?"
    r"(?:(?:wheel|whl|jar)\s+)?(?:file\s+)?(?:from\s+)?(?:[:=]\s*)?"
    r"|\bjar\s+(?:file\s+)?)$",
    re.I,
)
_REQ_LEAD = re.compile(
    r"(?:(?:\bpip3?\s+install\s+)?-r\s*|\b(?:(?:install|with|add|use|using|from)\s+(?:the\s+)?)?"
    r"(?:python\s+|pip\s+)?requirements?(?:\.txt)?(?:\s+file)?\s*(?:(?:at|from|in|is)\s+)?(?:[:=]\s*)?"
    r"|\b(?:pip3?\s+)?install\s+(?:from\s+)?(?:the\s+)?)$",
    re.I,
)
_WHEEL_TASK = re.compile(
    r"\bentry[\s_-]?point\b|\bwheel\s+task\b|\bpackage[\s_-]*name\b|python_wheel_task", re.I
)
_JAR_TASK = re.compile(
    r"\b(?:run|execute|launch|submit)\s+(?:the\s+|a\s+|this\s+)?(?:spark\s+)?jar\s*(?:task\s*)?(?:file\s*)?$",
    re.I,
)
_COORD = r"[A-Za-z][\w.-]*:[A-Za-z][\w.-]*:[\w.+-]*\d[\w.+-]*"
_MAVEN = re.compile(
    r"(?:\b(?:(?:also\s+)?(?:install|add|with|plus|include|using)\s+(?:the\s+)?)?(?:maven|mvn)"
    r"(?:\s+(?:library|lib|package|artifact|coordinates?|dependency|dep|jar)s?)?\s*(?:[:=]\s*)?)?"
    rf"[`'\"]?(?<![\w.:-])(?P<c>{_COORD})(?![\w:])[`'\"]?(?:\s+(?:from|via|on|in)\s+maven(?:\s+central)?\b)?"
    r"(?:\s*\(?\s*(?:excluding|exclude|exclusions?|without)\s*:?\s*"
    r"(?P<ex>[A-Za-z][\w.-]*:[A-Za-z][\w.-]*(?:\s*(?:,|and)\s*[A-Za-z][\w.-]*:[A-Za-z][\w.-]*)*)\s*\)?)?",
    re.I,
)
_TARGET = re.compile(
    r"\s*(?:to|for|on|in|into)\s+(?:the\s+|both\s+|all\s+(?:the\s+)?|every\s+|each\s+)?"
    r"(?P<t>[A-Za-z_][\w.-]*)(?:\s*(?:,|and|&)\s*(?:the\s+)?(?P<t2>[A-Za-z_][\w.-]*))?"
    r"(?:\s+(?:tasks?|notebooks?|steps?|scripts?))?",
    re.I,
)
_ALL = {"tasks", "task", "job", "cluster", "them", "everything", "all", "both", "every", "each"}


@dataclass
class Group:
    """Libraries said together, and the task(s) they were said for ("… to the ingest task")."""

    libs: list[dict] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    target: list[str] = field(default_factory=list)
    target_span: tuple[int, int] | None = None
    tentative: bool = False  # "add requests to the ingest task": libraries only if that task exists


@dataclass
class Libraries:
    groups: list[Group] = field(default_factory=list)

    def attach(self, tasks: list[dict], spec, base: dict | None, update: bool, scan: Scan, draft) -> None:
        """Put each group's libraries on its tasks (new ones directly, the job's own as a patch)."""
        base_tasks = (base or {}).get("tasks", [])
        names = _names(base_tasks + [t for t in tasks if t.get("task_key")])
        placed: dict[str, list[dict]] = {}  # where → libraries, for one note each
        for g in self.groups:
            keys = [names.get(n.lower()) or (n if update and base is None else None) for n in g.target]
            everywhere = not g.target or all(n.lower() in _ALL for n in g.target)
            if g.target and (everywhere or all(keys)):
                scan.consume(*g.target_span)
            chosen = None if everywhere or not all(keys) else set(keys)
            if g.tentative and chosen is None:
                self._unread(g, g.libs, scan)
                continue
            where, libs = self._place(g, chosen, tasks, spec, base, update, scan, draft)
            placed.setdefault(where, []).extend(libs)
        for where, libs in placed.items():
            if libs:
                draft.topic("libraries")
                draft.assume(f"Libraries for {where}: {_said(libs)}.")

    def _place(
        self, g: Group, chosen, tasks, spec, base, update, scan: Scan, draft
    ) -> tuple[str, list[dict]]:
        fresh = [t for t in tasks if t.get("task_key") and needs_cluster(t)]
        new_keys = {t["task_key"] for t in fresh}
        known = [
            t for t in (base or {}).get("tasks", []) if needs_cluster(t) and t["task_key"] not in new_keys
        ]
        known = known if update else []
        targets = [t for t in fresh + known if chosen is None or t["task_key"] in chosen]
        serverless = spec.mode == "serverless" or (
            spec.mode is None and bool(known) and not any(_compute(t) for t in known)
        )
        libs = g.libs
        if serverless:
            java = [lib for lib in libs if "jar" in lib or "maven" in lib]
            if java:
                self._unread(g, java, scan)
                draft.assume(
                    f"Serverless compute cannot install JAR or Maven libraries ({_said(java)}); not added."
                )
                libs = [lib for lib in libs if lib not in java]
            targets = [t for t in targets if needs_environment(t)]
            if not targets and libs:
                self._unread(g, libs, scan)
                draft.assume(
                    f"On serverless only Python, wheel and dbt tasks take libraries (as environment "
                    f"dependencies); a notebook installs its own with %pip. {_said(libs)} not added."
                )
                return "", []
        if not libs:
            return "", []
        if update and base is None:  # the job is not at hand: a patch the caller merges (see merge)
            for key in sorted(chosen) if chosen else [None]:
                _add(_patch(tasks, key), libs)
        elif not targets:
            self._unread(g, libs, scan)
            draft.assume(f"No task here runs on a cluster, so no task can install {_said(libs)}; not added.")
            return "", []
        else:
            for t in targets:
                _add(t if t in fresh else _patch(tasks, t["task_key"]), libs)
        if serverless:
            return "the serverless environment (its dependencies)", libs
        if chosen:
            return ", ".join(sorted(chosen)), libs
        return "every task that runs on the cluster", libs

    @staticmethod
    def _unread(g: Group, libs: list[dict], scan: Scan) -> None:
        """Give a group's words back (a group is one kind: a file, a Maven coordinate or a PyPI list)."""
        for start, end in g.spans + ([g.target_span] if g.target_span else []):
            scan.release(start, end)
        for e in g.entities:
            e.used = False


def _compute(task: dict) -> bool:
    return any(task.get(k) for k in ("job_cluster_key", "existing_cluster_id", "new_cluster"))


def _add(task: dict, libs: list[dict]) -> None:
    have = task.setdefault("libraries", [])
    have += [lib for lib in libs if lib not in have]


def _patch(tasks: list[dict], key: str | None) -> dict:
    """The patch entry for a task of the job (or the keyless template for every task)."""
    for t in tasks:
        if t.get("task_key") == key or (key is None and not t.get("task_key")):
            return t
    t = {"task_key": key} if key else {}
    tasks.append(t)
    return t


def _names(tasks: list[dict]) -> dict[str, str]:
    out: dict[str, str] = {}
    for t in tasks:
        key = t["task_key"]
        out[key.lower()] = key
        src = (
            (t.get("notebook_task") or {}).get("notebook_path")
            or (t.get("spark_python_task") or {}).get("python_file")
            or (t.get("python_wheel_task") or {}).get("package_name")
        )
        if src:
            out.setdefault(basename(src).lower(), key)
    return out


def _said(libs: list[dict]) -> str:
    parts = []
    for lib in libs:
        if "pypi" in lib:
            parts.append(
                f"{lib['pypi']['package']} (PyPI{' ' + lib['pypi']['repo'] if 'repo' in lib['pypi'] else ''})"
            )
        elif "maven" in lib:
            parts.append(f"{lib['maven']['coordinates']} (Maven)")
        elif "requirements" in lib:
            parts.append(f"the requirements in {lib['requirements']}")
        else:
            parts.append(lib.get("whl") or lib.get("jar") or "")
    return ", ".join(parts)


# ------------------------------------------------------------------ reading
def read_libraries(scan: Scan) -> Libraries:
    out = Libraries()
    _files(scan, out)
    _maven(scan, out)
    _pypi(scan, out)
    out.groups.sort(key=lambda g: g.spans[0][0])
    for g in out.groups:
        end = max(e for _, e in g.spans)
        m = _TARGET.match(scan.masked, end)
        if m and m.group(0).strip():
            g.target = [n for n in (m.group("t"), m.group("t2")) if n]
            g.target_span = m.span()
    return out


def _files(scan: Scan, out: Libraries) -> None:
    """Wheels, jars and requirements files named as libraries (a bare .whl stays a wheel task)."""
    wheel_task = bool(_WHEEL_TASK.search(scan.text))
    for e in scan.of("path") + scan.of("url"):
        low = e.value.lower()
        before = scan.masked[max(0, e.start - 60) : e.start]
        lead = _LEAD.search(before)
        if low.endswith(".txt"):
            lead = _REQ_LEAD.search(before)
            if not lead and not basename(low).startswith("requirements"):
                continue
            lib = {"requirements": e.value}
        elif low.endswith(".whl"):
            strong = lead and re.match(rf"\s*\b{_STRONG}", lead.group(0), re.I)
            if not lead or (wheel_task and not strong):
                continue
            lib = {"whl": e.value}
        elif low.endswith(".jar"):
            if not lead or _JAR_TASK.search(before) or re.search(r"\bmain[\s_-]?class\b", scan.text, re.I):
                continue
            lib = {"jar": e.value}
        else:
            continue
        start = e.start - len(lead.group(0)) if lead else e.start
        e.used = True
        scan.consume(start, e.end)
        out.groups.append(Group([lib], [(start, e.end)], [e]))


def _maven(scan: Scan, out: Libraries) -> None:
    for m in scan.take(_MAVEN):
        maven: dict = {"coordinates": m.group("c")}
        if m.group("ex"):
            maven["exclusions"] = re.split(r"\s*(?:,|\band\b)\s*", m.group("ex"))
        group = Group([{"maven": maven}], [m.span()])
        _index(scan, group, m.end(), maven)
        out.groups.append(group)


def _pypi(scan: Scan, out: Libraries) -> None:
    for m in scan.find(_HEAD):
        if scan.masked[m.start() : m.end()].strip():
            _list(scan, out, m.start(), m.end(), bare=True)
    for m in scan.find(_ADD):  # "add requests to the ingest task": a library only for a task named
        items, end = _walk(scan.masked, m.end(), True)
        target = _TARGET.match(scan.masked, end) if items else None
        if target and target.group("t").lower() not in _ALL:
            _list(scan, out, m.start(), m.end(), bare=True)
            out.groups[-1].tentative = True
    for m in scan.find(_TAIL):  # "… requests and pandas from PyPI": the list before it
        clause = re.split(r"[.;:\n]", scan.masked[: m.start()])[-1]
        offset = m.start() - len(clause)
        for w in re.finditer(r"(?:^|(?<=[\s,&+]))[`'\"]?[A-Za-z]", clause):
            items, end = _walk(scan.masked, offset + w.start(), True)
            if items and not scan.masked[end : m.start()].strip():
                _list(scan, out, offset + w.start(), offset + w.start(), bare=True)
                break
    for m in scan.find(_PINNED):
        if scan.masked[m.start() : m.end()].strip():
            _list(scan, out, m.start(), m.start(), bare=False)


def _list(scan: Scan, out: Libraries, start: int, at: int, bare: bool) -> None:
    items, end = _walk(scan.masked, at, bare)
    if not items:
        return
    tail = _TAIL.match(scan.masked, end)
    if tail:
        end = tail.end()
    libs = [{"pypi": {"package": spec}} for spec in items]
    group = Group(libs, [(start, end)])
    for lib in libs:
        _index(scan, group, end, lib["pypi"])
    scan.consume(start, end)
    out.groups.append(group)


def _walk(masked: str, pos: int, bare: bool) -> tuple[list[str], int]:
    """Package specs from `pos` on ("pandas==2.2.0, requests and numpy>=1.26"), and where they end."""
    items: list[str] = []
    end = pos
    while True:
        at = _JOIN.match(masked, end).end() if items else end + _space(masked, end)
        m = _ITEM.match(masked, at)
        if not m:
            break
        spec = re.sub(r"\s+", "", m.group("s"))
        pinned = re.search(_OPS, spec) is not None
        name = re.match(r"[A-Za-z][\w.-]*", spec).group(0).lower()
        if not pinned and (not bare or name in _NOT_NAMES or len(name) < 2):
            break
        items.append(spec)
        end = m.end()
    return items, end


def _space(text: str, pos: int) -> int:
    return len(text[pos:]) - len(text[pos:].lstrip(" \t"))


def _index(scan: Scan, group: Group, end: int, lib: dict) -> None:
    """ "… from our private index https://pypi.acme.io/simple": the repo of the libraries just read."""
    for e in scan.of("url"):
        if e.start >= end and e.start - end <= 60 and _INDEX.search(scan.masked[end : e.start]):
            lib["repo"] = e.value
            e.used = True
            lead = _INDEX.search(scan.masked[end : e.start])
            scan.consume(end + lead.start(), e.end)
            group.spans.append((end + lead.start(), e.end))
            group.entities.append(e)
            return
