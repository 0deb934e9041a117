"""A trained generator as a BioImage.IO model package, for Fiji (deepImageJ), napari, ilastik, QuPath and KNIME."""
