"""Upscaling a user's own microscopy images with a trained generator (`python -m msrgan upscale`).

Modules: `imagefile` (any input as planes x H x W x C, decoded by msrgan.imageio, and the upscaled copy written back
in the input's format, with msrgan.tiffmeta's TIFF/ImageJ/OME metadata and the pixel size scaled), `intensity`
(8/16-bit <-> [0, 1] as the merge stage does it), `channels` (which input channels go through the RGB generator
together), `tiling` (seamless tiled prediction), `inference` (the generator prepared for a device and precision),
`upscaler` (all of it for one image), `consistency` (where the output disagrees with its input once downscaled
again), `command` (the CLI), `workers` (the files of one call as Dask tasks, msrgan.cluster), `resume` (the journal
of complete outputs, so that a call started again does only the rest).
"""
