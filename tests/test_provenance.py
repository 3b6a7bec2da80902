"""What each results row records about how it was made (zs3core/provenance.py)."""
import pytest

from zs3core.provenance import PROTOCOLS, protocol, row_meta

SEG = {"backbone": "resnet_tiny", "init": "none", "unseen_pixels": "drop"}
GEN = {"bandwidth_mode": "relative", "bandwidths": None, "iterations": 400}
COMMON = dict(dataset="synthvoc", K=2, seed=0, classifier_protocol="strict", segmenter=SEG,
              holdout_scope="all_stages", embedding_source="spacy_md")

# Methods whose training reads unseen ground truth in some form, and how.
READS_UNSEEN = {"zs3gc": "unseen_masks", "ceiling": "real_unseen", "authorszs3": "authors",
                "authorszs3gc": "authors", "supervised": "supervised"}


@pytest.mark.parametrize("method", ["seenonly", "baseline", "zs3", "zs5", "zs3gc", "ceiling", "supervised",
                                    "authorszs3", "authorszs3gc"])
def test_no_method_that_reads_unseen_ground_truth_says_strict(method):
    for classifier_protocol in ("strict", "authors"):
        value = protocol(method, classifier_protocol)
        assert value in PROTOCOLS
        if method in READS_UNSEEN:
            assert value == READS_UNSEEN[method]
        elif method in ("zs3", "zs5"):  # ZS5Net's pseudo-labels come from the ZS3 model
            assert value == classifier_protocol
        else:
            assert value == "strict"


def test_a_zs3_row_records_its_generator_bank_and_holdout():
    meta = row_meta(method="zs3", generator=GEN, dropout_at_generation=True, **COMMON)
    assert meta["bandwidth_mode"] == "relative" and meta["bandwidths"] == "0.25 0.5 1 2 4"
    assert meta["dropout_at_generation"] is True
    assert meta["holdout_excluded_from"] == "step0+generator+classifier"
    assert meta["backbone_init"] == "none" and meta["protocol"] == "strict"
    assert meta["calibration"] == "raw" and meta["gamma"] == 0.0
    assert "eval_short_side" not in meta and "pseudo_p" not in meta


def test_the_authors_kernel_and_their_step0_are_recorded():
    meta = row_meta(method="zs3", generator={"bandwidth_mode": "paper", "bandwidths": None, "iterations": 800},
                    dropout_at_generation=False, **{**COMMON, "segmenter": {**SEG, "init": "authors"}})
    assert meta["bandwidths"] == "2 5 10 20 40 60" and meta["backbone_init"] == "authors"
    assert meta["holdout_excluded_from"] == "generator+classifier"  # their step 0 saw every image


def test_zs5_and_gc_rows_say_what_they_add():
    zs5 = row_meta(method="zs5_p10", generator=GEN, dropout_at_generation=False,
                   selftrain={"p": 10, "calibrated": True, "mode": "classifier"}, **COMMON)
    assert zs5["method"] == "zs5" and zs5["pseudo_p"] == 10.0 and zs5["pseudo_calibrated"] is True
    assert zs5["selftrain_mode"] == "classifier" and zs5["pseudo_p_rule"] == "fixed"
    # cross-validated: the classifier file knows p (the evaluation sets it), the config only the rule
    cv = row_meta(method="zs5", generator=GEN, dropout_at_generation=False,
                  selftrain={"p": "cv", "calibrated": True, "mode": "classifier"}, **COMMON)
    assert cv["pseudo_p_rule"] == "cv" and cv["pseudo_p"] != cv["pseudo_p"]  # NaN until then
    gc = row_meta(method="zs3gc", generator=GEN, dropout_at_generation=False, **COMMON)
    assert gc["gc_graphs"] == "true_masks" and gc["protocol"] == "unseen_masks"
    seenonly = row_meta(method="seenonly", generator=GEN, **COMMON)
    assert "bandwidth_mode" not in seenonly  # no generator behind it


def test_classifier_only_scope_and_resized_evaluation():
    meta = row_meta(method="ceiling", eval_short_side=513, **{**COMMON, "holdout_scope": "classifier_only"})
    assert meta["holdout_excluded_from"] == "classifier" and meta["eval_short_side"] == 513
    assert row_meta(method="supervised", **COMMON)["holdout_excluded_from"] == "none"


@pytest.mark.parametrize("init, saw", [("none", "no"), ("imagenet", "yes"), ("authors_imagenet", "no"),
                                       ("authors", "no"), ("file", "unknown")])
def test_every_row_says_whether_its_backbone_saw_the_unseen_classes(init, saw):
    segmenter = {**SEG, "backbone": "resnet101", "init": init}
    for method in ("seenonly", "baseline", "supervised", "zs3", "ceiling"):
        assert row_meta(method=method, **{**COMMON, "segmenter": segmenter})["backbone_saw_unseen"] == saw
    authors = row_meta(method="authorszs3", **{**COMMON, "segmenter": segmenter})  # their own files
    assert authors["backbone_init"] == "authors" and authors["backbone_saw_unseen"] == "no"


def test_budgets_are_recorded_in_the_unit_they_were_set_in():
    classifier = {"epochs": 30, "unseen_weight": 100}
    epochs = row_meta(method="zs3", generator={**GEN, "iterations": None, "epochs": 30}, dropout_at_generation=True,
                      classifier=classifier, max_per_class=100, **COMMON)
    assert epochs["generator_budget"] == "30 epochs"
    assert (epochs["features_per_class"], epochs["classifier_epochs"], epochs["unseen_weight"]) == (100, 30, 100.0)
    assert row_meta(method="zs5_p25", generator=GEN, dropout_at_generation=True,
                    **COMMON)["generator_budget"] == "400 iterations"
    ceiling = row_meta(method="ceiling", classifier=classifier, max_per_class=50, **COMMON)
    assert ceiling["features_per_class"] == 50 and "generator_budget" not in ceiling
    for method in ("seenonly", "baseline", "supervised"):  # no classifier retrained on feature rows
        assert "unseen_weight" not in row_meta(method=method, classifier=classifier, max_per_class=100, **COMMON)


@pytest.mark.parametrize("loss, margin", [("cosine", None), ("rank", 0.1)])
def test_a_baseline_row_records_its_loss_margin_init_and_epochs(loss, margin):
    baseline = {"loss": loss, "margin": 0.1, "init": "seenonly", "epochs": 5}
    meta = row_meta(method="baseline", baseline=baseline, **COMMON)
    assert (meta["baseline_loss"], meta["baseline_margin"]) == (loss, margin)  # cosine has no margin
    assert meta["baseline_init"] == "seenonly" and meta["baseline_epochs"] == 5
    others = row_meta(method="zs3", generator=GEN, dropout_at_generation=True, baseline=baseline, **COMMON)
    assert not any(k.startswith("baseline_") for k in others)  # only the baseline's rows
