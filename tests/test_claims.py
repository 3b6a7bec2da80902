"""The claims checker against hand-made results rows."""
import pandas as pd

from zs3core.claims import CLAIMS, check_claims, claims_markdown
from zs3core.tables import RESULT_METRICS


def rows(method, K, unseen, hiou=10.0, calibration="raw"):
    row = {m: 50.0 for m in RESULT_METRICS}
    row.update(dataset="synthvoc", K=K, method=method, seed=0, calibration=calibration, gamma=0.0,
               unseen_miou=unseen, hiou=hiou)
    return row


def test_verdicts_follow_the_numbers():
    df = pd.DataFrame([
        rows("baseline", 2, 1.0), rows("zs3", 2, 20.0, hiou=30.0), rows("zs3", 2, 24.0, calibration="calibrated"),
        rows("ceiling", 2, 50.0), rows("zs5", 2, 30.0, hiou=29.0),
        rows("baseline", 4, 12.0), rows("zs3", 4, 12.0), rows("ceiling", 4, 20.0),
        rows("zs3", 4, 10.0, calibration="calibrated"),
    ])
    out = check_claims(df, "synthvoc", [2, 4])
    verdict = {(r.claim, r.K): r.holds for r in out.itertuples()}
    assert verdict[(CLAIMS[0].name, 2)] and not verdict[(CLAIMS[0].name, 4)]  # a tie is not a win
    assert not verdict[(CLAIMS[2].name, 2)] and verdict[(CLAIMS[2].name, 4)]  # 24 < 25; 10 >= 10
    assert not verdict[(CLAIMS[3].name, 2)]  # ZS5 hIoU 29 < 30
    # no seen-only or GC rows, and no ZS5 row at K=4: those claims are skipped, not passed
    assert {c for c, _ in verdict} == {CLAIMS[0].name, CLAIMS[2].name, CLAIMS[3].name}
    assert (CLAIMS[3].name, 4) not in verdict
    ratio = out[(out["claim"] == CLAIMS[2].name) & (out["K"] == 2)]["ratio"].item()
    assert ratio == 24.0 / 50.0
    md = claims_markdown(out, "synthvoc")
    assert f"{CLAIMS[0].name}: holds at 1 of 2 splits (K = 2)" in md and "| NO |" in md
