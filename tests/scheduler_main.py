"""Child process for the two-scheduler test: the delivery commands on a temporary
click group, configured from the environment like ``qa`` (``qa scorecards
scheduler`` once the commands are attached to the scorecards group)."""

from __future__ import annotations

import logging

import click

from qa.cli import Context
from qa.config import Settings
from scorecards.delivery_cli import scheduler, send


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    ctx.obj = Context(Settings.from_env())


main.add_command(send)
main.add_command(scheduler)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    main()
