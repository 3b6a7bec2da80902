"""zs3core: the library behind the ZS3Net workflow (zero-shot semantic segmentation).

Every stage of the paper is a small module here; the Snakemake rules only call into it.
Importing the package first pins the CPU kernels (`zs3core.cpu_kernels`), so that a job gives
the same bits on every x86-64 machine.
"""
from zs3core.cpu_kernels import pin_cpu_kernels

pin_cpu_kernels()
