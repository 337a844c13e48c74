"""The chatbot's jobs, consumed from the queue anywhere but Lambda (in AWS, app.py's
`on_sqs_message` function runs the same handler, `chalicelib.jobs.run_chatbot_job`):

    python -m functions.worker           consume until stopped (Ctrl-C or SIGTERM)
    python -m functions.worker --once    consume until the queue is empty

The queue is `CHATBOT_QUEUE_NAME` at `AWS_ENDPOINT_URL_SQS` (AWS when unset): real SQS,
ElasticMQ, or moto's server in `make dev`. A job that fails is not deleted: the queue
delivers it again after its visibility timeout, and after 5 receives moves it to the
dead-letter queue.
"""

import argparse
import json
import logging
import os
import signal
import sys
import threading

from chalicelib.chatbot.queue import RECEIVE_WAIT_SECONDS, Delivery, SqsJobQueue
from chalicelib.jobs import run_chatbot_job
from chalicelib.platform.config import ConfigError, load_settings
from chalicelib.platform.logs import configure_logging
from chalicelib.services import Services, aws_services

log = logging.getLogger("integreat_chat")


def handle(services: Services, queue: SqsJobQueue, delivery: Delivery) -> bool:
    """Run one delivery; delete it unless it should come again. True when it was deleted."""
    try:
        run_chatbot_job(services, delivery.body)
    except Exception:
        return False  # logged; the queue delivers it again
    queue.delete(delivery.receipt)
    return True


def consume(
    services: Services,
    queue: SqsJobQueue,
    once: bool = False,
    stop: threading.Event | None = None,
    wait_seconds: int = RECEIVE_WAIT_SECONDS,
) -> int:
    """Consume jobs until `stop` is set (or, with `once`, the queue is empty); returns how
    many were received."""
    stop = stop or threading.Event()
    received = 0
    while not stop.is_set():
        deliveries = queue.receive(wait_seconds=1 if once else wait_seconds)
        if not deliveries and once:
            break
        for delivery in deliveries:
            received += 1
            handle(services, queue, delivery)
    return received


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m functions.worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--once", action="store_true", help="stop when the queue is empty")
    parser.add_argument(
        "--wait", type=int, default=RECEIVE_WAIT_SECONDS, help="long-poll seconds per receive (1-20)"
    )
    args = parser.parse_args()
    configure_logging()
    try:
        settings = load_settings(os.environ)
    except ConfigError as error:
        sys.exit("configuration error: %s" % error)
    queue = SqsJobQueue(settings)
    services = aws_services(settings, queue=queue)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_args: stop.set())
    try:
        received = consume(
            services, queue, once=args.once, stop=stop, wait_seconds=max(1, min(args.wait, 20))
        )
    except KeyboardInterrupt:
        return
    print(json.dumps({"worker": "stopped", "received": received}), flush=True)


if __name__ == "__main__":
    main()
