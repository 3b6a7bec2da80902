"""zs3core: the library behind the ZS3Net workflow (zero-shot semantic segmentation).

Every stage of the paper is a small module here; the Snakemake rules only call into it.
"""
