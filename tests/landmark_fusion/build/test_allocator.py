"""Fixed malloc thresholds: decoding one frame after another stops page-faulting."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

#: Decodes and crops one JPEG 30 times (by OpenCV, in its BGR order, or by the build's decoder,
#: simplejpeg where installed, in RGB); prints the minor page faults per image.
PROGRAM = textwrap.dedent("""
    import resource, sys
    from landmark_fusion import imageio
    from landmark_fusion.build.allocator import reuse_large_buffers
    from landmark_fusion.crop import crop_box_image

    if sys.argv[2] == "tuned":
        assert reuse_large_buffers()
    opencv = sys.argv[3] == "opencv"
    if opencv:
        imageio.simplejpeg_module = lambda: None
    imageio.read_image(sys.argv[1])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(30):
        crop_box_image(imageio.read_image(sys.argv[1], rgb=not opencv), 100, 80, 300, 160)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 30)
""")


def _faults_per_image(path, mode: str, decoder: str = "opencv") -> float:
    result = subprocess.run([sys.executable, "-c", PROGRAM, str(path), mode, decoder],
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_tuned_process_reuses_frame_buffers(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (450, 600, 3)).astype(np.uint8)
    path = tmp_path / "frame.jpg"
    cv2.imwrite(str(path), image)
    default, tuned = _faults_per_image(path, "default"), _faults_per_image(path, "tuned")
    # a 600x450 frame is 198 pages: the default settings fault most of them in again per image
    assert default > 100
    assert tuned < 10



@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_the_builds_decoder_does_not_page_fault_per_frame_either(tmp_path):
    """simplejpeg (where installed) decodes into a buffer the tuned process reuses as well."""
    image = np.random.default_rng(0).integers(0, 255, (450, 600, 3)).astype(np.uint8)
    path = tmp_path / "frame.jpg"
    cv2.imwrite(str(path), image)
    assert _faults_per_image(path, "tuned", "build") < 10
