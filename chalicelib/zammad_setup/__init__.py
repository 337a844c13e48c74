"""Setting a region's Zammad up for the chat by its admin API (manage zammad-setup)."""
