from agent.notes import NoteBook, note_filename


def test_entries_round_trip_and_append_only(tmp_path):
    book = NoteBook(tmp_path)
    book.append("C1/1700000000.000100", "request", "t-1", "**alice** asked:\n\n> run it")
    first = book.read("C1/1700000000.000100")
    book.append("C1/1700000000.000100", "plan", "t-1", "```\nPlan: 1 to add\n```")
    text = book.read("C1/1700000000.000100")
    assert text.startswith(first)
    entries = book.entries("C1/1700000000.000100")
    assert [(e.kind, e.task_id) for e in entries] == [("request", "t-1"), ("plan", "t-1")]
    assert entries[1].body == "```\nPlan: 1 to add\n```"


def test_file_names_are_safe_and_distinct(tmp_path):
    names = {note_filename(t) for t in ("../../etc/passwd", "C1/17.1", "C1:17.1", "", "ü" * 300)}
    assert len(names) == 5
    for name in names:
        assert "/" not in name and not name.startswith(".") and name.endswith(".md") and len(name) < 90
    book = NoteBook(tmp_path / "n")
    path = book.append("../../escape", "request", "t-2", "x")
    assert path.parent == tmp_path / "n"
