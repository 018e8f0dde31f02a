"""What the grammars did not read: every part of a request is either turned into settings or named.

Each grammar blanks what it consumed (see `scan`), so whatever is still visible at the end, once the
words that carry no request of their own are set aside (filler, connectives, the generic "run a job"),
is a part of the request the plan did not act on. It is reported in the request's own words: a
plausible plan that hides what it did not understand is worse than a question.
"""

from __future__ import annotations

import re

from agent.techlead.scan import Scan

# Words that never carry a request on their own: articles, pronouns, prepositions, connectives,
# politeness, and the generic verbs and nouns of "please create a job that runs …".
FILLER = frozenset(
    """
    a an the this that these those it its it's itself them they their there here we us our ours you your
    i me my mine he she his her him
    and or but nor so then also too plus as well either both each every all any some other others another
    of in on at to for from by with without into onto over under about via per than like
    is are was were be been being am do does did done doing has have had having get gets got getting
    can could would should will shall may might must need needs needed want wants wanted wish
    please pls plz kindly thanks thank thx ty cheers hey hi hello hiya yo ok okay sure great cool awesome
    just only really actually basically simply quick quickly now asap soon today ready good fine nice
    let lets let's go ahead able possible ideally maybe perhaps probably hopefully
    bot jobagent agent assistant team guys folks everyone all y'all
    create creates created creating make makes making made build builds set setup setting sets up new
    add adds adding added define defines put give gives
    run runs running ran execute executes executing executed trigger triggers triggered triggering
    kick kicks kicked off start starts started starting launch launches launched call calls called
    job jobs workflow workflows task tasks step steps thing things stuff one ones
    schedule scheduled scheduling
    notebook notebooks script scripts file files
    which who whom whose what when where while if once after before until till following finally first
    next last afterwards afterward later
    parallel same time together end out
    update updates change changes modify edit tweak adjust alter use uses using switch bump turn push
    replace instead move
    cluster compute project cron tz python sql spark nb w u ur n pl
    against between across within through toward towards upon around along during among beside
    we'll we'd i'd i'll i'm we're you're it'll that's
    a lot lol btw fyi
    should't shouldn't don't doesn't isn't aren't wasn't won't can't cannot not no
    e.g eg i.e ie etc
    """.split()  # noqa: SIM905 - a word list reads best as words
)
_WORD = re.compile(r"[A-Za-z0-9][\w'./@+-]*[\w]|[A-Za-z0-9]")
_CLAUSE = re.compile(r"[.;!?\n]+(?=\s|$)|[;!?\n]|,|\(|\)")
_NEGATION = re.compile(r"(?i)not|no|never|don't|dont|doesn't|won't|without|shouldn't")
_GAP_WORDS = 3  # residual words this many consumed words apart are separate parts of the request


def leftovers(scan: Scan) -> list[str]:
    """The parts of the request no grammar used, in the request's own words, in order."""
    text, masked = scan.text, scan.masked
    out: list[tuple[int, str]] = []
    for e in scan.entities:
        if not e.used:
            out.append((e.start, text[e.start : e.end]))
    entity_spans = [(e.start, e.end) for e in scan.entities]
    start = 0
    bounds = [m.start() for m in _CLAUSE.finditer(text)] + [len(text)]
    for end in bounds:
        out.extend(_clause(text, masked, start, end, entity_spans))
        start = end + 1
    out.sort()
    return list(dict.fromkeys(phrase for _, phrase in out))


def _clause(
    text: str, masked: str, lo: int, hi: int, entities: list[tuple[int, int]]
) -> list[tuple[int, str]]:
    """Groups of unread content words within one clause, each shown as the text it spans."""
    words = []
    for m in _WORD.finditer(text, lo, hi):
        if any(s <= m.start() < e for s, e in entities):
            continue
        unread = masked[m.start() : m.end()] == m.group(0)
        words.append((m.start(), m.end(), m.group(0), unread))
    groups: list[list[tuple[int, int]]] = []
    consumed_since = 0
    for i, (start, end, word, unread) in enumerate(words):
        if not unread:
            consumed_since += 1
            continue
        if _filler(word):
            continue
        if groups and consumed_since <= _GAP_WORDS:
            groups[-1].append((start, end))
        else:
            negation = i and words[i - 1][3] and _NEGATION.fullmatch(words[i - 1][2])
            groups.append([(words[i - 1][0], words[i - 1][1])] if negation else [])
            groups[-1].append((start, end))
        consumed_since = 0
    return [(g[0][0], _tidy(text[g[0][0] : g[-1][1]])) for g in groups]


def unread_words(scan: Scan) -> list[tuple[int, int, str]]:
    """Every word no grammar used and that is not filler (outside paths, URLs and addresses)."""
    inside = [(e.start, e.end) for e in scan.entities]
    return [
        (m.start(), m.end(), m.group(0))
        for m in _WORD.finditer(scan.text)
        if scan.masked[m.start() : m.end()] == m.group(0)
        and not _filler(m.group(0))
        and not any(s <= m.start() < e for s, e in inside)
    ]


def is_read(scan: Scan, start: int, end: int) -> bool:
    return scan.masked[start:end] != scan.text[start:end]


def _filler(word: str) -> bool:
    """Filler, also when typed with stretched letters ("pleaseee", "Hiii", "thatt")."""
    low = word.lower().strip("'")
    return low in FILLER or re.sub(r"(\w)\1+", r"\1", low) in _SQUEEZED or not re.search(r"[a-z0-9]", low)


_SQUEEZED = frozenset(re.sub(r"(\w)\1+", r"\1", w) for w in FILLER)


def _tidy(phrase: str) -> str:
    return " ".join(phrase.split()).strip(" ,.;:-")
