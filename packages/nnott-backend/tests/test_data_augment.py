"""Augmentation on the active device: shapes, identities, exactness, seeding, soft targets."""

from __future__ import annotations

import argparse

import numpy
import pytest

from nnott.backend import get_array_module, to_cpu, to_device, xp
from nnott.data.augment import (
    OPS,
    Augmentation,
    Brightness,
    Contrast,
    CutMix,
    Cutout,
    GaussianNoise,
    HorizontalFlip,
    Mixup,
    RandAugment,
    Rotate,
    Shear,
    Shift,
    VerticalFlip,
    add_augmentation_arguments,
    augmentation_from_args,
    parse_augment_spec,
)
from nnott.errors import ConfigError

ALL_OPS = [
    Shift,
    HorizontalFlip,
    VerticalFlip,
    Rotate,
    Shear,
    GaussianNoise,
    Cutout,
    Brightness,
    Contrast,
]


def _batch(batch: int = 6, channels: int = 2, side: int = 8) -> tuple[object, object]:
    generator = numpy.random.default_rng(42)
    x = generator.standard_normal((batch, channels, side, side)).astype(numpy.float32)
    return to_device(x), to_device(numpy.arange(batch) % 3)


def _rng(seed: int = 0) -> numpy.random.Generator:
    return numpy.random.default_rng(seed)


@pytest.mark.parametrize("op_class", ALL_OPS)
def test_shape_dtype_device_preserved(op_class: type) -> None:
    x, _ = _batch()
    out = op_class(probability=1.0)(x, _rng())
    assert out.shape == x.shape and out.dtype == xp.float32
    assert get_array_module(out) is get_array_module(x)
    assert numpy.isfinite(to_cpu(out)).all()


@pytest.mark.parametrize("op_class", ALL_OPS)
def test_probability_zero_is_identity(op_class: type) -> None:
    x, y = _batch()
    out = op_class(probability=0.0)(x, _rng())
    numpy.testing.assert_array_equal(to_cpu(out), to_cpu(x))
    augmented_x, augmented_y = Augmentation([op_class(probability=0.0)])(x, y, _rng(), 3)
    numpy.testing.assert_array_equal(to_cpu(augmented_x), to_cpu(x))
    numpy.testing.assert_array_equal(to_cpu(augmented_y), to_cpu(y))


@pytest.mark.parametrize("op_class", ALL_OPS)
def test_seeded_reproducibility(op_class: type) -> None:
    x, _ = _batch()
    first = to_cpu(op_class(probability=0.7)(x, _rng(3)))
    second = to_cpu(op_class(probability=0.7)(x, _rng(3)))
    numpy.testing.assert_array_equal(first, second)


def test_flips_are_exact() -> None:
    x, _ = _batch()
    host = to_cpu(x)
    numpy.testing.assert_array_equal(to_cpu(HorizontalFlip(1.0)(x, _rng())), host[..., ::-1])
    numpy.testing.assert_array_equal(to_cpu(VerticalFlip(1.0)(x, _rng())), host[..., ::-1, :])


def test_partial_probability_touches_only_chosen_images() -> None:
    x, _ = _batch(batch=40)
    rng = _rng(1)
    chosen = numpy.random.default_rng(1).random(40) < 0.5  # the op draws this first
    out = to_cpu(HorizontalFlip(0.5)(x, rng))
    host = to_cpu(x)
    numpy.testing.assert_array_equal(out[chosen], host[chosen][..., ::-1])
    numpy.testing.assert_array_equal(out[~chosen], host[~chosen])
    assert 0 < chosen.sum() < 40


def test_shift_moves_whole_pixels_exactly() -> None:
    image = numpy.zeros((1, 1, 7, 7), dtype=numpy.float32)
    image[0, 0, 3, 3] = 1.0
    out = to_cpu(Shift(2, 1.0)(to_device(image), _rng(0)))
    assert out.sum() == 1.0 and set(numpy.unique(out).tolist()) == {0.0, 1.0}
    row, col = numpy.argwhere(out[0, 0] == 1.0)[0]
    assert abs(row - 3) <= 2 and abs(col - 3) <= 2


