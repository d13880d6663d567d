import torch

from trainer.loss import LossWeights, eq1_loss, landmark_term
from trainer.network import EncoderOutput


def test_landmark_term_is_masked_sum_over_count():
    pred = torch.tensor([[[0.0, 0], [3, 4], [10, 10]]])
    target = torch.zeros(1, 3, 2)
    mask = torch.tensor([[True, True, False]])
    assert landmark_term(pred, target, mask).item() == 25 / 2
    assert landmark_term(pred, target, mask, unit=128).item() == 25 / 2 / 128 ** 2
    assert landmark_term(pred, target, torch.zeros(1, 3, dtype=torch.bool)).item() == 0


def test_eq1_weights_and_correction_weights():
    p = EncoderOutput(torch.zeros(1, 6), torch.tensor([[1.0, 2]]), torch.tensor([[3.0]]),
                      torch.tensor([[[1.0, 0, 0], [0, 2, 0]]]))
    pred = torch.ones(1, 2, 2)
    terms = eq1_loss(p, pred, torch.zeros(1, 2, 2), torch.ones(1, 2, dtype=torch.bool), LossWeights(),
                     torch.tensor([1.0, 3.0]))
    assert terms["landmarks"].item() == 2.0
    assert terms["reg_id"].item() == 5 and terms["reg_exp"].item() == 9
    assert terms["reg_c"].item() == 1 + 3 * 4
    assert terms["total"].item() == 2.0 + 0.1 * 5 + 1 * 9 + 10 * 13


def test_distance_term_is_the_mean_point_distance_with_a_finite_gradient():
    pred = torch.tensor([[[0.0, 0], [3, 4], [10, 10]]], requires_grad=True)
    target = torch.zeros(1, 3, 2)
    mask = torch.tensor([[True, True, False]])
    term = landmark_term(pred, target, mask, kind="distance")
    assert abs(term.item() - 5 / 2) < 1e-3  # DISTANCE_EPS smooths the distance at 0
    term.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[0, 0].abs().max() == 0
    assert torch.allclose(pred.grad[0, 1], torch.tensor([0.3, 0.4]), atol=1e-5)  # unit direction / 2
    weights = LossWeights(landmark_loss="distance")
    p = EncoderOutput(torch.zeros(1, 6), torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 0, 3))
    assert abs(eq1_loss(p, pred, target, mask, weights)["landmarks"].item() - 2.5) < 1e-3
