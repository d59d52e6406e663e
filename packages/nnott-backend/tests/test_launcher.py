"""The console scripts' launcher: Ctrl-C during the imports is one line and exit 130."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnott.launcher import EXIT_INTERRUPTED, launch
from nnott.testing.scripts import console_script_target, heavy_imports_of


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> str:
    (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_ctrl_c_during_the_import_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    slow = _module(tmp_path, monkeypatch, "interrupted_cli", "raise KeyboardInterrupt\n")
    assert launch(slow, "nnott-demo") == EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "nnott-demo: interrupted\n"


def test_once_imported_main_runs_and_its_code_is_returned(tmp_path, monkeypatch):
    cli = _module(tmp_path, monkeypatch, "demo_cli", "def main():\n    return 7\n")
    assert launch(cli, "nnott-demo") == 7


def test_a_bug_in_the_import_keeps_its_traceback(tmp_path, monkeypatch):
    broken = _module(tmp_path, monkeypatch, "broken_cli", "raise ZeroDivisionError\n")
    with pytest.raises(ZeroDivisionError):
        launch(broken, "nnott-demo")


def test_nnott_data_is_launched_by_a_module_that_imports_nothing_heavy():
    assert console_script_target("nnott-data") == "nnott._data_script:main"
    assert heavy_imports_of("nnott._data_script") == []
    assert heavy_imports_of("nnott.data") != []  # the check can fail
