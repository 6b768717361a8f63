"""The audit chain's guard outside the database: signed checkpoints of its head (``checkpoints``), verification
against them, the re-chaining of a chain from before the key (``service``), the periodic checkpoint (``tasks``)
and ``evenhand audit`` (``cli``). The chain itself is ``kit.audit``; the threat model is docs/audit.md."""
