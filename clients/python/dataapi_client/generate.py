"""Sample data for a newcomer: realistic dialogs through the Writer.

  python -m dataapi_client.generate --customers 100 --dialogs 1000 --consented 500

URL and token from --url/--token, else DATAAPI_URL/DATAAPI_TOKEN, else the local stack's
.run/stack.env (INGRESS_URL, WRITER_TOKEN)."""
from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .writer import Outcome, Writer

LANGUAGES = ["EN", "DE", "FR", "ES", "PT-BR", "NL", "IT", "PL"]
OPENERS = ["Hi, I need help with my order", "Hello, my package has not arrived",
           "Can I change my delivery address?", "I was charged twice this month",
           "How do I reset my password?", "Is the blue model back in stock?",
           "My invoice shows the wrong VAT number", "I would like to cancel my subscription"]
FOLLOW_UPS = ["The order number is {n}.", "It was supposed to come on Monday.",
              "I tried that already, it did not work.", "Thanks, that helps!",
              "Could you send me a confirmation by email?", "Yes, please go ahead.",
              "How long will the refund take?", "Great, have a nice day."]


def stack_env(start: Path) -> Dict[str, str]:
    """The nearest .run/stack.env at or above start, parsed (empty when there is none)."""
    for d in [start, *start.parents]:
        env = d / ".run" / "stack.env"
        if env.is_file():
            out = {}
            for line in env.read_text().splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    out[key.strip()] = value.strip()
            return out
    return {}


def resolve(url: Optional[str], token: Optional[str]) -> Tuple[str, str]:
    env = stack_env(Path.cwd())
    url = url or os.environ.get("DATAAPI_URL") or env.get("INGRESS_URL")
    token = token or os.environ.get("DATAAPI_TOKEN") or env.get("WRITER_TOKEN")
    if not url or not token:
        raise SystemExit("no ingress URL or writer token: give --url and --token, set "
                         "DATAAPI_URL and DATAAPI_TOKEN, or run from a checkout whose local "
                         "stack is up (.run/stack.env)")
    return url, token


def dialogs(customers: int, count: int, consented: int, seed: int,
            prefix: str) -> List[Tuple[str, str, str, List[str], bool]]:
    """(customer, dialog, language, messages, consented) for each dialog."""
    rnd = random.Random(seed)
    chosen = set(rnd.sample(range(count), min(consented, count)))
    out = []
    for i in range(count):
        texts = [rnd.choice(OPENERS)] + [rnd.choice(FOLLOW_UPS).format(n=rnd.randint(10000, 99999))
                                         for _ in range(rnd.randint(1, 5))]
        out.append((f"{prefix}c{rnd.randrange(customers):04d}", f"{prefix}d{i:06d}",
                    rnd.choice(LANGUAGES), texts, i in chosen))
    return out


def progress(done: int, total: int) -> None:
    width = 40
    filled = width * done // total if total else width
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} events")
    sys.stderr.flush()


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dataapi_client.generate",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100)
    ap.add_argument("--dialogs", type=int, default=1000)
    ap.add_argument("--consented", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prefix", default="", help="put before every customer and dialog id")
    ap.add_argument("--url")
    ap.add_argument("--token", help="a writer token (--token=VALUE when it begins with -)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.customers < 1 or args.dialogs < 0 or args.consented < 0:
        ap.error("--customers must be at least 1, --dialogs and --consented not negative")
    url, token = resolve(args.url, args.token)
    plan = dialogs(args.customers, args.dialogs, args.consented, args.seed, args.prefix)
    total = sum(len(m) + (1 if c else 0) for _, _, _, m, c in plan)
    settled = [0]

    def seen(_: Outcome) -> None:
        settled[0] += 1
        if not args.quiet and (settled[0] % 200 == 0 or settled[0] == total):
            progress(settled[0], total)

    with Writer(url, token, on_outcome=seen) as w:
        for customer, dialog, language, texts, consented in plan:
            for text in texts:
                w.message(customer, dialog, text, language)
            if consented:
                w.consent(dialog, True)
        w.flush()
        rejected = list(w.rejected)
    if not args.quiet:
        sys.stderr.write("\n")
    print(f"{total - len(rejected)} events accepted ({args.dialogs} dialogs, "
          f"{min(args.consented, args.dialogs)} consented), {len(rejected)} rejected")
    for out in rejected[:5]:
        print(f"  rejected {out.event.kind} of {out.event.dialog_id}: {out.error}", file=sys.stderr)
    return 1 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
