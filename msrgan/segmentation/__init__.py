"""The segmentation study: nuclei and cells segmented the same way on HR and on each method's SR images."""
