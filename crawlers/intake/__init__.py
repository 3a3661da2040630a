"""Pushed signal intake: partner batches (drop folder, webhook) and history backfills.

All of them go through one contract (:mod:`crawlers.intake.contract`): a row becomes a signal
record or a quarantine row with a reason naming the field; a batch that cannot be read at all
is refused whole (:class:`crawlers.intake.batch.BatchRefused`).
"""
