"""Write static/digits/max-avg.json: the MNIST test digits on which the shipped max and avg
networks give different answers (app/ml/disagree.py), which the page offers beside its ten
samples. Run from the project root after `featuremaps data fetch`, and again whenever
models/max.safetensors or models/avg.safetensors change (the page offers the file only with
the weights it names):  python scripts/make_disagreements.py
"""

from __future__ import annotations

import json
from pathlib import Path

from app.config import Settings
from app.ml import data, disagree

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    settings = Settings()
    record = disagree.build(settings.models_dir, data.load(settings.data_dir))
    out = ROOT / "static" / "digits" / disagree.FILE_NAME
    out.write_text(json.dumps(record, indent=1) + "\n")
    said = (f"{out.relative_to(ROOT)}: {len(record['digits'])} of {record['total']:,} "
            f"{record['split']} digits, {disagree.counts(record)}")
    print(said)  # noqa: T201


if __name__ == "__main__":
    main()
