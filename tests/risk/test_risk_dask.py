import numpy as np
import pytest
from risk_helpers import allocation, synthetic_profiles

from offtake.risk import BLOCK_PATHS, RiskOptions, build_model, run_risk

distributed = pytest.importorskip("distributed")


def test_dask_cluster_gives_identical_results() -> None:
    model, ctx = build_model(
        synthetic_profiles(),
        allocation(),
        RiskOptions(seed=21, n_months=18),
        exchange_rate_pkr_per_usd=280.0,
    )
    n_paths = 3 * BLOCK_PATHS + 123  # several blocks and a short last one
    local = run_risk(model, ctx, n_paths, progress=None)
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
        memory_limit="1GiB",
    ) as cluster:
        remote = run_risk(
            model, ctx, n_paths, scheduler_address=cluster.scheduler_address, progress=None
        )
    assert local.arrays.keys() == remote.arrays.keys()
    for name, values in local.arrays.items():
        np.testing.assert_array_equal(values, remote.arrays[name], err_msg=name)
    assert local.solved_tariff_usd_per_mwh() == remote.solved_tariff_usd_per_mwh()
