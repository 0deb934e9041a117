"""The study's report: metrics/report.md and its figures, made from what evaluate and segment wrote. It sits above
evaluation/ and segmentation/: it reads both, and neither reads it."""
