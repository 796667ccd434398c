"""`convert --use-existing-levels`: the levels a pyramidal TIFF stores are copied when they
make a pyramid NGFF can describe, and computed (with a note saying why) when not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from _cli import run_cli
from omezarr.convert import convert
from omezarr.reader import open_image


def _pyramidal(path: Path, levels: list[np.ndarray]) -> None:
    """An OME-TIFF with its sub-resolutions in SubIFDs, tiled, as QuPath and others write."""
    with tifffile.TiffWriter(path, ome=True) as tiff:
        tiff.write(levels[0], subifds=len(levels) - 1, tile=(128, 128), metadata={"axes": "CYX"})
        for level in levels[1:]:
            tiff.write(level, subfiletype=1, tile=(128, 128))


def test_stored_levels_are_copied(tmp_path: Path) -> None:
    base = np.random.default_rng(1).integers(0, 4000, (2, 600, 900)).astype(np.uint16)
    # Not what omezarr would compute (every other pixel, not a mean): copied, so kept as is.
    levels = [base, base[:, ::2, ::2].copy(), base[:, ::4, ::4].copy()]
    source = tmp_path / "pyramid.ome.tif"
    _pyramidal(source, levels)
    output = tmp_path / "copied.ome.zarr"
    done = run_cli("convert", str(source), str(output), "--use-existing-levels")
    assert done.returncode == 0, done.stderr
    assert "levels are copied" in done.stdout
    image = open_image(output)
    assert [level.shape for level in image.levels] == [level.shape for level in levels]
    for stored, expected in zip(image.levels, levels, strict=True):
        np.testing.assert_array_equal(np.asarray(stored), expected)
    assert image.scales[2] == (1.0, 4.0, 4.0)
    computed = tmp_path / "computed.ome.zarr"  # without the option: computed anew
    convert(str(source), str(computed), scale_factors=[2, 4])
    assert not np.array_equal(np.asarray(open_image(computed).levels[1]), levels[1])


def test_levels_that_are_no_whole_factor_reduction_are_computed(tmp_path: Path) -> None:
    base = np.random.default_rng(2).integers(0, 4000, (1, 600, 900)).astype(np.uint16)
    odd = base[:, :420, :630].copy()  # 600 -> 420 is no whole factor
    source = tmp_path / "odd.ome.tif"
    _pyramidal(source, [base, odd])
    result = convert(str(source), str(tmp_path / "odd.ome.zarr"), use_existing_levels=True)
    assert result.source is not None
    assert any("no whole-factor reduction" in note for note in result.source.notes)
    image = open_image(tmp_path / "odd.ome.zarr")
    assert image.levels[1].shape != odd.shape  # the pyramid was computed
    np.testing.assert_array_equal(np.asarray(image.levels[0]), base[0])  # c of 1: squeezed


@pytest.mark.parametrize(
    ("larger", "smaller", "whole"),
    [
        ((10, 900), (4, 450), True),  # 10 / 3 rounded up
        ((36, 36), (8, 8), True),  # 36 / 5 rounded up
        ((601, 901), (300, 450), True),  # rounded down
        ((600, 900), (420, 630), False),
        ((64, 64), (64, 64), False),  # no smaller
    ],
)
def test_whole_factor_reductions_are_told_apart(
    larger: tuple[int, int], smaller: tuple[int, int], whole: bool
) -> None:
    from omezarr.convert.orchestrate import _not_a_downsampling

    assert (_not_a_downsampling(larger, smaller, "yx") is None) is whole
