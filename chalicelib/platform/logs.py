"""Logging set-up shared by the entry points: our JSON lines at INFO, through whatever
handler the platform installed (Lambda's, `chalice local`'s), or stderr when there is none."""

import logging


def configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(message)s")
    logging.getLogger("integreat_chat").setLevel(logging.INFO)
