"""The hostile corpus through the ingestion API and the CLI: no case may crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.hostile_corpus import cases, fuzz_cases, run_all, summary


def test_every_hostile_case_is_handled_without_a_crash():
    rows = run_all(cases())
    crashes = [r for r in rows if r[1] == "crash"]
    assert not crashes, crashes
    s = summary(rows)
    assert s["cases"] >= 30 and s["clean errors"] >= 8  # bombs, empty/invalid zips, models, one class…
    outcome = {name: o for name, o, _ in rows}
    for must_refuse in (
        "zip bomb (ratio)",
        "zip with 60,000 members",
        "empty zip",
        "not a zip named .zip",
        "malicious pickle as model",
        "one class only",
        "no images at all",
    ):
        assert outcome[must_refuse] == "clean", must_refuse
    assert not Path("/tmp/gs_corpus_pwned").exists()


def test_short_fuzz_run_of_image_and_zip_intake():
    rows = run_all(fuzz_cases(60, seed=1))
    assert summary(rows)["crashes"] == 0, [r for r in rows if r[1] == "crash"]


@pytest.mark.slow
def test_hostile_cases_through_the_cli():
    sample = [
        c
        for c in cases()
        if c.name
        in (
            "zip-slip ../",
            "zip bomb (ratio)",
            "truncated JPEG",
            "malicious pickle as model",
            "no images at all",
            "empty zip",
        )
    ]
    rows = run_all(sample, cli=True)
    assert summary(rows)["crashes"] == 0, rows
