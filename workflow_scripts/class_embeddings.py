"""Rule class_embeddings: class names + word vectors -> embeddings/{source}/{dataset}.npy/.json."""
from zs3core.embeddings import build_embeddings
from zs3core.runlog import job_log

with job_log(snakemake.log[0]):
    build_embeddings(
        class_names=snakemake.params.classes,
        source_name=snakemake.wildcards.source,
        source=snakemake.params.source,
        aliases=snakemake.params.aliases,
        normalisation=snakemake.params.normalisation,
        out_npy=snakemake.output.table,
        out_json=snakemake.output.provenance,
    )
