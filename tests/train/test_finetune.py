"""ZS5Net's fine-tune mode: only decoder and classifier learn, the pool's labels stay unread."""
import os

import numpy as np
import torch

from fixtures import VOC_CLASSES, make_voc_index
from zs3core.data.index import read_index
from zs3core.models.deeplab import build_segmenter
from zs3core.classifiers import classifier_scorer, load_classifier
from zs3core.selftrain import pseudo_index, pseudo_label_pool
from zs3core.train.finetune import DecoderFinetune, finetune_zs5, with_classifier
from zs3core.train.segmenter import SegmenterTraining

TINY = {"backbone": "resnet_tiny", "aspp_channels": 8, "feature_dim": 8, "low_level_channels": 4,
        "aspp_rates": [1, 2, 3], "init": "none"}
TRAIN = {"base_size": 32, "scale": [0.75, 1.25], "crop_size": 32}
CALIBRATION = {"max_unseen_rate": 0.05, "gammas": [0, 1, 2], "rule": "cv"}


def zs3_state(segmenter, num_classes, seed=0):
    g = torch.Generator().manual_seed(seed)
    dim = segmenter.classifier.in_channels
    return {"weight": torch.randn(num_classes, dim, generator=g), "bias": torch.randn(num_classes, generator=g)}


def test_only_decoder_and_classifier_change():
    torch.manual_seed(0)
    net = build_segmenter(5, TINY)
    model = DecoderFinetune(with_classifier(net, zs3_state(net, 7)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    x, y = torch.randn(2, 3, 32, 32), torch.randint(0, 7, (2, 32, 32))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    after = model.state_dict()
    for k, v in before.items():
        changed = not torch.equal(v, after[k])
        # BN running statistics of the frozen trunk stay too (eval mode), the decoder's move
        expected = k.startswith(("net.decoder.", "net.classifier."))
        assert changed == expected, k


def test_scorer_puts_the_finetuned_decoder_in_place():
    torch.manual_seed(0)
    net = build_segmenter(5, TINY).eval()
    tuned = with_classifier(net, zs3_state(net, 7)).eval()
    for p in tuned.decoder.parameters():
        p.data.add_(0.5)
    state = {"weight": tuned.classifier.weight[:, :, 0, 0], "bias": tuned.classifier.bias,
             "decoder": tuned.decoder.state_dict()}
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = tuned.classifier(tuned.features(x))
        assert torch.allclose(classifier_scorer(net, state)(x), expected, atol=1e-6)
        assert not torch.allclose(net.features(x), tuned.features(x))  # the seen-only net is untouched


def test_finetune_reads_no_pool_label_and_writes_a_classifier(tmp_path):
    index, labels = make_voc_index(tmp_path / "voc", [f"t{i:02d}" for i in range(14)], ["v0"], size=(32, 40))
    present = sorted({v for i, l in labels.items() if i.startswith("t") for v in np.unique(l)} - {0, 255})
    unseen = [VOC_CLASSES[present[0]]]
    u = VOC_CLASSES.index(unseen[0])
    torch.manual_seed(0)
    net = build_segmenter(len(VOC_CLASSES), TINY).eval()

    def score(x):
        s = torch.zeros(1, len(VOC_CLASSES), *x.shape[-2:])
        s[0, u, :, :8] = 5.0
        return s

    pseudo = tmp_path / "pseudo"
    assert pseudo_label_pool(score, index, VOC_CLASSES, unseen, 50, 0.0, pseudo) > 0
    for row in read_index(pseudo_index(pseudo)):  # the pool's own labels are gone
        os.remove(next(r["label"] for r in read_index(index) if r["image_id"] == row["image_id"]))
    train = SegmenterTraining(epochs=1, batch_size=2, lr=0.01, amp=False, seed=0)
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "zs5.pt"
    seen_only = [r["image_id"] for r in read_index(index) if r["split"] == "train" and unseen[0] not in r["classes"]]
    state = finetune_zs5(net, zs3_state(net, len(VOC_CLASSES)), index, pseudo_index(pseudo), VOC_CLASSES,
                         unseen, train, TRAIN, CALIBRATION, frozenset(seen_only[:2]), out_path=out, work_dir=work,
                         cv_gamma=0.75)
    loaded = load_classifier(out)
    assert set(loaded["decoder"]) == set(net.decoder.state_dict())
    assert loaded["weight"].shape == (len(VOC_CLASSES), 8) and torch.equal(loaded["weight"], state["weight"])
    # ZS3's file layout, and its rule: the cross-validated gamma applied, the rate rule's recorded
    assert loaded["gamma_rule"] == "cv" and loaded["gamma"] == 0.75
    assert set(loaded["gammas"]) == {"rate", "cv"} and loaded["gammas"]["rate"] in CALIBRATION["gammas"]
    assert not (work / "finetuned.pt").exists()
