"""Notifications to people: written in the transaction of the change that causes them, shown in the
in-app inbox and (through the outbox) carried to the person's channels."""
