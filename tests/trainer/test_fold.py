import numpy as np
import pytest
import torch

from trainer import components as C
from trainer.export import FaceNet, build_from_checkpoint
from trainer.fold import FoldedFaceNet, NotAffine, affine_map
from trainer.network import POSE_DIM, EncoderConfig


def _images(batch: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, 128, 128, generator=torch.Generator().manual_seed(seed))


def _randomised(encoder):
    """The encoder with every fully connected weight random and of unit scale, so the fold is checked on
    a head that moves the face (a freshly initialised head is almost constant)."""
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for layer in (encoder.fc, encoder.fc_pose):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) / layer.in_features ** 0.5 * 0.5)
            layer.bias.copy_(torch.randn(layer.bias.shape, generator=gen) * 0.1)
    return encoder.eval()


@pytest.mark.parametrize("output", ["landmarks", "mesh"])
def test_folded_network_equals_the_unfolded_one(trained_checkpoint, output):
    encoder, decoder, names, face, _ = build_from_checkpoint(str(trained_checkpoint), full_mesh=output == "mesh")
    encoder = _randomised(encoder)
    folded = FoldedFaceNet(encoder, decoder, output)
    x = _images(5)
    with torch.no_grad():
        want_pts, want_pose = FaceNet.make(encoder, decoder, output)(x)
        got_pts, got_pose = folded(x)
    assert got_pts.shape == want_pts.shape and got_pose.shape == (5, POSE_DIM)
    assert float(want_pts.std()) > 1.0  # the points move with the input: the comparison means something
    np.testing.assert_allclose(got_pts.numpy(), want_pts.numpy(), atol=1e-3, rtol=1e-5)
    np.testing.assert_allclose(got_pose.numpy(), want_pose.numpy(), atol=1e-5, rtol=1e-5)


def test_landmark_fold_is_one_layer_to_pose_and_coordinates(trained_checkpoint):
    encoder, decoder, names, _, _ = build_from_checkpoint(str(trained_checkpoint))
    folded = FoldedFaceNet(encoder, decoder, "landmarks")
    assert folded.fc.in_features == encoder.fc.in_features
    assert folded.fc.out_features == POSE_DIM + 3 * len(names)  # no coefficients, no pose features
    assert not hasattr(folded, "basis")


def test_fold_without_correction_field(synthetic_faces):
    model_factory, vertex_map, _ = synthetic_faces
    face = model_factory()
    verts = np.asarray(sorted(vertex_map().values()), np.int64)
    encoder = _randomised(C.build_encoder(EncoderConfig(4, 2, n_corr=0, width=0.25)))
    decoder = C.build_decoder(face, verts, 0, None, full_mesh=True)
    x = _images(2)
    for output in ("landmarks", "mesh"):
        with torch.no_grad():
            want, _ = FaceNet.make(encoder, decoder, output)(x)
            got, _ = FoldedFaceNet(encoder, decoder, output)(x)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-3, rtol=1e-5)


def test_a_mesh_fold_needs_the_full_mesh(trained_checkpoint):
    encoder, decoder, *_ = build_from_checkpoint(str(trained_checkpoint))
    with pytest.raises(ValueError, match="full mesh"):
        FoldedFaceNet(encoder, decoder, "mesh")


def test_affine_map_measures_a_linear_layer_and_refuses_what_is_not_affine():
    layer = torch.nn.Linear(7, 4).double()
    weight, bias = affine_map(layer, 7, "a layer")
    np.testing.assert_allclose(weight.numpy(), layer.weight.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(bias.numpy(), layer.bias.detach().numpy(), atol=1e-12)
    with pytest.raises(NotAffine, match="a ReLU"):
        affine_map(lambda x: torch.relu(layer(x)), 7, "a ReLU")
