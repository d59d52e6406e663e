"""Tests of the benchmark's machinery: twins, timing bookkeeping, FLOP counts, the report.

They check that what the benchmark compares is comparable (the PyTorch twin computes the
same outputs and takes the same optimizer step) and that its results file is what the
docs read. No test times anything or asserts a speed: speed belongs to the benchmark run.

    NNOTT_DEVICE=cpu python -m pytest benchmarks/tests -q
    NNOTT_DEVICE=emulated python -m pytest benchmarks/tests -q
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import numpy
import pytest

from nnott.backend import seed, to_cpu, to_device
from nnott.cnn.architectures import get_architecture, list_architectures
from nnott.cnn.summary import summary
from nnott.vectorized import Module, mlp

ROOT = Path(__file__).resolve().parents[2]


def _torch() -> Any:
    return pytest.importorskip("torch")


# ------------------------------------------------------------------------------ twins


def test_mlp_twin_takes_the_same_training_step() -> None:
    torch = _torch()
    from steps import host_batches, nnott_step, torch_step
    from twin import check_twin, torch_twin

    seed(3)
    model = mlp(12, [8, 6], 3)
    twin = torch_twin(model, torch)
    batches = host_batches(2, 5, (12,), num_classes=3)
    assert check_twin(model, twin, to_device(batches[0][0]), torch) < 1e-5
    ours, theirs = nnott_step(model, batches), torch_step(torch, twin, batches, "cpu")
    for index in range(2):  # the second step uses the momentum buffers
        ours(index)
        theirs(index)
    pairs = zip(model.named_parameters(), twin.named_parameters(), strict=True)
    for (name, parameter), (torch_name, torch_parameter) in pairs:
        assert name == torch_name  # "1.weight": Sequential numbers its layers in both
        numpy.testing.assert_allclose(
            to_cpu(parameter.data), torch_parameter.detach().numpy(), rtol=1e-4, atol=1e-6
        )


@pytest.mark.parametrize("name", ["lenet", "baseline", "resnet18"])
def test_cnn_twins_compute_the_same_outputs(name: str) -> None:
    torch = _torch()
    from twin import check_twin, torch_twin

    seed(0)
    model = get_architecture(name).build(width=0.25)  # narrow: the same layers, fewer channels
    x = to_device(numpy.random.default_rng(0).standard_normal((3, 1, 28, 28)), dtype="float32")
    assert check_twin(model, torch_twin(model, torch), x, torch) < 1e-4


def test_a_layer_without_a_twin_is_named() -> None:
    torch = _torch()
    from twin import NoTwinError, torch_twin

    class Mystery(Module):
        pass

    with pytest.raises(NoTwinError, match="Mystery"):
        torch_twin(Mystery(), torch)


def test_a_twin_that_computes_something_else_is_refused() -> None:
    torch = _torch()
    from twin import NoTwinError, check_twin, torch_twin

    seed(0)
    model = mlp(6, [4], 2)
    twin = torch_twin(model, torch)
    with torch.no_grad():
        twin[1].weight.add_(1.0)
    x = to_device(numpy.ones((2, 6), dtype=numpy.float32))
    with pytest.raises(NoTwinError, match="differ"):
        check_twin(model, twin, x, torch)


# ----------------------------------------------------------------------------- timing


def test_compare_throughput_interleaves_and_counts_steps() -> None:
    from timing import Contestant, compare_throughput, paired_ratio

    calls: list[str] = []
    contestants = {
        "a": Contestant(lambda i: calls.append("a"), samples_per_step=4),
        "b": Contestant(lambda i: calls.append("b"), samples_per_step=2, steps=3),
    }
    results = compare_throughput(
        contestants, steps=5, repeats=3, warmup=2, settle_seconds=0, rewarm=0
    )
    assert calls.count("a") == 2 + 3 * 5 and calls.count("b") == 2 + 3 * 3
    timed = calls[4:]  # after the warm-ups: a-block, b-block, then reversed, then again
    blocks = [timed[:5], timed[5:8], timed[8:11], timed[11:16]]
    assert [set(block) for block in blocks] == [{"a"}, {"b"}, {"b"}, {"a"}]
    assert len(results["a"].runs) == 3 and results["a"].steps_per_run == 5
    assert results["b"].steps_per_run == 3 and results["b"].samples_per_step == 2
    assert results["a"].samples_per_s == sorted(results["a"].runs)[1]
    ratios = sorted(x / y for x, y in zip(results["a"].runs, results["b"].runs, strict=True))
    assert paired_ratio(results["a"], results["b"]) == ratios[1]


def test_every_timed_run_follows_a_pause_and_a_rewarm_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import timing

    events: list[object] = []
    monkeypatch.setattr(timing.time, "sleep", lambda seconds: events.append(seconds))
    contestants = {
        name: timing.Contestant(lambda i, name=name: events.append(name), samples_per_step=1)
        for name in ("a", "b")
    }
    results = timing.compare_throughput(
        contestants, steps=2, repeats=2, warmup=1, settle_seconds=0.25, rewarm=1
    )
    after_warmup = events[2:]  # one untimed warm-up step each, then pause, re-warm, 2 timed
    a_run, b_run = [0.25, "a", "a", "a"], [0.25, "b", "b", "b"]
    assert after_warmup == a_run + b_run + b_run + a_run
    assert results["a"].steps_per_run == 2  # the re-warm step is not counted
    assert timing.SETTLE_SECONDS >= 0.2  # OpenBLAS's idle threads spin for about 0.1 s


# ------------------------------------------------------------------------ convolutions


def test_the_roof_is_the_median_of_as_many_calls_as_each_layer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cnn_bench
    from report import Report
    from settings import QUICK

    repeats_asked: list[int] = []

    def fake_median(run: object, *, repeats: int) -> float:
        repeats_asked.append(repeats)
        return 0.5  # seconds, without running anything

    monkeypatch.setattr(cnn_bench, "median_seconds", fake_median)
    roof = cnn_bench.gemm_roof_gflops(100, 7, seconds=cnn_bench.layer_median)
    assert roof == pytest.approx(2e6 / 0.5 / 1e9)
    assert repeats_asked == [7]
    repeats_asked.clear()
    report = Report({}, "test")
    cnn_bench.bench_conv_layers(report, QUICK, "cpu")
    # the roof, then a forward and a backward median per layer, all over the same calls
    layers = report.details["conv_layers"]["layers"]
    assert len(repeats_asked) == 1 + 2 * len(layers)
    assert set(repeats_asked) == {QUICK.layer_repeats}
    roof = report.details["conv_layers"]["roof_gflops"]
    assert roof == pytest.approx(2.0 * QUICK.roof_size**3 / 0.5 / 1e9)


@pytest.mark.parametrize("name", ["lenet", "resnet18"])
def test_convolutions_and_flops_agree_with_the_summary(name: str) -> None:
    from cnn_bench import conv_flops, distinct_convolutions

    seed(0)
    model = get_architecture(name).build(width=0.25)
    uses = distinct_convolutions(model, batch_size=2)
    rows = {row.name: row for row in summary(model, (1, 28, 28), batch_size=2).rows}
    assert sum(len(use.names) for use in uses) == sum(r.kind == "Conv2D" for r in rows.values())
    for use in uses:
        for layer_name in use.names:
            assert conv_flops(use.layer, use.input_shape) == rows[layer_name].flops
    assert not any("forward" in vars(layer) for layer in model.modules())  # unwrapped again


def test_profile_covers_every_layer() -> None:
    from layer_profile import profile_architecture
    from modules import leaf_modules
    from report import Report

    report = Report({"device": "test"}, "test")
    profile_architecture(report, "mlp", steps=2, batch_size=4)
    layers, by_type = report.tables
    seed(0)
    expected = [name for name, _ in leaf_modules(mlp(784, [256, 128], 10))]
    assert [row[0] for row in layers.rows] == expected
    assert {row[0] for row in by_type.rows} >= {"Linear", "ReLU", "(optimizer)"}
    shares = [float(row[-1].rstrip(" %")) for row in by_type.rows]
    assert 0.0 < sum(shares) <= 100.5


# ------------------------------------------------------------------------------ report


def _load_docs_hook() -> Any:
    pytest.importorskip("mkdocs")
    path = ROOT / "docs" / "hooks" / "generated.py"
    spec = importlib.util.spec_from_file_location("docs_generated_hook", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_json_is_what_the_docs_read(tmp_path: Path) -> None:
    from report import Report, Table, Target

    report = Report({"cpu": "test CPU", "threads": 2}, "python benchmarks/run.py --quick")
    table = Table("Throughput", ["network", "samples/s", "ratio"])
    table.add("lenet", 1234.5, "0.81x")
    report.tables.append(table)
    report.targets += [
        Target("lenet vs PyTorch", 0.81, 0.8, "x"),
        Target("resnet18 vs PyTorch", None, 0.5, "x", "torch not installed"),
        Target("accuracy", 87.5, 88.0, "%"),
    ]
    path = report.write_json(tmp_path / "results.json")
    loaded = _load_docs_hook().load_results(path)
    assert [t["title"] for t in loaded["tables"]] == ["Throughput", "Targets"]
    targets = {row[0]: row for row in loaded["tables"][1]["rows"]}
    assert targets["lenet vs PyTorch"][3] == "met"
    assert targets["resnet18 vs PyTorch"][1:] == ["torch not installed", ">= 0.50x", "n/a"]
    assert targets["accuracy"][3] == "NOT met"
    assert [t["met"] for t in loaded["targets"]] == [True, None, False]


def test_table_refuses_a_row_of_the_wrong_width() -> None:
    from report import Table

    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        Table("t", ["a", "b", "c"]).add(1, 2)


def test_cell_text_follows_the_docs_formatting() -> None:
    from report import cell_text

    assert [cell_text(v) for v in (None, 3, 12345, 0.012345, 56789.4, math.nan)] == [
        "-",
        "3",
        "12,345",
        "0.0123",
        "56,789",
        "nan",
    ]


def test_committed_results_cover_every_architecture() -> None:
    """The docs' gallery fails to build when an architecture has no measurement."""
    committed = sorted((ROOT / "docs" / "results").glob("*.json"))
    if not committed:
        pytest.skip("no committed benchmark results yet")
    results = json.loads(committed[-1].read_text())
    _load_docs_hook().load_results(committed[-1])
    names = {arch.name for arch in list_architectures()}
    assert names <= set(results["architectures"]), "run the gallery section and --update-docs"
    for entry in results["architectures"].values():
        assert 0.0 <= entry["test_accuracy"] <= 1.0 and entry["epochs"] >= 1


