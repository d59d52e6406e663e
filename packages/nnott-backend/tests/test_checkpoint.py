"""nnott.checkpoint: safetensors + JSON metadata, atomic writes, and refusing unsafe files."""

from __future__ import annotations

import errno
import json
import os
import pickle
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

from nnott import checkpoint
from nnott.backend import count_transfers, to_device, use_emulated
from nnott.checkpoint import (
    Checkpoint,
    WriteError,
    load_checkpoint,
    save_checkpoint,
    write_bytes_atomic,
    write_json_atomic,
)
from nnott.errors import CheckpointError, NnottError

UNPICKLED: list[str] = []


def _record_unpickling() -> str:
    """Runs only if someone unpickles an _Exploit: the loader must never do that."""
    UNPICKLED.append("code ran")
    return "pwned"


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_record_unpickling, ())


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "layers.0.weight": rng.normal(size=(3, 4)).astype(np.float32),
        "layers.0.bias": np.zeros(3, dtype=np.float32),
        "optimizer/adam/layers.0.weight.m": rng.normal(size=(3, 4)),  # float64
        "step_counts": np.array([[1, 2], [3, 4]], dtype=np.int64),
        "scalar": np.array(7.5, dtype=np.float32),
        "strided": np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2],  # not contiguous
    }


METADATA = {
    "epoch": 3,
    "lr": 0.001,
    "best": None,
    "finished": False,
    "history": {"train_loss": [1.25, 0.5], "val_accuracy": [0.5, 0.75]},
    "config": {"hidden_sizes": [32, 16], "activation": "relu"},
}


def test_round_trip_keeps_names_dtypes_values_and_metadata(tmp_path: Path) -> None:
    tensors = _tensors()
    written = save_checkpoint(tmp_path / "run" / "last.safetensors", tensors, METADATA)
    assert written == tmp_path / "run" / "last.safetensors"

    loaded = load_checkpoint(written)

    assert isinstance(loaded, Checkpoint)
    assert loaded.metadata == METADATA
    assert sorted(loaded.tensors) == sorted(tensors)
    for name, original in tensors.items():
        restored = loaded.tensors[name]
        assert isinstance(restored, np.ndarray)
        assert restored.dtype == original.dtype, name
        assert restored.shape == original.shape, name
        np.testing.assert_array_equal(restored, original)


def test_no_temporary_file_is_left_after_saving(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "a.safetensors", _tensors(), METADATA)
    save_checkpoint(tmp_path / "a.safetensors", _tensors(), {"epoch": 4})
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]
    assert load_checkpoint(tmp_path / "a.safetensors").metadata == {"epoch": 4}


def test_device_arrays_are_copied_to_the_host_with_to_cpu(tmp_path: Path) -> None:
    with use_emulated():
        weights = to_device(np.arange(6, dtype=np.float32).reshape(2, 3))
        bias = to_device(np.ones(2, dtype=np.float32))
        with count_transfers() as moved:
            save_checkpoint(tmp_path / "c.safetensors", {"w": weights, "b": bias}, {})
    assert moved.to_cpu_count == 2
    assert moved.to_cpu_bytes == 6 * 4 + 2 * 4
    loaded = load_checkpoint(tmp_path / "c.safetensors")
    np.testing.assert_array_equal(loaded.tensors["w"], np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(loaded.tensors["b"], np.ones(2))


def test_metadata_that_is_not_json_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="not JSON serialisable"):
        save_checkpoint(tmp_path / "x.safetensors", {}, {"model": object()})
    assert list(tmp_path.iterdir()) == []


def test_a_crash_before_the_rename_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "last.safetensors"
    save_checkpoint(target, {"w": np.ones(4, dtype=np.float32)}, {"epoch": 1})
    previous_bytes = target.read_bytes()

    def crash(source: object, destination: object) -> None:
        raise RuntimeError("simulated crash while renaming")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        save_checkpoint(target, {"w": np.zeros(4, dtype=np.float32)}, {"epoch": 2})
    monkeypatch.undo()

    assert target.read_bytes() == previous_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]
    assert load_checkpoint(target).metadata == {"epoch": 1}


