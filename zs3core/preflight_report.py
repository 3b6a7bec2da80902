"""What a preflight reports beyond the findings: disk and GPU time the configured run will take,
and the report itself (`results/preflight_{dataset}.md` + `.csv`, one CSV row per finding).

Disk comes from the feature-file layout of `zs3core.features` applied to the decoded labels;
GPU time from the rates measured on one H200 (`bench/README.md`), so both are estimates.
"""
from __future__ import annotations

import csv
import io
from typing import Iterable, Mapping, Sequence

from zs3core.budgets import generator_steps
from zs3core.holdout import choose_holdout
from zs3core.io import write_text
from zs3core.methods import BY_NAME, split_methods
from zs3core.preflight import Finding

FEATURE_STRIDE = 4  # DeepLabV3Plus.feature_stride: the map the features are sampled from
# One H200, bench/README.md (the slow end of each measured range).
RATES = {"train_images_per_s": 415.6, "extract_images_per_s": 155.0, "eval_images_per_s": 100.0,
         "generator_iterations_per_s": 257.5}
RATE_CLASSES = 16  # classes per step of the measured generator rate (128 + 128 rows each)


def feature_file_bytes(results: Iterable[dict], feature_dim: int, max_per_class: int,
                       skip: Sequence[int] = ()) -> tuple[int, int]:
    """(bytes, rows) of one training feature file: per image and class present (void excluded)
    min(max_per_class, its pixels on the stride-4 grid) rows of 2D + 14 bytes, one region per
    class present (a lower bound: real masks split into more) of 2D + 6, and the uint8 label map.
    `skip`: class indices whose images the file leaves out (none: step 0's features keep all)."""
    total = rows = 0
    for r in results:
        if r["split"] != "train" or r["counts"] is None or any(r["counts"][list(skip)]):
            continue
        counts = r["counts"] / FEATURE_STRIDE ** 2
        present = counts > 0
        n_rows = int(sum(min(max_per_class, max(1, round(c))) for c in counts[present]))
        h, w = r["size"]
        rows += n_rows
        total += n_rows * (2 * feature_dim + 14) + int(present.sum()) * (2 * feature_dim + 6) + \
            -(-h // FEATURE_STRIDE) * -(-w // FEATURE_STRIDE)
    return total, rows


def _train_s(images: int, epochs: int) -> float:
    return images * epochs / RATES["train_images_per_s"]


def generator_seconds(section: dict, pairs: int, n_seen: int) -> float:
    """One generator's training time: its steps (`zs3core.budgets`) at the measured rate, a step
    of up to 16 classes costing one measured step (launches bound it), a larger one pro rata."""
    per_step = n_seen if section["classes_per_step"] is None else min(section["classes_per_step"], n_seen)
    steps = generator_steps(section, pairs, per_step)
    return steps * max(per_step, RATE_CLASSES) / RATE_CLASSES / RATES["generator_iterations_per_s"]


def gpu_hours(n_train: int, n_val: int, seen_only: Mapping[int, int], pool: Mapping[int, int], cfg: dict
              ) -> list[dict]:
    """GPU hours per stage on one H200 for every split K. `cfg`: epochs, baseline_epochs,
    init (authors: step 0 is converted, not trained), generator, gc and gan (their sections), pairs
    ({K: (image, seen class) pairs the generators train on}), seen_classes ({K: seen classes}),
    tables. The embedding baselines (DeViSE, ALE) train for baseline_epochs each; a GAN step is
    `n_critic` critic updates and one generator update, each costed as a GMMN step (projected)."""
    k_count = len(seen_only)
    step0 = 0.0 if cfg["init"] == "authors" else sum(_train_s(n, cfg["epochs"]) for n in seen_only.values())
    methods = set(split_methods(cfg["tables"]))  # evaluated per split K
    stages = {
        "step 0: seen-only segmenters": step0,
        "step 0: supervised oracle": _train_s(n_train, cfg["epochs"]),
        "step 0: DeViSE and ALE baselines": sum(BY_NAME[m].step0_embeddings for m in methods)
        * sum(_train_s(n, cfg["baseline_epochs"]) for n in seen_only.values()),
        "features (training images)": k_count * n_train / RATES["extract_images_per_s"],
        "step 1: GMMN": sum(generator_seconds(cfg["generator"], cfg["pairs"][k], cfg["seen_classes"][k])
                            for k in seen_only),
        "step 1: GC generator": sum(generator_seconds(cfg["gc"], cfg["pairs"][k], cfg["seen_classes"][k])
                                    for k in seen_only) if "zs3gc" in methods else 0.0,
        "step 1: GAN": (cfg["gan"]["n_critic"] + 1) * sum(
            generator_seconds(cfg["gan"], cfg["pairs"][k], cfg["seen_classes"][k]) for k in seen_only)
        if "zs3gan" in methods else 0.0,
        "ZS5: pseudo-labels of the pool": sum(pool.values()) / RATES["eval_images_per_s"] if "zs5" in methods else 0.0,
        "evaluations (test split)": (k_count * len(methods) + 1) * n_val / RATES["eval_images_per_s"],
    }
    return [{"stage": s, "gpu_hours": round(v / 3600, 2)} for s, v in stages.items()]


def _table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(str(r[c]) for c in columns) + " |\n" for r in rows)


