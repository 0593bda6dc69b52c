#!/usr/bin/env python3
"""Reference values for PEFTLib's caption metric, computed by pycocoevalcap (the COCO
caption evaluation's own CIDEr-D) on small caption sets, written to
Tests/PEFTLibTests/Fixtures/cider_reference.json.

    .venv/bin/pip install pycocoevalcap && .venv/bin/python tools/make_metric_fixtures.py
"""
import json
import os
import random

from pycocoevalcap.cider.cider import Cider

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "PEFTLibTests", "Fixtures", "cider_reference.json")

WORDS = ("a an the red blue green small large circle square triangle star cup plate "
         "next to on left right of two three with and near above below").split()


def random_caption(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))


def case(candidates, references):
    gts = {i: refs for i, refs in enumerate(references)}
    res = {i: [c] for i, c in enumerate(candidates)}
    mean, scores = Cider().compute_score(gts, res)
    return {"candidates": candidates, "references": references,
            "mean": float(mean), "scores": [float(s) for s in scores]}


def main():
    rng = random.Random(7)
    cases = [
        case(["a red circle next to a blue square", "two green stars", "a cup on a plate"],
             [["a red circle left of a blue square", "a red circle and a blue square", "red circle blue square",
               "a circle that is red near a square", "the red circle is next to the blue square"],
              ["two green stars", "a pair of green stars", "two stars that are green", "green stars", "two small green stars"],
              ["a cup on a plate", "a cup sitting on a plate", "the cup is on the plate", "cup and plate", "a plate with a cup"]]),
        case(["identical caption"] * 2, [["identical caption"] * 5, ["something else entirely"] * 5]),
    ]
    candidates = [random_caption(rng) for _ in range(40)]
    references = [[random_caption(rng) for _ in range(5)] for _ in range(40)]
    cases.append(case(candidates, references))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"generator": "pycocoevalcap.cider.Cider", "cases": cases}, f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
