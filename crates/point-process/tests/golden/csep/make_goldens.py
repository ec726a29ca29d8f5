"""Runs pycsep 0.8.0 on the Ridgecrest CSEP inputs beside this script and writes pycsep_0.8.0.json.

Inputs (written by `cargo run -p sciml-point-process --example csep_ridgecrest --release -- DIR`):
  forecast.dat            gridded ETAS forecast of 2019-07-12 (pycsep's ASCII layout)
  catalogue_forecast.csv  simulated ETAS catalogues of the same day (pycsep's ASCII layout)
and the observed catalogue, the crate's copy of pycsep's sample ComCat catalogue.

Run from anywhere:
  python3 -m venv venv && venv/bin/pip install pycsep==0.8.0
  venv/bin/python make_goldens.py
"""
import json
import os
import sys
from datetime import datetime, timezone

import numpy as np
import scipy
import csep
from csep.core import poisson_evaluations as poisson
from csep.core import catalog_evaluations as cat_ev
from csep.core.binomial_evaluations import negative_binomial_number_test

HERE = os.path.dirname(os.path.abspath(__file__))
OBSERVED = os.path.join(HERE, "..", "..", "..", "data", "ridgecrest_2019_comcat.csv")
SEED, NSIM = 12345, 1000
T0 = datetime(2019, 7, 12, tzinfo=timezone.utc)
T1 = datetime(2019, 7, 13, tzinfo=timezone.utc)


def ms(t):
    return int(round(t.timestamp() * 1000))


def summary(r):
    td = r.test_distribution
    if isinstance(td, tuple) and isinstance(td[0], str):
        dist = {"analytic": [td[0]] + [float(x) for x in td[1:]]}
    else:
        a = np.asarray(td, dtype=float)
        dist = {"n": int(a.size), "mean": float(a.mean()), "min": float(a.min()), "max": float(a.max())}
    q = r.quantile
    q = [float(x) for x in q] if isinstance(q, (tuple, list)) else [float(q)]
    return {"name": r.name, "observed_statistic": float(r.observed_statistic), "quantile": q,
            "test_distribution": dist, "status": r.status}


def main():
    fc = csep.load_gridded_forecast(os.path.join(HERE, "forecast.dat"), name="etas")
    obs = csep.load_catalog(OBSERVED, type="csep-csv")
    obs.filter([f"magnitude >= {fc.min_magnitude}", f"origin_time >= {ms(T0)}", f"origin_time < {ms(T1)}"])
    obs.filter_spatial(fc.region)
    cf = csep.load_catalog_forecast(os.path.join(HERE, "catalogue_forecast.csv"), type="ascii",
                                    region=fc.region, name="etas",
                                    filters=[f"magnitude >= {fc.min_magnitude}"],
                                    filter_spatial=True, apply_filters=True)
    variance = 2.0 * fc.event_count
    out = {
        "pycsep": csep.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
        "seed": SEED, "num_simulations": NSIM, "nbd_variance": variance,
        "observed_events": int(obs.event_count), "forecast_total": float(fc.event_count),
        "N": summary(poisson.number_test(fc, obs)),
        "NBD": summary(negative_binomial_number_test(fc, obs, variance)),
        "L": summary(poisson.likelihood_test(fc, obs, num_simulations=NSIM, seed=SEED)),
        "CL": summary(poisson.conditional_likelihood_test(fc, obs, num_simulations=NSIM, seed=SEED)),
        "M": summary(poisson.magnitude_test(fc, obs, num_simulations=NSIM, seed=SEED)),
        "S": summary(poisson.spatial_test(fc, obs, num_simulations=NSIM, seed=SEED)),
        "catalog_N": summary(cat_ev.number_test(cf, obs)),
        "catalog_S": summary(cat_ev.spatial_test(cf, obs)),
        "catalog_M": summary(cat_ev.magnitude_test(cf, obs)),
        "catalog_PL": summary(cat_ev.pseudolikelihood_test(cf, obs)),
    }
    with open(os.path.join(HERE, "pycsep_0.8.0.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in out.items() if isinstance(v, dict)}, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