def test_ctrl_c_in_the_middle_of_writing_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "history.json"
    write_json_atomic(target, {"epoch": 1})

    def interrupted(descriptor: int) -> None:  # the bytes are written, not yet renamed
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(target, {"epoch": 2})
    monkeypatch.undo()

    assert json.loads(target.read_text()) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


def test_an_unwritable_destination_is_a_checkpoint_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(CheckpointError, match="cannot write checkpoint"):
        save_checkpoint(blocker / "last.safetensors", {"w": np.ones(1)}, {})


def test_a_failed_write_is_one_nnott_error_that_is_also_an_os_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk mid-write: one line naming the file (the command lines print NnottErrors
    that way, and let other errors show a traceback); the old file stays; no temporary."""
    target = tmp_path / "history.json"
    write_json_atomic(target, {"epoch": 1})

    def disk_full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(WriteError) as caught:
        write_json_atomic(target, {"epoch": 2})
    monkeypatch.undo()

    error = caught.value
    assert isinstance(error, NnottError) and isinstance(error, OSError)
    assert error.errno == errno.ENOSPC and error.strerror == os.strerror(errno.ENOSPC)
    assert str(error).startswith(f"cannot write {target}: ") and "\n" not in str(error)
    assert json.loads(target.read_text()) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


def test_a_destination_that_cannot_be_created_is_a_write_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(WriteError, match="cannot write"):
        write_bytes_atomic(blocker / "figure.png", b"png")
    (tmp_path / "history.json").mkdir()  # a directory where the file should go
    with pytest.raises(WriteError, match="cannot write"):
        write_bytes_atomic(tmp_path / "history.json", b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "not-a-directory"]


# ------------------------------------------------------------------ refusing bad files


def _assert_refused(path: Path, match: str) -> None:
    with pytest.raises(CheckpointError, match=match) as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_pickle_is_refused_without_running_it(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"weights": _Exploit()}))
    _assert_refused(path, "pickle")
    assert UNPICKLED == []


def test_a_header_length_whose_first_byte_looks_like_a_pickle_still_loads(
    tmp_path: Path,
) -> None:
    """A safetensors file opens with its header length; about one in 256 lengths starts with
    the byte 0x80, the pickle opcode. Such a checkpoint must load, not be called a pickle."""
    path = tmp_path / "lucky.safetensors"
    for padding in range(256):
        save_checkpoint(path, _tensors(), {**METADATA, "note": "x" * padding})
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no metadata size gave a header length starting with 0x80")

    loaded = load_checkpoint(path)

    assert loaded.metadata["note"] == "x" * padding
    np.testing.assert_array_equal(loaded.tensors["step_counts"], _tensors()["step_counts"])


def test_a_numpy_object_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.npy"
    np.save(path, np.array([_Exploit()], dtype=object), allow_pickle=True)
    _assert_refused(path, "NumPy .npy")
    assert UNPICKLED == []


def test_an_npz_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.array([{"a": 1}], dtype=object))
    _assert_refused(path, "zip archive")


def test_a_torch_checkpoint_is_refused(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(2, 2), "extra": _Exploit()}, path)
    _assert_refused(path, "PyTorch")
    assert UNPICKLED == []


def test_a_safetensors_file_from_elsewhere_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.safetensors"
    safetensors.numpy.save_file({"w": np.ones(2, dtype=np.float32)}, plain)
    _assert_refused(plain, "not written by nnott")

    other = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"w": np.ones(2)}, other, metadata={"format": "pt"})
    _assert_refused(other, "not written by nnott")


def test_a_checkpoint_from_a_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.safetensors"
    marker = {
        "format": checkpoint.FORMAT_NAME,
        "format_version": str(checkpoint.FORMAT_VERSION + 1),
        "nnott_metadata": "{}",
    }
    safetensors.numpy.save_file({"w": np.ones(2)}, path, metadata=marker)
    _assert_refused(path, "newer nnott")


@pytest.mark.parametrize("keep", [0, 5, 40, -3], ids=["empty", "5-bytes", "in-header", "tail"])
def test_a_truncated_checkpoint_is_refused(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "cut.safetensors"
    save_checkpoint(path, {"w": np.arange(10, dtype=np.float32)}, {"epoch": 1})
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    _assert_refused(path, "truncated|corrupt")


def _data_start(data: bytes) -> int:
    """Where the tensor bytes of a safetensors file begin (after its header)."""
    return 8 + struct.unpack("<Q", data[:8])[0]


def test_a_flipped_bit_in_a_tensor_is_refused(tmp_path: Path) -> None:
    """safetensors checks only the layout; a damaged weight would load and poison a run."""
    path = tmp_path / "damaged.safetensors"
    save_checkpoint(path, _tensors(), METADATA)
    data = bytearray(path.read_bytes())
    data[_data_start(data) + 5] ^= 0x01
    path.write_bytes(bytes(data))
    _assert_refused(path, "corrupt.*checksum")


def test_an_edited_metadata_value_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edited.safetensors"
    save_checkpoint(path, _tensors(), METADATA)
    data = path.read_bytes()
    edited = data.replace(b'\\"epoch\\": 3', b'\\"epoch\\": 7')  # same length, valid JSON
    assert edited != data
    path.write_bytes(edited)
    _assert_refused(path, "corrupt.*checksum")


def test_a_checkpoint_written_before_checksums_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.safetensors"
    marker = {
        "format": checkpoint.FORMAT_NAME,
        "format_version": "1",
        "nnott_metadata": json.dumps({"epoch": 2}),
    }
    safetensors.numpy.save_file({"w": np.ones(3, dtype=np.float32)}, path, metadata=marker)
    loaded = load_checkpoint(path)
    assert loaded.metadata == {"epoch": 2}
    np.testing.assert_array_equal(loaded.tensors["w"], np.ones(3, dtype=np.float32))


def test_garbage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(bytes(range(7, 200)) * 3)
    _assert_refused(path, "truncated|corrupt|not a safetensors")


def test_a_missing_file_or_a_directory_is_refused(tmp_path: Path) -> None:
    _assert_refused(tmp_path / "nowhere.safetensors", "not found")
    _assert_refused(tmp_path, "is a directory")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")
def test_a_device_or_a_pipe_is_refused_without_reading_it(tmp_path: Path) -> None:
    """Reading a FIFO would wait for a writer forever (and /dev/zero never ends): such a
    path is refused by what it is, before a byte is read."""
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    _assert_refused(fifo, "is a named pipe, not a checkpoint file")
    _assert_refused(Path(os.devnull), "is a device, not a checkpoint file")


# ------------------------------------------------------------------------ JSON, bytes


def test_write_json_atomic_handles_numpy_values_paths_and_nan(tmp_path: Path) -> None:
    report = {
        "accuracy": np.float32(0.75),
        "count": np.int64(12),
        "confusion": np.array([[1, 2], [3, 4]]),
        "out": tmp_path / "figs",
        "loss": float("nan"),
    }
    written = write_json_atomic(tmp_path / "report.json", report)
    loaded = json.loads(written.read_text())
    assert loaded["accuracy"] == 0.75
    assert loaded["count"] == 12
    assert loaded["confusion"] == [[1, 2], [3, 4]]
    assert loaded["out"] == str(tmp_path / "figs")
    assert loaded["loss"] != loaded["loss"]  # NaN survives the round trip


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    written = write_bytes_atomic(tmp_path / "deep" / "er" / "blob.bin", b"\x00\x01")
    assert written.read_bytes() == b"\x00\x01"
    umask = os.umask(0)
    os.umask(umask)
    assert written.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_symbolic_link_is_followed_and_kept(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "report.json"
    real.write_bytes(b"old")
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    assert write_bytes_atomic(link, b"new") == link
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["report.json"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")
def test_a_device_or_a_pipe_is_written_into_not_replaced(tmp_path: Path) -> None:
    assert write_bytes_atomic(os.devnull, b"nothing") == Path(os.devnull)
    assert Path(os.devnull).is_char_device()  # still the device, not a regular file
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_bytes_atomic(fifo, b"through the pipe")
    reader.join(timeout=10)
    assert received == [b"through the pipe"] and fifo.is_fifo()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pipe"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_device_is_a_write_error() -> None:
    with pytest.raises(WriteError, match="/dev/full"):
        write_bytes_atomic("/dev/full", b"x" * 10)
    assert Path("/dev/full").is_char_device()


def test_a_redirected_stdout_is_written_through_not_replaced(tmp_path: Path) -> None:
    """``--json /dev/stdout >> run.log``: /dev/stdout names run.log. Renaming a new file over
    it lost the log's earlier lines and, into the unlinked old file, the later ones."""
    log = tmp_path / "run.log"
    log.write_text("kept\n")
    program = (
        "from nnott.checkpoint import write_bytes_atomic\n"
        "print('before')\n"
        "write_bytes_atomic('/dev/stdout', b'report\\n')\n"
        "print('after')\n"
    )
    with log.open("ab") as appended:
        subprocess.run([sys.executable, "-c", program], stdout=appended, check=True)
    assert log.read_text() == "kept\nbefore\nreport\nafter\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run.log"]


