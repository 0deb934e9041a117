"""mSRGAN: 4x super-resolution of fluorescence microscopy, as a DVC pipeline."""
__version__ = "0.1.0"
