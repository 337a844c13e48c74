"""The simulated load of `make load` (run by devtools/load.py, which starts everything):
app devices that each open a chat, poll it every 15 s as the Integreat app does (every 3 s
while the chatbot types) and now and then write again; and an agent who answers in the
emulated Zammad, whose webhook then tells the app. Each device has its own address, as
the app's devices behind one proxy would (X-Forwarded-For, TRUSTED_PROXY_COUNT=1).

Settings come from the environment: LOAD_REGION, ZAMMAD_URL.
"""

import itertools
import os
import random
import uuid

from locust import HttpUser, between, constant, task

REGION = os.environ.get("LOAD_REGION", "load")
ZAMMAD_URL = os.environ.get("ZAMMAD_URL", "http://127.0.0.1:8001")
POLL_SECONDS = 15
WRITE_EVERY = 40  # a device writes again about once every 40 polls (10 minutes)
_addresses = itertools.count(1)


class Device(HttpUser):
    wait_time = constant(POLL_SECONDS)

    def on_start(self):
        number = next(_addresses)
        self.address = "10.%d.%d.%d" % (number // 65536 % 256, number // 256 % 256, number % 256)
        self.chat = "/api/v3/%s/de/chat/%s/" % (REGION, uuid.uuid4())
        self.etag = None
        self.write("Hallo, ich habe eine Frage.")

    def headers(self):
        headers = {"X-Forwarded-For": self.address}
        if self.etag:
            headers["If-None-Match"] = self.etag
        return headers

    def write(self, text):
        self.client.post(
            self.chat,
            files={"message": (None, text)},
            headers={"X-Forwarded-For": self.address},
            name="POST chat (message)",
        )

    @task
    def poll(self):
        with self.client.get(
            self.chat, headers=self.headers(), name="GET chat (poll)", catch_response=True
        ) as response:
            if response.status_code in (200, 304):
                self.etag = response.headers.get("ETag", self.etag)
                response.success()
            else:
                response.failure("status %d" % response.status_code)
        if random.randrange(WRITE_EVERY) == 0:
            self.write("Noch eine Frage: %s" % uuid.uuid4().hex[:8])


class Agent(HttpUser):
    """One agent answering in Zammad: a reply to a random ticket every few seconds."""

    fixed_count = 1
    wait_time = between(1, 3)
    host = ZAMMAD_URL

    @task
    def reply(self):
        ticket = random.randint(1, max(1, int(os.environ.get("LOAD_DEVICES", "1"))))
        with self.client.post(
            "/_emulator/tickets/%d/articles" % ticket,
            json={"body": "<p>Antwort vom Team</p>"},
            name="agent reply (Zammad, then its webhook)",
            catch_response=True,
        ) as response:
            if response.status_code in (201, 404):  # 404: that ticket is not made yet
                response.success()