def test_a_name_near_the_file_system_limit_still_gets_its_temporary(tmp_path: Path) -> None:
    """The temporary file's name once embedded the whole destination name plus 14
    characters: a 250-character report name passed every check and failed at the end."""
    target = tmp_path / ("r" * 250 + ".json")
    assert write_bytes_atomic(target, b"{}") == target
    assert target.read_bytes() == b"{}"
    assert [path.name for path in tmp_path.iterdir()] == [target.name]


def test_a_name_too_long_is_a_write_error_not_a_bare_os_error(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="File name too long"):
        write_bytes_atomic(tmp_path / ("x" * 300), b"{}")


def test_the_write_error_names_the_parent_in_the_way(tmp_path: Path) -> None:
    """mkdir alone says "File exists", which hides that nnott-output is a file."""
    (tmp_path / "nnott-output").write_text("notes")
    with pytest.raises(WriteError, match=r"nnott-output is a file, not a directory"):
        write_bytes_atomic(tmp_path / "nnott-output" / "history.json", b"{}")
    (tmp_path / "runs").symlink_to(tmp_path / "unmounted" / "runs")
    with pytest.raises(WriteError, match=r"runs is a symbolic link to .*, which does not exist"):
        write_bytes_atomic(tmp_path / "runs" / "history.json", b"{}")
    assert (tmp_path / "nnott-output").read_text() == "notes"
    assert not (tmp_path / "unmounted").exists()


