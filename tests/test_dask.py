"""The same flow on a Dask cluster gives the same reports as a local run."""

import shutil

from conftest import SEEDS
from pipeline.config import Config


def test_two_worker_local_cluster_gives_identical_outputs(prefect_server, models_dir, quick_labels, tmp_path):
    from pipeline.flow import run_flow

    models = shutil.copytree(models_dir, tmp_path / "models")
    local = run_flow(Config(input_dir=SEEDS, output_dir=tmp_path / "local", model_dir=models, labels_dir=quick_labels))
    on_dask = run_flow(Config(input_dir=SEEDS, output_dir=tmp_path / "dask", model_dir=models, labels_dir=quick_labels, workers=2))
    assert on_dask["sentences"] == local["sentences"] and not on_dask.get("reused")
    for name in ("sentences.csv", "summary.md", "report.html", "quarantine.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_the_cli_takes_workers_and_a_cluster_address():
    from pipeline.cli import parser
    from pipeline.flow import task_runner

    args = parser().parse_args(["run", "--workers", "3"])
    assert args.workers == 3
    args = parser().parse_args(["run", "--dask-address", "tcp://10.0.0.5:8786"])
    runner = task_runner(Config(dask_address=args.dask_address))
    assert type(runner).__name__ == "DaskTaskRunner" and runner.address == "tcp://10.0.0.5:8786"
    assert task_runner(Config()) is None
