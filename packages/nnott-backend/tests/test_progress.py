"""nnott.progress: bars that stay quiet off a terminal, and readable throughput."""

from __future__ import annotations

import io

import pytest

from nnott import progress
from nnott.progress import format_rate, progress_bar, progress_wanted, set_postfix


class _Terminal(io.StringIO):
    """A stderr that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_bar_off_a_terminal_is_silent_but_iterates(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(progress.ENV_VARIABLE, raising=False)
    bar = progress_bar(range(5), desc="epoch 1")
    assert bar.disable
    assert list(bar) == [0, 1, 2, 3, 4]
    set_postfix(bar, loss=0.5)  # a no-op, not an error
    assert capsys.readouterr().err == ""


def test_a_bar_on_a_terminal_shows_its_description(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.delenv(progress.ENV_VARIABLE, raising=False)
    monkeypatch.setattr("sys.stderr", terminal)
    bar = progress_bar(range(3), desc="epoch 2", unit="batch", leave=True)
    assert not bar.disable
    for _ in bar:
        set_postfix(bar, loss=0.43125, rate=format_rate(5120.0))
    bar.close()
    shown = terminal.getvalue()
    assert "epoch 2" in shown
    assert "3/3" in shown
    assert "loss=0.4313" in shown
    assert "rate=5.1k samples/s" in shown


@pytest.mark.parametrize(
    ("setting", "enabled", "terminal", "expected"),
    [
        ("0", True, True, False),  # NNOTT_PROGRESS=0 vetoes even on a terminal
        ("1", True, False, True),  # NNOTT_PROGRESS=1 forces bars into logs
        ("", False, True, False),  # --no-progress
        ("", True, True, True),
        ("", True, False, False),
    ],
)
def test_progress_wanted(
    monkeypatch: pytest.MonkeyPatch, setting: str, enabled: bool, terminal: bool, expected: bool
) -> None:
    monkeypatch.setenv(progress.ENV_VARIABLE, setting)
    monkeypatch.setattr("sys.stderr", _Terminal() if terminal else io.StringIO())
    assert progress_wanted(enabled) is expected
    assert progress_bar(total=4, enabled=enabled).disable is (not expected)


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (0.5, "0.5 samples/s"),
        (43.21, "43.2 samples/s"),
        (999.96, "1.0k samples/s"),
        (56_800.0, "56.8k samples/s"),
        (2_500_000.0, "2.5M samples/s"),
        (float("nan"), "? samples/s"),
    ],
)
def test_format_rate(rate: float, text: str) -> None:
    assert format_rate(rate) == text
