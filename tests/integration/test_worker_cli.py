"""`python -m functions.worker`, run as an operator would, on DynamoDB Local and moto's SQS."""

import json
import uuid

from chalicelib.chatbot.queue import SqsJobQueue
from chalicelib.platform.config import load_settings
from tests.conftest import python_env, run_python, unique_prefix


def test_once_consumes_until_the_queue_is_empty_and_drops_what_is_not_a_job(dynamodb_local, moto_server):
    env = python_env(
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local,
        AWS_ENDPOINT_URL_SQS=moto_server,
        CHAT_TABLE_PREFIX=unique_prefix(),
        CHATBOT_QUEUE_NAME="w" + uuid.uuid4().hex[:12],
        INTEGREAT_CHAT_BACKEND_URL="http://127.0.0.1:9",
    )
    assert run_python("-m", "functions.manage", "create-tables", env=env).returncode == 0
    queue = SqsJobQueue(load_settings(env))
    queue.send({"kind": "nonsense"})
    job = {"id": "j1", "kind": "message", "region": "gone", "chat": "gone#d", "generation": 1,
           "article": 1, "answer": True}  # fmt: skip
    queue.send(job)  # a chat that no longer exists: done, nothing to do
    result = run_python("-m", "functions.worker", "--once", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"worker": "stopped", "received": 2}
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert {line.get("outcome") or line.get("dropped", "")[:3] for line in logged} == {"chat gone", "not"}
    counts = queue._sqs().get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
    # Both deleted: neither is waiting, nor merely invisible until it comes back.
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == (
        "0",
        "0",
    )


def test_a_bad_setting_stops_the_worker_with_one_line(moto_server):
    result = run_python("-m", "functions.worker", "--once", env=python_env(CHATBOT_QUEUE_NAME="no spaces"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "configuration error: CHATBOT_QUEUE_NAME must be 1-80 letters, digits, '-' or '_', got 'no spaces'"
    ]