def test_a_link_that_loops_is_a_write_error_and_stays(tmp_path: Path) -> None:
    """A looping link once counted as dangling: the new file was renamed over the link."""
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    with pytest.raises(WriteError, match="symbolic links"):
        write_bytes_atomic(loop, b"{}")
    assert loop.is_symlink()
    assert [path.name for path in tmp_path.iterdir()] == ["loop.json"]


def test_a_dangling_link_gets_the_file_it_points_to(tmp_path: Path) -> None:
    link = tmp_path / "latest.json"
    link.symlink_to(tmp_path / "runs" / "7.json")
    write_bytes_atomic(link, b"{}")
    assert link.is_symlink() and (tmp_path / "runs" / "7.json").read_bytes() == b"{}"


def test_creation_obstacle_names_what_stands_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    assert checkpoint.creation_obstacle(tmp_path / "new" / "deeper" / "a.json") is None
    assert checkpoint.creation_obstacle(tmp_path / "notes.txt" / "a" / "b") == (
        f"{tmp_path / 'notes.txt'} is a file, not a directory"
    )
    assert checkpoint.creation_obstacle(tmp_path / "gone" / "a") == (
        f"{tmp_path / 'gone'} is a symbolic link to {tmp_path / 'nowhere'}, which does not exist"
    )
