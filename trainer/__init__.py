"""Slim trainer of landmark-fusion: MobileNet-V1 encoder, model-based decoder, Eq. 1 loss, evaluation,
export and reconstruction. Reads only the shards written by the fusion stage."""
