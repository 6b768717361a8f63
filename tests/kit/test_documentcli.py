"""The show and set commands ``kit.documentcli`` gives the stage standards, the alert rules and the QA rubric:
stdout carries the document alone (set takes it back), a version can be shown by number, saving the active text
again or a broken one is refused and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import Run

COMMANDS = [(("standards", "show"), ("standards", "set"), "stage standards"),
            (("alerts", "rules", "show"), ("alerts", "rules", "set"), "alert rules"),
            (("qa", "rubric"), ("qa", "set-rubric"), "QA rubric"),
            (("scorecard", "templates", "show"), ("scorecard", "templates", "set"), "scorecard templates")]
IDS = ["standards", "alert-rules", "qa-rubric", "scorecard-templates"]
COMMENT = "# 只加一行注释\n"


@pytest.mark.parametrize("show, save, name", COMMANDS, ids=IDS)
def test_show_set_and_show_a_version(run: Run, tmp_path: Path, show: tuple[str, ...], save: tuple[str, ...],
                                     name: str) -> None:
    first = run(*show)
    assert first.exit_code == 0, first.output
    assert first.stderr.startswith("Version 1 (") and "Version 1" not in first.stdout
    changed = tmp_path / "changed.yaml"
    changed.write_text(first.stdout + COMMENT, encoding="utf-8")
    saved = run(*save, str(changed), "--note", "注释")
    assert saved.exit_code == 0 and "Saved as version 2." in saved.stdout
    now = run(*show)
    assert now.stdout == first.stdout + COMMENT and "注释" in now.stderr
    assert run(*show, "--version", "1").stdout == first.stdout
    again = run(*save, str(changed))
    assert again.exit_code == 1 and "Nothing to save" in again.output
    missing = run(*show, "--version", "9")
    assert missing.exit_code == 1 and f"No {name} version 9." in missing.output


@pytest.mark.parametrize("show, save, name", COMMANDS, ids=IDS)
def test_a_broken_document_is_refused_with_its_line(run: Run, tmp_path: Path, show: tuple[str, ...],
                                                    save: tuple[str, ...], name: str) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(run(*show).stdout + "bogus_key: 1\n", encoding="utf-8")
    refused = run(*save, str(broken))
    assert refused.exit_code == 1 and "bogus_key" in refused.output
    assert run(*show, "--version", "2").exit_code == 1
