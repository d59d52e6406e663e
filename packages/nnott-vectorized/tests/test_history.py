"""History: per-epoch records, columns for plots, JSON and CSV files, best epochs."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from nnott.vectorized.history import History


def sample_history() -> History:
    history = History()
    history.append({"epoch": 1, "train_loss": 1.5, "val_loss": 1.2, "lr": 0.1})
    history.append({"epoch": 2, "train_loss": np.float32(0.75), "val_loss": 0.9, "lr": 0.05})
    history.append({"epoch": 3, "train_loss": 0.5, "val_loss": 1.1, "lr": 0.01, "note": None})
    return history


def test_records_hold_plain_python_numbers():
    history = sample_history()
    assert len(history) == 3
    value = history[1]["train_loss"]
    assert type(value) is float and value == 0.75
    assert type(history[0]["epoch"]) is int


def test_columns_line_up_epochs_and_fill_missing_values_with_none():
    history = sample_history()
    assert history.keys == ["epoch", "train_loss", "val_loss", "lr", "note"]
    assert history.column("val_loss") == [1.2, 0.9, 1.1]
    assert history.column("note") == [None, None, None]
    assert history.columns()["lr"] == [0.1, 0.05, 0.01]
    assert all(math.isnan(value) for value in history.float_columns()["note"])


def test_best_epoch_by_min_or_max_skips_nan():
    history = sample_history()
    history.append({"epoch": 4, "val_loss": math.nan})
    assert history.best_epoch("val_loss") == 2
    assert history.best_epoch("val_loss", mode="max") == 1
    assert history.best_epoch("missing") is None
    with pytest.raises(ValueError):
        history.best_epoch("val_loss", mode="median")


def test_json_round_trip(tmp_path):
    history = sample_history()
    path = history.save_json(tmp_path / "deep" / "history.json")
    loaded = History.from_dict(json.loads(path.read_text()))
    assert loaded.records == history.records


def test_csv_has_a_header_and_one_row_per_epoch(tmp_path):
    path = sample_history().save_csv(tmp_path / "history.csv")
    rows = list(csv.DictReader(path.open()))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert [float(row["val_loss"]) for row in rows] == [1.2, 0.9, 1.1]
    assert rows[0]["note"] == ""  # None is a blank cell, not the text "None"


def test_records_are_copies():
    history = sample_history()
    history.records[0]["train_loss"] = 99.0
    history[0]["train_loss"] = 99.0
    assert history[0]["train_loss"] == 1.5