def test_rotation_by_ninety_degrees_matches_rot90() -> None:
    from nnott.data.augment import _affine_sample

    host = numpy.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(numpy.float32)
    quarter = numpy.array([[[0.0, 1.0], [-1.0, 0.0]]] * 2)  # inverse map of a 90° turn
    out = to_cpu(_affine_sample(to_device(host), quarter, numpy.zeros((2, 2))))
    expected = numpy.rot90(host, k=1, axes=(2, 3))
    if not numpy.allclose(out, expected, atol=1e-5):
        expected = numpy.rot90(host, k=-1, axes=(2, 3))
    numpy.testing.assert_allclose(out, expected, atol=1e-5)


def test_noise_stays_within_each_images_range() -> None:
    x, _ = _batch()
    out = to_cpu(GaussianNoise(5.0, 1.0)(x, _rng()))
    host = to_cpu(x)
    assert (out.min(axis=(1, 2, 3)) >= host.min(axis=(1, 2, 3))).all()
    assert (out.max(axis=(1, 2, 3)) <= host.max(axis=(1, 2, 3))).all()
    assert not numpy.array_equal(out, host)


def test_cutout_zeroes_one_square_at_most_size_squared() -> None:
    x = to_device(numpy.ones((8, 1, 10, 10), dtype=numpy.float32))
    out = to_cpu(Cutout(4, 1.0)(x, _rng()))
    zeros = (out == 0.0).sum(axis=(1, 2, 3))
    assert (zeros <= 16).all() and (zeros >= 4).all()  # clipped at borders, never empty


@pytest.mark.parametrize("mixer", [Mixup(0.4), CutMix(1.0)])
def test_mixing_gives_soft_targets_summing_to_one(mixer: object) -> None:
    x, y = _batch(batch=8)
    augmentation = Augmentation(
        mixup=mixer if isinstance(mixer, Mixup) else None,
        cutmix=mixer if isinstance(mixer, CutMix) else None,
    )
    assert augmentation.mixes_labels
    out_x, out_y = augmentation(x, y, _rng(2), 3)
    soft = to_cpu(out_y)
    assert soft.shape == (8, 3) and soft.dtype == numpy.float32
    numpy.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    assert (soft >= 0).all() and out_x.shape == x.shape
    again_x, again_y = augmentation(x, y, _rng(2), 3)
    numpy.testing.assert_array_equal(to_cpu(again_x), to_cpu(out_x))
    numpy.testing.assert_array_equal(to_cpu(again_y), soft)


def test_mixing_with_probability_zero_gives_one_hot() -> None:
    x, y = _batch()
    out_x, out_y = Augmentation(mixup=Mixup(0.2, probability=0.0))(x, y, _rng(), 3)
    numpy.testing.assert_array_equal(to_cpu(out_x), to_cpu(x))
    numpy.testing.assert_array_equal(to_cpu(out_y), numpy.eye(3, dtype=numpy.float32)[to_cpu(y)])


def test_cutmix_labels_match_the_pasted_area() -> None:
    x = to_device(numpy.zeros((4, 1, 10, 10), dtype=numpy.float32))
    y = to_device(numpy.array([0, 1, 2, 3]))
    # Mark every image with its own class value so the pasted pixels reveal the partner.
    x = x + to_device(numpy.arange(4, dtype=numpy.float32).reshape(4, 1, 1, 1))
    out_x, out_y = CutMix(1.0)(x, xp.eye(4, dtype=xp.float32)[y], _rng(5))
    pixels, soft = to_cpu(out_x), to_cpu(out_y)
    for image in range(4):
        own_share = (pixels[image] == image).mean()
        assert soft[image, image] == pytest.approx(own_share, abs=1e-6)


def test_randaugment_reproducible_and_changes_images() -> None:
    x, _ = _batch(batch=10)
    first = to_cpu(RandAugment(2, 15)(x, _rng(4)))
    second = to_cpu(RandAugment(2, 15)(x, _rng(4)))
    numpy.testing.assert_array_equal(first, second)
    assert first.shape == (10, 2, 8, 8)
    assert not numpy.array_equal(first, to_cpu(x))
    with pytest.raises(ConfigError):
        RandAugment(2, 31)
    with pytest.raises(ConfigError):
        RandAugment(0, 5)


