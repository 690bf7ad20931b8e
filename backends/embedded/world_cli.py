"""`fmprog world generate`: write generated scenes and their ground truth to a folder.

Registered by `fmprog.cli.build_parser` through `add_world_command(subparsers)`; the
command only parses and hands a `WorldSettings` to `world.generate_world`.
"""

from __future__ import annotations

import sys

EPILOG = """\
writes:
  DIR/images/00000.png ...  128x128 RGB PNG images
  DIR/scenes.jsonl          one ground-truth record per image (objects with shape, color,
                            box, size, text, depth, visibility; relations; nuisances)
  DIR/world.json            the settings and the world's vocabulary
The format is documented in docs/world.md. Scene i depends only on (--seed, i,
--difficulty): the same command writes byte-identical files.
"""


def add_world_command(sub) -> None:
    """Add `world` (with its `generate` subcommand) to the `fmprog` subparsers."""
    import argparse

    w = sub.add_parser("world", help="generate scenes of the embedded models' world with their ground truth",
                       description="The synthetic world the embedded models are trained and "
                                   "evaluated on: shapes, signs and text, with exact ground truth.")
    wsub = w.add_subparsers(title="commands", metavar="COMMAND")
    g = wsub.add_parser("generate", help="write N images and scenes.jsonl to a folder",
                        description="Write N generated images and their ground truth.",
                        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("--n", type=int, required=True, help="number of images")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--difficulty", default="mixed", metavar="easy|hard|mixed|FLOAT",
                   help="easy (0-0.3), hard (0.7-1), mixed (each image easy or hard with "
                        "probability 1/2; the default) or a fixed number in [0, 1]")
    g.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_generate)
    w.set_defaults(func=lambda args: _help(w))


def _help(parser) -> int:
    parser.print_help()
    return 2


def cmd_generate(args) -> int:
    from fmprog.cli import UsageError

    from .world import WorldSettings, generate_world

    try:
        settings = WorldSettings(n=args.n, seed=args.seed, difficulty=args.difficulty)
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:
        out = generate_world(settings, args.out, progress=not args.quiet and sys.stderr.isatty())
    except OSError as e:
        raise UsageError(f"cannot write to {args.out}: {e.strerror or e}") from None
    print(f"wrote {settings.n} images and scenes.jsonl to {out}")
    return 0
