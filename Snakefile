# ZS3Net: zero-shot semantic segmentation, as a file-to-file workflow.
# The stages live in rules/ (one file per arrow of the data flow); the science in zs3core/.

configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/embeddings.smk"
include: "rules/step0.smk"
include: "rules/authors.smk"
include: "rules/features.smk"
include: "rules/generator.smk"
include: "rules/retrain.smk"
include: "rules/cv.smk"
include: "rules/graph_context.smk"
include: "rules/gan.smk"
include: "rules/selftrain.smk"
include: "rules/evaluate.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"
include: "rules/named.smk"
include: "rules/preflight.smk"
include: "rules/variants.smk"
include: "rules/mechanisms.smk"


rule all:
    """The embedded default: everything built so far for the datasets in `default_datasets`."""
    input:
        default_targets(),
