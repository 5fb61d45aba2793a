"""``seqkit train RECIPE``: from raw text to a scored translator, in one run directory."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from seqkit.distributed import get_communicator
    from seqkit.recipes import load_recipe
    from seqkit.runs import Run
    from seqkit.training import load_checkpoint

    pm = args.plugin_manager
    comm = get_communicator(pm)  # several processes under mpirun (with the MPI plugin), else one
    say = print if comm.is_primary else lambda *a, **k: None
    recipe = load_recipe(args.recipe, args.set or [], registries=pm.registry)
    if args.device:
        recipe.training.device = args.device
    directory = Path(args.run_dir or Path("runs") / recipe.name)
    if args.init_from and args.init_from not in ("best", "last", "averaged"):
        load_checkpoint(args.init_from)  # an unreadable file is refused before anything is written
    run = Run.create(recipe, directory, pm, resume=args.resume, log=say, comm=comm)
    try:
        return _train(args, run, say)
    finally:
        run.close()


def _train(args: argparse.Namespace, run, say) -> int:
    from seqkit.runs import write_results
    from seqkit.training import Interrupted

    comm, directory = run.comm, run.directory
    if args.init_from:
        say(f"initial weights from {run.load_weights(args.init_from)}")
    say(f"run directory: {directory}" + (f" ({comm.size} processes)" if comm.size > 1 else ""))
    try:
        run.train(resume=args.resume, progress=args.progress, log=say)
    except Interrupted as e:
        launcher = ["mpirun", "-n", str(comm.size)] if comm.size > 1 else []
        again = shlex.join([*launcher, "seqkit", "train", args.recipe, "--run-dir", str(directory),
                            *(f"--set={s}" for s in args.set or []), "--resume"])  # fmt: skip
        if e.saved == e.iteration:
            state = f"the state at iteration {e.iteration} is saved"
        elif e.saved is not None:
            state = f"stopped at once: nothing after iteration {e.saved} is saved"
        else:
            state = "stopped at once: nothing is saved yet"
        say(f"interrupted ({signal.Signals(e.signum).name}): {state}; continue with: {again}", file=sys.stderr)
        return 128 + e.signum
    comm.barrier()
    if not comm.is_primary:  # rank 0 scores the test set
        return 0
    best = run.load_weights("best")
    results = run.evaluate("test")
    print(f"test BLEU = {results['bleu']:.2f}  ({results['bleu_signature']})")
    print(f"test chrF = {results['chrf']:.2f}")
    print(f"model: {best}; translations: {results['translations']}; scores: {write_results(run, results)}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a recipe and score it on the test set",
        description="Train from a TOML recipe: tokenizer, model, optimizer, validation, snapshots, test BLEU.",
        epilog="examples:\n  seqkit train recipes/quickstart.toml\n"
        "  seqkit train recipes/quickstart.toml --set training.epochs=2 --run-dir runs/short\n"
        "  seqkit train recipes/quickstart.toml --run-dir runs/short --resume",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recipe", help="the recipe (TOML)")
    p.add_argument("--run-dir", help="where the run lives (default: runs/NAME)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe key, e.g. training.epochs=3")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its newest good snapshot")
    p.add_argument("--init-from", metavar="CHECKPOINT", help="start from these weights (not a resume)")
    p.add_argument("--device", help="cpu or cuda:N (default: the recipe's training.device)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")  # fmt: skip
    p.set_defaults(run=run)
