"""Explicit data dirs, damaged files and their repair: nnott.data.verify and fetch.

Three audit findings are pinned down here:

1. a ``--data-dir`` that is a file gave a FileExistsError traceback;
2. a truncated dataset file was reported as present, and ``nnott-data fetch`` advised
   "delete it and fetch it again" without ever replacing it;
3. a wrong explicit ``--data-dir`` was passed over in silence for another copy.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
import shutil
from pathlib import Path

import pytest
from data_helpers import (  # noqa: F401 - fixtures
    FASHION_DIR,
    FILENAMES,
    files_under,
    http_root_fixture,
    isolated_dirs_fixture,
    needs_real_fashion,
    tiny_fixture,
    tiny_spec,
    write_idx,
    write_tiny_dataset,
)

from nnott.data import fetch, info, load, registry, sources, verify
from nnott.data.__main__ import main as data_main
from nnott.data.dataset import ForeignDataError
from nnott.errors import DatasetError

DEAD_MIRROR = "http://127.0.0.1:9"  # the discard port: nothing answers there
DAMAGED = FILENAMES["train_images"]


@pytest.fixture
def mirror(
    tiny: registry.DatasetSpec,
    isolated_dirs: dict[str, Path],
    http_root: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A local HTTP mirror serving the tiny dataset's pinned files; returns their directory."""
    root, url = http_root
    shutil.copytree(isolated_dirs["serve"], root / tiny.name)
    monkeypatch.setenv(sources.MIRROR_ENV, url)
    return isolated_dirs["serve"]


def _copy_with_damage(source: Path, target: Path) -> Path:
    """Copy a dataset directory and cut the training images short; return the copy."""
    shutil.copytree(source, target)
    damaged = target / DAMAGED
    damaged.write_bytes(damaged.read_bytes()[:-30])
    return damaged


def _repackage(directory: Path) -> None:
    """Re-gzip every file the way Debian does: same data, other bytes, other checksum."""
    for filename in FILENAMES.values():
        path = directory / filename
        path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), mtime=12345))


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------ 1. a data dir that is a file


def test_a_data_dir_that_is_a_file_is_refused_everywhere(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sources.MIRROR_ENV, DEAD_MIRROR)
    a_file = isolated_dirs["explicit"].parent / "somefile"
    a_file.write_text("notes\n")
    for call in (
        lambda: load("tiny", data_dir=a_file),
        lambda: load(data_dir=a_file),  # the bundled set too: the flag is wrong either way
        lambda: info("tiny", data_dir=a_file),
        lambda: fetch("tiny", data_dir=a_file),
    ):
        with pytest.raises(DatasetError, match=r"^data dir .*somefile is not a directory$"):
            call()
    assert a_file.read_text() == "notes\n"


