"""Correspondence data of landmark-fusion: the landmark vocabulary (``landmarks.yaml``), one file per
landmark scheme (``schemes/``) and one landmark → vertex table per face model (``models/``).
This package holds data only; ``landmark_fusion.correspondence`` reads it."""
