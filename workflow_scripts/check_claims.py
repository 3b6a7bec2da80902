"""Rule claims: results CSVs -> results/claims_{dataset}.{csv,md} (which of the paper's claims hold)."""
from zs3core.claims import check_claims, claims_markdown
from zs3core.io import atomic_path, write_text
from zs3core.runlog import job_log
from zs3core.seed_spread import read_spread

with job_log(snakemake.log[0]):
    dataset = snakemake.wildcards.dataset
    spread_path = next(iter(snakemake.input.spread), None)
    spread = read_spread(spread_path) if spread_path else None
    df = check_claims(list(snakemake.input.results), dataset, snakemake.params.ks, spread=spread)
    with atomic_path(snakemake.output.csv) as tmp:
        df.to_csv(tmp, index=False, float_format="%.2f")
    write_text(snakemake.output.md, claims_markdown(df, dataset, spread_source=snakemake.params.spread_name if spread is not None else None))
