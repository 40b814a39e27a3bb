"""The false-alarm matrix, the kill matrix's mirror: with any harmless variant on, no blocking
criterion is FAILED or ERROR and the run checked something.

Variants that do not interact share a run (``falsealarm.plan_batches``): one case per batch, one row
per variant, printed at the end of the session beside the kill-matrix table. The registry's own
rules (unknown keys, names shared with faults) are pinned here too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from stackfast_conformance.falsealarm import plan_batches, run_batch
from stackfast_conformance.reference import load_faults, load_variants

BATCHES = plan_batches(load_variants().values())
# one row per variant, written where the controller (also under pytest-xdist) prints the table from
ROWS_DIR = Path(__file__).resolve().parent.parent / "reports" / "false-alarm-matrix"


@pytest.mark.parametrize("batch", BATCHES, ids=[b.label for b in BATCHES])
def test_harmless_variants_flag_nothing(batch, tmp_path):
    started = time.monotonic()
    results = run_batch(batch, base_dir=tmp_path)
    ROWS_DIR.mkdir(parents=True, exist_ok=True)
    for r in results:
        (ROWS_DIR / f"{r.variant}.json").write_text(json.dumps(
            {"variant": r.variant, "component": r.component, "batch": r.batch, "flagged": r.flagged,
             "checks_executed": r.checks_executed, "seconds": round(time.monotonic() - started, 1)}))
    bad = {r.variant: {cid: r.reasons.get(cid, "") for cid in r.flagged} or "nothing checked"
           for r in results if not r.ok}
    assert not bad, f"false alarms: {bad}\n" + "\n".join(r.output[-3000:] for r in results if not r.ok)


def test_the_registry_holds_at_least_25_variants_each_with_where_it_was_seen():
    variants = load_variants()
    assert len(variants) >= 25, sorted(variants)
    assert all(v.seen and v.description for v in variants.values())


def test_a_variant_entry_with_an_unknown_key_names_its_file_and_entry(tmp_path):
    (tmp_path / "x.yaml").write_text("- name: quiet-health\n  component: api\n  description: d\n  seen: s\n"
                                     "  crtieria: [R5.1]\n")
    with pytest.raises(ValueError, match=r"x\.yaml:quiet-health: unknown keys 'crtieria' \(did you mean 'criteria'"):
        load_variants(tmp_path)


def test_a_variant_may_not_take_a_fault_name(tmp_path):
    fault = sorted(load_faults())[0]
    (tmp_path / "x.yaml").write_text(f"- name: {fault}\n  component: api\n  description: d\n  seen: s\n")
    with pytest.raises(ValueError, match="has the name of a fault"):
        load_variants(tmp_path)


def test_every_switch_batch_keeps_alone_variants_to_themselves():
    for batch in BATCHES:
        if any(v.alone for v in batch.variants):
            assert len(batch.variants) == 1, batch.label
