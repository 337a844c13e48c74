"""`make load` keeps working: a small run of the same program (the full one, 1,000 devices
for a minute, is `make load`; its figures are in docs/load-and-cost.md)."""

import re

from tests.conftest import run_python


def test_a_small_load_run_completes_without_errors():
    result = run_python(
        "-m", "devtools.load", "--devices", "20", "--seconds", "5", "--spawn-rate", "20", timeout=240
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {
        name.strip(): (int(count), int(errors))
        for name, count, errors in re.findall(r"^  (.{44}) +(\d+) +(\d+) ", result.stdout, re.MULTILINE)
    }
    assert rows["GET chat (poll)"][0] >= 1 and all(errors == 0 for _count, errors in rows.values()), (
        result.stdout
    )
    assert "Zammad calls made by the app" in result.stdout


def test_a_small_real_time_load_run_delivers_every_event():
    result = run_python("-m", "devtools.load_realtime", "--devices", "20", "--events", "5", timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(5 of 5 came;" in result.stdout, result.stdout
    assert "frames sent by idle devices: 0 " in result.stdout
    event, poll = map(int, re.search(r"an event: (\d+) bytes; .*: (\d+) bytes", result.stdout).groups())
    assert 0 < event < 150 and event < poll, result.stdout  # an ETag and a trace id, not the chat