def test_spec_parsing() -> None:
    augmentation = parse_augment_spec("shift:3,hflip,rotate:10@0.3,cutout@1,mixup:0.2")
    kinds = [type(op) for op in augmentation.ops]
    assert kinds == [Shift, HorizontalFlip, Rotate, Cutout]
    assert augmentation.ops[0].max_pixels == 3 and augmentation.ops[2].probability == 0.3
    assert augmentation.ops[3].probability == 1.0 and augmentation.mixup is not None
    assert parse_augment_spec("randaugment:2:9").randaugment is not None
    assert not parse_augment_spec("none") and not parse_augment_spec("")
    assert set(OPS) >= {"shift", "crop", "flip", "hflip", "vflip", "rotate", "noise", "cutout"}
    for bad in ("sparkle", "rotate:abc", "hflip:3", "shift@2", "randaugment:2"):
        with pytest.raises(ConfigError):
            parse_augment_spec(bad)


def test_command_line_flags() -> None:
    parser = argparse.ArgumentParser()
    add_augmentation_arguments(parser)
    args = parser.parse_args(
        ["--augment", "shift,flip", "--mixup", "0.2", "--cutmix", "1", "--randaugment", "2,9"]
    )
    augmentation = augmentation_from_args(args)
    assert augmentation is not None and augmentation.mixes_labels
    assert len(augmentation.ops) == 2 and augmentation.randaugment is not None
    assert augmentation_from_args(parser.parse_args([])) is None
    x, y = _batch()
    out_x, out_y = augmentation(x, y, _rng(), 3)
    assert out_x.shape == x.shape and out_y.shape == (6, 3)
    for bad in (["--augment", "sparkle"], ["--mixup", "-1"], ["--randaugment", "2"]):
        with pytest.raises(SystemExit) as caught:
            parser.parse_args(bad)
        assert caught.value.code == 2


def test_magnitudes_that_make_no_sense_are_refused_before_training() -> None:
    from nnott.data import DataLoader

    with pytest.raises(ConfigError, match="at most 180 degrees"):
        parse_augment_spec("rotate:400")
    images = numpy.zeros((4, 1, 28, 28), dtype=numpy.float32)
    labels = numpy.arange(4) % 2
    for spec, why in (("cutout:28", "would blank whole 28x28"), ("shift:30", "out of view")):
        with pytest.raises(ConfigError, match=why):
            DataLoader(images, labels, 2, augment=parse_augment_spec(spec))
    for spec in ("cutout:27", "shift:27", "rotate:180"):  # the largest that still make sense
        DataLoader(images, labels, 2, augment=parse_augment_spec(spec))


# ------------------------------------------------------------ bad specs and flags


def _spec_error(spec: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_augment_spec(spec)
    return str(caught.value)


@pytest.mark.parametrize("spec", [",", "shift,", ",shift", "shift,,hflip"])
def test_an_empty_item_is_refused_as_in_every_other_list_flag(spec: str) -> None:
    assert "has an empty item" in _spec_error(spec)


@pytest.mark.parametrize(
    "spec,why",
    [
        ("shift:inf", "not a finite number"),  # was an OverflowError traceback
        ("shift:nan", "not a finite number"),  # was argparse's "invalid value"
        ("cutout:nan", "not a finite number"),
        ("randaugment:nan:9", "not a finite number"),
        ("rotate:10@nan", "not a finite number"),
        ("shift:2.5", "not a whole number"),
        ("randaugment:2.5:9", "not a whole number"),  # was truncated to 2 without a word
        ("randaugment:2:9.7", "not a whole number"),  # was truncated to 9
        ("shift@", "give a probability after '@'"),  # was the default 0.5 without a word
        ("shift:0", "more than 0"),  # a shift of 0 pixels changes nothing
        ("rotate:-10", "more than 0"),
        (":2", "names no op"),
    ],
)
def test_numbers_that_are_no_magnitude_or_probability_are_refused(spec: str, why: str) -> None:
    message = _spec_error(spec)
    assert why in message and repr(spec) in message  # the message names the item


@pytest.mark.parametrize(
    "spec,limit",
    [
        ("shear:1e308", "at most 1"),  # these three were OverflowError tracebacks in training
        ("brightness:1e308", "at most 1"),
        ("contrast:1e308", "at most 1"),
        ("contrast:2", "at most 1"),  # a factor below 0 would turn images into negatives
        ("shear:5", "at most 1"),
        ("noise:1e308", "at most 10"),
        ("rotate:181", "at most 180 degrees"),
        ("mixup:1e308", "at most 100"),  # NumPy's Beta(1e308, 1e308) gives 0: no mixing
        ("cutmix:101", "at most 100"),
    ],
)
def test_magnitudes_beyond_their_op_are_refused_with_the_limit(spec: str, limit: str) -> None:
    message = _spec_error(spec)
    assert limit in message and len(message) < 200  # no 309-digit numbers


def test_the_largest_magnitudes_that_make_sense_are_accepted() -> None:
    spec = "shear:1@1,brightness:1@1,contrast:1@1,noise:10@1,rotate:180@1,mixup:100"
    augmentation = parse_augment_spec(spec)
    x, y = _batch()
    out_x, _ = augmentation(x, y, _rng(), 3)
    assert numpy.isfinite(to_cpu(out_x)).all()


def test_a_huge_whole_pixel_magnitude_is_written_short() -> None:
    from nnott.data import DataLoader

    images = numpy.zeros((4, 1, 28, 28), dtype=numpy.float32)
    with pytest.raises(ConfigError, match=r"shift:1e\+308 would move") as caught:
        DataLoader(images, numpy.arange(4) % 2, 2, augment=parse_augment_spec("shift:1e308"))
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    "spec", ["mixup,mixup:0.4", "cutmix,cutmix:2", "randaugment:2:9,randaugment:1:1"]
)
def test_a_mixer_or_randaugment_given_twice_is_refused(spec: str) -> None:
    assert "given twice" in _spec_error(spec)  # the second one used to win without a word


