"""Rule named_embeddings: the dataset's table + the new names' word vectors -> embeddings/{source}/{dataset}_named_{tag}.npy."""
from zs3core.embeddings import build_extended_embeddings
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    log.info("new classes %s, from %s", snakemake.params.names, snakemake.wildcards.source)
    build_extended_embeddings(
        base_npy=snakemake.input.table,
        base_json=snakemake.input.provenance,
        new_names=snakemake.params.names,
        source_name=snakemake.wildcards.source,
        source=snakemake.params.source,
        aliases=snakemake.params.aliases,
        out_npy=snakemake.output.table,
        out_json=snakemake.output.provenance,
    )