def findings_csv(findings: Sequence[Finding]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["severity", "check", "path", "message"])
    writer.writerows([f.severity, f.check, f.path, f.message] for f in findings)
    return out.getvalue()


def layout_text(layout) -> str:
    """The report's layout section: which layout was read, why, and what else the tree holds."""
    official = ", ".join(f"{s} {n:,}" for s, n in layout.official.items())
    others = ", ".join(f"`{n}`" for n in layout.others)
    return (f"{layout.describe()}.\n\nChosen because {layout.reason}.\n\n" +
            (f"Also found, not read: {others} (choose with `datasets.<name>.layout`).\n\n" if others else "") +
            f"Official counts of this layout: {official} (compared under Images per split).\n")


def write_report(md_path, csv_path, dataset: str, sections: Mapping, findings: Sequence[Finding]) -> None:
    """Write the markdown report and the findings CSV atomically. `sections`: layout, counts,
    classes, splits, embeddings, weights, disk, gpu (see `run_preflight`)."""
    errors = sum(f.severity == "error" for f in findings)
    md = [f"# Preflight of `{dataset}`\n",
          f"**{errors} error(s), {len(findings) - errors} warning(s)**" +
          (" - fix the errors before the first GPU job.\n" if errors else ".\n"),
          "## Layout\n", layout_text(sections["layout"]),
          "## Findings\n", _table([f.__dict__ for f in findings], ["severity", "check", "path", "message"])
          if findings else "None.\n",
          "## Images per split\n", _table(sections["counts"], ["split", "listed", "official", "on_disk", "decoded"]),
          "## Per class\n", _table(sections["classes"], list(sections["classes"][0])),
          "## Per split K\n", _table([{**r, "unseen_val_pixels": ", ".join(f"{c} {p}" for c, p in
                                       r["unseen_val_pixels"].items())} for r in sections["splits"]],
                                     ["K", "seen_only_train_images", "seen_only_held_out", "zs5_pool_images",
                                      "unseen_val_pixels"]),
          "(seen-only images include the calibration hold-out, `holdout.fraction` of the training "
          "images, drawn as `data/{dataset}/holdout.txt` would be from the decodable ones)\n",
          f"## Class embeddings (`{sections['embedding_source']}`)\n",
          _table([{**r, "words": " ".join(r["words"]), "missing": " ".join(r.get("missing", ["?"]))}
                  for r in sections["embeddings"]], ["class", "words", "alias", "missing"]),
          "## Weight files read\n", "".join(f"- `{p}`\n" for p in sections["weights"]) or "None.\n",
          "## Disk\n", _table(sections["disk"], list(sections["disk"][0])),
          "## GPU hours on one H200 (rates of bench/README.md)\n", _table(sections["gpu"], ["stage", "gpu_hours"])]
    write_text(md_path, "\n".join(md))
    write_text(csv_path, findings_csv(findings))