def test_cli_fetch_into_a_file_is_one_line(
    isolated_dirs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(sources.MIRROR_ENV, DEAD_MIRROR)
    a_file = isolated_dirs["explicit"].parent / "somefile"
    a_file.write_text("")
    assert data_main(["fetch", "mnist", "--data-dir", str(a_file)]) == 2
    assert _one_error_line(capsys) == f"nnott-data: error: data dir {a_file} is not a directory"


# --------------------------------------------------------- 2. damaged files and their repair


def test_info_reports_a_truncated_file_as_corrupt(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    _copy_with_damage(isolated_dirs["serve"], isolated_dirs["explicit"] / "tiny")
    about = info("tiny", data_dir=isolated_dirs["explicit"], verify=True)
    assert about.present and about.corrupt
    assert about.problems is not None and len(about.problems) == 1
    assert about.problems[0].startswith(f"{DAMAGED}: does not match its pinned SHA-256 and")
    assert "truncated" in about.problems[0]
    unchecked = info("tiny", data_dir=isolated_dirs["explicit"])
    assert unchecked.problems is None and not unchecked.corrupt


def test_repackaged_files_are_intact(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    """Checksums differ after re-compression, the data does not: not corrupt."""
    copy = isolated_dirs["explicit"] / "tiny"
    shutil.copytree(isolated_dirs["serve"], copy)
    _repackage(copy)
    assert verify.sha256_of(copy / DAMAGED) != tiny.files["train_images"].sha256
    assert verify.problems(tiny, copy) == {}
    assert info("tiny", data_dir=isolated_dirs["explicit"], verify=True).problems == ()


def test_verify_names_each_kind_of_damage(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    copy = isolated_dirs["explicit"]
    shutil.copytree(isolated_dirs["serve"], copy)
    (copy / FILENAMES["test_labels"]).unlink()
    labels = copy / FILENAMES["train_labels"]
    images = copy / FILENAMES["test_images"]
    labels.write_bytes(images.read_bytes())  # the wrong file under a label file's name
    found = verify.problems(tiny, copy)
    assert set(found) == {"test_labels", "train_labels"}
    assert found["test_labels"] == f"{FILENAMES['test_labels']}: missing"
    assert "wrong IDX magic number" in found["train_labels"]


def test_cli_info_shows_the_corrupt_file_and_the_repair(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    explicit = isolated_dirs["explicit"]
    _copy_with_damage(isolated_dirs["serve"], explicit / "tiny")
    assert data_main(["info", "tiny", "--data-dir", str(explicit)]) == 0
    out = capsys.readouterr().out
    assert f"  corrupt   {DAMAGED}: does not match its pinned SHA-256" in out
    assert f"  repair    nnott-data fetch tiny --data-dir {explicit}" in out
    assert data_main(["list", "--data-dir", str(explicit)]) == 0
    assert f"CORRUPT {explicit / 'tiny'}" in capsys.readouterr().out


def test_load_of_a_damaged_file_points_at_a_fetch_that_repairs_it(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    explicit = isolated_dirs["explicit"]
    _copy_with_damage(isolated_dirs["serve"], explicit / "tiny")
    with pytest.raises(DatasetError) as caught:
        load("tiny", data_dir=explicit, download=False)
    message = str(caught.value)
    assert DAMAGED in message and "truncated" in message and "\n" not in message
    assert message.endswith(f"`nnott-data fetch tiny --data-dir {explicit}` downloads a fresh copy")


def test_fetch_replaces_a_damaged_file_and_keeps_the_good_ones(
    mirror: Path, tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    copy = isolated_dirs["explicit"] / "tiny"
    shutil.copytree(mirror, copy)
    _repackage(copy)  # intact files with other bytes: they must be kept as they are
    kept = {name: (copy / name).read_bytes() for name in FILENAMES.values() if name != DAMAGED}
    (copy / DAMAGED).write_bytes((copy / DAMAGED).read_bytes()[:-30])
    (copy / DAMAGED).chmod(0o640)
    report = fetch("tiny", data_dir=isolated_dirs["explicit"])
    assert report.location == copy
    assert (copy / DAMAGED).stat().st_mode & 0o777 == 0o640  # a drop-in replacement
    assert report.replaced == (DAMAGED,) and report.downloaded == ()
    assert (copy / DAMAGED).read_bytes() == (mirror / DAMAGED).read_bytes()
    assert {name: (copy / name).read_bytes() for name in kept} == kept
    assert sorted(path.name for path in files_under(copy)) == sorted(FILENAMES.values())
    assert len(report.dataset.train_labels) == 30
    assert verify.problems(tiny, copy) == {}


def test_cli_fetch_says_what_it_replaced(
    mirror: Path,
    tiny: registry.DatasetSpec,
    isolated_dirs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    explicit = isolated_dirs["explicit"]
    _copy_with_damage(mirror, explicit)  # the flat layout: files right in the data dir
    assert data_main(["fetch", "tiny", "--data-dir", str(explicit)]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == f"nnott-data: replaced the damaged {DAMAGED}"
    assert f"ready in {explicit}\n" in captured.out
    assert (explicit / DAMAGED).read_bytes() == (mirror / DAMAGED).read_bytes()


def test_a_failed_replacement_says_so_and_keeps_the_file(
    tiny: registry.DatasetSpec,
    isolated_dirs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(sources.MIRROR_ENV, DEAD_MIRROR)
    explicit = isolated_dirs["explicit"]
    damaged = _copy_with_damage(isolated_dirs["serve"], explicit)
    before = {path: path.read_bytes() for path in files_under(explicit)}
    with pytest.raises(DatasetError) as caught:
        fetch("tiny", data_dir=explicit)
    message = str(caught.value)
    assert message.startswith(f"{damaged}: does not match its pinned SHA-256 and")
    assert "downloading a fresh copy failed: cannot reach http://127.0.0.1:9/tiny/" in message
    assert "the damaged file was left as it was (delete it" in message
    assert {path: path.read_bytes() for path in files_under(explicit)} == before  # no staging
    assert data_main(["fetch", "tiny", "--data-dir", str(explicit)]) == 2
    assert _one_error_line(capsys).startswith(f"nnott-data: error: {damaged}: ")


def test_fetch_completes_a_partial_copy(
    mirror: Path, tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    copy = isolated_dirs["explicit"] / "tiny"
    shutil.copytree(mirror, copy)
    (copy / FILENAMES["test_labels"]).unlink()
    report = fetch("tiny", data_dir=isolated_dirs["explicit"])
    assert report.downloaded == (FILENAMES["test_labels"],) and report.replaced == ()
    assert verify.problems(tiny, copy) == {}


def test_fetch_never_writes_into_a_system_dir(
    mirror: Path, tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    """A damaged OS-packaged copy is left alone; the fresh one goes to the cache."""
    system_copy = isolated_dirs["system"] / "tiny"
    damaged = _copy_with_damage(mirror, system_copy)
    damaged_bytes = damaged.read_bytes()
    report = fetch("tiny")
    assert report.location == sources.cache_dir() / "tiny"
    assert damaged.read_bytes() == damaged_bytes
    assert sources.locate(tiny) == sources.cache_dir() / "tiny"  # the cache comes first
    assert len(load("tiny", download=False).test_labels) == 12


def test_an_intact_copy_is_not_downloaded_again(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("no download expected")

    monkeypatch.setattr(sources, "download", refuse)
    shutil.copytree(isolated_dirs["serve"], isolated_dirs["system"] / "tiny")
    _repackage(isolated_dirs["system"] / "tiny")
    report = fetch("tiny")
    assert report.location == isolated_dirs["system"] / "tiny"
    assert report.downloaded == report.replaced == ()


@needs_real_fashion
def test_real_fashion_mnist_copy_with_one_truncated_file(
    isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's re-compressed files pass; a truncated one is named, and fast enough."""
    monkeypatch.setenv(sources.MIRROR_ENV, DEAD_MIRROR)
    scratch = isolated_dirs["explicit"]
    shutil.copytree(FASHION_DIR, scratch)
    damaged = scratch / DAMAGED
    with damaged.open("r+b") as stream:
        stream.truncate(1_000_000)
    about = info("fashion-mnist", data_dir=scratch, verify=True)
    assert about.location == scratch
    assert about.problems is not None and len(about.problems) == 1
    assert about.problems[0].startswith(f"{DAMAGED}: does not match its pinned SHA-256 and")
    with pytest.raises(DatasetError, match="downloading a fresh copy failed"):
        fetch("fashion-mnist", data_dir=scratch)
    assert damaged.stat().st_size == 1_000_000


# ---------------------------------------------------- 3. a wrong explicit data dir is not ignored


def test_a_missing_data_dir_is_an_error_not_a_fallback(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    shutil.copytree(isolated_dirs["serve"], isolated_dirs["system"] / "tiny")  # a copy to use
    missing = isolated_dirs["explicit"] / "typo" / "dir"
    for call in (
        lambda: load("tiny", data_dir=missing),
        lambda: load("tiny", data_dir=missing, download=False),
        lambda: load(data_dir=missing),  # the bundled set
        lambda: info("tiny", data_dir=missing),
    ):
        with pytest.raises(DatasetError, match=r"^data dir .*typo/dir does not exist"):
            call()
    assert not isolated_dirs["explicit"].exists()  # nothing was created
    with pytest.raises(DatasetError, match="fashion-mnist-small ships inside nnott"):
        load(data_dir=missing)


def test_the_missing_dir_message_says_how_to_create_it(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = isolated_dirs["explicit"]
    assert data_main(["info", "tiny", "--data-dir", str(missing)]) == 2
    assert _one_error_line(capsys) == (
        f"nnott-data: error: data dir {missing} does not exist (fix the path; "
        f"`nnott-data fetch tiny --data-dir {missing}` creates it and downloads into it)"
    )


def test_fetch_creates_a_missing_data_dir(
    mirror: Path, tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    shutil.copytree(mirror, isolated_dirs["system"] / "tiny")  # elsewhere: must not count
    new = isolated_dirs["explicit"] / "new"
    report = fetch("tiny", data_dir=new)
    assert report.location == new / "tiny" and len(report.downloaded) == 4
    assert {path.stat().st_mode & 0o777 for path in files_under(new)} == {0o644}
    assert verify.problems(tiny, new / "tiny") == {}


def test_a_data_dir_without_the_dataset_warns_naming_both_places(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """The documented lookup goes on past the data dir, but says so in one line."""
    shutil.copytree(isolated_dirs["serve"], isolated_dirs["system"] / "tiny")
    empty = isolated_dirs["explicit"]
    empty.mkdir()
    with caplog.at_level(logging.WARNING, logger="nnott.data"):
        data = load("tiny", data_dir=empty, download=False)
    assert len(data.train_labels) == 30
    assert [record.getMessage() for record in caplog.records] == [
        f"nnott: warning: data dir {empty} holds no complete copy of tiny; "
        f"using {isolated_dirs['system'] / 'tiny'} instead"
    ]
    caplog.clear()
    shutil.copytree(isolated_dirs["serve"], empty / "tiny")
    with caplog.at_level(logging.WARNING, logger="nnott.data"):
        load("tiny", data_dir=empty, download=False)
    assert caplog.records == []  # found where it was asked for: nothing to say


def test_the_bundled_set_says_it_does_not_use_a_data_dir(
    isolated_dirs: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    existing = isolated_dirs["explicit"]
    existing.mkdir()
    with caplog.at_level(logging.WARNING, logger="nnott.data"):
        data = load(data_dir=existing)
    assert data.name == "fashion-mnist-small" and len(data.train_labels) == 6000
    assert [record.getMessage() for record in caplog.records] == [
        f"nnott: warning: fashion-mnist-small ships inside nnott; data dir {existing} is not used"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nnott.data"):
        load()
    assert caplog.records == []


def test_a_tilde_data_dir_is_expanded(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = isolated_dirs["explicit"]
    shutil.copytree(isolated_dirs["serve"], home / "data" / "tiny")
    monkeypatch.setenv("HOME", str(home))
    assert info("tiny", data_dir="~/data").location == home / "data" / "tiny"


def test_a_data_dir_that_cannot_be_used_says_why_in_one_line(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name too long or a link that loops raised a bare OSError, an unknown ``~user`` a
    RuntimeError; a link to nothing and a path under a file were said to "not exist", and
    fetch then failed to create them with "File exists" or "Not a directory"."""
    monkeypatch.setenv(sources.MIRROR_ENV, DEAD_MIRROR)
    base = isolated_dirs["explicit"]
    base.mkdir()
    (base / "notes.txt").write_text("notes")
    (base / "loop").symlink_to(base / "loop")
    (base / "usb").symlink_to(base / "unmounted")
    cases = {
        base / ("x" * 300): r"cannot be used: File name too long",
        base / "loop": r"cannot be used: Too many levels of symbolic links",
        base / "usb": r"is a symbolic link to .*unmounted, which does not exist",
        base / "notes.txt" / "data": r"cannot exist: .*notes\.txt is a file, not a directory",
        "~no-such-user-here/data": r"no such user's home directory",
    }
    for data_dir, message in cases.items():
        for call in (load, info, fetch):
            with pytest.raises(DatasetError, match=f"^data dir .*{message}") as caught:
                call("tiny", data_dir=data_dir)
            assert "\n" not in str(caught.value)
    assert sorted(path.name for path in base.iterdir()) == ["loop", "notes.txt", "usb"]


def test_cli_list_with_a_missing_data_dir_names_no_one_dataset(
    isolated_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """``nnott-data list --data-dir typo`` advised ``nnott-data fetch cifar10``, the first
    downloadable dataset in its listing, whatever the user had in mind."""
    missing = isolated_dirs["explicit"]
    assert data_main(["list", "--data-dir", str(missing)]) == 2
    assert _one_error_line(capsys) == (
        f"nnott-data: error: data dir {missing} does not exist (fix the path; "
        f"`nnott-data fetch NAME --data-dir {missing}` creates it)"
    )


def test_a_directory_or_file_in_the_way_of_a_download_is_refused_first(
    mirror: Path, tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    """Moving the downloads into place stopped with a bare IsADirectoryError at the
    directory, after the files before it had been moved; a file where the dataset's folder
    must be made was "File exists"."""
    target = isolated_dirs["explicit"] / "tiny"
    (target / FILENAMES["test_labels"]).mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"is a directory, where the file .* must go") as caught:
        fetch("tiny", data_dir=isolated_dirs["explicit"])
    assert "\n" not in str(caught.value)
    assert [path.name for path in target.iterdir()] == [FILENAMES["test_labels"]]
    shutil.rmtree(target)
    target.write_text("notes")  # a file where the dataset's directory must be made
    with pytest.raises(DatasetError, match=r"tiny is a file, where the directory of tiny must"):
        fetch("tiny", data_dir=isolated_dirs["explicit"])
    assert target.read_text() == "notes"


# ------------------------------------------- 4. another dataset's files under the same names


@pytest.fixture
def two_lookalikes(
    isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> tuple[registry.DatasetSpec, registry.DatasetSpec, Path]:
    """ "tiny" (with label fingerprints) and "lookalike" (same file names, other data), and a
    flat folder holding tiny's files, as a folder of Fashion-MNIST is "found" as mnist."""
    arrays = write_tiny_dataset(isolated_dirs["serve"], seed=0)
    fingerprints = (
        registry.label_fingerprint(arrays["train_labels"]),
        registry.label_fingerprint(arrays["test_labels"]),
    )
    tiny = dataclasses.replace(tiny_spec(isolated_dirs["serve"]), label_fingerprints=fingerprints)
    other_dir = isolated_dirs["serve"] / "other"
    other = write_tiny_dataset(other_dir, seed=1)
    for role in ("train_labels", "test_labels"):  # other labels too, not only other images
        write_idx(other_dir / FILENAMES[role], (other[role] + 1) % 3)
    lookalike = tiny_spec(other_dir, name="lookalike")
    for spec in (tiny, lookalike):
        monkeypatch.setitem(registry.REGISTRY, spec.name, spec)
    flat = isolated_dirs["explicit"]
    shutil.copytree(isolated_dirs["serve"], flat, ignore=shutil.ignore_patterns("other"))
    return tiny, lookalike, flat


def test_another_datasets_files_are_refused_by_name(two_lookalikes, monkeypatch) -> None:
    tiny, lookalike, flat = two_lookalikes
    assert load(tiny.name, data_dir=flat).num_classes == len(tiny.classes)  # its own: fine
    with pytest.raises(ForeignDataError, match=f"holds {tiny.name}'s files, not lookalike's"):
        load(lookalike.name, data_dir=flat)
    problems = info(lookalike.name, data_dir=flat, verify=True).problems
    assert problems and all(f"holds {tiny.name}'s labels" in p for p in problems)


def test_fetch_puts_the_lookalike_beside_the_other_datasets_files(
    two_lookalikes, http_root, isolated_dirs, monkeypatch
) -> None:
    _, lookalike, flat = two_lookalikes
    root, url = http_root
    shutil.copytree(isolated_dirs["serve"] / "other", root / lookalike.name)
    monkeypatch.setenv(sources.MIRROR_ENV, url)
    before = {path.name: path.read_bytes() for path in flat.iterdir() if path.is_file()}
    report = fetch(lookalike.name, data_dir=flat)
    assert report.location == flat / lookalike.name  # beside tiny's files, not over them
    assert {path.name: path.read_bytes() for path in flat.iterdir() if path.is_file()} == before
    assert load(lookalike.name, data_dir=flat).name == lookalike.name


def test_nnott_data_has_a_version(capsys) -> None:
    assert data_main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("nnott-data 0.")
