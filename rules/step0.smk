# Step 0: index (+ embeddings) -> checkpoints/{dataset}/k{K}/{seenonly,baseline,ale}.pt and
# checkpoints/{dataset}/supervised.pt. Each job resumes from its `.work/last.pt` if killed.


rule train_step0:
    """Seen-only DeepLabv3+ (unseen images dropped), the DeViSE baseline or ALE, for split K."""
    input:
        external_inputs("backbone_weights"),
        index="data/{dataset}/index.csv",
        embeddings=step0_embeddings,
        init=baseline_init,
        holdout=stage_holdout,
    output:
        "checkpoints/{dataset}{seedtag}/k{K}/{kind}.pt",
    wildcard_constraints:
        kind=evaluated_pattern("step0"),
        dataset=step0_dataset_constraint(),  # not the seen-only checkpoints of segmenter.init: authors
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        segmenter=lambda wc: step0_config(wc.dataset, wc.kind),
        seed=seed_of,
        work_dir=lambda wc: f"checkpoints/{wc.dataset}{wc.seedtag}/k{wc.K}/{wc.kind}.work",
    threads: config["compute"]["threads"]
    log:
        "logs/train_step0/{dataset}{seedtag}_k{K}_{kind}.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=16000,
        runtime=24 * 60,
    script:
        "../workflow_scripts/train_step0.py"


rule train_supervised:
    """The supervised oracle: the same network trained on all classes."""
    input:
        external_inputs("backbone_weights"),
        index="data/{dataset}/index.csv",
    output:
        "checkpoints/{dataset}{seedtag}/supervised.pt",
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=[],
        segmenter=lambda wc: segmenter_config(wc.dataset),
        seed=seed_of,
        work_dir=lambda wc: f"checkpoints/{wc.dataset}{wc.seedtag}/supervised.work",
    threads: config["compute"]["threads"]
    log:
        "logs/train_step0/{dataset}{seedtag}_supervised.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=16000,
        runtime=24 * 60,
    script:
        "../workflow_scripts/train_step0.py"
