"""Rule claims: results CSVs -> results/claims_{dataset}.{csv,md} (which of the paper's claims hold, by a
paired one-sided t-test over seeds at claims.alpha; "on a par" claims by TOST within claims.par_margin)."""
from zs3core.claims import check_claims, claims_csv, claims_markdown
from zs3core.io import write_text
from zs3core.runlog import job_log
from zs3core.seed_spread import read_spread

with job_log(snakemake.log[0]):
    dataset, alpha = snakemake.wildcards.dataset, snakemake.params.alpha
    spread_path = next(iter(snakemake.input.spread), None)
    spread = read_spread(spread_path) if spread_path else None
    df = check_claims(list(snakemake.input.results), dataset, snakemake.params.ks, alpha=alpha,
                      par_margin=snakemake.params.par_margin, spread=spread)
    write_text(snakemake.output.csv, claims_csv(df))
    write_text(snakemake.output.md, claims_markdown(df, dataset, alpha=alpha,
                                                    spread_source=snakemake.params.spread_name if spread is not None else None))
