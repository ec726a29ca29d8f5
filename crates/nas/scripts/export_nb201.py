#!/usr/bin/env python3
"""Export NAS-Bench-201 results to the CSV layout that `nas::nb201::Nb201` reads.

Usage (next to your copy of the benchmark file, e.g. NAS-Bench-201-v1_1-096897.pth):

    pip install nas-bench-201
    python3 export_nb201.py NAS-Bench-201-v1_1-096897.pth nb201.csv

One row per architecture, dataset and schedule (hp 12 and 200), with accuracies averaged over the
benchmark's seeds (`is_random=False`), in percent.
"""
import csv
import sys

from nas_201_api import NASBench201API

COLUMNS = ["arch_index", "arch", "dataset", "hp", "valid_acc", "test_acc", "train_acc", "params_mb", "flops_m"]
DATASETS = ["cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"]


def number(info, key):
    value = info.get(key)
    return "" if value is None else f"{float(value):.4f}"


def main(src, dst):
    api = NASBench201API(src, verbose=False)
    with open(dst, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for index in range(len(api)):
            arch = api.arch(index)
            for dataset in DATASETS:
                cost = api.get_cost_info(index, dataset)
                for hp in ("12", "200"):
                    try:
                        info = api.get_more_info(index, dataset, hp=hp, is_random=False)
                    except Exception as err:  # a schedule the file does not hold
                        print(f"skipping {index} {dataset} hp={hp}: {err}", file=sys.stderr)
                        continue
                    writer.writerow([
                        index, arch, dataset, hp,
                        number(info, "valid-accuracy"), number(info, "test-accuracy"),
                        number(info, "train-accuracy"), number(cost, "params"), number(cost, "flops"),
                    ])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
