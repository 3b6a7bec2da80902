# Figures: qualitative panels (the paper's Figures 4 and 6), Figure 5 (ZS5Net's p sweep), a
# confusion heatmap per results run; and a trained model's predictions on a folder of your images.
# Predictions go through the evaluation's own path (panels at the evaluation's resolution, your
# images at their own); retrained classifiers (ZS3, ZS5) predict at their calibrated gamma.


rule qualitative_figure:
    """Figures 4 and 6: the first `figures.n_images` test images containing an unseen class |
    ground truth | each of `figures.methods`."""
    input:
        unpack(lambda wc: method_classifiers(wc, config["figures"]["methods"])),
        index="data/{dataset}/index.csv",
        checkpoint="checkpoints/{dataset}{seedtag}/k{K}/seenonly.pt",
    output:
        report("results/figures/{dataset}{seedtag}_k{K}.png", caption="../report/qualitative.rst", category="Figures",
               subcategory="Qualitative"),
    params:
        methods=config["figures"]["methods"],
        titles=lambda wc: [method_title(wc.dataset, m) for m in config["figures"]["methods"]],
        title=lambda wc: f"{wc.dataset}, K={wc.K}: unseen {', '.join(unseen_of(wc))}",
        n_images=config["figures"]["n_images"],
        short_side=config["evaluation"]["short_side"],
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        segmenter=lambda wc: segmenter_config(wc.dataset),
    threads: config["compute"]["threads"]
    log:
        "logs/figures/{dataset}{seedtag}_k{K}.log",
    benchmark:
        "benchmarks/figures/{dataset}{seedtag}_k{K}.tsv"
    resources:
        mem_mb=4000,
        runtime=15,
    script:
        "../workflow_scripts/qualitative_figure.py"


rule confusion_heatmap:
    """Where each ground-truth class's pixels go in one results run (calibrated where it has one)."""
    localrule: True
    input:
        metrics="results/{dataset}{seedtag}_k{K}_{method}.csv",
        confusion="results/{dataset}{seedtag}_k{K}_{method}_confusion.npy",
    output:
        report("results/{dataset}{seedtag}_k{K}_{method}_confusion.png", caption="../report/confusion.rst",
               category="Figures", subcategory="Confusion"),
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
    log:
        "logs/figures/{dataset}{seedtag}_k{K}_{method}_confusion.log",
    benchmark:
        "benchmarks/figures/{dataset}{seedtag}_k{K}_{method}_confusion.tsv"
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../workflow_scripts/confusion_heatmap.py"


rule fig5:
    """Figure 5: ZS5Net's seen, unseen and overall mIoU against p, at K = `selftrain.sweep_k`."""
    localrule: True
    input:
        p_sweep_results,
    output:
        csv="results/fig5_{dataset}.csv",
        png=report("results/fig5_{dataset}.png", caption="../report/fig5.rst", category="Figures",
                   subcategory="Self-training"),
    params:
        p=lambda wc: stage_config(config, "selftrain", wc.dataset)["p_sweep"],
        K=lambda wc: stage_config(config, "selftrain", wc.dataset)["sweep_k"],
    log:
        "logs/figures/fig5_{dataset}.log",
    benchmark:
        "benchmarks/figures/fig5_{dataset}.tsv"
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../workflow_scripts/fig5.py"


rule predict:
    """A trained model on the images of `predict.images`: `index/` (class-index PNGs), `colour/`, `overlay/`,
    classes.csv and index.html (each image beside its overlay, the legend)."""
    input:
        unpack(lambda wc: method_classifiers(wc, [wc.method])),
        images=prediction_images,
        checkpoint="checkpoints/{dataset}{seedtag}/k{K}/seenonly.pt",
    output:
        directory("predictions/{dataset}{seedtag}_k{K}_{method}"),
    wildcard_constraints:
        method=figure_pattern(),
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        segmenter=lambda wc: segmenter_config(wc.dataset),
    threads: config["compute"]["threads"]
    log:
        "logs/predict/{dataset}{seedtag}_k{K}_{method}.log",
    benchmark:
        "benchmarks/predict/{dataset}{seedtag}_k{K}_{method}.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../workflow_scripts/predict_images.py"


rule training_curves:
    """Every training stage's loss curve for one split (`run` = k{K}: step 0, generators, classifiers,
    cross-validation) or for the supervised oracle (`run` = supervised), read from the records the
    training jobs keep (zs3core/curves.py); TensorBoard event files too when tensorboard is installed."""
    input:
        unpack(curve_inputs),
    output:
        png=report("results/curves/{dataset}{seedtag}_{run}_curves.png", caption="../report/curves.rst",
                   category="Figures", subcategory="Training curves"),
        **tensorboard_output("tensorboard/{dataset}{seedtag}/{run}"),
    wildcard_constraints:
        run=r"k\d+|supervised",
    log:
        "logs/figures/curves_{dataset}{seedtag}_{run}.log",
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../workflow_scripts/training_curves.py"
