"""How often AWS runs each scheduled job (app.py's schedules), apart from the jobs' code
(jobs.py): a poll's cold start imports the app, which names the schedules, and nothing of
what the jobs do. Elsewhere, cron's business (`python -m functions.jobs`)."""

EVERY_MINUTES = {
    "purge-author-messages": 60,
    "forget-expired-chats": 60,
    # A region switched off in the CMS is off here within this time (plus the 30 s cache).
    "sync-cms-regions": 10,
    # A Zammad that stopped working for the chat is in the logs within the hour (docs/operating.md).
    "zammad-doctor": 60,
}
