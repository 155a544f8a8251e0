"""Losses against their formulas on hand-made tensors; GradCache == direct gradients."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mimo.losses import EmbedDistillLoss, LakdaLoss, LakdaSharpLoss, MimoLoss, MSELoss, info_nce
from mimo.train.tiny import build_tiny_student, tiny_texts


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    from sentence_transformers import SentenceTransformer

    path = build_tiny_student(tmp_path_factory.mktemp("s") / "student", tiny_texts(), hidden=16)
    return SentenceTransformer(str(path), device="cpu")


def _cos(a, b):
    return (a @ b) / (math.sqrt(a @ a) * math.sqrt(b @ b))


def test_distill_equals_mean_one_minus_cos_of_projection(student):
    loss = EmbedDistillLoss(student, "cosine", projection_dim=3)
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(3, 16, generator=g), torch.randn(3, generator=g)
    with torch.no_grad():
        loss.projection.weight.copy_(w)
        loss.projection.bias.copy_(b)
    s1, s2 = torch.randn(4, 16, generator=g), torch.randn(4, 16, generator=g)
    t = torch.randn(4, 3, generator=g)
    got = loss.compute_loss_from_embeddings([s1, s2], [t, t])
    terms = [1 - _cos(w @ s[i] + b, t[i]) for s in (s1, s2) for i in range(4)]
    assert got.item() == pytest.approx(float(torch.stack(terms).mean()), abs=1e-6)


def test_mse_is_mean_squared_error_over_both_columns(student):
    en, xx, t = torch.ones(2, 16), torch.zeros(2, 16), torch.full((2, 16), 0.5)
    got = MSELoss(student).compute_loss_from_embeddings([en, xx], [t, t])
    assert got.item() == pytest.approx(0.25)  # (0.5^2 + 0.5^2) / 2


def test_info_nce_reference_matches_hand_computation():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    p = torch.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    s = 20 * torch.tensor([[1.0, 1 / math.sqrt(2)], [0.0, 1 / math.sqrt(2)]], dtype=torch.float64)
    want = -0.5 * (s[0, 0] - torch.logsumexp(s[0], 0) + s[1, 1] - torch.logsumexp(s[1], 0))
    assert info_nce(q, p).item() == pytest.approx(want.item(), rel=1e-6)


@pytest.mark.parametrize("lam", [0.0, 0.2, 1.0])
def test_mimo_loss_is_lambda_mix_of_infonce_and_kd(student, lam):
    g = torch.Generator().manual_seed(1)
    q, p = torch.randn(5, 16, generator=g), torch.randn(5, 16, generator=g)
    tq, tp = torch.randn(5, 16, generator=g), torch.randn(5, 16, generator=g)
    loss = MimoLoss(student, EmbedDistillLoss(student, "cosine"), lam=lam)
    got = loss.loss_from_embeddings([q, p], torch.stack([tq, tp], dim=1))
    a = info_nce(q, p, 20.0)
    cos = nn.functional.cosine_similarity
    b = 0.5 * ((1 - cos(q, tq)).mean() + (1 - cos(p, tp)).mean())
    assert got.item() == pytest.approx((lam * a + (1 - lam) * b).item(), rel=1e-5)
    assert loss.last_parts["xlco"] == pytest.approx(a.item() if lam > 0 else 0.0, rel=1e-5)


def test_mimo_loss_rejects_bad_lambda_and_missing_labels(student):
    with pytest.raises(ValueError, match="lambda"):
        MimoLoss(student, EmbedDistillLoss(student), lam=1.5)
    loss = MimoLoss(student, EmbedDistillLoss(student), lam=0.5)
    with pytest.raises(ValueError, match="labels"):
        loss.loss_from_embeddings([torch.randn(2, 16), torch.randn(2, 16)], None)


def test_lakda_sharp_is_infonce_of_both_plus_kl_of_scaled_score_distributions(student):
    g = torch.Generator().manual_seed(2)
    q, qt, p = (torch.randn(4, 16, generator=g) for _ in range(3))
    got = LakdaSharpLoss(student, alpha=0.5, scale=20).loss_from_embeddings([q, qt, p], None)
    n = nn.functional.normalize
    sq, st = 20 * n(q, dim=-1) @ n(p, dim=-1).T, 20 * n(qt, dim=-1) @ n(p, dim=-1).T
    nce = 0.5 * (info_nce(q, p) + info_nce(qt, p))
    pq, pt = sq.softmax(-1), st.softmax(-1)
    kl = sum((pt[i] * (pt[i].log() - pq[i].log())).sum() for i in range(4)) / 4
    assert got.item() == pytest.approx((0.5 * nce + 0.5 * kl).item(), rel=1e-5)


def test_lakda_reference_is_infonce_of_first_query_plus_kl_of_unscaled_cosines(student):
    # hand-made unit vectors: cos(qa_i, p_j) and cos(qb_i, p_j) known exactly
    p = torch.eye(3)
    qa = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.6, 0.0, 0.8]])
    qb = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.6, 0.8], [0.0, 0.0, 1.0]])
    alpha, scale = 0.3, 20.0
    got = LakdaLoss(student, alpha=alpha, scale=scale).loss_from_embeddings([qa * 2.0, qb * 5.0, p * 3.0], None)
    cos_a, cos_b = qa @ p.T, qb @ p.T  # rows already unit length: these are the cosines
    nce = sum(-math.log(math.exp(scale * cos_a[i, i]) / sum(math.exp(scale * c) for c in cos_a[i])) for i in range(3)) / 3
    kl = 0.0
    for i in range(3):
        pa = [math.exp(c) / sum(math.exp(x) for x in cos_a[i]) for c in cos_a[i]]  # unscaled softmax
        pb = [math.exp(c) / sum(math.exp(x) for x in cos_b[i]) for c in cos_b[i]]
        kl += sum(b * math.log(b / a) for a, b in zip(pa, pb, strict=True)) / 3
    assert got.item() == pytest.approx((1 - alpha) * nce + alpha * kl, rel=1e-5)
    # the KL is on unscaled cosines: scaling by 20 (the sharp variant) gives a far larger agreement term
    sharp = LakdaSharpLoss(student, alpha=1.0, scale=scale).loss_from_embeddings([qa, qb, p], None)
    assert sharp.item() > 10 * kl


def test_lakda_reference_gradients_reach_all_three_inputs(student):
    g = torch.Generator().manual_seed(5)
    embs = [torch.randn(4, 8, generator=g, requires_grad=True) for _ in range(3)]
    LakdaLoss(student).loss_from_embeddings(embs, None).backward()
    assert all(e.grad is not None and e.grad.abs().sum() > 0 for e in embs)


def _grads(student, loss, feats, labels):
    student.zero_grad(set_to_none=True)
    loss.zero_grad(set_to_none=True)
    loss(feats, labels).backward()
    named = dict(student.named_parameters()) | {f"loss.{k}": v for k, v in loss.kd.named_parameters()}
    return {k: v.grad.clone() for k, v in named.items() if v.grad is not None}


def test_gradcache_gradients_equal_direct(student):
    student.eval()  # no dropout, so both passes see the same function
    texts_q = ["red house", "blue tree river", "sun", "green water book door", "moon city", "road stone"]
    texts_p = ["rot haus", "blau baum fluss", "sonne", "grün wasser buch tür", "mond stadt", "straße stein"]
    feats = [student.preprocess(texts_q, prompt="query: "), student.preprocess(texts_p, prompt="passage: ")]
    torch.manual_seed(0)
    labels = torch.randn(6, 2, 5)
    kd = EmbedDistillLoss(student, "cosine", projection_dim=5)
    direct = _grads(student, MimoLoss(student, kd, lam=0.3), feats, labels)
    cached = _grads(student, MimoLoss(student, kd, lam=0.3, mini_batch_size=2), feats, labels)
    assert direct.keys() == cached.keys() and "loss.projection.weight" in direct
    for k in direct:
        torch.testing.assert_close(cached[k], direct[k], rtol=1e-4, atol=1e-6, msg=k)


def test_trainer_optimizer_updates_loss_owned_projection(student, tmp_path):
    """The known trap: the projection lives on the loss, not the model; the trainer must train it."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    ds = Dataset.from_dict({
        "translation": ["rot haus", "blau baum", "sonne mond", "grün wasser"],
        "english": ["red house", "blue tree", "sun moon", "green water"],
        "label": torch.randn(4, 5).tolist(),
    })
    loss = EmbedDistillLoss(student, "cosine", projection_dim=5)
    before = loss.projection.weight.detach().clone()
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2, learning_rate=1e-2,
        report_to=[], save_strategy="no", logging_steps=100, use_cpu=True,
    )
    SentenceTransformerTrainer(model=student, args=args, train_dataset=ds, loss=loss).train()
    assert not torch.allclose(before, loss.projection.weight.detach())
