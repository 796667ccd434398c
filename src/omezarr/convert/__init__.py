"""TIFF / OME-TIFF, NumPy, PNG/JPEG and zarr inputs into the writer (``omezarr convert``).

An input is opened lazily (:func:`open_input`): TIFF pages through tifffile's zarr interface,
``.npy`` files memory-mapped, zarr arrays and OME-Zarr images as they are stored, so files
larger than memory convert within the writer's memory budget. What the file knows about
itself (OME-XML or ImageJ pixel sizes and units, channel names and colours, the dimension
order) becomes NGFF axes, scale, units and ``omero`` metadata. :func:`convert` writes a
local result through a staging directory, so a failed conversion leaves nothing behind and an
existing output is only replaced once the new one is complete. Object stores (``s3://``) have
no rename, so a remote output is written in place (:func:`remote_output`): metadata last, so
an interrupted write never looks complete, and removed again if the conversion fails. Zarr
arrays and OME-Zarr images can also be read from URLs (``s3://``, ``http(s)://``).

Errors name the parameter of :func:`convert` to change (``units``, ``fmt='0.5'``) and carry it
as ``error.parameter`` (module ``errors``); the command line spells them as its options.

Modules: ``errors``, ``options`` (parsing options), ``source`` (an input as the converter
sees it), ``inputs`` (recognising a file), one per input kind (``tiff``, ``picture``,
``zarr_input``; NumPy files are memory-mapped in ``inputs``), ``staging`` (where the output
goes), ``orchestrate`` (:func:`convert`) and ``demo``.
"""

from __future__ import annotations

from .demo import write_demo
from .errors import (
    ConversionError,
    ConversionWarning,
    InvalidParameterError,
    Parameter,
    ParameterMessage,
)
from .inputs import open_input
from .options import (
    auto_scale_factors,
    normalize_unit,
    parse_axis_values,
    parse_compressor,
    parse_scale_factors,
    parse_shape_option,
    parse_units,
)
from .orchestrate import ConversionResult, ProgressCallback, convert
from .source import NGFF_AXIS_ORDER, InputImage
from .staging import (
    check_output,
    check_remote_output,
    interrupted_stagings,
    remote_output,
    staged_output,
)

__all__ = [
    "NGFF_AXIS_ORDER",
    "ConversionError",
    "ConversionResult",
    "ConversionWarning",
    "InputImage",
    "InvalidParameterError",
    "Parameter",
    "ParameterMessage",
    "ProgressCallback",
    "auto_scale_factors",
    "check_output",
    "check_remote_output",
    "convert",
    "interrupted_stagings",
    "normalize_unit",
    "open_input",
    "parse_axis_values",
    "parse_compressor",
    "parse_scale_factors",
    "parse_shape_option",
    "parse_units",
    "remote_output",
    "staged_output",
    "write_demo",
]
