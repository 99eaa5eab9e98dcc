"""P1.5 auto-merge (importer.md §7.5): same normalised name and a shared match key, merged by
connected component through the shared merge routine, one savepoint per pair.

The pairs and the merge of one pair live in `kith_importer.automerge`, which the vCard import
calls too; this module gives them the crawl's steps and summary.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_importer.automerge import merge_groups, merge_pair
from kith_importer.crawl import CHUNK, Crawl

__all__ = ["run"]

log = structlog.get_logger(__name__)
# A pair touches two contacts: five pairs keep a merge step within §7.0's ten contacts. Each
# pair is still atomic on its own (a savepoint); only the step bookkeeping is shared.
PAIRS_PER_STEP = CHUNK // 2


async def run(crawl: Crawl) -> None:
    if not crawl.options.auto_merge_duplicates:
        crawl.checkpoint = {"phase": "cross_references"}
        return
    async with crawl.unit_of_work() as session:
        groups = await merge_groups(session, crawl.scope.account_id, crawl.row.id)
    for start in range(0, len(groups), PAIRS_PER_STEP):
        async with crawl.step() as session:
            for survivor, loser in groups[start : start + PAIRS_PER_STEP]:
                await _merge_pair(crawl, session, survivor, loser)
    crawl.checkpoint = {"phase": "cross_references"}


async def _merge_pair(crawl: Crawl, session: AsyncSession, survivor: int, loser: int) -> None:
    problem = await merge_pair(
        session,
        account_id=crawl.scope.account_id,
        import_id=crawl.row.id,
        user_id=crawl.scope.user_id,
        generation=crawl.row.generation,
        survivor=survivor,
        loser=loser,
    )
    if problem is None:
        crawl.summary["merged"] += 1
    else:
        crawl.error(problem)
