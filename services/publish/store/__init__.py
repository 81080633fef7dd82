"""All SQL of the publish service. Every function runs inside a transaction its caller owns; none commits.

Writers of a subject's disclosures and objections first take :func:`lock_subject` (a transaction-level
advisory lock), so the consumer, the ticker, the objection endpoint and other replicas never interleave
their read-modify-write of one subject.

Modules: ``records`` (locks, consumed records), ``disclosures`` (derived state, deadline rows), ``public``
(the public queries, on their own asyncpg pool), ``derivations`` (which derivation a subject's
disclosures come from), ``feed`` (the HTTP outcome feed), ``objections``
(objection cases), ``repairs`` (credit-repair cases), ``withdrawals`` (the 3-working-day withdrawal clock).
Import this package, not them.
"""

from services.publish.store.derivations import restamp
from services.publish.store.disclosures import (
    deadline_rows,
    disclosures_by_id,
    disclosures_for_update,
    disclosures_of_subjects,
    provisional_disclosures,
    rows_due_between,
    save_disclosures,
    saved,
    subjects_to_refresh,
)
from services.publish.store.feed import FeedCursor, append_feed, feed_page
from services.publish.store.objections import (
    answer_objection,
    escalate_overdue,
    insert_objection,
    objection,
    objections_of,
    provisional_objections,
    refresh_objection_flag,
    resolve_upheld,
    set_objection_due,
)
from services.publish.store.public import PublicReads, ReadsUnavailable
from services.publish.store.records import (
    SCHEMA,
    amended_before_arrival,
    amendments_of,
    find_record,
    lock_subject,
    lock_subjects,
    subject_file,
    subject_files,
)
from services.publish.store.repairs import (
    OPEN_STATES,
    escalate_late_repairs,
    insert_repair,
    open_repair_of,
    provisional_repairs,
    repair,
    repairs_of,
    update_repair,
)
from services.publish.store.seeds import (
    NOT_ON_THE_TOPICS,
    records_with_objections,
    seed_filed_objection,
    seed_filed_repair,
)
from services.publish.store.withdrawals import (
    provisional_withdrawals,
    save_withdrawals,
    set_withdrawal_due,
    withdrawal_rows,
)

__all__ = [
    "NOT_ON_THE_TOPICS",
    "OPEN_STATES",
    "SCHEMA",
    "FeedCursor",
    "PublicReads",
    "ReadsUnavailable",
    "amended_before_arrival",
    "amendments_of",
    "answer_objection",
    "append_feed",
    "deadline_rows",
    "disclosures_by_id",
    "disclosures_for_update",
    "disclosures_of_subjects",
    "escalate_late_repairs",
    "escalate_overdue",
    "feed_page",
    "find_record",
    "insert_objection",
    "insert_repair",
    "lock_subject",
    "lock_subjects",
    "objection",
    "objections_of",
    "open_repair_of",
    "provisional_disclosures",
    "provisional_objections",
    "provisional_repairs",
    "provisional_withdrawals",
    "records_with_objections",
    "refresh_objection_flag",
    "repair",
    "repairs_of",
    "resolve_upheld",
    "restamp",
    "rows_due_between",
    "save_disclosures",
    "save_withdrawals",
    "saved",
    "seed_filed_objection",
    "seed_filed_repair",
    "set_objection_due",
    "set_withdrawal_due",
    "subject_file",
    "subject_files",
    "subjects_to_refresh",
    "update_repair",
    "withdrawal_rows",
]