def test_per_image_ops_may_repeat() -> None:
    assert [type(op) for op in parse_augment_spec("shift,shift").ops] == [Shift, Shift]


@pytest.mark.parametrize(
    "flags",
    [
        ["--mixup", "0.2", "--augment", "mixup:0.4"],
        ["--cutmix", "1", "--augment", "cutmix"],
        ["--randaugment", "2,9", "--augment", "randaugment:1:5"],
    ],
)
def test_a_flag_and_the_spec_setting_the_same_mixer_are_refused(flags: list[str]) -> None:
    parser = argparse.ArgumentParser()
    add_augmentation_arguments(parser)
    with pytest.raises(ConfigError, match="set the same thing"):
        augmentation_from_args(parser.parse_args(flags))


@pytest.mark.parametrize(
    "value,why",
    [
        ("0,9", "positive whole number of ops"),
        ("9,9", "has 8 ops"),
        ("2,31", "0..30"),
        ("2,-1", "0..30"),
        ("2.5,9", "two whole numbers"),
    ],
)
def test_randaugment_flag_says_what_is_wrong(value: str, why: str, capsys) -> None:
    parser = argparse.ArgumentParser()
    add_augmentation_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--randaugment", value])
    assert why in capsys.readouterr().err  # it used to say "write N,M" for every one


@pytest.mark.parametrize("value", ["1e308", "inf", "101"])
def test_mixing_alpha_flags_have_an_upper_limit(value: str, capsys) -> None:
    parser = argparse.ArgumentParser()
    add_augmentation_arguments(parser)
    for flag in ("--mixup", "--cutmix"):
        with pytest.raises(SystemExit):
            parser.parse_args([flag, value])
        assert "at most 100" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        Mixup(1e308)


def test_randaugment_probability_picks_the_images_that_get_ops() -> None:
    x, _ = _batch(batch=40)
    host = to_cpu(x)
    untouched = to_cpu(RandAugment(2, 15, probability=0.0)(x, _rng(4)))
    numpy.testing.assert_array_equal(untouched, host)
    half = to_cpu(RandAugment(2, 15, probability=0.5)(x, _rng(4)))
    same = [numpy.array_equal(half[i], host[i]) for i in range(40)]
    assert 0 < sum(same) < 40
    full = to_cpu(RandAugment(2, 15, probability=1.0)(x, _rng(4)))
    numpy.testing.assert_array_equal(full, to_cpu(RandAugment(2, 15)(x, _rng(4))))
    spec = parse_augment_spec("randaugment:2:9@0.5").randaugment
    assert spec is not None and spec.probability == 0.5  # "@0.5" used to be ignored
    assert repr(spec) == "randaugment:2:9@0.5"
