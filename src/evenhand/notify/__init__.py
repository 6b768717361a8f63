"""Notifications to people (R4.4, R4.5): written in the transaction of the change that causes them, shown in
the in-app inbox and carried to the person's channels through the outbox.

- ``service``: ``send`` (inbox row plus outbox rows), ``lead_assigned``, ``post_to_team``, acknowledgement
  (``acknowledge_lead``, ``acknowledge``) and the inbox.
- ``preferences``: the organisation's channels and each person's choice and quiet hours, checked when saved.
- ``outbox`` (claim, record, dead letters), ``escalation`` (fallback, then the supervisor), ``worker``
  (the loop behind ``evenhand worker``), ``jobs`` and ``hooks`` (what other domains plug in, from their
  ``tasks.py``), ``health`` (delivery and acknowledgement series, the ops alert).
- ``policy`` and ``channels``: the pure rules and the Apprise adapter; ``outbound``: the addresses a channel may
  reach (public ones, and what ops allowed).
"""
