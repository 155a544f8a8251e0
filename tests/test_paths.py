"""mimo.paths helpers with known answers."""

from __future__ import annotations


def test_log_command_appends_each_command_once_and_keeps_what_was_there(tmp_path):
    from mimo.paths import log_command

    log = tmp_path / "sub" / "command.txt"
    log.parent.mkdir()
    log.write_text("# curated, commented\npython a.py \\\n  --x 1\n")
    log_command(log, "python b.py --y 2")
    log_command(log, "python b.py --y 2")  # already there: not repeated
    log_command(log, "python a.py")  # a prefix of a line is a different command
    assert log.read_text() == "# curated, commented\npython a.py \\\n  --x 1\npython b.py --y 2\npython a.py\n"
    fresh = tmp_path / "new.txt"
    log_command(fresh, "python c.py")
    assert fresh.read_text() == "python c.py\n"