# ------------------------------------------------------------------------- command line


def test_unknown_sections_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    import run

    with pytest.raises(SystemExit) as stop:
        run.parse_args(["--out", "x", "--only", "mlp,speed"])
    assert stop.value.code == 2
    assert "unknown section(s) speed" in capsys.readouterr().err


def test_quick_runs_no_accuracy_sections() -> None:
    import run

    args = run.parse_args(["--out", "x", "--quick"])
    assert args.only == list(run.QUICK_SECTIONS)
    assert not {"accuracy", "gallery"} & set(args.only)


def test_a_missing_dataset_stops_the_run_before_any_timing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import run

    import nnott.data
    from nnott.errors import DatasetError

    def no_dataset(name: str = "fashion-mnist") -> Any:
        raise DatasetError(f"cannot find dataset {name!r}")

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("no section may run without the dataset")

    monkeypatch.setattr(nnott.data, "load", no_dataset)
    monkeypatch.setattr(run, "run_sections", never)
    assert run.main(["--out", str(tmp_path), "--only", "cnn,accuracy"]) == 2
    assert capsys.readouterr().err.strip() == (
        "benchmarks/run.py: cannot find dataset 'fashion-mnist'"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_failing_section_keeps_what_finished_beside_the_complete_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cnn_bench
    import mlp_bench
    import run
    from report import Table

    import nnott.data
    from nnott.errors import DatasetError

    def memory(report: Any, torch: Any, device: str) -> None:
        table = Table("Memory", ["implementation", "peak (MiB)"])
        table.add("nnott", 776.0)
        report.tables.append(table)

    def accuracy(report: Any, settings: Any) -> None:
        raise DatasetError("train-images-idx3-ubyte.gz is truncated")

    monkeypatch.setattr(nnott.data, "load", lambda name="fashion-mnist": None)
    monkeypatch.setattr(cnn_bench, "bench_memory", memory)
    monkeypatch.setattr(mlp_bench, "bench_mlp_accuracy", accuracy)
    complete = tmp_path / "results.json"
    complete.write_text('{"an earlier": "complete run"}\n')
    assert run.main(["--out", str(tmp_path), "--only", "memory,accuracy"]) == 2
    err = capsys.readouterr().err
    assert "benchmarks/run.py: train-images-idx3-ubyte.gz is truncated" in err
    assert "results-partial.json" in err
    assert complete.read_text() == '{"an earlier": "complete run"}\n'  # never replaced
    partial = json.loads((tmp_path / "results-partial.json").read_text())
    assert [table["title"] for table in partial["tables"]] == ["Memory"]
    assert partial["machine"]["benchmark"] == (
        "stopped: memory done, then train-images-idx3-ubyte.gz is truncated"
    )


def test_a_bare_cpu_name_gets_its_family_and_model(tmp_path: Path) -> None:
    import machine

    bare = tmp_path / "bare"
    bare.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
        "model name\t: AMD EPYC\n\nprocessor\t: 1\ncpu family\t: 26\n"
    )
    assert machine.cpu_model(str(bare)) == "AMD EPYC (family 25, model 17)"
    named = tmp_path / "named"
    named.write_text("cpu family\t: 6\nmodel\t\t: 106\nmodel name\t: Intel(R) Xeon(R) 8375C\n")
    assert machine.cpu_model(str(named)) == "Intel(R) Xeon(R) 8375C"
    assert machine.cpu_model(str(tmp_path / "missing"))  # falls back to platform's answer


# ---------------------------------------------------------------------------- targets


def test_a_measured_target_gives_no_reason_for_missing_and_a_missing_one_does() -> None:
    import dataclasses

    import mlp_bench
    from report import Report
    from settings import QUICK

    tiny = dataclasses.replace(QUICK, repeats=1, warmup=0, mlp_steps=1)
    measured, missing = Report({}, ""), Report({}, "")
    mlp_bench.bench_mlp_torch(measured, tiny, _torch(), "cpu")
    mlp_bench.bench_mlp_torch(missing, tiny, None, "cpu", why_no_torch="torch not installed")
    (target,) = measured.targets
    assert target.measured is not None and target.why == ""
    (absent,) = missing.targets
    assert absent.measured is None and absent.why == "torch not installed"