def run_preflight(dataset: str, p: Mapping, md_path, csv_path, workers: int = 1) -> list[Finding]:
    """The whole preflight of one dataset from the rule's params `p` (see rules/preflight.smk);
    returns the findings. Raises PreflightError when there is nothing to check."""
    from zs3core.data.layouts import choose_layout
    from zs3core.preflight import (PreflightError, class_table, count_findings, decode_all, decode_findings,
                                   layout_findings, scan, split_findings, split_table)
    from zs3core.preflight_inputs import embedding_rows, weight_findings

    classes = list(p["classes"])
    if p["format"] not in ("voc", "context"):
        raise PreflightError(f"datasets.{dataset}.format = {p['format']!r}: preflight reads voc or context")
    layout = choose_layout(dataset, p)
    plan = scan(layout, classes, p.get("label_renames"))
    if not plan.records:
        raise PreflightError(f"datasets.{dataset}: no image listed in the splits exists on disk "
                             f"(listed {plan.listed}); check the dataset roots")
    seg = p["segmenter"]
    results = decode_all(plan.records, len(classes), plan.lut, workers)
    train_ids = [r["image_id"] for r in results if r["split"] == "train" and r["counts"] is not None]
    holdout = frozenset(choose_holdout(train_ids, p["holdout_fraction"], p["seed"]) if len(train_ids) > 1 else ())
    splits = split_table(results, classes, p["unseen"], holdout)
    emb_rows, emb_findings = embedding_rows(classes, p["embedding_source"], p["embedding"], p["aliases"], dataset)
    checked, weight_problems = weight_findings(seg, p["format"], sorted(p["unseen"]), classes)
    findings = layout_findings(layout) + plan.findings + count_findings(plan) + decode_findings(results) + \
        split_findings(splits, seg["train"]["batch_size"]) + emb_findings + weight_problems
    decoded = [r for r in results if r["counts"] is not None]
    counts = [{"split": s, "listed": plan.listed[s], "official": plan.official[s],
               "on_disk": sum(r["split"] == s for r in plan.records),
               "decoded": sum(r["split"] == s for r in decoded)} for s in ("train", "val")]
    feature_dim = seg["feature_dim"]
    disk = []
    n_banks = len({BY_NAME[m].bank for m in split_methods(p["tables"])} - {None})  # gmmn (+ gc, gan)
    for row in splits:
        size, rows = feature_file_bytes(decoded, feature_dim, p["max_per_class"])
        bank_rows = p["n_per_class"] or rows // max(1, len(classes) - len(p["unseen"][row["K"]]))
        disk.append({"K": row["K"], "features/train.h5 rows": rows, "features/train.h5 MB": round(size / 1e6, 1),
                     "bank rows per unseen class": bank_rows,
                     "banks MB": round(bank_rows * len(p["unseen"][row["K"]]) * 2 * feature_dim * n_banks / 1e6, 1)})
    n = {s: sum(r["split"] == s for r in decoded) for s in ("train", "val")}
    cost = {"epochs": seg["train"]["epochs"], "baseline_epochs": p["baseline_epochs"] or seg["train"]["epochs"],
            "init": seg.get("init"), "generator": p["generator"], "gc": p["gc"], "gan": p["gan"], "tables": p["tables"],
            "pairs": {r["K"]: r["generator_pairs"] for r in splits},
            "seen_classes": {r["K"]: len(classes) - len(p["unseen"][r["K"]]) for r in splits}}
    gpu = gpu_hours(n["train"], n["val"], {r["K"]: r["seen_only_train_images"] for r in splits},
                    {r["K"]: r["zs5_pool_images"] for r in splits}, cost)
    gpu.append({"stage": "total", "gpu_hours": round(sum(g["gpu_hours"] for g in gpu), 2)})
    sections = {"layout": layout, "counts": counts, "classes": class_table(decoded, classes), "splits": splits,
                "embedding_source": p["embedding_source"], "embeddings": emb_rows, "weights": checked,
                "disk": disk, "gpu": gpu}
    write_report(md_path, csv_path, dataset, sections, findings)
    return findings
