"""The one contact merge routine (dedup.md §5), shared by the dedup service and the importer.

`merge_contacts` applies a merge in the caller's transaction; `preview_merge` (alias
`plan_merge`) returns the same report without writing. Both raise `MergeConflict` for a merge
that cannot happen (same contact, not found, not live, already merged).
"""

from kith_common.merge.names import display_name
from kith_common.merge.report import (
    FIELD_CHOICE_FIELDS,
    MERGE_KINDS,
    MergeConflict,
    MergeReport,
    ReportContact,
    ReportField,
)
from kith_common.merge.routine import (
    MergePlanMismatch,
    merge_contacts,
    plan_merge,
    preview_merge,
    record_merge_failure,
)

__all__ = [
    "FIELD_CHOICE_FIELDS",
    "MERGE_KINDS",
    "MergeConflict",
    "MergePlanMismatch",
    "MergeReport",
    "ReportContact",
    "ReportField",
    "display_name",
    "merge_contacts",
    "plan_merge",
    "preview_merge",
    "record_merge_failure",
]
