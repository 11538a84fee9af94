"""Build and inspect benchmark tables from the command line.

Examples::

    python -m nas_env.table build --space bench --task lm/stdlib --fidelity bench \\
        --out config/tables/bench.sqlite
    python -m nas_env.table info config/tables/bench.sqlite

An interrupted ``build`` resumes where it stopped when run again with the same flags.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from nas_env.errors import NASEnvError
from nas_env.evaluation.precision import PRECISIONS
from nas_env.table import store
from nas_env.table.evaluator import TableEvaluator
from nas_env.table.surrogate_cli import (
    add_surrogate_commands,
    run_long_surrogate,
    run_model_surrogate,
    run_surrogate,
    run_surrogate_info,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        prog="python -m nas_env.table",
        description="Build a benchmark table (every genome of a space trained once) or "
        "describe one.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser(
        "build",
        help="evaluate every genome of a space (or a sample) into a table file; resumable",
        description="Evaluate every genome of a space (or --sample N of them) and store each "
        "result as soon as it is measured. Re-running the same command resumes an "
        "interrupted build.",
    )
    build.add_argument("--space", default="bench", help="preset name or YAML path (bench)")
    build.add_argument("--task", default="lm/stdlib", help="task id (default lm/stdlib)")
    build.add_argument("--fidelity", default="bench", help="fidelity level (default bench)")
    build.add_argument("--out", required=True, help="table file to create or resume")
    build.add_argument("--sample", type=int, default=None, help="evaluate only N genomes")
    build.add_argument("--seed", type=int, default=0, help="training and sampling seed (0)")
    build.add_argument("--backend", default="torch", help="torch or deepspeed (default torch)")
    build.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    build.add_argument("--precision", default="auto", choices=PRECISIONS)
    build.add_argument("--vocab-size", type=int, default=None, help="tokenizer vocabulary")
    build.add_argument("--cache-dir", default=None, help="cache folder (default $NAS_ENV_CACHE)")
    build.add_argument(
        "--no-cache", action="store_true", help="do not read or write the result cache"
    )
    build.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: fastest for small candidates, and fair on a "
        "shared machine; 0 = torch's default)",
    )
    build.add_argument(
        "--rungs",
        type=int,
        default=1,
        help="promotion rungs to tabulate (default 1): rung i trains the first "
        "steps/eta**(rungs-1-i) steps of the fidelity's schedule, continuing from the rung "
        "below; each rung but the top goes to <out stem>@<steps>.sqlite",
    )
    build.add_argument("--eta", type=int, default=3, help="ratio between rungs (default 3)")
    build.add_argument(
        "--workers",
        type=int,
        default=1,
        help="training processes (default 1); they share the result cache, and the tables "
        "are written from it",
    )
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.add_argument(
        "--sample-seed",
        type=int,
        default=None,
        help="seed of the --sample draw (default: --seed); with another --seed, the same "
        "genomes trained with another seed (a noise floor)",
    )
    add_surrogate_commands(sub)
    info = sub.add_parser("info", help="describe a table: meta, rows, statuses, best genome")
    info.add_argument("path", help="table file")
    info.add_argument("--json", action="store_true", help="print a JSON summary")
    return parser.parse_args(argv)


def resume_precision(out: str, requested: str) -> str:
    """``auto`` resumes a table at the precision it was started with.

    On some CPUs ``auto`` is decided by a timing probe, which machine load can flip; a
    resumed build must not change precision halfway (the meta check would refuse it).
    """
    if requested != "auto" or not Path(out).is_file():
        return requested
    try:
        conn = store.connect_reader(Path(out))
        try:
            stored = store.read_meta(conn, out).get("precision")
        finally:
            conn.close()
    except NASEnvError:
        return requested
    return stored if stored in PRECISIONS else requested


def run_build(args: argparse.Namespace) -> int:
    """The ``build`` command."""
    import torch

    from nas_env.evaluation.evaluator import Evaluator, TrainSettings
    from nas_env.table.build import build_table

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    settings = TrainSettings(
        backend=args.backend,
        device=args.device,
        precision=resume_precision(args.out, args.precision),
        seed=args.seed,
    )
    if args.rungs > 1 or args.workers > 1:
        return run_ladder_build(args, settings)
    evaluator = Evaluator(
        args.space,
        task=args.task,
        fidelity=args.fidelity,
        settings=settings,
        cache=False if args.no_cache else None,
        cache_root=args.cache_dir,
        vocab_size=args.vocab_size,
    )
    try:
        sample_seed = args.seed if args.sample_seed is None else args.sample_seed
        summary = build_table(
            evaluator, args.out, sample=args.sample, seed=sample_seed, progress=not args.no_progress
        )
    except KeyboardInterrupt:
        return _interrupted(args.out)
    print(summary)
    return 0


def _interrupted(out: str) -> int:
    print(
        f"interrupted: what was evaluated so far is saved (in {out} and the result cache); "
        "run the same command again to resume",
        file=sys.stderr,
    )
    return 130


def run_ladder_build(args: argparse.Namespace, settings: Any) -> int:
    """``build`` with ``--rungs`` or ``--workers``: train the selection rung by rung in
    worker processes into the shared cache, then write one table per rung from it."""
    from dataclasses import replace

    from nas_env.errors import ConfigError
    from nas_env.table.build import build_table, select_genomes
    from nas_env.table.ladder import LadderJob, ladder_evaluators, rung_table_path, train_ladder

    if args.no_cache:
        raise ConfigError("--rungs/--workers share results through the cache; drop --no-cache")
    job = LadderJob(
        space=args.space,
        task=args.task,
        fidelity=args.fidelity,
        settings=replace(settings, threads=args.threads or None),
        rungs=args.rungs,
        eta=args.eta,
        cache_root=args.cache_dir,
        vocab_size=args.vocab_size,
    )
    rungs = ladder_evaluators(job)
    sample_seed = args.seed if args.sample_seed is None else args.sample_seed
    genomes = select_genomes(rungs[0].space, None, args.sample, sample_seed)
    try:
        counts = train_ladder(job, genomes, args.workers, progress=not args.no_progress)
        print(f"trained {len(genomes)} genomes: {dict(counts)}", file=sys.stderr)
        top = rungs[-1].fidelity.steps
        for evaluator in rungs:
            out = rung_table_path(args.out, evaluator.fidelity.steps, top)
            print(build_table(evaluator, out, genomes=genomes, progress=not args.no_progress))
    except KeyboardInterrupt:
        return _interrupted(args.out)
    return 0


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def describe_table(table: TableEvaluator) -> dict[str, Any]:
    """A JSON-able summary of a table."""
    results = table.results()
    ok = [r for r in results if r.ok]
    quality = [r.quality for r in ok if r.quality is not None]
    best = table.best()
    meta = {k: v for k, v in table.meta.items() if k != "space"}
    return {
        "path": str(table.path),
        "size_bytes": table.path.stat().st_size,
        "meta": meta,
        "space": table.space.to_dict(),
        "rows": len(table),
        "statuses": table.status_counts(),
        "metric": table.metric,
        "quality": _spread(quality),
        "params": _spread([float(r.params) for r in results if r.params is not None]),
        "eval_seconds": _spread([r.eval_seconds for r in ok if r.eval_seconds is not None]),
        "best": None
        if best is None
        else {
            "genome_key": best.genome_key,
            "genes": table.genome(best.genome_key).to_dict()["genes"],
            "quality": best.quality,
            "params": best.params,
            "latency_ms": best.latency_ms,
        },
        "failures": {r.genome_key: f"{r.status}: {r.message}" for r in results if not r.ok},
    }


def _fmt(spread: dict[str, float] | None, pattern: str = "{:.4g}") -> str:
    if spread is None:
        return "-"
    return " / ".join(pattern.format(spread[k]) for k in ("min", "median", "max"))


def render_info(info: dict[str, Any]) -> str:
    """Human-readable form of `describe_table`."""
    meta, space = info["meta"], info["space"]
    fid = meta.get("fidelity", {})
    cfg = fid.get("config", {})
    lines = [
        f"table        {info['path']} ({info['size_bytes'] / 1024:.0f} KiB, "
        f"format {meta.get('format')})",
        f"space        {space['name']} ({space['family']}, genes: {', '.join(space['genes'])}; "
        f"vocab {space['task']['vocab_size']}, seq_len {space['task']['seq_len']})",
        f"task         {meta.get('task')} (fingerprint {meta.get('task_fingerprint')}), "
        f"metric {info['metric']}",
        f"fidelity     {fid.get('name')}: {cfg.get('steps')} steps x batch {cfg.get('batch_size')}"
        f" x seq {cfg.get('seq_len') or meta.get('seq_len')}, lr {cfg.get('lr')}, "
        f"cap {cfg.get('max_seconds')} s",
        f"training     seed {meta.get('seed')}, {meta.get('backend')} on {meta.get('device')}, "
        f"{meta.get('precision')}, evaluator v{meta.get('evaluator_version')}",
        f"built        {meta.get('created')} on {meta.get('machine')}; nas_env "
        f"{meta.get('package_version')}, torch {meta.get('torch_version')}; "
        f"{float(meta.get('build_seconds') or 0):.0f} s, complete: {meta.get('complete')}",
        f"rows         {info['rows']} ("
        + ", ".join(f"{k} {v}" for k, v in info["statuses"].items())
        + ")",
        f"{info['metric'] or 'quality':<12} {_fmt(info['quality'])}  (min / median / max, ok rows)",
        f"params       {_fmt(info['params'], '{:,.0f}')}",
        f"eval s       {_fmt(info['eval_seconds'], '{:.2f}')}",
    ]
    best = info["best"]
    if best is not None:
        lines.append(
            f"best         {best['genome_key']} {info['metric']} {best['quality']:.4g}, "
            f"{best['params']:,} params: {json.dumps(best['genes'], sort_keys=True)}"
        )
    for key, text in list(info["failures"].items())[:20]:
        lines.append(f"failed       {key} {text}")
    return "\n".join(lines)


def run_info(args: argparse.Namespace) -> int:
    """The ``info`` command: describes any table, one built by another evaluator version
    or on other task data included (a warning says so); a ``.npz`` surrogate benchmark
    by its meta."""
    if str(args.path).endswith(".npz"):
        return run_surrogate_info(args)
    info = describe_table(TableEvaluator(args.path, allow_mismatch=True))
    print(json.dumps(info, indent=2) if args.json else render_info(info))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 on a usage or configuration error)."""
    args = parse_args(argv)
    try:
        commands = {
            "build": run_build,
            "surrogate": run_surrogate,
            "long-surrogate": run_long_surrogate,
            "model-surrogate": run_model_surrogate,
            "info": run_info,
        }
        return commands[args.command](args)
    except (NASEnvError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
